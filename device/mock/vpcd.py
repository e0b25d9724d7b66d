"""Serve a bench slot's virtual card to the real pcscd through vsmartcard's vpcd driver.

vpcd listens on 127.0.0.1:35963 (slot 0); a virtual card connects to it, and closing the connection is a card
removal. Framing both ways is a 2-byte big-endian length + payload. From vpcd: 00 power off, 01 power on,
02 reset (no reply), 04 get ATR (reply: ATR); anything longer is a C-APDU (reply: R-APDU).
"""
from __future__ import annotations

import logging
import socket
import struct
import threading

from .slot import CardPulled, CardSlot, NoCardPresent

log = logging.getLogger(__name__)

POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class VpcdBridge:
    def __init__(self, slot: CardSlot, host: str = "127.0.0.1", port: int = 35963):
        self.slot, self.host, self.port = slot, host, port
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._sock: socket.socket | None = None
        slot.subscribe(self._on_change)

    def _on_change(self, present: bool) -> None:
        self._changed.set()
        if not present and self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)  # the card leaves the field now, even mid-exchange
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._on_change(False)

    def run(self) -> None:
        """Keep the card connected to vpcd while the slot holds one; reconnect after pcscd restarts."""
        while not self._stop.is_set():
            if not self.slot.present:
                self._changed.wait(0.5)
                self._changed.clear()
                continue
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
            except OSError:
                self._stop.wait(0.5)  # vpcd not listening yet (pcscd starting or stopped)
                continue
            sock.settimeout(None)
            self._sock = sock
            log.info("card connected to vpcd at %s:%d", self.host, self.port)
            try:
                self._serve(sock)
            except OSError:
                pass
            finally:
                self._sock = None
                sock.close()
                log.info("card disconnected from vpcd")

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set() and self.slot.present:
            head = _recv_exact(sock, 2)
            if head is None:
                return
            (length,) = struct.unpack(">H", head)
            msg = _recv_exact(sock, length)
            if msg is None:
                return
            if length == 1:
                reply = self._control(msg[0])
            else:
                try:
                    reply = self.slot.process(msg)
                except CardPulled:
                    return
            if reply is not None:
                sock.sendall(struct.pack(">H", len(reply)) + reply)

    def _control(self, code: int) -> bytes | None:
        try:
            if code == POWER_OFF:
                self.slot.power_off()
            elif code in (POWER_ON, RESET):
                self.slot.power_on()
            elif code == GET_ATR:
                return self.slot.card.atr if self.slot.card else b""
        except NoCardPresent:
            pass
        return None
