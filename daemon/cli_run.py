"""``mynareader run``: the reader service, as systemd starts it (or by hand on a bench)."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys

from .config import ConfigError, load
from .systemd_integration import listen_fds, notify, setup_logging, watchdog_interval

log = logging.getLogger("mynareader")


def build_face(config):
    """The face check for the configured camera and model, or None when face authentication is off."""
    if config.devices.cardface == "none":
        return None
    try:
        from .face_check import FaceCheck
    except ImportError:
        log.warning("face authentication is off: the face pipeline is not installed")
        return None
    from .reception.policy import Policy
    return FaceCheck.from_config(config, liveness=Policy.from_mapping(config.policy).liveness)


async def serve(config) -> int:
    from .service import ReaderService
    service = ReaderService(config, face=build_face(config))
    await service.start(listen_fds())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    notify(READY=1, STATUS=service.status_line())
    interval = watchdog_interval()
    last_status = None
    while not stop.is_set():
        # the watchdog is pinged from the loop itself: a hung loop stops the pings and systemd restarts us
        try:
            await asyncio.wait_for(stop.wait(), timeout=min(interval or 5.0, 5.0))
        except asyncio.TimeoutError:
            pass
        status = service.status_line()
        fields = {"WATCHDOG": 1} if interval else {}
        if status != last_status:
            fields["STATUS"] = last_status = status
        if fields:
            notify(**fields)
    notify(STOPPING=1, STATUS="Stopping")
    await service.stop()
    return 0


def cmd_run(args) -> int:
    try:
        config = load(args.config, overrides=args.set)
    except ConfigError as exc:
        print(f"mynareader: configuration error: {exc}", file=sys.stderr)
        return 2
    # -v / -vv on the command line win over a quieter configured level (the bench wants them; systemd does not)
    levels = ["debug", "info", "warning", "error"]
    wanted = {1: "info", 2: "debug"}.get(min(getattr(args, "verbose", 0), 2), config.logging.level)
    setup_logging(min(wanted, config.logging.level.lower(), key=levels.index))
    return asyncio.run(serve(config))


def register(groups) -> None:
    p = groups["_top"].add_parser(
        "run", help="run the reader service (what systemd starts)",
        description="Run the reader service. Configuration: built-in defaults, then the file, then "
                    "MYNAREADER_SECTION_KEY environment variables, then --set section.key=value.")
    p.add_argument("--config", help="configuration file (default /etc/mynareader/mynareader.toml if present)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one setting, e.g. --set devices.reader=pcsc://")
    p.set_defaults(func=cmd_run)
