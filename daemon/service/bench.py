"""The daemon's bench control socket (``[bench] control``): one line in, one answer out (device/bench_control.py).

Camera verbs go to the face check, ``cardface`` verbs to the card-face source, ``worker fault STAGE FAULT`` to the
native worker (its next STAGE fails as FAULT: daemon/worker/engine.py), card verbs to the in-process slot of a
sim:// reader. Bench only: a production configuration leaves the socket off, and the worker's fault hooks with it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...device.camera.bench import check_command
from ...device.transport import Transport
from .card_face import CardFaceSource

if TYPE_CHECKING:
    from ..worker.interface import Worker
    from .face_check import FaceCheck


def bench_command(line: str, reader: Transport, card_face: CardFaceSource, face: FaceCheck | None,
                  native: Worker | None = None) -> str:
    words = line.split()
    if words[:1] == ["cardface"]:
        return card_face.control(line)
    if words[:2] == ["worker", "fault"]:
        if native is None:
            return "error this reader has no native worker"
        if len(words) != 4:
            return "error usage: worker fault STAGE FAULT"
        return native.arm(words[2], words[3])
    if check_command(line) is None:
        if face is None:
            return "error face authentication is off on this reader"
        return face.bench_control(line)
    slot = getattr(reader, "slot", None)
    if slot is None:
        return "error card commands need a sim:// reader; steer a vpcd or PN532 mock through its own socket"
    return slot.control(line)
