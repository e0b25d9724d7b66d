"""Running the kiosk-web server as a service: configuration, loopback only, systemd notify, clean stop."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal

from ..app.systemd_integration import notify
from .server import serve

log = logging.getLogger(__name__)


class NotLoopback(ValueError):
    """The patient screen is served to this machine only."""


def check_host(host: str) -> str:
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise NotLoopback(f"--host {host}: the patient screen is served on this machine only (127.0.0.1 or ::1); "
                      "the PIN pad must not be reachable from the network")


async def run(kiosk_socket: str, host: str, port: int) -> int:
    check_host(host)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def ready(bound: int) -> None:
        notify(READY=1, STATUS=f"Serving the patient screen on http://{host}:{bound}/")
        print(f"patient screen: http://{host}:{bound}/", flush=True)

    server = loop.create_task(serve(kiosk_socket, host, port, ready))
    stopping = loop.create_task(stop.wait())
    await asyncio.wait({server, stopping}, return_when=asyncio.FIRST_COMPLETED)
    notify(STOPPING=1)
    server.cancel()
    try:
        await server
    except asyncio.CancelledError:
        pass
    stopping.cancel()
    return 0
