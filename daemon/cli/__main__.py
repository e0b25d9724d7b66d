"""The ``mynareader`` command: the command groups, and the one place where failures become messages and exit codes.

Each module of this package adds one group's commands with ``register(groups)``; they are imported here
statically, so a missing module is an import error at once, not a command that silently disappears.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback

from ...device import registry
from ...device.errors import DeviceError
from ..errors import ConfigError, ServiceError
from . import bench, card, cardface, client, demo, face, kiosk, kiosk_web, liveness, mock, run, store, tls, voice
from .util import CANNOT, INTERNAL, INTERRUPTED, NO, CliFail

COMMAND_MODULES = (run, demo, client, kiosk, kiosk_web, card, mock, face, cardface, bench, liveness, store, tls, voice)

GROUPS = {
    "card": "read and check a card on a reader (never consumes a PIN try unless you enter a PIN)",
    "mock": "bench devices: a virtual My Number Card, reader and camera for tests without hardware",
    "face": "face detection and comparison on image files",
    "cardface": "read 照合番号B from photos of a card's front (OCR; see docs/cardface.md)",
    "bench": "measure APDUs, latency and memory; prints figures",
    "store": "the state store: make it at install, recover it deliberately after a loss",
    "tls": "the network transport's certificates: the reader's CA, its server certificate, clients' certificates",
    "voice": "the patient screen's voice guidance: speak a text, check the engines, time every screen text",
}

EPILOG = f"""\
Reader URLs (--reader, devices.reader):
{registry.describe("reader")}

Camera URLs (devices.camera):
{registry.describe("camera")}

Card-face sources (devices.cardface, where 照合番号B comes from):
{registry.describe("cardface")}

Exit codes: 0 done, 1 the answer is no, 2 could not run as asked, 3 PIN blocked, 4 refused to protect the card
(nothing sent), 70 internal error, 130 interrupted (README.md, "Exit codes").

Examples:
  mynareader card info --reader pcsc:// --json
  mynareader card pin --reader pcsc://
  mynareader mock card --vpcd 127.0.0.1:35963 --profile fresh
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mynareader", description="Software for a face-authentication My Number Card reader.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for APDUs)")
    top = parser.add_subparsers(dest="group", metavar="COMMAND", required=True)
    groups = {}
    for name, help_text in GROUPS.items():
        p = top.add_parser(name, help=help_text, description=help_text)
        groups[name] = p.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    groups["_top"] = top
    for module in COMMAND_MODULES:
        module.register(groups)
    return parser


def _failure(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code for a failure a person can act on; None for a bug."""
    if isinstance(exc, CliFail):
        return str(exc), exc.status
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}", CANNOT
    if isinstance(exc, DeviceError):
        return str(exc), CANNOT
    if isinstance(exc, ServiceError):
        return str(exc), NO
    if isinstance(exc, PermissionError):
        return f"{exc.filename or ''}: permission denied; run this command as root (sudo)", NO
    if isinstance(exc, OSError):
        return f"{exc.filename or ''}: {exc.strerror or exc}", NO
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as exc:
        failure = _failure(exc)
        if failure is None:
            if args.verbose:
                traceback.print_exc()
            failure = (f"internal error ({type(exc).__name__}); this is a bug in mynareader. "
                       "Run the command again with -v to see where, and report it.", INTERNAL)
        message, status = failure
        if getattr(args, "json", False):
            print(json.dumps({"error": message}, ensure_ascii=False))
        print(f"mynareader: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
