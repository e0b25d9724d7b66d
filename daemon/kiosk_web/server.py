"""The kiosk-web server: the page, its assets, one WebSocket per page, and voice, on 127.0.0.1 (aiohttp).

A page sends ``{"id": n, "method": "kiosk.…", "params": {…}}`` over /ws and gets ``{"type": "reply", "id": n,
"result" | "error"}``; the reader's events arrive as ``{"type": "event", "method", "params"}`` and the state of
the link to the reader as ``{"type": "link", "up": bool}``. Only the bridge's allow-list is forwarded.

The WebSocket (and voice) is refused unless the request's Host is this machine (127.0.0.1, localhost, [::1]) and
its Origin is this server - another site open in a browser on the same machine, or a DNS name rebound to
127.0.0.1, cannot drive the patient screen - and unless the connecting process's user is in the kiosk group
(peer.py): other local users cannot reach the PIN pad through the loopback port. Requests are not logged (no
access log); parameters are never logged.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ..reception.texts import TEXTS
from .bridge import KioskLink, LinkDown, NotAllowed, RemoteFailure
from .labels import LABELS
from .peer import may_use, peer_uid
from .voice import VoiceOut

log = logging.getLogger(__name__)

STATIC = Path(str(resources.files("mynareader.daemon.kiosk_web").joinpath("static")))
# the UI font from Debian's packages: BIZ UD Gothic (a legibility design), else IPAex Gothic
FONTS = {
    "ui-regular": ["/usr/share/fonts/truetype/bizud-gothic/BIZUDPGothic-Regular.ttf",
                   "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"],
    "ui-bold": ["/usr/share/fonts/truetype/bizud-gothic/BIZUDPGothic-Bold.ttf",
                "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"],
}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_WS_MESSAGE = 16 * 1024
SECURITY_HEADERS = {
    # everything from this server; no inline script; nothing may frame the page
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "font-src 'self'; media-src 'self' blob:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def font_path(name: str) -> str | None:
    for path in FONTS.get(name, ()):
        if os.path.exists(path):
            return path
    return None


def _same_origin(request: web.Request) -> bool:
    host = request.host or ""
    if urlsplit(f"//{host}").hostname not in LOCAL_HOSTS:
        return False
    origin = request.headers.get("Origin")
    return origin is not None and origin == f"http://{host}"


def _local_user_may(request: web.Request) -> bool:
    """The client's end of the connection belongs to a user in the kiosk group (peer.py says why)."""
    transport = request.transport
    if transport is None:
        return False
    peer, own = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
    if not peer or not own:
        return False
    return may_use(peer_uid(peer[1], own[1]))


def _allowed(request: web.Request) -> bool:
    if not _same_origin(request):
        log.warning("refused a request from origin %r host %r", request.headers.get("Origin"), request.host)
        return False
    if not _local_user_may(request):
        log.warning("refused a local client: its user is not in the kiosk group", extra={"EVENT": "kiosk_web_refused"})
        return False
    return True


@web.middleware
async def _headers(request: web.Request, handler):
    response = await handler(request)
    if not isinstance(response, web.WebSocketResponse):
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
    return response


