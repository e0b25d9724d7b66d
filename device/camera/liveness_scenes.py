"""Live people and presentation attacks for the bench camera, rendered from the 2D face photos in mock/assets.

Every scene is a function of the scene clock (seconds) and the cue the patient's screen shows ("left"/"right",
the patient's own left or right), so runs are deterministic whatever the CPU speed.

- a live head: the photo on a depth map (a head ellipsoid plus a nose ridge, placed from the face keypoints),
  turned in 3D with perspective; it blinks (eyelids drawn from the skin below the eye) and turns on the cue;
- a print: the chip photo on white paper, swaying, tilted in depth to follow the cue (an attacker sees the
  screen too); the bent print adds a cylindrical bend;
- a screen: the same photo behind a black bezel, with moire and a glare spot;
- a replay: a recording of the live holder who was cued "left" once, looped; it cannot hear the live cue;
- a mask: the holder's photo as a rigid paper plane with eye holes, worn by someone who turns with the cue;
  the eyes in the holes blink.

Where the bench falls short of real attacks (docs/face.md): the depth map is a smooth guess, not a scan; the
eyes behind the mask are drawn from the mask's own photo; prints and screens have no paper texture, specular
sheen or real moire; the renderer ignores self-occlusion beyond 35 degrees.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

# BlazeFace keypoints (right eye, left eye, nose, mouth) of the bench textures (bench.py's 220 px wide faces),
# measured once with daemon/face/detect.py; tests/test_liveness_bench.py checks them against the detector.
KEYPOINTS = {"holder": ((64, 112), (119, 113), (91, 145), (90, 173)),
             "other": ((89, 89), (147, 84), (117, 120), (121, 148))}
SCENES = ("live", "live-other", "print", "print-bent", "screen", "replay", "mask")
ATTACKS = {"print": "print", "print-bent": "print", "screen": "screen", "replay": "replay", "mask": "mask"}
FOCAL = 900.0          # camera focal length in pixels (a face 200 px wide at ~40 cm)
TURN_DEG = 30.0


def _smooth(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def turn_profile(t: float, cue_at: float | None, react: float = 0.35) -> float:
    """How far (0..1) a person has turned t seconds into the scene when the cue came at cue_at: react, turn in
    0.45 s, hold 0.5 s, come back in 0.45 s."""
    if cue_at is None:
        return 0.0
    s = t - cue_at - react
    if s < 0:
        return 0.0
    if s < 0.45:
        return _smooth(s / 0.45)
    if s < 0.95:
        return 1.0
    return 1.0 - _smooth((s - 0.95) / 0.45)


def blink_profile(t: float, period: float = 2.2, first: float = 0.25) -> float:
    """Eyelid closure 0..1: a 0.3 s blink every ``period`` seconds, the first at ``first``."""
    if t < first:
        return 0.0
    s = (t - first) % period
    return min(1.0, max(0.0, 1.5 * (1.0 - abs(s - 0.15) / 0.15))) if s < 0.3 else 0.0


class Texture:
    """A face photo with its keypoints, a depth map and eyelids."""

    def __init__(self, img: Image.Image, name: str):
        self.rgb = np.asarray(img, dtype=np.float32)
        self.h, self.w = self.rgb.shape[:2]
        kp = np.asarray(KEYPOINTS[name], dtype=np.float64)
        self.eyes, self.nose, self.mouth = kp[:2], kp[2], kp[3]
        self.eye_dist = float(np.linalg.norm(kp[1] - kp[0]))
        self.centre = np.array([(kp[0, 0] + kp[1, 0]) / 2, (kp[0, 1] + kp[3, 1]) / 2])
        self.head_depth = self._head_depth()
        self.flat_depth = np.zeros_like(self.head_depth)

    def _head_depth(self) -> np.ndarray:
        """Depth toward the camera in pixels: an ellipsoid as wide as the head, a nose ridge and tip."""
        ys, xs = np.mgrid[0:self.h, 0:self.w].astype(np.float64)
        d = self.eye_dist
        ax, ay = 1.25 * d, 1.7 * d
        e = 1 - ((xs - self.centre[0]) / ax) ** 2 - ((ys - self.centre[1]) / ay) ** 2
        head = 0.9 * d * np.clip(e, 0, None) ** 0.8     # a finite slope at the rim keeps the mapping smooth
        nx, ny = self.nose
        ridge_y = np.clip((ys - (self.eyes[:, 1].mean())) / max(1.0, ny - self.eyes[:, 1].mean()), 0, 1)
        ridge = 0.45 * d * ridge_y * np.exp(-((xs - nx) / (0.16 * d)) ** 2) * (ys <= ny + 0.15 * d)
        tip = 0.5 * d * np.exp(-(((xs - nx) / (0.2 * d)) ** 2 + ((ys - ny) / (0.2 * d)) ** 2))
        return head + np.maximum(ridge, tip)

    def with_blink(self, closure: float) -> np.ndarray:
        if closure <= 0.02:
            return self.rgb
        out = self.rgb.copy()
        d = self.eye_dist
        rx, ry = 0.26 * d, 0.13 * d
        for ex, ey in self.eyes:
            skin = self.rgb[int(ey + 0.45 * d), int(ex - 0.1 * d):int(ex + 0.1 * d)].mean(0)
            y0, y1 = int(ey - ry - 2), int(ey + ry + 3)
            x0, x1 = int(ex - rx - 2), int(ex + rx + 3)
            ys, xs = np.mgrid[y0:y1, x0:x1]
            inside = ((xs - ex) / rx) ** 2 + ((ys - ey) / ry) ** 2 <= 1
            lid = inside & (ys <= ey - ry + 2 * ry * closure)
            out[y0:y1, x0:x1][lid] = skin * 0.95
            edge = inside & (np.abs(ys - (ey - ry + 2 * ry * closure)) < 1.2)
            out[y0:y1, x0:x1][edge] = skin * 0.45
        return out


def render(canvas: np.ndarray, tex: np.ndarray, depth: np.ndarray, centre: np.ndarray, at: tuple[float, float],
           yaw: float, pitch: float = 0.0, alpha: np.ndarray | None = None) -> None:
    """Draw ``tex`` (with per-pixel depth toward the camera) rotated by yaw/pitch (radians) about ``centre`` and
    seen in perspective, with ``centre`` landing on ``at``. Backward mapping by a few Newton steps."""
    th, tw = tex.shape[:2]
    half = int(0.75 * max(th, tw))
    ox, oy = int(at[0]), int(at[1])
    x0, x1 = max(0, ox - half), min(canvas.shape[1], ox + half)
    y0, y1 = max(0, oy - half), min(canvas.shape[0], oy + half)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)

    def forward(u, v):
        z = _sample1(depth, u, v)
        X, Y = u - centre[0], v - centre[1]
        X1, Z1 = X * cy + z * sy, -X * sy + z * cy
        Y2, Z2 = Y * cp - Z1 * sp, Y * sp + Z1 * cp
        k = FOCAL / (FOCAL - Z2)
        return ox + X1 * k, oy + Y2 * k

    u, v = centre[0] + (xs - ox) / cy, centre[1] + (ys - oy) / cp
    for _ in range(6):
        fx, fy = forward(u, v)
        u, v = u + (xs - fx) / cy, v + (ys - fy) / cp
    # where the steps do not settle (behind the nose) the nearest surface shows: no self-occlusion model
    inside = (u >= 0) & (u <= tw - 1) & (v >= 0) & (v <= th - 1)
    colour = _sample3(tex, u, v)
    a = inside.astype(np.float64)
    if alpha is not None:
        a = a * _sample1(alpha, u, v)
    region = canvas[y0:y1, x0:x1]
    region[:] = region * (1 - a[..., None]) + colour * a[..., None]


def _sample1(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    u, v = np.clip(u, 0, w - 1.001), np.clip(v, 0, h - 1.001)
    i, j = v.astype(np.int64), u.astype(np.int64)
    fy, fx = v - i, u - j
    return (img[i, j] * (1 - fx) * (1 - fy) + img[i, j + 1] * fx * (1 - fy)
            + img[i + 1, j] * (1 - fx) * fy + img[i + 1, j + 1] * fx * fy)


def _sample3(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.stack([_sample1(img[..., c], u, v) for c in range(3)], -1)


def _paper(tex: Texture, border: int, colour: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo on a sheet (white paper, or a black bezel) ``border`` pixels wide."""
    h, w = tex.h + 2 * border, tex.w + 2 * border
    sheet = np.full((h, w, 3), colour, dtype=np.float32)
    sheet[border:border + tex.h, border:border + tex.w] = tex.rgb
    return sheet, np.array([tex.centre[0] + border, tex.centre[1] + border])


