"""``pn532:///dev/ttyAMA0?baud=115200``: a PN532 NFC controller on a UART, reading ISO 14443-4 targets: the card
(Type B) and the phones (Type A: their type is not public, so both are polled, B first).

Any pyserial URL works underneath: ``pn532+socket://host:port``, ``pn532+spy:///dev/ttyUSB0``, ``pn532+loop://``.
The frame protocol recovers from noise and damaged frames: a damaged response is asked for again (NACK), which
never re-runs the command. A command whose ACK does not arrive is repeated only when repeating is harmless;
VERIFY with data, COMPUTE SIGNATURE and CHANGE REFERENCE DATA are sent once, checksummed, or not at all, so
line trouble can never spend a PIN try twice.
"""
from __future__ import annotations

import threading
import time
import urllib.parse

import serial

from . import pn532_frame as pf
from .errors import CardRemoved, DeviceError, NoCard, Pn532Unsupported, ReaderUnavailable, Timeout
from .transport import Transport, query

WAKE_UP = b"\x55\x55" + bytes(14)
ACK_TIMEOUT = 0.3
RESPONSE_TIMEOUT = 5.0          # a card's RSA signature can take a second or two
NO_REPEAT_INS = {0x20, 0x24, 0x2A}


def _serial_url(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    baud = int(query(url).get("baud", 115200))
    if parts.scheme == "pn532":
        return parts.path, baud
    inner = parts.scheme.split("+", 1)[1]
    rest = url.split("://", 1)[1].split("?", 1)[0]
    return f"{inner}://{rest}", baud


class Pn532Transport(Transport):
    def __init__(self, port_url: str, baud: int = 115200):
        super().__init__()
        self.port_url, self.baud = port_url, baud
        self.port: serial.SerialBase | None = None
        self.decoder = pf.Decoder()
        self._queue: list[pf.Item] = []
        self.target: int | None = None
        self.lock = threading.RLock()       # the presence watcher and the card thread share one line

    @classmethod
    def from_url(cls, url: str) -> "Pn532Transport":
        return cls(*_serial_url(url))

    # -- the line ----------------------------------------------------------------------------------
    def _open(self) -> serial.SerialBase:
        if self.port is None:
            try:
                self.port = serial.serial_for_url(self.port_url, baudrate=self.baud, timeout=0.02)
            except (serial.SerialException, OSError) as exc:
                raise ReaderUnavailable(f"cannot open the PN532 at {self.port_url}: {exc}") from None
            self.port.write(WAKE_UP)
            self._command(0x14, b"\x01\x17\x00")                  # SAMConfiguration: normal mode
            firmware = self._command(0x02)
            if len(firmware) < 4 or firmware[0] != 0x32:
                raise ReaderUnavailable("the device on the serial line does not answer like a PN532")
            if not firmware[3] & 0x02:
                raise Pn532Unsupported()
        return self.port

    @property
    def _line(self) -> serial.SerialBase:
        """The open serial line (``_open`` makes it; a command before that is a bug, said as a fault)."""
        if self.port is None:
            raise ReaderUnavailable("the PN532's serial line is not open")
        return self.port

    def _read_item(self, deadline: float) -> pf.Item | None:
        """The next ACK, NACK, frame or damaged frame from the chip, or None at the deadline."""
        while not self._queue:
            if time.monotonic() > deadline:
                return None
            self._queue.extend(self.decoder.feed(self._line.read(512)))
        return self._queue.pop(0)

    def _command(self, code: int, data: bytes = b"", repeatable: bool = True,
                 timeout: float = RESPONSE_TIMEOUT) -> bytes:
        """Send one command; return the response data (after D5, code+1)."""
        frame = pf.command(code, data)
        for attempt in range(3):
            self._line.reset_input_buffer()
            self.decoder, self._queue = pf.Decoder(), []
            self._line.write(frame)
            item = self._read_item(time.monotonic() + ACK_TIMEOUT)
            if item is not None and item.kind == "ack":
                break
            if not repeatable:
                raise Timeout("the card reader did not confirm the command; it was not repeated, so no PIN "
                              "try can have been spent twice. Check the cable and try again.")
        else:
            raise Timeout("the PN532 does not answer on the serial line")
        deadline = time.monotonic() + timeout
        nacks = 0
        while True:
            item = self._read_item(deadline)
            if item is None:
                raise Timeout("the PN532 acknowledged the command but sent no answer")
            if item.kind == "bad" and nacks < 3:
                nacks += 1
                self._line.write(pf.NACK)                          # the answer again, not the command
                continue
            if item.kind == "frame" and item.payload[:2] == bytes([pf.CHIP, code + 1]):
                return item.payload[2:]
            if item.kind == "frame" and item.payload[:1] == b"\x7F":
                raise ReaderUnavailable("the PN532 rejected the command (application error)")

    # -- Transport ------------------------------------------------------------------------------------
    def _list_target(self) -> bytes | None:
        """Poll for one target, Type B then Type A (106 kbps); the ATR PC/SC would synthesise for it, or None."""
        found = self._command(0x4A, b"\x01\x03\x00")          # one target, 106 kbps type B, AFI 0
        if found and found[0]:
            self.target = found[1]
            return atr_type_b(found[2:14])
        found = self._command(0x4A, b"\x01\x00")              # one target, 106 kbps type A
        if found and found[0] and len(found) >= 6:
            self.target = found[1]
            uid_end = 6 + found[5]
            return atr_type_a(found[uid_end + 1:uid_end + found[uid_end]] if len(found) > uid_end else b"")
        return None

    def _connect(self) -> bytes:
        with self.lock:
            self._open()
            self.disconnect()
            atr = self._list_target()
            if atr is None:
                raise NoCard()
            return atr

    def _transmit(self, command: bytes) -> bytes:
        with self.lock:
            if self.target is None:
                raise NoCard("not connected to a card")
            repeatable = not (len(command) > 5 and command[1] in NO_REPEAT_INS)
            answer = self._command(0x40, bytes([self.target]) + command, repeatable)
            data = answer[1:]
            status = answer[0] if answer else 0x01
            while status & 0x40:                              # MI: the chip holds more of the answer
                more = self._command(0x40, bytes([self.target]))
                status, data = more[0], data + more[1:]
            if status & 0x3F:
                self.target = None
                if not self._present_now():
                    raise CardRemoved()
                raise Timeout(f"the card did not answer (PN532 status {status & 0x3F:02X})")
            return data

    def _present_now(self) -> bool:
        if self.target is not None:
            return self._command(0x00, b"\x06")[:1] == b"\x00"  # Diagnose: is the card still there?
        if self._list_target() is None or self.target is None:
            return False
        self._command(0x52, bytes([self.target]))
        self.target = None
        return True

    def card_present(self) -> bool:
        with self.lock:
            self._open()
            return self._present_now()

    def wait_for_change(self, present: bool, timeout: float) -> bool:
        # a serial reader has no presence interrupt: ask four times a second
        deadline = time.monotonic() + timeout
        while True:
            if self.card_present() != present:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))

    def disconnect(self) -> None:
        with self.lock:
            if self.target is not None and self.port is not None:
                try:
                    self._command(0x52, bytes([self.target]))   # InRelease: the card is powered down
                except DeviceError:
                    pass
            self.target = None

    def close(self) -> None:
        self.disconnect()
        if self.port is not None:
            self.port.close()
            self.port = None


def _with_tck(body: bytes) -> bytes:
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3B" + body + bytes([tck])


def atr_type_b(atqb: bytes) -> bytes:
    """The ATR PC/SC synthesises for a type B card: 3B 88 80 01 + application data + protocol info + TCK."""
    return _with_tck(bytes([0x88, 0x80, 0x01]) + atqb[5:9] + atqb[9:12])


def atr_type_a(ats: bytes) -> bytes:
    """The ATR PC/SC synthesises for an ISO 14443-4 type A target: 3B 8n 80 01 + the ATS's historical bytes + TCK.
    ``ats`` without its length byte: T0, the interface bytes T0 announces, then the historical bytes."""
    t0 = ats[0] if ats else 0
    hist = ats[1 + bin(t0 & 0x70).count("1"):][:15] if ats else b""
    return _with_tck(bytes([0x80 | len(hist), 0x80, 0x01]) + hist)
