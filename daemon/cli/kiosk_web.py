"""``mynareader kiosk-web``: the patient's touchscreen as a local web page (daemon/kiosk_web)."""
from __future__ import annotations

import asyncio

from ..config import load
from ..app.systemd_integration import setup_logging
from .util import CANNOT, CliFail


def cmd_kiosk_web(args) -> int:
    from ..kiosk_web.run import NotLoopback, run
    path = args.socket or load(args.config).sockets.kiosk
    setup_logging()
    try:
        return asyncio.run(run(path, args.host, args.port))
    except NotLoopback as exc:
        raise CliFail(str(exc), CANNOT) from None
    except OSError as exc:
        raise CliFail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", CANNOT) from None


def register(groups) -> None:
    p = groups["_top"].add_parser("kiosk-web", help="the patient's touchscreen page on 127.0.0.1 (kiosk socket)")
    p.add_argument("--socket", help="kiosk socket (default: from the configuration)")
    p.add_argument("--config")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    p.set_defaults(func=cmd_kiosk_web)
