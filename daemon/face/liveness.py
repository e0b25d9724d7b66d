"""Presentation-attack detection from face-mesh landmarks over frames. Pure numpy; time is an input.

Three signals (docs/face.md says which attacks each stops and which it does not):
- blink: the eye aspect ratio (eyelid gap over eye width) drops and recovers; a print or a still screen cannot;
- turn on a random cue: the patient is asked to turn left or right at a random moment; the nose must move that
  way within a human reaction time, and not the other way; a recording cannot know the cue or its moment;
- 3D consistency: between the frontal frame and the turned one, a flat print, screen or paper mask moves as one
  plane, so one homography maps all its landmarks; a head does not (the nose moves against the cheeks).
"""
from __future__ import annotations

import dataclasses
import secrets

import numpy as np

# MediaPipe mesh indices: per eye the corners, two upper and two lower lid points; nose tip; cheek contour
EYES = (((33, 133), (160, 158), (144, 153)), ((263, 362), (387, 385), (373, 380)))
NOSE, CHEEK_R, CHEEK_L = 1, 234, 454
OUTER_EYES = (33, 263)
# the points the homography is fitted to: contour, eye corners, nose, mouth corners, chin, brow
RIGID = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
         176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 33, 133, 263, 362, 1, 4, 5,
         195, 197, 6, 168, 61, 291, 0, 17, 70, 300, 105, 334, 2, 98, 327)


@dataclasses.dataclass(frozen=True)
class Settings:
    settle_frames: int = 3          # frontal frames before the cue
    cue_delay: float = 0.5          # the cue comes after a random extra 0..cue_delay seconds
    react_min: float = 0.15         # a turn that starts sooner than this after the cue is not an answer to it
    react_max: float = 1.2          # nor one that starts later
    turn: float = 0.12              # nose shift along the eye line, as a share of the cheek-to-cheek width
    hold_frames: int = 3            # frames at or past ``turn`` before judging
    planar_max: float = 0.06        # homography residual (share of the eye-to-eye distance) under this: flat
    blink_ratio: float = 0.75       # an eye aspect ratio under this share of the open one is a closed eye
    give_up: float = 3.0            # seconds after the cue: no turn (or no blink) by then fails


@dataclasses.dataclass(frozen=True)
class Cue:
    direction: str                  # "left" | "right": the patient's own left or right

    @property
    def code(self) -> str:
        return f"turn_{self.direction}"


