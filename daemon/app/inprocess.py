"""The reader service in this process on the bench devices: for the demo, the benchmarks and the tests."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Bench, Config, Devices, Sockets, State

if TYPE_CHECKING:
    from ..service.core import ReaderService


def demo_config(tmp: Path, camera: str = "bench://holder", profile: str = "fresh") -> Config:
    """Everything under tmp: the virtual card (sim://), the bench camera and card-face source, the sockets."""
    return Config(devices=Devices(reader=f"sim://{profile}?state={tmp / 'card'}", camera=camera, cardface="sim"),
                  sockets=Sockets(reception=str(tmp / "reception.sock"), kiosk=str(tmp / "kiosk.sock")),
                  state=State(str(tmp / "state")), bench=Bench(control=str(tmp / "bench.sock")))


class InProcessReader:
    """The reader service on its own event-loop thread (for the demo and benchmarks)."""

    def __init__(self, config: Config):
        from .compose import compose
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.service: ReaderService    # set on the reader's thread, before ready

        def run():
            asyncio.set_event_loop(self.loop)
            self.service = compose(config)
            self.loop.run_until_complete(self.service.start())
            self.ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="reader", daemon=True)
        self.thread.start()
        if not self.ready.wait(60):
            raise RuntimeError("the reader service did not start")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
