"""The card and its reader as the asyncio service sees them.

pyscard and serial calls block, so every card operation runs on one dedicated thread (APDUs to one card must
not interleave anyway), and presence is watched on a second thread with its own reader context. Both report
into the event loop; nothing here decides anything.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Any, Callable

from ...device.card import MyNumberCard
from ...device.errors import DeviceError, ReaderUnavailable, Timeout
from ...device.transport import Transport, presence_watcher

log = logging.getLogger(__name__)


class CardWorker:
    """Runs card operations one at a time on a dedicated thread."""

    DEADLINE = 20.0     # seconds: a whole operation (a read is ~25 APDUs, under a second through pcscd)

    def __init__(self, transport: Transport, deadline: float | None = None):
        self.transport = transport
        self.card = MyNumberCard(transport)
        self.deadline = deadline or self.DEADLINE
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="card")

    async def run(self, operation: Callable[[MyNumberCard], Any]) -> Any:
        """Run ``operation(card)`` on the card thread; device errors propagate as typed exceptions. A card that
        stops answering ends the operation at the deadline (the thread may stay stuck in the driver; the next
        operation queues behind it, and the presence watcher still sees the card go)."""
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        def work():
            loop.call_soon_threadsafe(started.set)
            return operation(self.card)
        future = loop.run_in_executor(self._pool, work)
        try:
            # the clock starts when the operation does: one behind a stuck one waits for it (a deadline of its own)
            await asyncio.wait_for(started.wait(), self.deadline)
            return await asyncio.wait_for(future, self.deadline)
        except asyncio.TimeoutError:
            log.warning("the card did not answer within %g s", self.deadline, extra={"EVENT": "card_timeout"})
            raise Timeout(f"the card stopped answering for {self.deadline:g} s; take it off the reader and "
                          f"place it again") from None

    def close(self) -> None:
        self._pool.submit(self.transport.close)
        self._pool.shutdown(wait=True)


class PresenceWatcher:
    """Calls ``on_event(kind, detail)`` in the loop: kind is "present", "removed", "fault" or "recovered"."""

    POLL_STOP = 1.0      # how often the blocking wait wakes to check for shutdown
    FAULT_RETRY = 2.0

    def __init__(self, transport: Transport, loop: asyncio.AbstractEventLoop,
                 on_event: Callable[[str, str | None], None]):
        self.watcher = presence_watcher(transport)
        self._owns_watcher = self.watcher is not transport
        self.loop, self.on_event = loop, on_event
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="presence", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        if self._owns_watcher:
            self.watcher.close()

    def _post(self, kind: str, detail: str | None = None) -> None:
        self.loop.call_soon_threadsafe(self.on_event, kind, detail)

    def _run(self) -> None:
        present, faulted = False, False
        while not self._stop.is_set():
            try:
                changed = self.watcher.wait_for_change(present, self.POLL_STOP)
                if faulted:
                    faulted = False
                    self._post("recovered")
                if changed:
                    present = not present
                    self._post("present" if present else "removed")
            except ReaderUnavailable as exc:
                if not faulted:
                    faulted = True
                    if present:
                        present = False
                        self._post("removed")
                    self._post("fault", str(exc))
                self._stop.wait(self.FAULT_RETRY)
            except DeviceError as exc:  # any other device trouble: report, keep watching
                self._post("fault", str(exc))
                self._stop.wait(self.FAULT_RETRY)
