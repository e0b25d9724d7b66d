"""PN532 host-interface frames (HSU/UART): encoding and a resynchronising decoder. Pure code.

    normal   00 00 FF LEN LCS TFI data.. DCS 00        LEN counts TFI+data; (LEN+LCS)&FF == 0
    extended 00 00 FF FF FF LENm LENl LCS TFI data.. DCS 00
    ACK      00 00 FF 00 FF 00        NACK  00 00 FF FF 00 00
    (TFI + sum(data) + DCS) & FF == 0; host frames use TFI D4, the chip's D5.

The decoder skips anything that is not a frame (wake-up bytes, line noise) and reports a frame whose checksums
fail as BAD, so the host can ask for it again (NACK) instead of acting on it.
"""
from __future__ import annotations

import dataclasses

ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
HOST, CHIP = 0xD4, 0xD5
MAX_NORMAL = 255          # LEN is one byte: TFI + up to 254 data bytes
MAX_EXTENDED = 65535


@dataclasses.dataclass(frozen=True)
class Item:
    kind: str             # "ack" | "nack" | "frame" | "bad"
    payload: bytes = b""  # TFI + data for frames


def encode(payload: bytes) -> bytes:
    """A frame carrying ``payload`` (TFI + data); extended when it does not fit a normal frame."""
    n = len(payload)
    if not 1 <= n <= MAX_EXTENDED:
        raise ValueError("a PN532 frame carries 1..65535 bytes")
    dcs = (-sum(payload)) & 0xFF
    if n <= MAX_NORMAL:
        return bytes([0x00, 0x00, 0xFF, n, (-n) & 0xFF]) + payload + bytes([dcs, 0x00])
    hi, lo = n >> 8, n & 0xFF
    return bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, hi, lo, (-(hi + lo)) & 0xFF]) + payload + bytes([dcs, 0x00])


def command(code: int, data: bytes = b"") -> bytes:
    return encode(bytes([HOST, code]) + data)


def response(code: int, data: bytes = b"") -> bytes:
    return encode(bytes([CHIP, code]) + data)


class Decoder:
    """Feed bytes as they arrive; ``items()`` returns what complete frames they made, in order."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Item]:
        self.buf += data
        out: list[Item] = []
        while True:
            item = self._next()
            if item is None:
                return out
            out.append(item)

    def _next(self) -> Item | None:
        buf = self.buf
        while True:
            start = buf.find(b"\x00\xFF")
            if start < 0:
                del buf[:max(0, len(buf) - 1)]   # keep a trailing 00: it may begin a start code
                return None
            del buf[:start]
            if len(buf) < 4:
                return None
            a, b = buf[2], buf[3]
            if (a, b) == (0x00, 0xFF):
                del buf[:4]
                return Item("ack")
            if (a, b) == (0xFF, 0x00):
                del buf[:4]
                return Item("nack")
            if (a, b) == (0xFF, 0xFF):           # extended frame
                if len(buf) < 7:
                    return None
                hi, lo, lcs = buf[4], buf[5], buf[6]
                if (hi + lo + lcs) & 0xFF:
                    del buf[:2]                  # not a frame after all: look further
                    continue
                n, head = (hi << 8) | lo, 7
            else:
                n, lcs = a, b
                if (n + lcs) & 0xFF or n == 0:
                    del buf[:2]
                    continue
                head = 4
            if len(buf) < head + n + 1:
                return None
            payload = bytes(buf[head:head + n])
            dcs = buf[head + n]
            del buf[:head + n + 1]
            if (sum(payload) + dcs) & 0xFF:
                return Item("bad")
            return Item("frame", payload)
