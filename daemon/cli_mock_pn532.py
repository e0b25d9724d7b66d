"""``mynareader mock pn532``: a PN532 emulator hosting the virtual card on a pty or a real serial port."""
from __future__ import annotations

import signal
import threading
from pathlib import Path

from ..device.bench_control import serve_control
from ..device.mock.pn532_emulator import Pn532Emulator, open_pty
from ..device.mock.profiles import PROFILES
from ..device.mock.slot import CardSlot
from ..device.mock.sim import default_state_dir


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
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: (emulator.stop(), stop.set()))
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


def register(groups) -> None:
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
