"""The loop systemd runs (``mynareader run``): the service composed from the configuration, READY when it
serves, the watchdog pinged from the loop itself, a clean stop on SIGTERM."""
from __future__ import annotations

import asyncio
import gc
import logging
import signal

from ..config import Config
from .compose import compose
from .systemd_integration import listen_fds, notify, watchdog_interval

log = logging.getLogger("mynareader")


async def serve(config: Config) -> int:
    service = compose(config)
    await service.start(listen_fds())
    # what start-up loaded lives as long as the process: out of the collector's sight, a full collection no longer
    # walks it (~16 ms of the loop's time each, measured during face receptions)
    gc.freeze()
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
        fields: dict[str, str | int] = {"WATCHDOG": 1} if interval else {}
        if status != last_status:
            fields["STATUS"] = last_status = status
        if fields:
            notify(**fields)
    notify(STOPPING=1, STATUS="Stopping")
    await service.stop()
    return 0
