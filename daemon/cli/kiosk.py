"""``mynareader kiosk-tty``: a terminal patient screen for the bench, until the touchscreen UI exists.

It shows the current step in Japanese and English, numbers the choices, reads the PIN without echo, and asks
for the explicit confirmation before a last PIN try. A phone takes the same screens: an Android phone's PIN (the
phone's own tries), an iPhone's "unlock it, hold it again" with "I have unlocked it" as a choice; where a phone
reader is configured, the waiting screen says where phones go.
"""
from __future__ import annotations

import getpass
import io
import os
import sys
import time

from ..config import load
from ..reception.states import KIOSK_INPUT, State
from ..rpc.client import Client, RemoteError

LABELS = {"face": "顔認証 / Face", "pin": "暗証番号 / PIN", "staff": "職員に確認してもらう / Ask the staff",
          "agree": "同意する / Agree", "refuse": "同意しない / Do not agree", "individual": "個別に選択する / Choose item by item",
          "submit": "入力する / Enter", "cancel": "やめる / Cancel",
          "device_unlock": "ロックを解除しました / I have unlocked it"}
PHONE_WAITING = ("スマホの方：iPhoneはロックを解除してから、Androidはそのまま、スマホ用読み取り機にかざしてください。\n"
                 "Smartphone: unlock an iPhone first (an Android as it is), then hold it to the phone reader.")


def _label(option: str, data: dict) -> str:
    texts = data.get(option) if isinstance(data.get(option), dict) else None
    if texts and "ja" in texts:
        return f"{texts['ja']} / {texts['en']}"
    choices = data.get("choices", {})
    if option in choices:
        return f"{choices[option]['ja']} / {choices[option]['en']}"
    return LABELS.get(option, option)


def _ask(prompt: str, secret: bool = False) -> str:
    if secret and sys.stdin.isatty():
        return getpass.getpass(prompt)
    print(prompt, end="", flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def _screen(kiosk: Client, step: dict) -> None:
    options = [o for o in step["options"] if o != "staff"]
    print(f"\n{step['ja']}\n{step['en']}")
    if step["step"] == State.PIN_ENTRY:
        if step["data"].get("last_try"):
            answer = _ask("あと1回です。入力しますか / Last try - enter the PIN? [y/N] ")
            if answer.lower() != "y":
                kiosk.call("kiosk.cancel")
                return
        pin = _ask("暗証番号 / PIN: ", secret=True)
        kiosk.call("kiosk.submit_pin", pin=pin, confirm_last_try=bool(step["data"].get("last_try")))
        return
    if not options:
        return
    for i, option in enumerate(options, 1):
        print(f"  {i}. {_label(option, step['data'])}")
    choice = _ask("> ")
    if not choice.isdigit() or not 1 <= int(choice) <= len(options):
        print("番号を選んでください / Choose a number")
        return
    option = options[int(choice) - 1]
    if option == "cancel":
        kiosk.call("kiosk.cancel")
    elif step["step"] in (State.CHOOSE_METHOD, State.PHONE_UNLOCK):
        kiosk.call("kiosk.choose_method", method=option)
    else:
        kiosk.call("kiosk.answer", screen=step["data"].get("screen", "registration"), answer=option)


def _flash(kiosk: Client, flash: dict) -> None:
    """Light the patient's face with the face check's colours: the whole terminal's background, in 24-bit colour.
    A terminal that cannot show them (not a terminal, or no 24-bit colour) stays silent: the reader then falls
    back to its other liveness checks (docs/protocol.md)."""
    if not sys.stdout.isatty() or os.environ.get("COLORTERM") not in ("truecolor", "24bit"):
        return
    step = flash["step_ms"] / 1000
    for i, colour in enumerate([*flash["colours"], "#ebebeb"]):
        r, g, b = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
        sys.stdout.write(f"\x1b[48;2;{r};{g};{b}m\x1b[2J\x1b[H")
        sys.stdout.flush()
        if i == 0:
            kiosk.call("kiosk.flash_shown", nonce=flash["nonce"])
        time.sleep(step)
    sys.stdout.write("\x1b[0m\x1b[2J\x1b[H")
    sys.stdout.flush()


def cmd_kiosk_tty(args) -> int:
    path = args.socket or load(args.config).sockets.kiosk
    if isinstance(sys.stdout, io.TextIOWrapper):     # a screen: every line shows at once
        sys.stdout.reconfigure(line_buffering=True)
    with Client(path) as kiosk:
        last: object = None
        while True:
            current = kiosk.call("kiosk.current")
            step = current["step"]
            state = current["state"]
            if state == State.IDLE and last != "idle":
                if current.get("phone_reader"):
                    print(f"\n{PHONE_WAITING}")
                last = "idle"
            key = (state, step and step["message"], step and step["ja"])
            if key == last or step is None or state not in KIOSK_INPUT | {State.TAKE_CARD}:   # the reader works
                if step is None:
                    time.sleep(0.2)
                    continue
                if step is not None and key != last and step["data"].get("flash"):
                    _flash(kiosk, step["data"]["flash"])
                if step is not None and key != last:
                    print(f"\n{step['ja']}\n{step['en']}")
                last = key
                time.sleep(0.2)
                continue
            last = key
            if state == State.TAKE_CARD:
                print(f"\n{step['ja']}\n{step['en']}")
                continue
            try:
                _screen(kiosk, step)
            except RemoteError as exc:
                print(f"({exc.text})")
            except EOFError:
                return 0


def register(groups) -> None:
    p = groups["_top"].add_parser("kiosk-tty", help="a terminal patient screen on the kiosk socket (bench)")
    p.add_argument("--socket", help="kiosk socket (default: from the configuration)")
    p.add_argument("--config")
    p.set_defaults(func=cmd_kiosk_tty)
