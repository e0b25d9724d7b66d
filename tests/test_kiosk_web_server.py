"""The kiosk-web server without a browser: the allow-list, the origin check, voice, and that a PIN passes through
to the kiosk socket without being logged. A small fake kiosk socket records what reaches it."""
from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mynareader.daemon.kiosk_web.bridge import ALLOWED, NotAllowed, check_call
from mynareader.daemon.kiosk_web.peer import may_use, uid_of
from mynareader.daemon.kiosk_web.server import KioskWeb
from mynareader.daemon.kiosk_web.voice import VoiceOut
from mynareader.daemon.service.protocol import openrpc_document


def test_allow_list_is_kiosk_methods_only():
    kiosk_methods = {m["name"] for m in openrpc_document()["methods"] if "kiosk" in m["x-roles"]}
    reception_only = {m["name"] for m in openrpc_document()["methods"] if m["x-roles"] == ["reception"]}
    assert ALLOWED <= kiosk_methods and not ALLOWED & reception_only
    for method in sorted(reception_only) + ["subscribe", "rpc.discover", None, 3]:
        with pytest.raises(NotAllowed):
            check_call(method, {})
    with pytest.raises(NotAllowed):
        check_call("mode.set", {"mode": "maintenance"})
    with pytest.raises(NotAllowed):
        check_call("kiosk.answer", ["comprehensive", "agree"])
    assert check_call("kiosk.submit_pin", {"pin": "1234"}) == {"pin": "1234"}


class FakeKioskSocket:
    """Answers every request with {"ok": method} and records the requests."""

    def __init__(self, path: str):
        self.path, self.seen, self.writers = path, [], []

    async def start(self):
        self.server = await asyncio.start_unix_server(self._client, self.path)

    async def _client(self, reader, writer):
        self.writers.append(writer)
        while line := await reader.readline():
            msg = json.loads(line)
            self.seen.append(msg)
            writer.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {"ok": msg["method"]}}).encode()
                         + b"\n")
            await writer.drain()

    async def emit(self, method: str, params: dict):
        for w in self.writers:
            w.write(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode() + b"\n")
            await w.drain()


class FakeSpeaker:
    def __init__(self):
        self.said = []

    def available(self):
        return {"ja": True, "en": True}

    async def wav(self, text, lang):
        self.said.append((text, lang))
        return b"RIFF....WAVE"


def run(coro):
    return asyncio.run(coro)


async def _with_server(tmp_path, body, voice=None):
    fake = FakeKioskSocket(str(tmp_path / "kiosk.sock"))
    await fake.start()
    web = KioskWeb(fake.path, voice)
    client = TestClient(TestServer(web.app(), host="127.0.0.1"))
    await client.start_server()
    try:
        while not web.link.up:
            await asyncio.sleep(0.02)
        return await body(client, fake)
    finally:
        await client.close()
        fake.server.close()


def _origin(client) -> dict:
    return {"Origin": f"http://127.0.0.1:{client.port}"}


def test_pin_is_forwarded_once_and_never_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    async def body(client, fake):
        ws = await client.ws_connect("/ws", headers=_origin(client))
        assert (await ws.receive_json()) == {"type": "link", "up": True}
        await ws.send_json({"id": 7, "method": "kiosk.submit_pin", "params": {"pin": "4826"}})
        await ws.send_json({"id": 8, "method": "session.confirm_visual", "params": {"staff": "x"}})
        replies = {}
        while len(replies) < 2:
            msg = await ws.receive_json()
            replies[msg["id"]] = msg
        await fake.emit("step.changed", {"step": "consent"})
        event = await ws.receive_json()
        await ws.close()
        return replies, event

    replies, event = run(_with_server(tmp_path, body))
    assert replies[7]["result"] == {"ok": "kiosk.submit_pin"}
    assert replies[8]["error"]["name"] == "NotAllowed"
    assert event == {"type": "event", "method": "step.changed", "params": {"step": "consent"}}
    assert "4826" not in caplog.text


