"""The reader service as a process: what it is built from (``build_face``) and the loop systemd runs (``serve``).

The command line (``mynareader run``) and the in-process bench (daemon/inprocess.py) both start the service here.
"""
from __future__ import annotations

import asyncio
import logging
import signal

from .systemd_integration import listen_fds, notify, watchdog_interval

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
    return FaceCheck.from_config(config, liveness=config.policy.liveness)


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
        fields: dict[str, str | int] = {"WATCHDOG": 1} if interval else {}
        if status != last_status:
            fields["STATUS"] = last_status = status
        if fields:
            notify(**fields)
    notify(STOPPING=1, STATUS="Stopping")
    await service.stop()
    return 0
