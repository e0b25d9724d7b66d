"""Live verification: consume camera frames, keep the best evidence over a short window, decide when sure.

Small head movements do not restart anything: every good frame adds evidence, and frames that fail a quality
gate only produce guidance. The chip photo's descriptor is computed once per session and held in memory only.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .flash import Flash, sample_patches
from .liveness import OUTER_EYES, Cue, Decision, LivenessCheck, Settings
from .mesh import FaceMesh
from .pipeline import Descriptor, FacePipeline
from .quality import GUIDANCE, Gates, check


@dataclasses.dataclass(frozen=True)
class Guidance:
    code: str
    ja: str
    en: str
    flash: dict | None = None     # code "flash": what the screen must show (Flash.wire())


@dataclasses.dataclass(frozen=True)
class Verdict:
    match: bool
    score: float          # the best similarity seen in this attempt
    threshold: float
    model: str
    frames: int           # good frames that were compared
    liveness: str = "off"  # "passed", "failed: <reason>" (liveness.Decision), or "off"


def guidance(code: str) -> Guidance:
    ja, en = GUIDANCE[code]
    return Guidance(code, ja, en)


class FaceVerifier:
    def __init__(self, pipeline: FacePipeline, matches_needed: int = 2, frames_for_no: int = 8,
                 gates: Gates = Gates(), liveness: bool = False, liveness_settings: Settings = Settings()):
        self.pipeline = pipeline
        self.matches_needed, self.frames_for_no, self.gates = matches_needed, frames_for_no, gates
        self.liveness_settings = liveness_settings
        self.mesh: FaceMesh | None = None
        if liveness:      # the pipeline's own mesh when its alignment has one: one model, run once a frame
            self.mesh = pipeline.mesh or FaceMesh()
        self.reference: Descriptor | None = None
        self.reset()

    def set_reference(self, rgb: np.ndarray) -> None:
        """The chip photo (an ID-style portrait): its descriptor is kept for this session only."""
        self.reference = self.pipeline.describe(rgb)
        self.reset()

    def clear(self) -> None:
        self.reference = None
        self.reset()

    def reset(self) -> None:
        self.scores: list[float] = []
        self.last_guidance: str | None = None
        # a new random cue and moment for every attempt
        self.live = LivenessCheck(self.liveness_settings) if self.mesh is not None else None
        self.decision: Decision | None = None

    @property
    def liveness(self) -> bool:
        return self.mesh is not None

    @property
    def flash(self) -> Flash | None:
        """This attempt's colour sequence, once asked of the screen."""
        return self.live.flash if self.live is not None and self.live.flash_asked is not None else None

    def flash_shown(self, start: float) -> None:
        """The screen painted the sequence's first colour at ``start`` (the frames' clock)."""
        if self.live is not None:
            self.live.shown(start)

    def feed(self, rgb: np.ndarray, now: float | None = None) -> Guidance | Verdict | None:
        """One frame (taken at ``now``, seconds): guidance when the frame is not usable or a liveness cue is due,
        a verdict when sure, else None (keep going). With liveness on, no match counts before it has passed."""
        if self.reference is None:
            raise RuntimeError("set_reference() first")
        if float(rgb.mean()) < 12:
            return self._guide("too_dark")   # a dark frame finds no face: say why, not "no face"
        faces = self.pipeline.detect(rgb)
        if not faces:
            return self._guide("no_face")
        if len(faces) > 1:
            return self._guide("one_person")
        face = faces[0]
        points: np.ndarray | None = None     # the face mesh's landmarks, when the liveness check ran it
        if self.live is not None and self.mesh is not None and self.decision is None:   # live: only with a mesh
            points, presence = self.mesh(rgb, face)
            if presence < 0.5:
                return self._guide("no_face")
            patches = None
            if self.live.flash is not None:
                eyes = float(np.linalg.norm(points[OUTER_EYES[0], :2] - points[OUTER_EYES[1], :2]))
                patches = sample_patches(rgb, points, 0.06 * eyes)
            out = self.live.feed(points, time.monotonic() if now is None else now, patches)
            if isinstance(out, Flash):
                return dataclasses.replace(guidance("flash"), flash=out.wire())
            if isinstance(out, Cue):
                return self._guide(out.code)
            if isinstance(out, Decision):
                self.decision = out
                if not out.live:
                    return self._verdict(False)
            elif self.live.turning:
                return None       # turned on purpose: neither guidance nor a comparison
        crop = self.pipeline.crop(rgb, face, points)
        problems = check(face, crop, self.gates)
        if problems:
            return self._guide(problems[0])
        score = self.pipeline.similarity(self.reference, self.pipeline.describe_crop(crop))
        self.scores.append(score)
        threshold = self.pipeline.threshold
        if sum(s >= threshold for s in self.scores) >= self.matches_needed and \
                (self.live is None or self.decision is not None):
            return self._verdict(True)
        if len(self.scores) >= self.frames_for_no and (self.live is None or self.decision is not None):
            return self._verdict(False)
        return None

    def _guide(self, code: str) -> Guidance | None:
        if code == self.last_guidance:
            return None          # say it once, not on every frame
        self.last_guidance = code
        return guidance(code)

    def _verdict(self, match: bool) -> Verdict:
        if self.live is None:
            live = "off"
        elif self.decision is None:
            live = "pending"          # a no-match before the liveness check ended
        else:
            live = "passed" if self.decision.live else f"failed: {self.decision.reason}"
        verdict = Verdict(match, max(self.scores, default=0.0), self.pipeline.threshold, self.pipeline.model,
                          len(self.scores), live)
        self.last_decision = self.decision      # the signals behind the verdict, for the bench report
        self.reset()
        return verdict
