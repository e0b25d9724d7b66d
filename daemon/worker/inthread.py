"""ThreadWorker: the Worker interface on the caller's thread, for unit tests and ``bench liveness`` (which
measures the liveness check, not the process around it). The daemon and its end-to-end tests use ProcessWorker."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from .engine import Engine
from .interface import FeedReply, Spec

if TYPE_CHECKING:
    from ..cardface.reader import ChipHints, FrameRead, ReadResult, RefusedKeys
    from ..face.verifier import Verdict


class ThreadWorker:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.generation = 0
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return None             # no process of its own

    def start(self) -> None:
        self._ready()

    def _ready(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = Engine(self.spec)
                self.generation += 1
            return self._engine

    def face_reset(self) -> None:
        self._ready().face_reset()

    def face_reference(self, rgb: np.ndarray) -> None:
        self._ready().face_reference(rgb)

    def face_clear(self) -> None:
        self._ready().face_clear()

    def face_feed(self, rgb: np.ndarray, t: float, shown: float | None = None) -> FeedReply:
        return self._ready().face_feed(rgb, t, shown)

    def face_give_up(self) -> Verdict:
        return self._ready().face_give_up()

    def card_face_read(self, frames: Iterator[np.ndarray], hints: ChipHints | None, refused: RefusedKeys,
                       on_frame: Callable[[FrameRead], None]) -> ReadResult:
        return self._ready().card_face_read(frames, hints, refused, on_frame)

    def arm(self, stage: str, fault: str) -> str:
        return "error fault injection needs the worker process"

    def close(self) -> None:
        self._engine = None