class KioskWeb:
    def __init__(self, kiosk_socket: str, voice: VoiceOut | None = None):
        self.pages: set[web.WebSocketResponse] = set()
        self.link = KioskLink(kiosk_socket, self._event, self._link_changed)
        self.voice = voice or VoiceOut()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_headers], client_max_size=64 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/texts.json", self._texts)
        app.router.add_get("/fonts/{name}.ttf", self._font)
        app.router.add_get("/voice", self._voice_available)
        app.router.add_post("/voice", self._voice)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app) -> None:
        self.link.start()

    async def _stop(self, app) -> None:
        for ws in list(self.pages):
            await ws.close()
        await self.link.close()

    # -- pages ---------------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _texts(self, request: web.Request) -> web.Response:
        texts = {key: {"ja": ja, "en": en} for key, (ja, en) in {**TEXTS, **LABELS}.items()}
        return web.json_response({"texts": texts, "voice": self.voice.available()})

    async def _font(self, request: web.Request) -> web.StreamResponse:
        path = font_path(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="no Japanese UI font installed (fonts-morisawa-bizud-gothic)")
        response = web.FileResponse(path)
        response.headers["Cache-Control"] = "max-age=86400"
        return response

    # -- voice ---------------------------------------------------------------------------------------
    async def _voice_available(self, request: web.Request) -> web.Response:
        return web.json_response(self.voice.available())

    async def _voice(self, request: web.Request) -> web.Response:
        if not _allowed(request):
            raise web.HTTPForbidden()
        try:
            body = await request.json()
            lang = body["lang"]
            text = self._voice_text(body)
        except (ValueError, KeyError, TypeError):
            raise web.HTTPBadRequest(text="send {key or text, lang}") from None
        audio = await self.voice.wav(text, lang)
        if audio is None:
            return web.Response(status=204)      # no voice on this machine: the page stays silent
        return web.Response(body=audio, content_type="audio/wav")

    @staticmethod
    def _voice_text(body: dict) -> str:
        lang = body["lang"]
        if lang not in ("ja", "en"):
            raise ValueError(lang)
        if "key" in body:
            ja, en = {**TEXTS, **LABELS}[body["key"]]
            return ja if lang == "ja" else en
        text = body["text"]
        if not isinstance(text, str) or not 0 < len(text) <= 400:
            raise ValueError("text")
        return text

    # -- the WebSocket -------------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not _allowed(request):
            raise web.HTTPForbidden(text="the patient screen is served to the kiosk's browser only")
        ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_WS_MESSAGE)
        await ws.prepare(request)
        self.pages.add(ws)
        log.info("a patient page connected (%d open)", len(self.pages), extra={"EVENT": "kiosk_page_connected"})
        await ws.send_json({"type": "link", "up": self.link.up})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                asyncio.get_running_loop().create_task(self._page_call(ws, msg.data))
        finally:
            self.pages.discard(ws)
        return ws

    async def _page_call(self, ws: web.WebSocketResponse, data: str) -> None:
        try:
            message = json.loads(data)
            rid, method, params = message.get("id"), message.get("method"), message.get("params")
        except (ValueError, AttributeError):
            return
        reply: dict = {"type": "reply", "id": rid}
        try:
            reply["result"] = await self.link.call(method, params)
        except NotAllowed as exc:
            log.warning("the page asked for %r: not forwarded", method if isinstance(method, str) else "?")
            reply["error"] = {"name": "NotAllowed", "message": str(exc)}
        except (LinkDown, asyncio.TimeoutError):
            reply["error"] = {"name": "LinkDown", "message": "the reader is not connected"}
        except RemoteFailure as exc:
            data_ = exc.error.get("data") or {}
            reply["error"] = {"name": data_.get("name", "Error"), "message": exc.error.get("message", ""),
                              "data": data_}
        finally:
            if isinstance(params, dict):
                params.clear()       # the PIN, if this was kiosk.submit_pin, is dropped here
        if not ws.closed:
            await ws.send_json(reply)

    async def _send_all(self, message: dict) -> None:
        for ws in list(self.pages):
            if not ws.closed:
                try:
                    await ws.send_json(message)
                except ConnectionError:
                    self.pages.discard(ws)

    async def _event(self, event: dict) -> None:
        await self._send_all({"type": "event", **event})

    def _link_changed(self, up: bool) -> None:
        asyncio.get_running_loop().create_task(self._send_all({"type": "link", "up": up}))


async def serve(kiosk_socket: str, host: str = "127.0.0.1", port: int = 8765, ready=None) -> None:
    """Serve until cancelled. ``ready(port)`` is called once listening (tests pass port 0)."""
    runner = web.AppRunner(KioskWeb(kiosk_socket).app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if port == 0 else port
    log.info("patient screen at http://%s:%d/ (kiosk socket %s)", host, bound, kiosk_socket)
    if ready is not None:
        ready(bound)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
