"""A small synchronous client for the reader's sockets (what `mynareader client` and the tests use).

    with Client("/run/mynareader/reception.sock") as c:
        c.call("hello")
        c.call("subscribe", events=["result"])
        event = c.next_event(timeout=60)
"""
from __future__ import annotations

import collections
import itertools
import json
import socket
import time
from typing import Any

from .errors import RemoteError


class Client:
    def __init__(self, path: str, timeout: float = 30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self._buf = b""
        self._ids = itertools.count(1)
        self.events: collections.deque[dict] = collections.deque()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_message(self, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the reader in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the reader closed the connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method: str, /, **params: Any) -> Any:
        rid = next(self._ids)
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params:
            msg["params"] = params
        self.sock.sendall(json.dumps(msg, ensure_ascii=False).encode() + b"\n")
        while True:
            reply = self.read_message()
            if "id" not in reply or reply.get("method"):
                self.events.append(reply)
                continue
            if reply["id"] != rid:
                if reply["id"] is None and "error" in reply:
                    raise RemoteError(reply["error"])
                continue
            if "error" in reply:
                raise RemoteError(reply["error"])
            return reply["result"]

    def wait_state(self, state: str, timeout: float = 30.0) -> dict:
        """Poll ``kiosk.current`` until the flow is in ``state``; its answer, or TimeoutError naming where it stayed.
        (Kiosk role: a bench or a test waiting for the patient's next screen.)"""
        deadline = time.monotonic() + timeout
        current = None
        while time.monotonic() < deadline:
            current = self.call("kiosk.current")
            if current["state"] == state:
                return current
            time.sleep(0.05)
        raise TimeoutError(f"the reader stayed in {current and current['state']!r}, not {state!r}")

    def next_event(self, timeout: float | None = None, name: str | None = None) -> dict:
        """The next event notification (or the next one called ``name``; others stay queued), as a dict with
        ``method`` and ``params``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, event in enumerate(self.events):
                if name is None or event["method"] == name:
                    del self.events[i]
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {name or 'event'} in time")
            msg = self.read_message(left)
            if "method" in msg:
                self.events.append(msg)
