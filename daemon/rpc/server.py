"""The local socket server: JSON-RPC 2.0 lines on Unix stream sockets, one role per socket.

Roles come from the socket a client connected to (its file mode and group decide who may connect), never from
anything the client says. A connection's claims and subscriptions end with it: ``on_close`` callbacks run
however the connection ends.
"""
from __future__ import annotations

import asyncio
import dataclasses
import enum
import grp
import itertools
import logging
import os
import socket
import struct
import time
from typing import Any, Awaitable, Callable

from . import codec
from .errors import (InvalidParams, InvalidRequest, MessageTooLarge, MethodNotFound, NotPermitted, ParseError,
                     RateLimited, RpcError, TimedOut, TooManyClients)

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "1.0"


class Role(str, enum.Enum):
    RECEPTION = "reception"
    KIOSK = "kiosk"


BOTH = frozenset(Role)


@dataclasses.dataclass(frozen=True)
class Limits:
    max_message: int = codec.MAX_MESSAGE
    rate_per_second: float = 50.0      # sustained requests per connection
    burst: int = 100
    max_connections: int = 256         # per socket (role): a flood on the kiosk socket leaves reception its own
    max_queued_bytes: int = 1 << 20    # a client that stops reading its events is dropped past this
    max_queued_total: int = 16 << 20   # all clients together: the largest backlog is dropped past this
    first_message_timeout: float = 30.0  # a new connection says something (hello, subscribe) within this
    message_timeout: float = 30.0      # a message once started is finished within this


@dataclasses.dataclass(frozen=True)
class PeerCred:
    pid: int
    uid: int
    gid: int


Handler = Callable[["Connection", dict], Awaitable[Any]]


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    roles: frozenset[Role]


class TokenBucket:
    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst, self.tokens, self.t = rate, burst, float(burst), now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Connection:
    _ids = itertools.count(1)

    def __init__(self, role: Role, writer: asyncio.StreamWriter, peer: PeerCred | None, limits: Limits):
        self.id = next(self._ids)
        self.role, self.writer, self.peer = role, writer, peer
        self.subscriptions: set[str] = set()
        self.on_close: list[Callable[[], None]] = []
        self.bucket = TokenBucket(limits.rate_per_second, limits.burst, time.monotonic())
        self.max_queued = limits.max_queued_bytes
        self.closed = False

    def queued(self) -> int:
        return 0 if self.closed else self.writer.transport.get_write_buffer_size()

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if self.queued() > self.max_queued:
            log.warning("dropping %s client %d: it does not read its messages", self.role.value, self.id)
            self.close()
            return
        self.writer.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.transport.abort()   # drop what is queued now: memory comes back at once


def peer_credentials(sock: socket.socket) -> PeerCred | None:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return PeerCred(*struct.unpack("3i", raw))


