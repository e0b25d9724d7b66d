"""The bench control channel: a Unix socket taking one-line commands and answering one line each.

Like libfprint's virtual devices, the bench devices are steered from outside (tests, a bench user with
``socat - UNIX-CONNECT:PATH``) so integration tests drive the real daemon deterministically. The service
serves one when ``[bench] control`` is set; the vpcd and PN532 mocks serve their own. ``control:PATH`` as a
card-face source (:class:`ControlCardFace`) asks such a socket for the code of the card it holds.
"""
from __future__ import annotations

import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Callable


def serve_control(path: str | Path, handler: Callable[[str], str]) -> socketserver.BaseServer:
    """Serve ``handler`` on a Unix socket at ``path`` in a daemon thread; returns the server (call shutdown())."""
    path = str(path)
    if os.path.exists(path):
        os.unlink(path)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                try:
                    reply = handler(line)
                except Exception as exc:  # a bad command must not kill the bench device
                    reply = f"error {exc}"
                self.wfile.write(reply.encode() + b"\n")
                self.wfile.flush()

    old = os.umask(0o177)        # the bench controls a card: only its owner may reach it, whatever the umask
    try:
        server = socketserver.ThreadingUnixStreamServer(path, Handler)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="mock-control", daemon=True).start()
    return server


def send_control(path: str | Path, line: str, timeout: float = 10.0) -> str:
    """Send one command to a control socket and return its reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(line.strip().encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode().strip()


class ControlCardFace:
    """``control:PATH``: the bench mock at PATH tells the 照合番号B of the card it holds (``card-face``)."""

    def __init__(self, spec: str, transport=None):
        self.path = spec[len("control:"):]

    def code(self) -> str | None:
        reply = send_control(self.path, "card-face")
        return reply[3:] if reply.startswith("ok ") else None
