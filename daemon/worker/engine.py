"""What the worker holds and does: the face verifier and the card-face reader, their models loaded once.

The engine is plain Python over the face and card-face parts; host.py serves it in the worker process and
inthread.py on the caller's thread. With ``Spec.faults`` (the bench only) each stage is wrapped so that an armed
fault fires the next time it runs: SIGKILL, a real segmentation fault, abort(), or a hang.
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading
from typing import Any, Callable, Iterator

import numpy as np

from ..cardface.reader import ChipHints, FrameRead, ReadResult, RefusedKeys
from ..face.verifier import Verdict
from .interface import FeedReply, Spec, fault_problem


class Engine:
    # the requests a caller may name (host.py refuses any other)
    CALLS = ("face_reset", "face_reference", "face_clear", "face_feed", "face_give_up", "arm")

    def __init__(self, spec: Spec):
        self.spec = spec
        self.verifier = None
        if spec.face:
            from ..face.pipeline import FacePipeline
            from ..face.verifier import FaceVerifier
            self.verifier = FaceVerifier(FacePipeline(spec.model or None, threads=1,
                                                      threshold=spec.threshold or None), liveness=spec.liveness)
        self.card_reader = None
        self._ocr_error: Exception | None = None
        if spec.ocr:
            from ..cardface.errors import OcrUnavailable
            from ..cardface.ocr import Ocr
            from ..cardface.reader import CardFaceReader
            try:
                self.card_reader = CardFaceReader(Ocr())
            except OcrUnavailable as exc:    # told at each read, as the card-face source always did
                self._ocr_error = exc
        self._armed: tuple[str, str] | None = None
        if spec.faults:
            self._install_hooks()

    # -- the face ------------------------------------------------------------------------------------------
    def _face(self):
        if self.verifier is None:
            raise RuntimeError("this worker has no face models (face authentication is off)")
        return self.verifier

    def face_reset(self) -> None:
        self._face().reset()

    def face_reference(self, rgb: np.ndarray) -> None:
        self._face().set_reference(rgb)

    def face_clear(self) -> None:
        self._face().clear()

    def face_feed(self, rgb: np.ndarray, t: float, shown: float | None = None) -> FeedReply:
        v = self._face()
        if shown is not None:
            v.flash_shown(shown)
        outcome = v.feed(rgb, t)
        decision = v.last_decision if isinstance(outcome, Verdict) else None
        return FeedReply(outcome, v.flash, decision)

    def face_give_up(self) -> Verdict:
        v = self._face()
        if v.live is None:
            live = "off"
        else:
            live = "passed" if v.decision is not None and v.decision.live else "failed: timeout"
        return Verdict(False, max(v.scores, default=0.0), v.pipeline.threshold, v.pipeline.model, len(v.scores),
                       live)

    # -- the card face -------------------------------------------------------------------------------------
    def card_face_read(self, frames: Iterator[np.ndarray], hints: ChipHints | None, refused: RefusedKeys,
                       on_frame: Callable[[FrameRead], None]) -> ReadResult:
        if self._ocr_error is not None:
            raise self._ocr_error
        if self.card_reader is None:
            raise RuntimeError("this worker has no OCR engine (the card-face source is not a camera)")
        return self.card_reader.read(frames, hints, refused, on_frame)

    # -- bench fault hooks ---------------------------------------------------------------------------------
    def arm(self, stage: str, fault: str) -> str:
        problem = fault_problem(self.spec, stage, fault)
        if problem:
            return problem
        self._armed = (stage, fault)
        return "ok"

    def _install_hooks(self) -> None:
        v = self.verifier
        if v is not None:
            _wrap(v.pipeline, "detect", self._hook("detect"))
            _wrap(v.pipeline, "describe_crop", self._hook("describe"))
            if v.mesh is not None:
                _wrap(v, "mesh", self._hook("liveness"))
        if self.card_reader is not None:
            for name in ("lines", "reread"):
                _wrap(self.card_reader.ocr, name, self._hook("ocr"))

    def _hook(self, stage: str) -> Callable[[], None]:
        def check() -> None:
            if self._armed is not None and self._armed[0] == stage:
                fault, self._armed = self._armed[1], None
                fail(fault)
        return check


def _wrap(obj: Any, name: str, before: Callable[[], None]) -> None:
    inner = getattr(obj, name)

    def hooked(*args, **kwargs):
        before()
        return inner(*args, **kwargs)
    setattr(obj, name, hooked)


def fail(fault: str) -> None:
    """Fail the way native code does (the bench's fault hooks)."""
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "segv":
        ctypes.string_at(0)             # a read of address 0: a real segmentation fault
    elif fault == "abort":
        os.abort()
    elif fault == "hang":
        threading.Event().wait()        # a model stuck in a loop: never answers