class SceneRenderer:
    """Frames of one scene; ``frame(t, cue, cue_at)`` draws the scene at scene time t."""

    def __init__(self, faces: dict[str, Image.Image], background: np.ndarray, replay_offset: float = 0.0):
        self.replay_offset = replay_offset
        self.tex = {name: Texture(img, name) for name, img in faces.items()}
        self.background = background.astype(np.float32)
        holder = self.tex["holder"]
        self.print_sheet, self.print_centre = _paper(holder, 14, 245.0)
        self.flat = np.zeros(self.print_sheet.shape[:2])
        xs = np.arange(self.print_sheet.shape[1]) - self.print_centre[0]
        self.bent = np.tile(0.22 * holder.eye_dist * (1 - (xs / (self.print_sheet.shape[1] / 2)) ** 2),
                            (self.print_sheet.shape[0], 1))
        screen, self.screen_centre = _paper(holder, 18, 12.0)
        ys, xs2 = np.mgrid[0:screen.shape[0], 0:screen.shape[1]]
        moire = 1 + 0.10 * np.sin(0.9 * xs2 + 0.35 * ys) * np.sin(0.2 * ys - 0.05 * xs2)
        glare = 90 * np.exp(-(((xs2 - 0.7 * screen.shape[1]) / 30) ** 2 + ((ys - 0.3 * screen.shape[0]) / 45) ** 2))
        inner = np.zeros(screen.shape[:2], bool)
        inner[18:-18, 18:-18] = True
        screen[inner] = np.clip(screen[inner] * 0.92 * moire[inner, None] + 18 + glare[inner, None], 0, 255)
        self.screen = screen
        self.mask_alpha = self._mask_alpha(holder)

    @staticmethod
    def _mask_alpha(tex: Texture) -> np.ndarray:
        """A paper face cut around the head, with holes at the eyes."""
        ys, xs = np.mgrid[0:tex.h, 0:tex.w].astype(np.float64)
        d = tex.eye_dist
        outline = ((xs - tex.centre[0]) / (1.3 * d)) ** 2 + ((ys - tex.centre[1]) / (1.75 * d)) ** 2 <= 1
        alpha = outline.astype(np.float64)
        for ex, ey in tex.eyes:
            alpha[((xs - ex) / (0.3 * d)) ** 2 + ((ys - ey) / (0.17 * d)) ** 2 <= 1] = 0
        return alpha

    def frame(self, scene: str, t: float, cue: str | None, cue_at: float | None, sway: tuple[float, float, float]
              ) -> np.ndarray:
        canvas = self.background.copy()
        dx, dy, roll = sway
        at = (320 + dx, 215 + dy)
        sign = {"left": 1.0, "right": -1.0}.get(cue or "", 0.0)
        if scene == "replay":        # the recording: cued "left" at 0.8 s, 3.2 s long, looped, started anywhere
            t, sign, cue_at = (t + self.replay_offset) % 3.2, 1.0, 0.8
        turn = math.radians(TURN_DEG) * sign * turn_profile(t, cue_at)
        if scene in ("live", "live-other", "replay"):
            tex = self.tex["other" if scene == "live-other" else "holder"]
            render(canvas, tex.with_blink(blink_profile(t)), tex.head_depth, tex.centre, at, turn,
                   math.radians(roll))
            if scene == "replay":
                canvas = canvas * 0.9 + 12
        elif scene in ("print", "print-bent"):
            depth = self.bent if scene == "print-bent" else self.flat
            tilt = 1.4 * turn + math.radians(8 * math.sin(1.3 * t))    # moved, and tilted to follow the cue
            render(canvas, self.print_sheet, depth, self.print_centre, at, tilt, math.radians(6 * math.sin(t)))
        elif scene == "screen":
            tilt = 1.4 * turn + math.radians(6 * math.sin(1.1 * t))
            render(canvas, self.screen, self.flat, self.screen_centre, at, tilt, math.radians(roll))
        elif scene == "mask":
            wearer = self.tex["holder"]
            # the eyes behind the holes blink; the paper in front turns as one plane with the head
            render(canvas, wearer.with_blink(blink_profile(t)), wearer.flat_depth, wearer.centre, at, turn,
                   math.radians(roll))
            render(canvas, wearer.rgb, wearer.flat_depth + 0.4 * wearer.eye_dist, wearer.centre, at, turn,
                   math.radians(roll), alpha=self.mask_alpha)
        else:
            raise ValueError(f"unknown scene {scene!r}")
        return np.clip(canvas, 0, 255).astype(np.uint8)
