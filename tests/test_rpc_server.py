"""The socket server's own guarantees: roles by socket, typed errors, limits, events, released claims."""
import asyncio
import json
import os
import socket
import stat
import threading

import pytest

from mynareader.daemon.rpc.client import Client, RemoteError
from mynareader.daemon.rpc.server import BOTH, Limits, Role, RpcServer
from mynareader.device.bench_control import send_control


class ServerThread:
    """An RpcServer on its own event loop thread, listening on two socket files."""

    def __init__(self, tmp_path, limits=Limits()):
        self.server = RpcServer(limits, capabilities=["test"], discover=lambda: {"openrpc": "1.2.6"})
        self.released = threading.Event()
        self.server.events.add("tick")

        async def secret(conn, params):
            conn.on_close.append(self.released.set)
            return {"held_by": conn.id}

        async def echo(conn, params):
            return params["value"]

        self.server.add("kiosk.secret", secret, {Role.KIOSK})
        self.server.add("echo", echo, BOTH)
        self.reception = str(tmp_path / "reception.sock")
        self.kiosk = str(tmp_path / "kiosk.sock")
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.listen_path(self.reception, Role.RECEPTION))
            self.loop.run_until_complete(self.server.listen_path(self.kiosk, Role.KIOSK))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def broadcast(self, event, params):
        self.loop.call_soon_threadsafe(self.server.broadcast, event, params)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def srv(tmp_path):
    s = ServerThread(tmp_path)
    yield s
    s.stop()


def raw_exchange(path, data: bytes) -> dict:
    """One raw line to the server and its one-line reply, parsed."""
    return json.loads(send_control(path, data.decode()))


def test_hello_names_role_version_and_methods(srv):
    with Client(srv.kiosk) as c:
        hello = c.call("hello")
    assert hello["protocol"] == "1.0" and hello["role"] == "kiosk"
    assert "kiosk.secret" in hello["methods"]
    with Client(srv.reception) as c:
        assert "kiosk.secret" not in c.call("hello")["methods"]


def test_sockets_are_0660(srv):
    for path in (srv.reception, srv.kiosk):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660


def test_role_comes_from_the_socket(srv):
    with Client(srv.reception) as c:
        with pytest.raises(RemoteError) as e:
            c.call("kiosk.secret")
    assert e.value.name == "NotPermitted" and e.value.code == 1001


@pytest.mark.parametrize("line,name,code", [
    (b"{not json\n", "ParseError", -32700),
    (b"[1,2]\n", "InvalidRequest", -32600),
    (b'{"jsonrpc":"1.0","id":1,"method":"hello"}\n', "InvalidRequest", -32600),
    (b'{"jsonrpc":"2.0","id":2,"method":"nope"}\n', "MethodNotFound", -32601),
    (b'{"jsonrpc":"2.0","id":3,"method":"echo","params":[1]}\n', "InvalidRequest", -32600),
    (b'{"jsonrpc":"2.0","id":4,"method":"echo","params":{}}\n', "InvalidParams", -32602),
    # a lone surrogate is valid JSON but not Unicode: refused where it enters, never stored or echoed
    (b'{"jsonrpc":"2.0","id":5,"method":"echo","params":{"value":"\\ud800"}}\n', "InvalidParams", -32602),
    (b'{"jsonrpc":"2.0","id":"\\ud800","method":"echo","params":{"value":1}}\n', "InvalidRequest", -32600),
    (b'{"jsonrpc":"2.0","id":6,"method":"echo","params":{"value":' + b"[" * 5000 + b"]" * 5000 + b'}}\n',
     "ParseError", -32700),
    (b'{"jsonrpc":"2.0","id":7,"method":"echo","params":{"value":' + b"[" * 40 + b"]" * 40 + b'}}\n',
     "ParseError", -32700),
])
def test_malformed_messages_get_typed_errors_and_the_server_lives_on(srv, line, name, code):
    reply = raw_exchange(srv.kiosk, line)
    assert reply["error"]["code"] == code and reply["error"]["data"]["name"] == name
    with Client(srv.kiosk) as c:
        assert c.call("echo", value=7) == 7