@dataclasses.dataclass(frozen=True)
class Decision:
    live: bool
    reason: str                     # "live" | "no_blink" | "no_turn" | "wrong_way" | "early" | "flat"
    blinks: int
    turn: float                     # the largest shift toward the cue
    planarity: float                # the homography residual at the turn (0 when no turn was seen)
    seconds: float                  # from the first frame to the decision


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Mean over both eyes of (the two lid gaps) / (2 x the eye's width)."""
    out = []
    for (a, b), (u1, u2), (l1, l2) in EYES:
        width = np.linalg.norm(points[a, :2] - points[b, :2])
        gap = np.linalg.norm(points[u1, :2] - points[l1, :2]) + np.linalg.norm(points[u2, :2] - points[l2, :2])
        out.append(gap / (2 * max(float(width), 1e-6)))
    return float(np.mean(out))


def yaw_shift(points: np.ndarray) -> float:
    """Where the nose sits between the cheeks along the eye line: 0 in the middle, + toward the image's right
    (the patient's left), as a share of the cheek-to-cheek width."""
    axis = points[OUTER_EYES[1], :2] - points[OUTER_EYES[0], :2]
    axis = axis / max(np.linalg.norm(axis), 1e-6)
    r, l, n = (float(points[i, :2] @ axis) for i in (CHEEK_R, CHEEK_L, NOSE))
    return (n - (r + l) / 2) / max(l - r, 1e-6)


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares homography (normalised DLT) mapping src (N x 2) onto dst."""
    def norm(p):
        c = p.mean(0)
        s = np.sqrt(2) / max(np.sqrt(((p - c) ** 2).sum(1)).mean(), 1e-9)
        return np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]])
    ts, td = norm(src), norm(dst)
    a = np.c_[src, np.ones(len(src))] @ ts.T
    b = np.c_[dst, np.ones(len(dst))] @ td.T
    rows = []
    for (x, y, _), (u, v, _) in zip(a, b):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    h = np.linalg.svd(np.asarray(rows))[2][-1].reshape(3, 3)
    return np.linalg.inv(td) @ h @ ts


def planarity_residual(before: np.ndarray, after: np.ndarray) -> float:
    """RMS distance between the turned frame's rigid landmarks and the best single plane's mapping of the
    frontal ones, as a share of the eye-to-eye distance. A print or screen: ~0; a head turned 20-30 deg: more."""
    src, dst = before[list(RIGID), :2], after[list(RIGID), :2]
    h = homography(src, dst)
    p = np.c_[src, np.ones(len(src))] @ h.T
    p = p[:, :2] / p[:, 2:]
    eyes = np.linalg.norm(after[OUTER_EYES[0], :2] - after[OUTER_EYES[1], :2])
    return float(np.sqrt(((p - dst) ** 2).sum(1).mean()) / max(eyes, 1e-6))


def count_blinks(ears: list[float], ratio: float) -> int:
    """Closed-then-open episodes against the open eye (the 80th percentile of the ratios seen)."""
    if len(ears) < 3:
        return 0
    open_ear = float(np.percentile(ears, 80))
    blinks, closed = 0, False
    for e in ears:
        if e < ratio * open_ear:
            closed = True
        elif closed and e > 0.85 * open_ear:
            blinks, closed = blinks + 1, False
    return blinks


class LivenessCheck:
    """Feed one landmark set per frame with its time; it answers a Cue once, then one Decision."""

    def __init__(self, settings: Settings = Settings(), choose=secrets.choice, delay=None):
        self.s = settings
        self._choose = choose
        self._delay = delay if delay is not None else secrets.randbelow(1001) / 1000 * settings.cue_delay
        self.reset()

    def reset(self) -> None:
        self.start: float | None = None
        self.ears: list[float] = []
        self.frontal: list[tuple[float, np.ndarray, np.ndarray]] = []   # (time, [yaw], landmarks)
        self.cue: Cue | None = None
        self.cue_at: float | None = None
        self.reference: np.ndarray | None = None
        self.base_yaw = 0.0
        self.peak, self.held = 0.0, 0
        self.peak_points: np.ndarray | None = None
        self.onset: float | None = None

    @property
    def turning(self) -> bool:
        """After the cue the face is meant to be turned: do not judge it for matching then."""
        return self.cue is not None

    def feed(self, points: np.ndarray, now: float) -> Cue | Decision | None:
        if self.start is None:
            self.start = now
        self.ears.append(eye_aspect_ratio(points))
        yaw = yaw_shift(points)
        if self.cue is None or self.cue_at is None:     # the two are set together by _settle
            return self._settle(points, yaw, now)
        shift = (yaw - self.base_yaw) * (1 if self.cue.direction == "left" else -1)
        since = now - self.cue_at
        if shift <= -self.s.turn:
            return self._decide(False, "wrong_way", now)
        if self.onset is None and shift >= self.s.turn / 2:
            self.onset = since
            if since < self.s.react_min:
                return self._decide(False, "early", now)
            if since > self.s.react_max:
                return self._decide(False, "no_turn", now)
        if shift > self.peak:
            self.peak, self.peak_points = shift, points
        if shift >= self.s.turn:
            self.held += 1
        if self.held >= self.s.hold_frames:
            if self.reference is None or self.peak_points is None:
                raise RuntimeError("liveness: a turn was held before a frontal reference and a turned frame were kept")
            self.planarity = planarity_residual(self.reference, self.peak_points)
            if self.planarity < self.s.planar_max:
                return self._decide(False, "flat", now)
            if count_blinks(self.ears, self.s.blink_ratio) >= 1:
                return self._decide(True, "live", now)
        if since > self.s.give_up:
            reason = "no_turn" if self.held < self.s.hold_frames else "no_blink"
            return self._decide(False, reason, now)
        return None

    def _settle(self, points: np.ndarray, yaw: float, now: float) -> Cue | None:
        if self.frontal and abs(yaw - self.frontal[-1][1][0]) > self.s.turn / 2:
            self.frontal = []          # still moving: start settling again
        self.frontal.append((now, np.array([yaw]), points))
        if len(self.frontal) < self.s.settle_frames or now - self.frontal[0][0] < self._delay:
            return None
        self.base_yaw = float(np.median([f[1][0] for f in self.frontal]))
        self.reference = points
        self.cue, self.cue_at = Cue(self._choose(("left", "right"))), now
        return self.cue

    def _decide(self, live: bool, reason: str, now: float) -> Decision:
        planarity = getattr(self, "planarity", 0.0)
        return Decision(live, reason, count_blinks(self.ears, self.s.blink_ratio), round(self.peak, 4),
                        round(planarity, 4), round(now - self.start if self.start is not None else 0.0, 3))
