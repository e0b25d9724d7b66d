"""Presentation-attack detection from face-mesh landmarks and the screen's light over frames. Pure numpy; time is
an input.

Four signals (docs/face.md says which attacks each stops and which it does not):
- the screen's light (flash.py): the screen shows a random colour sequence from the first frame; the face must
  reflect it in step, as a surface does (a recording or a screen emits its own light). When the screen does not
  say it showed the colours in time, the check falls back to the three below, never to none;
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

from .flash import Flash, FlashResult, FlashSettings, draw, judge

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
    react_max: float = 1.6          # nor one that starts later (an elderly patient reacts slowly)
    turn: float = 0.12              # nose shift along the eye line, as a share of the cheek-to-cheek width
    hold_frames: int = 3            # frames at or past ``turn`` before judging
    planar_max: float = 0.06        # homography residual (share of the eye-to-eye distance) under this: flat
    blink_ratio: float = 0.82       # an eye aspect ratio under this share of the open one is a closed eye (a
                                    # blink's lowest frame at 15 fps: 0.68-0.78 of open; frame-to-frame noise
                                    # <= 0.06: at 0.75 a blink was missed and the check waited for the next)
    give_up: float = 3.0            # seconds after the cue: no turn (or no blink) by then fails
    flash: FlashSettings | None = FlashSettings()   # None: no colour sequence is asked of the screen
    cue_after_flash: float = 0.55   # with a flash shown: the cue comes this long after it started; a quick turn
                                    # begins in its last colour, and frames turned away are left out (on 200
                                    # bench faces the kept frames reached 1.0-1.25 s of the 1.0 s sequence)


@dataclasses.dataclass(frozen=True)
class Cue:
    direction: str                  # "left" | "right": the patient's own left or right

    @property
    def code(self) -> str:
        return f"turn_{self.direction}"


@dataclasses.dataclass(frozen=True)
class Decision:
    live: bool
    reason: str                     # "live" | "no_blink" | "no_turn" | "wrong_way" | "early" | "flat" |
                                    # "no_reflection" | "added_light" | "out_of_step" (the screen's light)
    blinks: int
    turn: float                     # the largest shift toward the cue
    planarity: float                # the homography residual at the turn (0 when no turn was seen)
    seconds: float                  # from the first frame to the decision
    flash: str = "off"              # "passed", "not_shown" (the screen did not show it: fallback), a failure, "off"
    flash_result: FlashResult | None = None


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
        elif closed and e > (1 + ratio) / 2 * open_ear:     # open again: above halfway back to open
            blinks, closed = blinks + 1, False
    return blinks


class LivenessCheck:
    """Feed one landmark set per frame with its time; it answers the Flash the screen must show (first frame, when
    the settings ask for one), a Cue once, then one Decision."""

    def __init__(self, settings: Settings = Settings(), choose=secrets.choice, delay=None, flash: Flash | None = None):
        self.s = settings
        self._choose = choose
        self._delay = delay if delay is not None else secrets.randbelow(1001) / 1000 * settings.cue_delay
        self.flash = flash if flash is not None or settings.flash is None else draw(settings.flash)
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
        self.flash_asked: float | None = None
        self.flash_start: float | None = None
        self.samples: list[tuple[float, np.ndarray, tuple[float, float]]] = []   # (time, patch colours, pose)
        self.turn_passed = False

    def shown(self, start: float) -> None:
        """The screen painted the flash's first colour at ``start`` (the frames' clock)."""
        if self.flash_start is None:
            self.flash_start = start

    @property
    def turning(self) -> bool:
        """After the cue the face is meant to be turned: do not judge it for matching then."""
        return self.cue is not None

    def feed(self, points: np.ndarray, now: float, patches: np.ndarray | None = None) -> Flash | Cue | Decision | None:
        """One frame's landmarks (and, with a flash, its patch colours: flash.sample_patches). Answers the Flash
        the screen must show (first frame), then a Cue, then one Decision."""
        if self.start is None:
            self.start = now
            if self.flash is not None:
                self.flash_asked = now
                return self.flash
        if self.flash is not None and patches is not None:
            self.samples.append((now, patches, (yaw_shift(points), eye_aspect_ratio(points))))
        if self.turn_passed:
            return self._flash_decision(now)
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
                if shift >= self.peak and since <= self.s.give_up:
                    return None        # a slow turn still growing: judge its fullest frame, not its start
                return self._decide(False, "flat", now)
            if count_blinks(self.ears, self.s.blink_ratio) >= 1:
                self.turn_passed = True
                return self._flash_decision(now)
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
        if self._flash_pending(now):
            return None
        self.base_yaw = float(np.median([f[1][0] for f in self.frontal]))
        self.reference = points
        self.cue, self.cue_at = Cue(self._choose(("left", "right"))), now
        return self.cue

    def _flash_pending(self, now: float) -> bool:
        """The cue waits for the colour sequence (or for the time the screen had to show it)."""
        fs = self.s.flash
        if self.flash is None or fs is None or self.flash_asked is None:
            return False
        if self.flash_start is None:
            return now - self.flash_asked < fs.shown_within
        return now < self.flash_start + self.s.cue_after_flash

    def _flash_decision(self, now: float) -> Decision | None:
        """After the turn passed: the screen's light decides, once its sequence and the latency are over."""
        fs = self.s.flash
        if self.flash is None or fs is None:
            return self._decide(True, "live", now)
        if self.flash_start is None:
            if self.flash_asked is not None and now - self.flash_asked < fs.shown_within:
                return None
            return self._decide(True, "live", now, flash="not_shown")     # the screen could not: fall back
        if now < self.flash_start + self.flash.duration() + fs.lag_max + 0.07:
            return None
        # frames already turned away are left out: a turn changes what each patch sees (the cue waits for the
        # sequence, so only a very quick turn reaches into it)
        kept = [x for x in self.samples if abs(x[2][0] - self.base_yaw) < self.s.turn / 2]
        times = np.asarray([t for t, _, _ in kept])
        result = judge(self.flash, self.flash_start, times, np.asarray([p for _, p, _ in kept]), fs,
                       np.asarray([q for _, _, q in kept]))
        self.samples = []               # the colours of the face live only until the decision
        if result.passed:
            return self._decide(True, "live", now, flash="passed", flash_result=result)
        return self._decide(False, result.reason, now, flash=result.reason, flash_result=result)

    def _decide(self, live: bool, reason: str, now: float, flash: str | None = None,
                flash_result: FlashResult | None = None) -> Decision:
        planarity = getattr(self, "planarity", 0.0)
        if flash is None:
            flash = "off" if self.flash is None else "undecided"
        return Decision(live, reason, count_blinks(self.ears, self.s.blink_ratio), round(self.peak, 4),
                        round(planarity, 4), round(now - self.start if self.start is not None else 0.0, 3),
                        flash, flash_result)
