"""``mynareader card ...`` and ``mynareader bench card``: read and check a card from the command line."""
from __future__ import annotations

import getpass
import json
import statistics
import sys
import time

from ...device import registry
from ...device.card import MyNumberCard, read_card_info
from ...device.errors import NoCard, NotFound, PinBlocked, WrongPin
from ...device.pin import Pin
from ...device.registry import open_reader
from ...device.tokens import TOKENS, TokenKind, Unlock
from ...device.transport import Transport
from ..reception.certificate_state import certificate_state
from ..clock import today_jst
from .util import BLOCKED, CANNOT, NO, REFUSED, CliFail

READER_HELP = "reader URL: " + ", ".join(registry.examples("reader")) + " (mynareader --help describes them)"


def _open_card(url: str, wait: float) -> tuple[Transport, MyNumberCard]:
    transport = open_reader(url)
    if not transport.card_present() and not transport.wait_for_change(False, wait):
        transport.close()
        raise NoCard(f"no card on the reader {url} after {wait:g} s. Place the card and try again.")
    card = MyNumberCard(transport)
    card.connect()
    return transport, card


def card_summary(card: MyNumberCard) -> dict:
    """What ``card info`` prints: token, certificate, its state, and the counters. Consumes no try."""
    info = read_card_info(card)
    out: dict = {"token": info.token.value}
    token = TOKENS[info.token]
    if info.token is TokenKind.UNKNOWN:
        return out
    if info.certificate is not None:
        out["auth_cert"] = info.certificate.summary()
        out["certificate_state"] = certificate_state(info.certificate.not_after, today_jst()).value
    elif info.locked:
        out["auth_cert"] = "refused: the phone is locked; unlock it (Face ID / Touch ID) and hold it again"
    elif token.cert_after_unlock:
        out["auth_cert"] = "readable only after the phone's PIN (mynareader card pin)"
    out["pin_tries_left"] = info.pin_tries          # None: no PIN at the reader (iPhone, PIN-less card)
    out["code_b_tries_left"] = info.code_b_tries   # None: no card-face applet (住基カード, smartphone)
    return out


def cmd_info(args) -> int:
    transport, card = _open_card(args.reader, args.wait)
    try:
        info = card_summary(card)
    finally:
        transport.close()
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
    else:
        for key, value in info.items():
            if isinstance(value, dict):
                print(f"{key}:")
                for k, v in value.items():
                    print(f"  {k}: {v}")
            else:
                print(f"{key}: {value}")
    return 0


def _read_pin(args) -> Pin:
    if args.pin_stdin:
        line = sys.stdin.readline().strip()
    else:
        line = getpass.getpass("PIN (4 digits, not shown): ")
    try:
        return Pin(line)
    finally:
        del line


def cmd_pin(args) -> int:
    transport, card = _open_card(args.reader, args.wait)
    try:
        if TOKENS[card.token()].unlock is not Unlock.PIN:
            raise CliFail("This token has no PIN at the reader (an iPhone is unlocked on the phone). Nothing was "
                          "sent.", CANNOT)
        try:
            before = card.pin_tries()
        except NotFound:
            raise CliFail("This card has no PIN (a 顔認証マイナンバーカード: face or 目視 only). Nothing was sent.",
                          CANNOT) from None
        print(f"tries left before: {before}")
        if before == 0:
            raise CliFail("The PIN is blocked on this card. Nothing was sent. "
                          "It can only be unlocked at the municipal office.", BLOCKED)
        if before == 1 and not args.allow_last_try:
            raise CliFail("Only one try is left: a wrong PIN would lock the card. Nothing was sent. "
                          "Re-run with --allow-last-try if the holder is sure.", REFUSED)
        with _read_pin(args) as pin:
            try:
                card.verify_pin(pin)
            except WrongPin as exc:
                raise CliFail(f"wrong PIN; tries left after: {exc.tries_left}", NO) from None
            except PinBlocked:
                raise CliFail("the card reports the PIN as blocked", BLOCKED) from None
        print(f"PIN correct; tries left after: {card.pin_tries()}")
        return 0
    finally:
        transport.close()


def _code_b(args, transport) -> Pin:
    if args.code_b:
        return Pin(args.code_b, min_len=14, max_len=14)
    slot = getattr(transport, "slot", None)
    if slot is not None and slot.card is not None and hasattr(slot.card, "code_b"):
        return Pin(slot.card.code_b, min_len=14, max_len=14)
    raise CliFail("--code-b is needed for this reader (照合番号B of the card on it)", CANNOT)


def cmd_bench(args) -> int:
    """APDUs, bytes and time for 'token present -> its first read' (read_card_info: the recipe of its kind) and,
    for a token with a card face, '-> face photo'."""
    results: dict[str, list] = {"first read": [], "face photo": []}
    transport = open_reader(args.reader)
    kind = "unknown"
    try:
        for _ in range(args.repeat):
            card = MyNumberCard(transport)
            transport.stats.reset()
            t0 = time.perf_counter()
            card.connect()
            info = read_card_info(card)
            kind = info.token.value
            results["first read"].append((transport.stats.apdus, transport.stats.bytes_out, transport.stats.bytes_in,
                                          time.perf_counter() - t0))
            if info.code_b_tries is not None:
                transport.stats.reset()
                t1 = time.perf_counter()
                with _code_b(args, transport) as code:
                    card.verify_code_b(code)
                card.read_card_face().photo()
                results["face photo"].append((transport.stats.apdus, transport.stats.bytes_out,
                                              transport.stats.bytes_in, time.perf_counter() - t1))
            card.disconnect()
    finally:
        transport.close()
    print(f"reader {args.reader}, {args.repeat} runs, token {kind}")
    print(f"{'step':<32}{'APDUs':>6}{'bytes out':>10}{'bytes in':>10}{'median ms':>11}{'p90 ms':>9}")
    for step, rows in results.items():
        if not rows:
            continue
        times = sorted(r[3] * 1000 for r in rows)
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        apdus, out, inn, _ = rows[-1]
        label = "present -> " + step
        print(f"{label:<32}{apdus:>6}{out:>10}{inn:>10}{statistics.median(times):>11.2f}{p90:>9.2f}")
    return 0


def register(groups) -> None:
    p = groups["card"].add_parser("info", help="token, certificate, its state and tries left (consumes no try)")
    p.add_argument("--reader", required=True, help=READER_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a card (default 5)")
    p.set_defaults(func=cmd_info)

    p = groups["card"].add_parser("pin", help="check the user-authentication PIN; shows tries before and after")
    p.add_argument("--reader", required=True, help=READER_HELP)
    p.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input, not the terminal")
    p.add_argument("--allow-last-try", action="store_true",
                   help="submit even when one try is left (a wrong PIN then locks the card)")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a card (default 5)")
    p.set_defaults(func=cmd_pin)

    p = groups["bench"].add_parser("card", help="APDU count, bytes and time to read certificate and face photo")
    p.add_argument("--reader", required=True, help=READER_HELP)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--code-b", help="照合番号B of the card (sim:// readers know their own)")
    p.set_defaults(func=cmd_bench)
