"""What the service asks of the worker, whichever runs it (a process, or the caller's thread in unit tests)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Iterator, Protocol

import numpy as np

if TYPE_CHECKING:
    from ..cardface.reader import ChipHints, FrameRead, ReadResult, RefusedKeys
    from ..face.flash import Flash
    from ..face.liveness import Decision
    from ..face.verifier import Guidance, Verdict

# where a fault can be injected on the bench (engine.py), and how the worker then fails
STAGES = ("detect", "describe", "liveness", "ocr")
FAULTS = ("kill", "segv", "abort", "hang")


@dataclasses.dataclass(frozen=True)
class Spec:
    """What the worker loads, once: the face models (``face``), and the OCR engine (``ocr``) when the card-face
    source is a camera. ``faults``: the bench may arm the fault hooks (only with [bench] control set)."""
    face: bool = True
    model: str = ""               # "": the manifest's default descriptor
    threshold: float = 0.0        # 0: the model's own
    liveness: bool = True
    ocr: bool = False
    faults: bool = False


def fault_problem(spec: Spec, stage: str, fault: str) -> str | None:
    """Why ``worker fault STAGE FAULT`` cannot be armed on a worker loaded as ``spec``, or None."""
    if not spec.faults:
        return "error fault injection is off (bench only)"
    if stage not in STAGES or fault not in FAULTS:
        return f"error usage: worker fault {'|'.join(STAGES)} {'|'.join(FAULTS)}"
    runs = {"detect": spec.face, "describe": spec.face, "liveness": spec.face and spec.liveness, "ocr": spec.ocr}
    if not runs[stage]:
        return f"error the {stage} stage does not run in this worker"
    return None


@dataclasses.dataclass(frozen=True)
class FeedReply:
    """The verifier's answer to one frame, and what the service needs beside it."""
    outcome: Guidance | Verdict | None
    flash: Flash | None = None        # this attempt's colour sequence, once asked of the screen
    decision: Decision | None = None  # the liveness signals behind a verdict (bench reports)


class Worker(Protocol):
    spec: Spec
    generation: int                   # grows by one each time a worker (re)starts: its state was lost

    @property
    def pid(self) -> int | None:
        """The worker process's id (None: no process of its own, or none running)."""

    def start(self) -> None:
        """Load the models now (blocking); a no-op when loaded."""

    def face_reset(self) -> None: ...

    def face_reference(self, rgb: np.ndarray) -> None:
        """The chip photo: its descriptor is kept (in the worker) until ``face_clear``."""

    def face_clear(self) -> None: ...

    def face_feed(self, rgb: np.ndarray, t: float, shown: float | None = None) -> FeedReply:
        """One camera frame taken at ``t``; ``shown``: the screen painted the flash's first colour then."""

    def face_give_up(self) -> Verdict:
        """The attempt ran out of time: a no-match with the best score seen."""

    def card_face_read(self, frames: Iterator[np.ndarray], hints: ChipHints | None, refused: RefusedKeys,
                       on_frame: Callable[[FrameRead], None]) -> ReadResult:
        """CardFaceReader.read over ``frames`` (pulled one at a time as the reader asks)."""

    def arm(self, stage: str, fault: str) -> str:
        """Bench only: the next time ``stage`` runs the worker fails as ``fault``. "ok" or why not."""

    def close(self) -> None: ...
