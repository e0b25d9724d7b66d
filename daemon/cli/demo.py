"""``mynareader demo``: a full reception on the bench devices, with embedded defaults and no hardware.

The real service runs in this process with the virtual card (sim://), the bench camera showing the card
holder's face and a bench camera over the card tray whose frames of the card's printed face are read by OCR
(bench://card, docs/cardface.md): 照合番号B comes from the camera, as on a real reader. A scripted patient uses the kiosk socket; everything the
reception socket receives is printed.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
import time
from pathlib import Path

from ...device.bench_control import send_control
from ..app.inprocess import InProcessReader, demo_config
from ..reception.states import State
from ..rpc.client import Client


def _printer(client: Client, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            event = client.next_event(timeout=0.5)
        except TimeoutError:
            continue
        except (ConnectionError, OSError):
            return
        name, p = event["method"], event["params"]
        if name == "result":
            shown = {k: v for k, v in p.items() if k not in ("certificate", "told")}
            shown["certificate"] = {k: v for k, v in p["certificate"].items() if k != "der"}
            print("[reception] result:\n" + json.dumps(shown, ensure_ascii=False, indent=2), flush=True)
        elif name in ("step.changed", "guidance"):
            print(f"[reception] {name:<13} {p['step']:<16} {p['ja']}", flush=True)
        else:
            print(f"[reception] {name:<13} {json.dumps(p, ensure_ascii=False)}", flush=True)


def cmd_demo(args) -> int:
    with tempfile.TemporaryDirectory(prefix="mynareader-demo-") as tmp:
        config = demo_config(Path(tmp))
        config = dataclasses.replace(config, devices=dataclasses.replace(config.devices, cardface="bench://card"))
        print("Starting the reader with the virtual card, the bench camera and the card-face camera (OCR)...")
        reader = InProcessReader(config)
        stop = threading.Event()
        with Client(config.sockets.reception) as reception, Client(config.sockets.kiosk) as kiosk:
            reception.call("subscribe")
            printer = threading.Thread(target=_printer, args=(reception, stop), daemon=True)
            printer.start()
            bench = config.bench.control

            print("\n--- Patient 1 places the card and chooses face authentication; the card face is read by OCR")
            kiosk.wait_state(State.CHOOSE_METHOD)
            kiosk.call("kiosk.choose_method", method="face")
            kiosk.wait_state(State.CONSENT)
            print("[kiosk]     the patient agrees on the comprehensive consent screen")
            kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
            kiosk.wait_state(State.TAKE_CARD)
            send_control(bench, "remove")
            kiosk.wait_state(State.IDLE)

            print("\n--- Patient 2: face fails (another person), then the PIN, consent item by item")
            send_control(bench, "show other")
            send_control(bench, "insert fresh")
            kiosk.wait_state(State.CHOOSE_METHOD)
            kiosk.call("kiosk.choose_method", method="face")
            kiosk.wait_state(State.CHOOSE_METHOD, timeout=60)
            send_control(bench, "show holder")
            kiosk.call("kiosk.choose_method", method="pin")
            kiosk.wait_state(State.PIN_ENTRY)
            print("[kiosk]     the patient types the PIN (not shown)")
            kiosk.call("kiosk.submit_pin", pin="1234")
            kiosk.wait_state(State.CONSENT)
            kiosk.call("kiosk.answer", screen="comprehensive", answer="individual")
            for screen, answer in (("diagnosis_medication", "agree"), ("surgery", "agree"),
                                   ("health_checkup", "refuse")):
                kiosk.wait_state(State.CONSENT)
                kiosk.call("kiosk.answer", screen=screen, answer=answer)
            kiosk.wait_state(State.TAKE_CARD)
            send_control(bench, "remove")
            kiosk.wait_state(State.IDLE)
            time.sleep(0.3)
            stop.set()
            printer.join(2)
        reader.close()
        print("\nDone: two receptions, results delivered on the reception socket; nothing written outside a "
              "temporary folder.")
    return 0


def register(groups) -> None:
    p = groups["_top"].add_parser("demo", help="a full reception on the bench devices (no hardware needed)")
    p.set_defaults(func=cmd_demo)
