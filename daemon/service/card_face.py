"""Where 照合番号B comes from: the card-face source (docs/cardface.md).

A source returns (code, certain). The flow verifies 照合番号B only when ``certain`` is true, so a source that
is unsure must say so rather than guess: a misread that is submitted burns one of the card's 10 tries.
The forms a source may take are the device registry's ``cardface`` kind (``mynareader --help`` lists them):
``none``; any camera URL, read here by OCR (daemon/cardface); or a bench source that tells the code
(``sim``, ``control:PATH``), opened by name through the registry.

The OCR runs in the native worker (daemon/worker): the camera is read here and each frame handed over in shared
memory. A worker that crashes or hangs mid-read makes the read uncertain ("camera_unavailable"): nothing is sent
to the card, so no 照合番号B try is spent; the worker restarts for the next read.

Privacy: frames and OCR text stay in memory; the log says only "card face: certain" or "uncertain (reason)".
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterator

from ...device import registry
from ...device.errors import CameraGone, CardFaceUnavailable, DeviceError
from ...device.pin import Pin
from ..cardface.errors import OcrUnavailable
from ..cardface.reader import ChipHints, RefusedKeys, frame_problem_reason
from ..worker.errors import WorkerError
from ..worker.interface import Worker

log = logging.getLogger(__name__)

__all__ = ["CardFaceSource", "CardFaceUnavailable", "spec_problem"]


def spec_problem(spec: str) -> str | None:
    """None when ``spec`` names a card-face source, else what is wrong (for the configuration's message)."""
    return registry.url_problem("cardface", spec)


class CardFaceSource:
    def __init__(self, spec: str, transport=None, worker: Worker | None = None):
        """``worker``: the native worker that reads a camera's frames by OCR (needed when ``spec`` is a camera)."""
        problem = spec_problem(spec)
        if problem:
            raise ValueError(f"card-face source {problem}")
        self.spec, self.transport, self.worker = spec, transport, worker
        self.is_camera = registry.scheme_of(spec) in registry.CAMERAS
        self._teller: Any = None    # a bench source that tells the code (sim, control:PATH), opened on first use
        self.refused = RefusedKeys()
        self.last_reason: str | None = None
        self._camera = None
        self._lock = threading.Lock()    # one read at a time: the camera and the OCR engine are not shared

    @property
    def available(self) -> bool:
        return self.spec != "none"

    # -- the camera, opened on first use (or by warm_up); the OCR models are the worker's ---------------------
    def warm_up(self) -> None:
        """Load the OCR models and open the camera now, so the first patient does not wait for them."""
        if self.is_camera:
            if self.worker is not None:
                self.worker.start()
            with self._lock:
                self._open()

    def _open(self):
        if self._camera is None:
            camera = registry.open_device("camera", self.spec)
            follow = getattr(camera, "follow", None)
            slot = getattr(self.transport, "slot", None)
            if follow is not None and slot is not None:   # the bench card camera shows the sim:// slot's card
                follow(lambda: getattr(slot.card, "profile", None) if slot.card is not None else None)
            self._camera = camera
        return self._camera

    def control(self, line: str) -> str:
        """A bench command for the card-face camera (``cardface MODE``)."""
        if not self.is_camera:
            return "error the card-face source is not a camera"
        with self._lock:
            return self._open().control(line)

    def close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None

    # -- reading ------------------------------------------------------------------------------------------------
    def read(self, hints: ChipHints | None = None,
             guide: Callable[[str], None] | None = None) -> tuple[Pin | None, bool]:
        """Blocking: the code and whether the source is certain of every digit."""
        if self.is_camera:
            return self._read_camera(hints, guide)
        if not self.available:
            raise CardFaceUnavailable("no card-face camera is configured")
        if self._teller is None:
            try:
                self._teller = registry.open_device("cardface", self.spec, transport=self.transport)
            except DeviceError as exc:     # e.g. "sim" without a sim:// reader behind the transport: say so
                log.warning("card-face source unavailable: %s", exc)
                return self._uncertain("camera_unavailable")
        code = self._teller.code()
        if not code:
            return self._uncertain("no_card")
        if (hints.serial if hints else None, code) in self.refused:
            return self._uncertain("refused_before")
        self.last_reason = None
        return Pin(code, min_len=14, max_len=14), True

    def _uncertain(self, reason: str) -> tuple[None, bool]:
        self.last_reason = reason
        log.info("card face: uncertain (%s)", reason, extra={"EVENT": "card_face", "REASON": reason})
        return None, False

    def _read_camera(self, hints, guide) -> tuple[Pin | None, bool]:
        with self._lock:
            try:
                if self.worker is None:
                    raise OcrUnavailable("no OCR worker was given to the card-face source")
                camera = self._open()
            except (DeviceError, OcrUnavailable, ValueError) as exc:
                log.warning("card-face reader unavailable: %s", exc)
                return self._uncertain("camera_unavailable")
            told: set[str] = set()

            def frames() -> Iterator:
                while True:
                    try:
                        yield camera.read()
                    except CameraGone:
                        return

            def on_frame(fr) -> None:
                reason = frame_problem_reason(fr.reason) if fr.reason else None
                if guide is not None and reason and reason not in told:
                    told.add(reason)
                    guide(reason)

            try:
                result = self.worker.card_face_read(frames(), hints, self.refused, on_frame)
            except OcrUnavailable as exc:
                log.warning("card-face reader unavailable: %s", exc)
                return self._uncertain("camera_unavailable")
            except WorkerError:     # the worker logged it in one line; nothing goes to the card
                return self._uncertain("camera_unavailable")
        key = result.key
        if not result.certain or key is None:
            return self._uncertain(result.reason or "fields_unreadable")
        self.last_reason = None
        log.info("card face: certain", extra={"EVENT": "card_face"})
        return Pin(key, min_len=len(key), max_len=len(key)), True

    def record_refused(self, code: Pin, hints: ChipHints | None) -> None:
        """The card refused ``code``: never send it to this card again (kept as a salted digest in memory)."""
        self.refused.add(hints.serial if hints else None, code.bytes_for_apdu().decode("ascii"))