def test_websocket_needs_this_machine_as_host_and_origin(tmp_path):
    async def body(client, fake):
        statuses = []
        for headers in ({"Origin": "http://evil.example"},                      # another site in the browser
                        {"Origin": "http://evil.example:80", "Host": "evil.example:80"},   # DNS rebinding
                        {}):                                                     # no Origin at all
            resp = await client.get("/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                    "Sec-WebSocket-Version": "13",
                                                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", **headers})
            statuses.append(resp.status)
        return statuses

    assert run(_with_server(tmp_path, body)) == [403, 403, 403]


def test_voice_speaks_a_pin_digit_as_one_digit_entered_and_is_silent_without_an_engine(tmp_path):
    speaker = FakeSpeaker()

    async def body(client, fake):
        ok = await client.post("/voice", json={"key": "pin_digit", "lang": "ja"}, headers=_origin(client))
        texts = await (await client.get("/texts.json")).json()
        bad = await client.post("/voice", json={"text": "x" * 1000, "lang": "ja"}, headers=_origin(client))
        foreign = await client.post("/voice", json={"key": "pin_digit", "lang": "ja"},
                                    headers={"Origin": "http://evil.example"})
        return ok.status, ok.content_type, texts["voice"], bad.status, foreign.status

    assert run(_with_server(tmp_path, body, VoiceOut(speaker))) == (200, "audio/wav", {"ja": True, "en": True},
                                                                    400, 403)
    assert speaker.said == [("1桁入力しました。", "ja")]

    async def silent(client, fake):
        r = await client.post("/voice", json={"text": "カードを置いてください", "lang": "ja"}, headers=_origin(client))
        return r.status

    (tmp_path / "silent").mkdir()
    assert run(_with_server(tmp_path / "silent", silent, VoiceOut.off())) == 204


def test_the_page_gets_real_speech_from_the_installed_engines(tmp_path, monkeypatch):
    """The default VoiceOut uses daemon/voice's Speaker with Open JTalk and flite: the page's request for a PIN
    digit and for a screen text come back as WAV audio in both languages."""
    import io
    import wave
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    voice = VoiceOut()
    if not all(voice.available().values()):
        pytest.skip(f"the voice engines are not installed here: {voice.available()}")

    async def body(client, fake):
        out = []
        for payload in ({"key": "pin_digit", "lang": "ja"}, {"key": "pin_digit", "lang": "en"},
                        {"text": "カードを置いてください", "lang": "ja"}):
            r = await client.post("/voice", json=payload, headers=_origin(client))
            out.append((r.status, await r.read()))
        return out

    for status, audio in run(_with_server(tmp_path, body, voice)):
        assert status == 200
        with wave.open(io.BytesIO(audio)) as w:
            assert w.getnframes() / w.getframerate() > 0.3      # speech, not an empty file


UPGRADE = r"""
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
           "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
print(s.recv(100).split(b"\r\n")[0].decode())
"""


@pytest.mark.skipif(os.getuid() != 0, reason="starting a process as another user needs root")
def test_another_local_user_cannot_reach_the_pin_pad_even_with_the_right_origin(tmp_path):
    """Any local user can reach a loopback port and write any Origin; only the kiosk group's users get in."""
    async def status_as(port: int, user: int | None) -> str:
        proc = await asyncio.create_subprocess_exec("/usr/bin/python3", "-c", UPGRADE, str(port), user=user,
                                                    stdout=asyncio.subprocess.PIPE, cwd="/")
        out, _ = await proc.communicate()
        return out.decode().strip()

    async def body(client, fake):
        return await status_as(client.port, 65534), await status_as(client.port, None)

    nobody, me = run(_with_server(tmp_path, body))
    assert nobody == "HTTP/1.1 403 Forbidden"
    assert me == "HTTP/1.1 101 Switching Protocols"


def test_peer_uid_from_the_kernels_socket_table():
    table = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
             "   0: 0100007F:223D 0100007F:B5A2 01 00000000:00000000 00:00000000 00000000   998        0 1 1\n"
             "   1: 0100007F:B5A2 0100007F:223D 01 00000000:00000000 00:00000000 00000000  1000        0 2 1\n")
    assert uid_of(table, client_port=0xB5A2, server_port=0x223D) == {1000}
    assert uid_of(table, client_port=0xB5A3, server_port=0x223D) == set()
    assert may_use(None) is False and may_use(os.getuid()) is True