class RpcServer:
    def __init__(self, limits: Limits = Limits(), capabilities: list[str] | None = None,
                 discover: Callable[[], dict] | None = None,
                 check_params: Callable[[str, dict], None] | None = None):
        self.limits = limits
        self.check_params = check_params    # raises InvalidParams; from the OpenRPC document (rpc/params.py)
        self.methods: dict[str, Method] = {}
        self.connections: set[Connection] = set()
        self.capabilities = capabilities or []
        self._servers: list[asyncio.AbstractServer] = []
        self.observers: list[Callable[[str, dict], None]] = []    # see every event broadcast (metrics)
        self._discover = discover
        self.add("hello", self._hello, BOTH)
        self.add("rpc.discover", self._rpc_discover, BOTH)
        self.add("subscribe", self._subscribe, BOTH)
        self.add("unsubscribe", self._unsubscribe, BOTH)
        self.events: set[str] = set()

    # -- registration --------------------------------------------------------------------------------
    def add(self, name: str, handler: Handler, roles: frozenset[Role] | set[Role]) -> None:
        self.methods[name] = Method(name, handler, frozenset(roles))

    # -- sockets ---------------------------------------------------------------------------------------
    async def listen_path(self, path: str, role: Role, mode: int = 0o660, group: str | None = None) -> None:
        """Bind a socket file with ``mode`` and ``group`` (when not handed one by systemd)."""
        if os.path.exists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        old = os.umask(0o777 & ~mode)
        try:
            server = await asyncio.start_unix_server(lambda r, w: self._client(r, w, role), path=path)
        finally:
            os.umask(old)
        os.chmod(path, mode)
        if group:
            os.chown(path, -1, grp.getgrnam(group).gr_gid)
        self._servers.append(server)

    async def listen_socket(self, sock: socket.socket, role: Role) -> None:
        """Serve a socket systemd passed us (socket activation)."""
        server = await asyncio.start_unix_server(lambda r, w: self._client(r, w, role), sock=sock)
        self._servers.append(server)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.close()
        for server in self._servers:
            await server.wait_closed()

    # -- events ----------------------------------------------------------------------------------------
    def broadcast(self, event: str, params: dict, roles: frozenset[Role] = BOTH) -> None:
        """Never raises: a session's next actions must not depend on whether its events could be sent."""
        for observe in self.observers:
            try:
                observe(event, params)
            except Exception:
                log.exception("an observer of %s failed", event)
        try:
            line = codec.notification(event, params)
        except codec.Unencodable:
            log.error("event %s could not be encoded and was not sent", event, extra={"EVENT": "event_unsent"})
            return
        for conn in list(self.connections):
            if conn.role in roles and (event in conn.subscriptions or "*" in conn.subscriptions):
                conn.send(line)
        self._bound_backlog()

    def _bound_backlog(self) -> None:
        """Many clients that each stay under their own limit must not add up to the reader's memory."""
        total = sum(c.queued() for c in self.connections)
        while total > self.limits.max_queued_total:
            worst = max(self.connections, key=Connection.queued)
            total -= worst.queued()
            log.warning("dropping %s client %d: clients together hold too many unread messages",
                        worst.role.value, worst.id)
            worst.close()
            self.connections.discard(worst)

    # -- one client ------------------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, role: Role,
                      remote: str | None = None) -> None:
        """``remote``: a network client's certificate name and address (rpc/tls.py); Unix clients have a pid."""
        sock = writer.get_extra_info("socket")
        peer = peer_credentials(sock) if sock is not None and remote is None else None
        conn = Connection(role, writer, peer, self.limits)
        if sum(1 for c in self.connections if c.role is role) >= self.limits.max_connections:
            log.warning("refused a %s client (pid=%s): %d connections already", role.value,
                        peer.pid if peer else "?", self.limits.max_connections,
                        extra={"EVENT": "client_refused", "ROLE": role.value})
            conn.send(codec.error(None, TooManyClients(
                f"the {role.value} socket already has {self.limits.max_connections} connections")))
            await self._flush_and_close(conn)
            return
        self.connections.add(conn)
        log.info("%s client %d connected (%s)", role.value, conn.id,
                 remote or f"pid={peer.pid if peer else '?'} uid={peer.uid if peer else '?'}",
                 extra={"EVENT": "client_connected", "ROLE": role.value,
                        "PEER_UID": peer.uid if peer else None})
        try:
            await self._serve(conn, reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            self.connections.discard(conn)
            conn.close()
            for callback in conn.on_close:
                try:
                    callback()
                except Exception:
                    log.exception("releasing what client %d held failed", conn.id)
            log.info("%s client %d disconnected", role.value, conn.id, extra={"EVENT": "client_disconnected"})

    async def _serve(self, conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Lines in, replies out. A connection that says nothing at first, or stalls inside a message, is closed
        after a deadline (a silent subscriber is fine once it has spoken)."""
        buf = bytearray()
        loop = asyncio.get_running_loop()
        deadline: float | None = loop.time() + self.limits.first_message_timeout
        while not conn.closed:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout)
            except asyncio.TimeoutError:
                why = "left a message unfinished" if buf else "sent nothing"
                log.warning("closing %s client %d: it %s", conn.role.value, conn.id, why,
                            extra={"EVENT": "client_timed_out"})
                conn.send(codec.error(None, TimedOut(f"the connection {why} for "
                                                     f"{self.limits.message_timeout:g} s; it is closed")))
                await self._flush_and_close(conn)
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf and not conn.closed:
                line, _, rest = bytes(buf).partition(b"\n")
                buf = bytearray(rest)
                if line.strip():
                    reply = await self._dispatch(conn, line)
                    if reply:
                        conn.send(reply)
                        await writer.drain()
            if len(buf) > self.limits.max_message:
                # cannot find where the oversized message ends: say why, then hang up
                conn.send(codec.error(None, MessageTooLarge(f"messages are limited to {self.limits.max_message} "
                                                            f"bytes")))
                await self._flush_and_close(conn)
                return
            deadline = loop.time() + self.limits.message_timeout if buf else None

    @staticmethod
    async def _flush_and_close(conn: Connection) -> None:
        """Let a last error reply go out (briefly: a client that does not read gets no more time), then close."""
        try:
            await asyncio.wait_for(conn.writer.drain(), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        conn.closed = True
        conn.writer.close()

    async def _dispatch(self, conn: Connection, line: bytes) -> bytes | None:
        rid = None
        try:
            request = codec.decode(line, self.limits.max_message)
            rid = request.id
            if not conn.bucket.take(time.monotonic()):
                raise RateLimited(f"at most {self.limits.rate_per_second:g} requests per second on one connection")
            method = self.methods.get(request.method)
            if method is None:
                raise MethodNotFound(f"no method {request.method!r}; call rpc.discover for the list")
            if conn.role not in method.roles:
                allowed = " or ".join(sorted(r.value for r in method.roles))
                raise NotPermitted(f"{request.method} is only for the {allowed} socket")
            if self.check_params is not None:
                self.check_params(request.method, request.params)
            value = await method.handler(conn, request.params)
        except RpcError as err:
            rid = err.data.pop("id", rid)
            if rid is None and not isinstance(err, (ParseError, InvalidRequest, MessageTooLarge)):
                return None  # a notification gets no reply, not even an error
            return codec.error(rid, err)
        except (TypeError, KeyError, ValueError) as exc:
            if self.check_params is not None:   # parameters were checked: this is a bug, logged with its traceback
                log.exception("method %s failed", request.method)
                return codec.error(rid, RpcError())
            name = exc.args[0] if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str) else None
            return codec.error(rid, InvalidParams(f"missing parameter {name!r}" if name else
                                                  "a parameter has the wrong type or value"))
        except Exception:
            log.exception("method failed")
            return codec.error(rid, RpcError())
        if rid is None:
            return None
        try:
            return codec.result(rid, value)
        except codec.Unencodable:
            log.error("the reply to %s could not be encoded", request.method, extra={"EVENT": "reply_unsent"})
            return codec.error(rid, RpcError("The reader could not encode its reply; it keeps running."))

    # -- built-in methods ----------------------------------------------------------------------------------
    async def _hello(self, conn: Connection, params: dict) -> dict:
        return {"protocol": PROTOCOL_VERSION, "server": "mynareader", "role": conn.role.value,
                "capabilities": self.capabilities,
                "methods": sorted(m.name for m in self.methods.values() if conn.role in m.roles)}

    async def _rpc_discover(self, conn: Connection, params: dict) -> dict:
        if self._discover is None:
            raise MethodNotFound("this server has no OpenRPC document")
        return self._discover()

    async def _subscribe(self, conn: Connection, params: dict) -> dict:
        events = params.get("events", ["*"])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise InvalidParams('"events" must be a list of event names')
        unknown = [e for e in events if e != "*" and e not in self.events]
        if unknown:
            raise InvalidParams(f"unknown events {unknown}; known: {sorted(self.events)}")
        conn.subscriptions.update(events)
        return {"subscribed": sorted(conn.subscriptions)}

    async def _unsubscribe(self, conn: Connection, params: dict) -> dict:
        events = params.get("events", list(conn.subscriptions))
        conn.subscriptions.difference_update(events)
        return {"subscribed": sorted(conn.subscriptions)}