def test_oversized_message_is_refused_with_a_reason(tmp_path):
    s = ServerThread(tmp_path, Limits(max_message=1024))
    try:
        reply = raw_exchange(s.kiosk, b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":"' + b"x" * 5000 + b'"}}\n')
        assert reply["error"]["data"]["name"] == "MessageTooLarge"
        with Client(s.kiosk) as c:
            assert c.call("echo", value="ok") == "ok"
    finally:
        s.stop()


def test_rate_limit_per_connection(tmp_path):
    s = ServerThread(tmp_path, Limits(rate_per_second=1, burst=3))
    try:
        with Client(s.kiosk) as c:
            for _ in range(3):
                c.call("echo", value=1)
            with pytest.raises(RemoteError) as e:
                c.call("echo", value=1)
            assert e.value.name == "RateLimited"
        with Client(s.kiosk) as other:      # the limit is per connection
            assert other.call("echo", value=2) == 2
    finally:
        s.stop()


def test_events_only_after_subscribe(srv):
    with Client(srv.reception) as quiet, Client(srv.reception) as listener:
        assert listener.call("subscribe", events=["tick"]) == {"subscribed": ["tick"]}
        with pytest.raises(RemoteError):
            listener.call("subscribe", events=["no.such.event"])
        srv.broadcast("tick", {"n": 1})
        assert listener.next_event(5) == {"jsonrpc": "2.0", "method": "tick", "params": {"n": 1}}
        quiet.call("hello")
        with pytest.raises(TimeoutError):
            quiet.next_event(0.3)


def test_disconnect_releases_what_the_client_held(srv):
    c = Client(srv.kiosk)
    c.call("kiosk.secret")
    assert not srv.released.is_set()
    c.close()
    assert srv.released.wait(5)


def test_notifications_get_no_reply(srv):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(0.5)
        s.connect(srv.kiosk)
        s.sendall(b'{"jsonrpc":"2.0","method":"echo","params":{"value":1}}\n')
        with pytest.raises(socket.timeout):
            s.recv(100)


def test_many_concurrent_clients(srv):
    errors = []

    def worker(i):
        try:
            with Client(srv.reception) as c:
                for j in range(5):
                    assert c.call("echo", value=[i, j]) == [i, j]
        except Exception as exc:  # collected: asserting in threads would be lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def test_a_reply_that_cannot_be_encoded_is_an_error_reply_not_a_hang_up(tmp_path):
    s = ServerThread(tmp_path)

    async def broken(conn, params):
        return "\ud800"          # a handler bug: text UTF-8 cannot carry
    s.server.add("broken", broken, BOTH)
    try:
        with Client(s.kiosk) as c:
            with pytest.raises(RemoteError) as e:
                c.call("broken")
            assert e.value.name == "InternalError"
            assert c.call("echo", value=3) == 3          # the same connection goes on
        s.broadcast("tick", {"bad": "\ud800"})           # an event that cannot be sent is dropped, logged
        with Client(s.kiosk) as c:
            assert c.call("echo", value=4) == 4
    finally:
        s.stop()


def _error_line(sock) -> dict:
    sock.settimeout(10)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data)


def _connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def test_a_flood_on_the_kiosk_socket_leaves_reception_its_own_connections(tmp_path):
    s = ServerThread(tmp_path, Limits(max_connections=20))
    held = []
    try:
        for _ in range(20):
            c = _connect(s.kiosk)
            c.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello"}\n')
            _error_line(c)
            held.append(c)
        extra = _connect(s.kiosk)
        reply = _error_line(extra)
        assert reply["error"]["data"]["name"] == "TooManyClients" and reply["error"]["code"] == 1008
        extra.close()
        with Client(s.reception) as c:                 # the clinic software is not locked out
            assert c.call("echo", value=1) == 1
    finally:
        for c in held:
            c.close()
        s.stop()


@pytest.mark.parametrize("first", [b"", b'{"jsonrpc":"2.0","id":1,"met'])
def test_silent_and_half_sent_connections_time_out(tmp_path, first):
    s = ServerThread(tmp_path, Limits(first_message_timeout=0.3, message_timeout=0.3))
    try:
        c = _connect(s.kiosk)
        if first:
            c.sendall(first)
        reply = _error_line(c)
        assert reply["error"]["data"]["name"] == "TimedOut"
        assert c.recv(10) == b""                       # and the reader hung up
        c.close()
    finally:
        s.stop()


def test_a_quiet_subscriber_is_not_timed_out(tmp_path):
    s = ServerThread(tmp_path, Limits(first_message_timeout=0.2, message_timeout=0.2))
    try:
        with Client(s.reception) as c:
            c.call("subscribe", events=["tick"])
            import time
            time.sleep(0.6)                            # longer than both deadlines, with nothing sent
            s.broadcast("tick", {"n": 1})
            assert c.next_event(5, name="tick")["params"] == {"n": 1}
    finally:
        s.stop()


def test_unread_events_are_bounded_across_all_clients(tmp_path):
    limit = 256 * 1024
    s = ServerThread(tmp_path, Limits(max_queued_total=limit))
    sleepers = []
    try:
        for _ in range(8):                              # subscribe, then never read again
            c = _connect(s.reception)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sendall(b'{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"events":["tick"]}}\n')
            _error_line(c)
            sleepers.append(c)
        payload = "x" * 16000
        for i in range(200):
            s.broadcast("tick", {"n": i, "pad": payload})
        queued = asyncio.run_coroutine_threadsafe(_queued(s.server), s.loop).result(10)
        assert queued <= limit + 64 * 1024             # bounded (one message of slack)
        with Client(s.reception) as c:                  # and the reader still serves
            assert c.call("echo", value=2) == 2
    finally:
        for c in sleepers:
            c.close()
        s.stop()


async def _queued(server):
    return sum(c.queued() for c in server.connections)
