"""``mynareader mock card|pn532``: the virtual My Number Card served to pcscd through vpcd, or hosted by an
emulated PN532 on a pty or a real serial port."""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from ...device.bench_control import serve_control
from ...device.mock.pn532_emulator import Pn532Emulator, open_pty
from ...device.mock.profiles import PROFILES
from ...device.mock.slot import CardSlot
from ...device.mock.vpcd import VpcdBridge
from ...device.mock.sim import default_state_dir

log = logging.getLogger(__name__)


def cmd_mock_card(args) -> int:
    host, _, port = args.vpcd.rpartition(":")
    state = Path(args.state) if args.state else default_state_dir()
    slot = CardSlot(state, None if args.profile == "empty" else args.profile)
    bridge = VpcdBridge(slot, host or "127.0.0.1", int(port))
    control = serve_control(args.control, slot.control) if args.control else None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=bridge.run, name="vpcd", daemon=True)
    thread.start()
    print(f"virtual card '{args.profile}' served to vpcd at {host or '127.0.0.1'}:{port}; state in {state}"
          + (f"; control socket {args.control}" if args.control else ""), flush=True)
    stop.wait()
    bridge.stop()  # closing the connection is a card removal
    thread.join(timeout=5)
    if control:
        control.shutdown()
    return 0


def register(groups) -> None:
    profiles = "\n".join(f"  {p.name:<10} {p.description}" for p in PROFILES.values())
    p = groups["mock"].add_parser(
        "card", help="serve the virtual My Number Card to pcscd via vsmartcard's vpcd",
        description="Serve the virtual My Number Card to the real pcscd through vpcd. Stopping it removes "
                    "the card. Test PIN 1234, signature password ABC123.\n\nprofiles:\n" + profiles + "\n  empty"
                    "      no card until 'insert PROFILE' on the control socket",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--vpcd", default="127.0.0.1:35963", help="host:port where vpcd listens (default slot 0)")
    p.add_argument("--profile", default="fresh", choices=[*PROFILES, "empty"])
    p.add_argument("--state", help="directory for the card's counters and keys (default: %s)" % default_state_dir())
    p.add_argument("--control", help="Unix socket for bench commands: insert, remove, set-tries, fail, pull-after")
    p.set_defaults(func=cmd_mock_card)
    _register_pn532(groups)


def cmd_mock_pn532(args) -> int:
    state = Path(args.state) if args.state else default_state_dir()
    slot = CardSlot(state, None if args.profile == "empty" else args.profile)
    if args.pty:
        port, where = open_pty()
    else:
        import serial
        port = serial.serial_for_url(args.port, baudrate=args.baud, timeout=0.05)
        where = args.port
    emulator = Pn532Emulator(slot, port, extended_frames=not args.no_extended)
    control = serve_control(args.control, emulator.control) if args.control else None
    stop = threading.Event()

    def on_signal(*_: object) -> None:
        emulator.stop()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    thread = threading.Thread(target=emulator.run, daemon=True)
    thread.start()
    print(f"PN532 emulator with virtual card '{args.profile}' on pty {where} "
          f"(reader URL pn532://{where}); state in {state}" if args.pty else
          f"PN532 emulator with virtual card '{args.profile}' on {where}", flush=True)
    stop.wait()
    thread.join(5)
    if control:
        control.shutdown()
    return 0


def _register_pn532(groups) -> None:
    p = groups["mock"].add_parser("pn532", help="a PN532 on a serial line (pty or port) with the virtual card",
                                  description="Bench firmware: a PN532 that hosts the virtual My Number Card. "
                                              "Control commands: the card's (insert, remove, set-tries, fail, "
                                              "pull-after, status) and drop N, corrupt N, mute, unmute, "
                                              "no-typeb, typeb.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="make a pty and print its path")
    where.add_argument("--port", help="a serial port or pyserial URL, e.g. /dev/ttyUSB0")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--profile", default="fresh", choices=[*PROFILES, "empty"])
    p.add_argument("--state", help="directory for the card's counters and keys")
    p.add_argument("--control", help="Unix socket for bench commands")
    p.add_argument("--no-extended", action="store_true", help="chain long answers (MI) instead of extended frames")
    p.set_defaults(func=cmd_mock_pn532)
