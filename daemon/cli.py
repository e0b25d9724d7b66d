"""The ``mynareader`` command. Each command group lives in its own ``cli_*`` module with a ``register``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ..device.errors import DeviceError

# modules that add commands; each has register(groups) where groups maps a group name to its subparsers
_COMMAND_MODULES = ["cli_card", "cli_mock", "cli_mock_pn532", "cli_face", "cli_demo", "cli_client", "cli_run",
                    "cli_kiosk", "cli_kiosk_web", "cli_bench_session", "cli_store", "cli_liveness",
                    "cli_cardface", "cli_tls"]

GROUPS = {
    "card": "read and check a card on a reader (never consumes a PIN try unless you enter a PIN)",
    "mock": "bench devices: a virtual My Number Card, reader and camera for tests without hardware",
    "face": "face detection and comparison on image files",
    "cardface": "read 照合番号B from photos of a card's front (OCR; see docs/cardface.md)",
    "bench": "measure APDUs, latency and memory; prints figures",
    "store": "the state store: make it at install, recover it deliberately after a loss",
    "tls": "the network transport's certificates: the reader's CA, its server certificate, clients' certificates",
}

EPILOG = """\
Reader URLs:
  pcsc://                 the first PC/SC reader that holds a card (needs pcscd)
  pcsc://?reader=ACS      the PC/SC reader whose name contains ACS
  sim://fresh             the built-in virtual card (profiles: see 'mynareader mock card --help')
  pn532:///dev/ttyAMA0    a PN532 NFC module on the Raspberry Pi's UART
Prefix any of them with spy+ to log every APDU (PINs are redacted).

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
    for module in _COMMAND_MODULES:
        try:
            mod = importlib.import_module(f".{module}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(module):
                continue  # a command group not built yet
            raise
        mod.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except DeviceError as exc:
        print(f"mynareader: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
