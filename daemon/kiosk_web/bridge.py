"""One connection to the reader's kiosk socket, shared by every page the kiosk-web server serves.

The bridge forwards a page's call only when the method is in :data:`ALLOWED` (and, for ``mode.set``, only the
two modes), subscribes to every kiosk event and hands them to the server, and reconnects when the reader
restarts. Parameters are never logged: a ``kiosk.submit_pin`` carries the PIN.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
from typing import Any, Awaitable, Callable

from ..rpc.server import Role
from ..service.protocol import ROUTES

log = logging.getLogger(__name__)

# what the patient's page may ask the reader: the protocol table's kiosk-only methods, and mode.set (registration
# is armed from the page); nothing that belongs to the reception role, nor status (the reader's internals)
ALLOWED = frozenset(r.method for r in ROUTES if r.roles == {Role.KIOSK}) | {"mode.set"}
MAX_LINE = 64 * 1024


class NotAllowed(Exception):
    """The page asked for a method the kiosk bridge does not forward."""


class LinkDown(Exception):
    """The reader's kiosk socket is not connected (the reader is starting or restarting)."""


class RemoteFailure(Exception):
    """The reader answered with an error: ``error`` is the JSON-RPC error object, passed on to the page."""

    def __init__(self, error: dict):
        super().__init__(error.get("message", "error"))
        self.error = error


def check_call(method: Any, params: Any) -> dict:
    """The allow-list, as pure code: the params to forward, or NotAllowed."""
    if not isinstance(method, str) or method not in ALLOWED:
        raise NotAllowed(f"{method!r} is not a kiosk method")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise NotAllowed("params must be an object")
    if method == "mode.set" and params.get("mode") not in ("reception", "registration"):
        raise NotAllowed("mode.set takes reception or registration")
    return params


EventSink = Callable[[dict], Awaitable[None] | None]


class KioskLink:
    """Keeps one connection to kiosk.sock, subscribed to its events, reconnecting with a short backoff."""

    def __init__(self, path: str, on_event: EventSink, on_link: Callable[[bool], None] | None = None):
        self.path = path
        self.on_event = on_event
        self.on_link = on_link or (lambda up: None)
        self.up = False
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._drop()

    async def call(self, method: str, params: dict | None = None, timeout: float = 30.0) -> Any:
        """One request to the reader (methods outside :data:`ALLOWED` never leave this process)."""
        params = check_call(method, params)
        if not self.up or self._writer is None:
            raise LinkDown("the reader is not connected")
        rid = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        message = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params:
            message["params"] = params
        try:
            async with self._lock:
                self._writer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
                await self._writer.drain()
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(rid, None)

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(self.path, limit=MAX_LINE)
            except OSError as exc:
                log.debug("kiosk socket %s not reachable: %s", self.path, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.2
            self._writer = writer
            reading = asyncio.get_running_loop().create_task(self._read(reader))
            try:
                await self._subscribe()
                self.up = True
                log.info("connected to the reader's kiosk socket %s", self.path)
                self.on_link(True)
                await reading
            except (OSError, LinkDown, ValueError, asyncio.TimeoutError, RemoteFailure) as exc:
                log.warning("kiosk socket connection lost: %s", exc)
            finally:
                reading.cancel()
                self._drop()
                self.on_link(False)
            await asyncio.sleep(backoff)

    async def _subscribe(self) -> None:
        rid = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        writer = self._writer
        if writer is None:
            raise ConnectionError("the kiosk socket is not connected")
        writer.write(json.dumps({"jsonrpc": "2.0", "id": rid, "method": "subscribe",
                                 "params": {"events": ["*"]}}).encode() + b"\n")
        await writer.drain()
        await asyncio.wait_for(future, 10)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                raise LinkDown("the reader closed the kiosk connection")
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("unreadable line from the reader")
                continue
            if "method" in message and "id" not in message:
                result = self.on_event({"method": message["method"], "params": message.get("params") or {}})
                if asyncio.iscoroutine(result):
                    await result
                continue
            future = self._pending.get(message.get("id"))
            if future is None or future.done():
                continue
            if "error" in message:
                future.set_exception(RemoteFailure(message["error"]))
            else:
                future.set_result(message.get("result"))

    def _drop(self) -> None:
        self.up = False
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkDown("the reader connection closed"))
        self._pending.clear()
