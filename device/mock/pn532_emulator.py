"""A PN532 on a serial line, hosting the virtual My Number Card: the bench firmware for serial-attached readers.

It speaks the frame protocol of the datasheet (host frame -> ACK -> response; NACK asks for the response again)
on a pty or a real serial port, so a driver written from the datasheet works with it. Bench faults, on the
control channel besides the slot's own commands:

    drop N        the next N bytes it sends are lost            corrupt N   the next N frames it sends are damaged
    mute          it stops answering (a hung chip)              unmute
    no-typeb      a chip without ISO 14443-B (firmware says so) typeb
"""
from __future__ import annotations

import logging
import os
import select
import threading

from ..pn532_frame import ACK, Decoder, response
from .slot import CardPulled, CardSlot, NoCardPresent

log = logging.getLogger(__name__)

ATQB = bytes.fromhex("50" "00000000" "D3920000" "0071" "85")  # PUPI 0, application data, protocol info
# a Type A target (the phones' profiles): SENS_RES, SEL_RES (ISO 14443-4), a 4-byte NFCID1, then the ATS
# (TL, T0 with TA TB TC, no historical bytes), as InListPassiveTarget reports it for 106 kbps type A
TYPE_A_TARGET = bytes.fromhex("0004" "20" "04" "08123456") + bytes.fromhex("0578807002")
CHUNK = 250                                                    # data bytes per frame when extended frames are off
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")


class FdPort:
    """A pty master (or any fd) with the read/write shape of a pyserial port."""

    def __init__(self, fd: int):
        self.fd = fd

    def read(self, n: int, timeout: float = 0.05) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, n)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)


class Pn532Emulator:
    def __init__(self, slot: CardSlot, port, extended_frames: bool = True):
        self.slot, self.port, self.extended = slot, port, extended_frames
        self.decoder = Decoder()
        self.last_response = b""
        self.target_active = False
        self.pending = b""            # response data still to send with MI chaining
        self.typeb, self.muted = True, False
        self.drop_bytes = self.corrupt_frames = 0
        self._stop = threading.Event()
        self.commands_seen: list[bytes] = []   # host payloads accepted, for tests (counts VERIFYs)

    # -- bench control -----------------------------------------------------------------------------
    def control(self, line: str) -> str:
        words = line.split()
        verb, args = (words[0], words[1:]) if words else ("", [])
        if verb in ("drop", "corrupt") and len(args) == 1 and args[0].isdigit():
            setattr(self, "drop_bytes" if verb == "drop" else "corrupt_frames", int(args[0]))
        elif verb in ("mute", "unmute") and not args:
            self.muted = verb == "mute"
        elif verb in ("no-typeb", "typeb") and not args:
            self.typeb = verb == "typeb"
        else:
            return self.slot.control(line)
        return "ok"

    # -- the line ------------------------------------------------------------------------------------
    def _send(self, data: bytes, frame: bool = True) -> None:
        if frame and self.corrupt_frames:
            self.corrupt_frames -= 1
            damaged = bytearray(data)
            damaged[len(damaged) // 2] ^= 0x5A
            data = bytes(damaged)
        if self.drop_bytes:
            cut = min(self.drop_bytes, len(data))
            self.drop_bytes -= cut
            data = data[cut:]
        if data:
            self.port.write(data)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            data = self.port.read(512)
            if not data or self.muted:
                continue
            for item in self.decoder.feed(data):
                if item.kind == "nack" and self.last_response:
                    self._send(self.last_response)          # the response again; the command is not re-run
                elif item.kind == "frame" and item.payload[:1] == b"\xD4" and len(item.payload) >= 2:
                    self.commands_seen.append(item.payload)
                    self._send(ACK, frame=False)
                    self.last_response = self._handle(item.payload[1], item.payload[2:])
                    self._send(self.last_response)
                # a frame with bad checksums is ignored, as the chip does: the host times out

    # -- commands ------------------------------------------------------------------------------------
    def _handle(self, cmd: int, data: bytes) -> bytes:
        if cmd == 0x02:                                    # GetFirmwareVersion: IC, Ver, Rev, Support
            return response(0x03, bytes([0x32, 0x01, 0x06, 0x07 if self.typeb else 0x05]))
        if cmd == 0x14:                                    # SAMConfiguration
            return response(0x15)
        if cmd == 0x4A:                                    # InListPassiveTarget MaxTg BrTy [AFI]
            card = self.slot.card
            rf = getattr(getattr(card, "profile", None), "rf_type", "B")
            wanted = {0x03: "B", 0x00: "A"}.get(data[1] if len(data) >= 2 else -1)
            if wanted is None or wanted != rf or (rf == "B" and not self.typeb) or not self.slot.present:
                return response(0x4B, b"\x00")
            try:
                self.slot.power_on()
            except NoCardPresent:
                return response(0x4B, b"\x00")
            self.target_active, self.pending = True, b""
            if rf == "A":
                return response(0x4B, bytes([0x01, 0x01]) + TYPE_A_TARGET)
            return response(0x4B, bytes([0x01, 0x01]) + ATQB + bytes([0x01, 0x00]))
        if cmd == 0x00 and data[:1] == b"\x06":            # Diagnose: card presence
            present = self.target_active and self.slot.present
            return response(0x01, b"\x00" if present else b"\x01")
        if cmd == 0x40 and data:                           # InDataExchange Tg [data]
            return self._exchange(data[1:])
        if cmd == 0x52:                                    # InRelease
            if self.target_active:
                self.slot.power_off()
            self.target_active = False
            return response(0x53, b"\x00")
        return ERROR_FRAME

    def _exchange(self, apdu: bytes) -> bytes:
        if not apdu and self.pending:                      # the host fetches the rest of a chained answer
            return self._chunk()
        if not self.target_active or not self.slot.present:
            self.target_active = False
            return response(0x41, b"\x01")                 # timeout: the card did not answer
        try:
            answer = self.slot.process(apdu)
        except CardPulled:
            self.target_active = False
            return response(0x41, b"\x01")
        if self.extended or len(answer) <= CHUNK:
            return response(0x41, b"\x00" + answer)
        self.pending = answer
        return self._chunk()

    def _chunk(self) -> bytes:
        part, self.pending = self.pending[:CHUNK], self.pending[CHUNK:]
        return response(0x41, bytes([0x40 if self.pending else 0x00]) + part)


def open_pty() -> tuple[FdPort, str]:
    """A pty in raw mode: (the emulator's end, the path a host opens)."""
    import tty
    master, slave = os.openpty()
    tty.setraw(slave)
    return FdPort(master), os.ttyname(slave)
