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


def cmd_kiosk_display(args) -> int:
    from ..kiosk_web.display import supervise
    command = args.browser[1:] if args.browser[:1] == ["--"] else args.browser
    if not command:
        raise CliFail("give the browser's command after --, e.g. -- chromium --kiosk URL", CANNOT)
    if not args.hung_after > 0:
        raise CliFail("--hung-after must be a number of seconds above 0", CANNOT)
    setup_logging()
    return supervise(args.url, command, args.hung_after)


def register(groups) -> None:
    p = groups["_top"].add_parser("kiosk-web", help="the patient's touchscreen page on 127.0.0.1 (kiosk socket)")
    p.add_argument("--socket", help="kiosk socket (default: from the configuration)")
    p.add_argument("--config")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 picks a free one)")
    p.set_defaults(func=cmd_kiosk_web)
    p = groups["_top"].add_parser("kiosk-display", help="run the touchscreen's browser and load the patient's "
                                  "page again when its tab crashes or hangs (in mynareader-kiosk-display.service)")
    p.add_argument("--url", default="http://127.0.0.1:8765/", help="the patient's page (default: kiosk-web's)")
    p.add_argument("--hung-after", type=float, default=6.0, metavar="SECONDS",
                   help="restart the browser when the page has not answered for this long (default 6; a machine "
                        "without a GPU or under emulation needs more)")
    p.add_argument("browser", nargs="...", help="-- then the browser's command line")
    p.set_defaults(func=cmd_kiosk_display)
