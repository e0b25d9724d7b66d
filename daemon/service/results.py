"""Results, kept for a client that missed the event: the last one in memory, recent ones in the store.

The store is SQLite and may wait on a lock or a stalled SD card, so its calls run on the flow's thread (the one
that already serialises the flow's store reads), never on the event loop.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any, Coroutine

from ..store import Store, StoreError

log = logging.getLogger(__name__)


class Results:
    def __init__(self, store: Store | None, thread: concurrent.futures.Executor):
        self.store, self._thread = store, thread
        self.last: dict | None = None

    def record(self, result: dict) -> Coroutine[Any, Any, None]:
        """Remember a result just emitted, now; the coroutine returned keeps it in the store (spawn it)."""
        self.last = result
        return self._keep(result)

    async def _keep(self, result: dict) -> None:
        if self.store is None:      # no store since start: status says so; result.last still has it
            return
        try:
            await self._run(self.store.keep_result, result["session_id"], result, time.time())
        except StoreError as exc:    # the result still went out and result.last has it until a restart
            log.warning("the result could not be kept for later: %s", exc, extra={"EVENT": "result_not_kept"})

    async def latest(self) -> dict | None:
        """The last result: this process's, or after a restart the store's, if recent."""
        return self.last or await self._kept(None)

    async def of(self, session: str) -> dict | None:
        if self.last is not None and self.last.get("session_id") == session:
            return self.last
        return await self._kept(session)

    async def _kept(self, session: str | None) -> dict | None:
        if self.store is None:
            return None
        try:
            return await self._run(self.store.kept_result, session, time.time())
        except StoreError:
            return None

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)
