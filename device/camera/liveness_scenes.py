"""Live people and presentation attacks for the bench camera, rendered from the 2D face photos in mock/assets.

Every scene is a function of the scene clock (seconds), the cue the patient's screen shows ("left"/"right", the
patient's own left or right) and the light the screen gives at that moment, so runs are deterministic whatever
the CPU speed. Light is modelled, not painted on: a reflecting surface shows its colour *times* the counter's
light plus the screen's (shaded by the surface's normal toward the screen); an emitting screen shows its own
picture and only *adds* a faint reflection of the kiosk on its glass. Each presentation draws its conditions
(``Conditions.draw``): counter light level and colour, screen strength, display and camera latency, camera noise,
auto-exposure, skin tone, glasses, a slow elderly turn.

- a live head: the photo on a depth map (a head ellipsoid plus a nose ridge, placed from the face keypoints),
  turned in 3D with perspective; it blinks (eyelids drawn from the skin below the eye) and turns on the cue;
- a print: the chip photo on white paper, swaying, tilted in depth to follow the cue (an attacker sees the
  screen too); the bent print adds a cylindrical bend; paper reflects the screen's light like skin;
- a screen: the same photo on a phone (black bezel, moire, a glare spot), emitting its own light;
- a replay: a recording of the live holder on a phone, tablet or monitor, looped from a random point; it carries
  the lighting of its recording (steady, or another attempt's colours) and cannot hear the live cue;
- a scheme-aware replay: the attacker knows how the check works but not this attempt's draw; the player mirrors
  the clip to follow the cue it sees and tints the face with a guessed colour sequence started when the screen
  starts flashing;
- a mask: the holder's photo as a rigid paper plane with eye holes, worn by someone who turns with the cue;
  the eyes in the holes blink.

Where the bench falls short of real attacks (docs/face.md): the depth map is a smooth guess, not a scan; the
eyes behind the mask are drawn from the mask's own photo; paper has no grain or sheen; the renderer ignores
self-occlusion beyond 35 degrees and subsurface scattering; no 3D mask and no live relay.
"""
from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
from PIL import Image

# BlazeFace keypoints (right eye, left eye, nose, mouth) of the bench textures (bench.py's 220 px wide faces),
# measured once with daemon/face/detect.py; tests/test_liveness_bench.py checks them against the detector.
KEYPOINTS = {"holder": ((64, 112), (119, 113), (91, 145), (90, 173)),
             "other": ((89, 89), (147, 84), (117, 120), (121, 148))}
SCENES = ("live", "live-other", "print", "print-bent", "screen", "replay", "replay-aware", "mask")
ATTACKS = {"print": "print", "print-bent": "print", "screen": "screen", "replay": "replay",
           "replay-aware": "replay-aware", "mask": "mask"}
PAGE = np.array([0.93, 0.93, 0.95])      # the kiosk page's own light when it is not flashing (a pale page)
SCREEN_DIR = np.array([0.0, 0.3, 1.0]) / np.linalg.norm([0.0, 0.3, 1.0])   # the screen sits below the camera
FOCAL = 900.0          # camera focal length in pixels (a face 200 px wide at ~40 cm)
TURN_DEG = 30.0


def _smooth(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


def turn_profile(t: float, cue_at: float | None, react: float = 0.35, move: float = 0.45) -> float:
    """How far (0..1) a person has turned t seconds into the scene when the cue came at cue_at: react, turn in
    ``move`` s, hold 0.5 s, come back in ``move`` s."""
    if cue_at is None:
        return 0.0
    s = t - cue_at - react
    if s < 0:
        return 0.0
    if s < move:
        return _smooth(s / move)
    if s < move + 0.5:
        return 1.0
    return 1.0 - _smooth((s - move - 0.5) / move)


def blink_profile(t: float, period: float = 2.2, first: float = 0.25) -> float:
    """Eyelid closure 0..1: a 0.3 s blink every ``period`` seconds, the first at ``first``."""
    if t < first:
        return 0.0
    s = (t - first) % period
    return min(1.0, max(0.0, 1.5 * (1.0 - abs(s - 0.15) / 0.15))) if s < 0.3 else 0.0


@dataclasses.dataclass(frozen=True)
class Conditions:
    """One presentation's light, camera and person, drawn at random (``draw``) so no two runs look alike."""
    ambient: float = 1.0            # the counter's light on the face (1: a lit clinic counter; 0.3: dim)
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)    # its colour (warm or cool lamps)
    screen: float = 0.07            # the screen's light on the face, per unit of colour, against ambient 1
    display_lag: float = 0.03       # the screen paints this long after it says "shown"
    camera_lag: float = 0.03        # a frame leaves the sensor this long after its exposure
    noise: float = 2.0              # sensor noise, grey levels (sd)
    ae_tau: float = 1.0             # auto-exposure time constant (s); 0 holds the exposure
    skin: float = 1.0               # albedo scale of the person (skin tone)
    glasses: bool = False
    react: float = 0.35             # reaction to the cue
    move: float = 0.45              # the turn's duration (an elderly patient turns slowly)
    blink_period: float = 2.2
    device: str = "phone"           # replays: phone, tablet or monitor
    glass: float = 0.04             # replays and screens: the kiosk's light reflected by the glass
    recorded_flash: bool = False    # replays: the recording was made during another attempt's colours
    attacker_lag: float = 0.2       # scheme-aware replay: how soon it sees the screen and reacts

    @classmethod
    def draw(cls, rng: random.Random) -> "Conditions":
        dim = rng.random() < 0.25
        elderly = rng.random() < 0.2
        warm = rng.uniform(-0.12, 0.12)
        return cls(ambient=rng.uniform(0.3, 0.5) if dim else rng.uniform(0.8, 1.3),
                   tint=(1.0 + warm, 1.0, 1.0 - warm), screen=rng.uniform(0.04, 0.10),
                   display_lag=rng.uniform(0.0, 0.08), camera_lag=rng.uniform(0.0, 0.07),
                   noise=rng.uniform(3.0, 6.0) if dim else rng.uniform(1.0, 3.0), ae_tau=rng.uniform(0.6, 2.0),
                   skin=rng.choice((1.0, 0.85, 0.7, 0.55)), glasses=rng.random() < 0.3,
                   react=rng.uniform(0.55, 0.9) if elderly else rng.uniform(0.25, 0.5),
                   move=rng.uniform(0.6, 0.8) if elderly else rng.uniform(0.35, 0.5),
                   blink_period=rng.uniform(1.8, 3.0), device=rng.choice(("phone", "tablet", "monitor")),
                   glass=rng.uniform(0.02, 0.07), recorded_flash=rng.random() < 0.5,
                   attacker_lag=rng.uniform(0.08, 0.3))


class Texture:
    """A face photo with its keypoints, a depth map, the screen's shading over it, and eyelids."""

    def __init__(self, img: Image.Image, name: str):
        self.rgb = np.asarray(img, dtype=np.float32)
        self.h, self.w = self.rgb.shape[:2]
        kp = np.asarray(KEYPOINTS[name], dtype=np.float64)
        self.eyes, self.nose, self.mouth = kp[:2], kp[2], kp[3]
        self.eye_dist = float(np.linalg.norm(kp[1] - kp[0]))
        self.centre = np.array([(kp[0, 0] + kp[1, 0]) / 2, (kp[0, 1] + kp[3, 1]) / 2])
        self.head_depth = self._head_depth()
        self.flat_depth = np.zeros_like(self.head_depth)
        gy, gx = np.gradient(self.head_depth)
        normals = np.stack([-gx, -gy, np.ones_like(gx)], -1)
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
        self.head_shade = np.clip(normals @ SCREEN_DIR, 0.0, 1.0).astype(np.float32)

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

    def with_blink(self, closure: float, rgb: np.ndarray | None = None) -> np.ndarray:
        base = self.rgb if rgb is None else rgb
        if closure <= 0.02:
            return base
        out = base.copy()
        d = self.eye_dist
        rx, ry = 0.26 * d, 0.13 * d
        for ex, ey in self.eyes:
            skin = base[int(ey + 0.45 * d), int(ex - 0.1 * d):int(ex + 0.1 * d)].mean(0)
            y0, y1 = int(ey - ry - 2), int(ey + ry + 3)
            x0, x1 = int(ex - rx - 2), int(ex + rx + 3)
            ys, xs = np.mgrid[y0:y1, x0:x1]
            inside = ((xs - ex) / rx) ** 2 + ((ys - ey) / ry) ** 2 <= 1
            lid = inside & (ys <= ey - ry + 2 * ry * closure)
            out[y0:y1, x0:x1][lid] = skin * 0.95
            edge = inside & (np.abs(ys - (ey - ry + 2 * ry * closure)) < 1.2)
            out[y0:y1, x0:x1][edge] = skin * 0.45
        return out

    def person(self, cond: Conditions) -> np.ndarray:
        """The face as this presentation's person: skin tone, and glasses (dark rims) if they wear them."""
        rgb = self.rgb * np.array([1.0, 0.96, 0.9], dtype=np.float32) ** (1 - cond.skin) * cond.skin
        if cond.glasses:
            rgb = rgb.copy()
            ys, xs = np.mgrid[0:self.h, 0:self.w]
            d = self.eye_dist
            for ex, ey in self.eyes:
                r = ((xs - ex) / (0.42 * d)) ** 2 + ((ys - ey) / (0.3 * d)) ** 2
                rgb[(r > 0.8) & (r <= 1.0)] = 25.0
        return rgb

    def lenses(self, cond: Conditions) -> np.ndarray | None:
        """Where glasses mirror the screen (additive, not shaped by the skin), 0..1 over the texture."""
        if not cond.glasses:
            return None
        ys, xs = np.mgrid[0:self.h, 0:self.w]
        d = self.eye_dist
        out = np.zeros((self.h, self.w), np.float32)
        for ex, ey in self.eyes:
            out += np.exp(-(((xs - ex - 0.15 * d) / (0.12 * d)) ** 2 + ((ys - ey + 0.1 * d) / (0.08 * d)) ** 2))
        return np.clip(out, 0, 1)


def render(canvas: np.ndarray, tex: np.ndarray, depth: np.ndarray, centre: np.ndarray, at: tuple[float, float],
           yaw: float, pitch: float = 0.0, alpha: np.ndarray | None = None) -> None:
    """Draw ``tex`` (H x W x C, with per-pixel depth toward the camera) rotated by yaw/pitch (radians) about
    ``centre`` and seen in perspective, with ``centre`` landing on ``at``. Backward mapping by a few Newton steps."""
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
    colour = _sample_n(tex, u, v)
    a = inside.astype(np.float64)
    if alpha is not None:
        a = a * _sample1(alpha, u, v)
    region = canvas[y0:y1, x0:x1]
    region[:] = region * (1 - a[..., None]) + colour * a[..., None]


def _sample_n(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear samples of every channel of ``img`` (H x W x C) at once."""
    h, w = img.shape[:2]
    u, v = np.clip(u, 0, w - 1.001), np.clip(v, 0, h - 1.001)
    i, j = v.astype(np.int64), u.astype(np.int64)
    fy, fx = (v - i)[..., None].astype(np.float32), (u - j)[..., None].astype(np.float32)
    top = img[i, j] + (img[i, j + 1] - img[i, j]) * fx
    bottom = img[i + 1, j] + (img[i + 1, j + 1] - img[i + 1, j]) * fx
    return top + (bottom - top) * fy


def _sample1(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    u, v = np.clip(u, 0, w - 1.001), np.clip(v, 0, h - 1.001)
    i, j = v.astype(np.int64), u.astype(np.int64)
    fy, fx = v - i, u - j
    return (img[i, j] * (1 - fx) * (1 - fy) + img[i, j + 1] * fx * (1 - fy)
            + img[i + 1, j] * (1 - fx) * fy + img[i + 1, j + 1] * fx * fy)


# planes of a rendered surface: colour (3), how much of the screen's light it receives (1), whether it emits (1),
# and how much of the kiosk's light its glass or lenses mirror on top (1)
COLOUR, SHADE, EMIT, MIRROR = slice(0, 3), 3, 4, 5


def _planes(rgb: np.ndarray, shade, emit: float, mirror=None) -> np.ndarray:
    h, w = rgb.shape[:2]
    out = np.empty((h, w, 6), np.float32)
    out[..., COLOUR] = rgb
    out[..., SHADE] = shade
    out[..., EMIT] = emit
    out[..., MIRROR] = 0.0 if mirror is None else mirror
    return out


def _paper(rgb: np.ndarray, centre: np.ndarray, border: int, colour: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo on a sheet (white paper, or a black bezel) ``border`` pixels wide."""
    h, w = rgb.shape[0] + 2 * border, rgb.shape[1] + 2 * border
    sheet = np.full((h, w, 3), colour, dtype=np.float32)
    sheet[border:h - border, border:w - border] = rgb
    return sheet, np.array([centre[0] + border, centre[1] + border])


def _screen_artefacts(sheet: np.ndarray, border: int, pitch: float) -> np.ndarray:
    """Moire against the camera's pixel grid and a lamp's glare on the glass, inside the bezel."""
    ys, xs = np.mgrid[0:sheet.shape[0], 0:sheet.shape[1]]
    moire = 1 + 0.10 * np.sin(pitch * xs + 0.35 * ys) * np.sin(0.2 * ys - 0.05 * xs)
    glare = 70 * np.exp(-(((xs - 0.7 * sheet.shape[1]) / 30) ** 2 + ((ys - 0.3 * sheet.shape[0]) / 45) ** 2))
    out = sheet.copy()
    inner = np.zeros(sheet.shape[:2], bool)
    inner[border:-border, border:-border] = True
    out[inner] = np.clip(sheet[inner] * 0.92 * moire[inner, None] + 12 + glare[inner, None], 0, 255)
    return out


class Light:
    """What the kiosk's screen shows over time: its pale page, and a colour sequence from ``start`` on."""

    def __init__(self, colours: np.ndarray | None = None, step: float = 0.25, start: float | None = None):
        self.colours, self.step, self.start = colours, step, start

    def at(self, t: float) -> np.ndarray:
        if self.colours is None or self.start is None or t < self.start:
            return PAGE
        k = int((t - self.start) // self.step)
        return self.colours[k] if k < len(self.colours) else PAGE

    def over(self, t0: float, t1: float, n: int = 6) -> np.ndarray:
        """The mean over an exposure from t0 to t1."""
        return np.mean([self.at(t0 + (t1 - t0) * (i + 0.5) / n) for i in range(n)], axis=0)


def guessed_light(rng: random.Random, palette: np.ndarray, steps: int, step: float, start: float | None) -> Light:
    """An attacker's guess of the draw: the same scheme (palette, steps, timing), not this attempt's colours."""
    seq = [rng.randrange(len(palette))]
    while len(seq) < steps:
        seq.append(rng.choice([i for i in range(len(palette)) if i != seq[-1]]))
    return Light(palette[seq], step, start)


class SceneRenderer:
    """Frames of one scene; ``frame(scene, t, cue, cue_at, sway, light)`` draws it at scene time t."""

    def __init__(self, faces: dict[str, Image.Image], background: np.ndarray, replay_offset: float = 0.0,
                 conditions: Conditions = Conditions(), seed: int = 0):
        self.replay_offset = replay_offset
        self.cond = conditions
        self.rng = random.Random(seed)
        self.noise = np.random.default_rng(seed)
        self.tex = {name: Texture(img, name) for name, img in faces.items()}
        self.background = _planes(background.astype(np.float32), 0.12, 0.0)
        holder = self.tex["holder"]
        sheet, self.print_centre = _paper(holder.rgb, holder.centre, 14, 245.0)
        self.print_sheet = _planes(sheet, 1.0, 0.0)
        self.flat = np.zeros(sheet.shape[:2])
        xs = np.arange(sheet.shape[1]) - self.print_centre[0]
        self.bent = np.tile(0.22 * holder.eye_dist * (1 - (xs / (sheet.shape[1] / 2)) ** 2), (sheet.shape[0], 1))
        screen, self.screen_centre = _paper(holder.rgb, holder.centre, 18, 12.0)
        self.screen = _planes(_screen_artefacts(screen, 18, 0.9), 0.0, 1.0, self._glass_reflection(screen.shape))
        self.mask_alpha = self._mask_alpha(holder)
        self.recording = Light()          # the light of the moment a replayed video was recorded
        self.guess: Light | None = None   # a scheme-aware attacker's guess
        # where the kiosk mirrors on the replaying device's glass: drawn once, as the device is held still
        self._replay_glass: np.ndarray | None = None
        self._people: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        # sensor noise: a bank drawn once, taken at a random offset each frame (drawing 1M normals costs 20 ms)
        self._noise = self.noise.normal(0, 1, (background.shape[0] * 2, background.shape[1], 3)).astype(np.float32)
        self.brightness = self.rng.uniform(0.8, 1.3)    # an attacker sets the device's brightness to look natural
        self.ae_gain = 1.0
        self.ae_target: float | None = None
        self.last_t: float | None = None

    def flash(self, colours: np.ndarray, step: float, start: float, palette: np.ndarray) -> Light:
        """The kiosk starts a colour sequence at scene time ``start``: the light every scene is lit by. A recording
        made during another attempt carries that attempt's colours; a scheme-aware attacker starts a guess."""
        if self.recording.colours is None:
            self.recording = guessed_light(self.rng, palette, len(colours), step, self.rng.uniform(0.1, 1.5))
        self.guess = guessed_light(self.rng, palette, len(colours), step, start + self.cond.attacker_lag)
        return Light(colours, step, start)

    def _glass_reflection(self, shape) -> np.ndarray:
        """Where the kiosk's screen is mirrored on a device's glass: a soft patch at a random place."""
        ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
        cx, cy = self.rng.uniform(0.2, 0.8) * shape[1], self.rng.uniform(0.2, 0.8) * shape[0]
        sx, sy = self.rng.uniform(0.3, 0.8) * shape[1], self.rng.uniform(0.3, 0.8) * shape[0]
        return np.clip(1.4 * np.exp(-(((xs - cx) / sx) ** 2 + ((ys - cy) / sy) ** 2)), 0, 1).astype(np.float32)

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

    def _head(self, name: str, t: float, yaw: float, roll: float, at) -> np.ndarray:
        """A head's planes at time t: the person's skin, the screen's shading, their glasses' mirror."""
        tex = self.tex[name]
        if name not in self._people:
            self._people[name] = (tex.person(self.cond), tex.lenses(self.cond))
        rgb, lenses = self._people[name]
        planes = _planes(tex.with_blink(blink_profile(t, self.cond.blink_period), rgb), tex.head_shade, 0.0, lenses)
        canvas = self.background.copy()
        render(canvas, planes, tex.head_depth, tex.centre, at, yaw, roll)
        return canvas

    def frame(self, scene: str, t: float, cue: str | None, cue_at: float | None, sway: tuple[float, float, float],
              light: Light = Light()) -> np.ndarray:
        c = self.cond
        dx, dy, roll_deg = sway
        at = (320 + dx, 215 + dy)
        roll = math.radians(roll_deg)
        sign = {"left": 1.0, "right": -1.0}.get(cue or "", 0.0)
        turn = math.radians(TURN_DEG) * sign * turn_profile(t, cue_at, c.react, c.move)
        if scene in ("live", "live-other"):
            canvas = self._head("other" if scene == "live-other" else "holder", t, turn, roll, at)
        elif scene in ("replay", "replay-aware"):
            canvas = self._replay(scene, t, cue, cue_at, at, roll, light)
        elif scene in ("print", "print-bent"):
            canvas = self.background.copy()
            depth = self.bent if scene == "print-bent" else self.flat
            tilt = 1.4 * turn + math.radians(8 * math.sin(1.3 * t))    # moved, and tilted to follow the cue
            render(canvas, self.print_sheet, depth, self.print_centre, at, tilt, math.radians(6 * math.sin(t)))
        elif scene == "screen":
            canvas = self.background.copy()
            tilt = 1.4 * turn + math.radians(6 * math.sin(1.1 * t))
            render(canvas, self.screen, self.flat, self.screen_centre, at, tilt, roll)
        elif scene == "mask":
            wearer = self.tex["holder"]
            canvas = self.background.copy()
            # the eyes behind the holes blink; the paper in front turns as one plane with the head
            render(canvas, _planes(wearer.with_blink(blink_profile(t, c.blink_period)), 1.0, 0.0),
                   wearer.flat_depth, wearer.centre, at, turn, roll)
            render(canvas, _planes(wearer.rgb, 1.0, 0.0), wearer.flat_depth + 0.4 * wearer.eye_dist, wearer.centre,
                   at, turn, roll, alpha=self.mask_alpha)
        else:
            raise ValueError(f"unknown scene {scene!r}")
        return self._expose(canvas, t, light)

    def _replay(self, scene: str, t: float, cue: str | None, cue_at: float | None, at, roll: float,
                light: Light) -> np.ndarray:
        """A recording of the holder (cued "left" at 0.8 s of a 3.2 s clip, looped from a random point), lit as
        it was recorded, shown by a device that emits it; the kiosk's light only mirrors on its glass."""
        c = self.cond
        rt = (t + self.replay_offset) % 3.2
        sign = 1.0
        if scene == "replay-aware":         # it holds the clip's frontal second (a blink in it) until the cue
            rt = (t + self.replay_offset) % 1.1
        if scene == "replay-aware" and cue is not None and cue_at is not None and t >= cue_at + c.attacker_lag:
            # the attacker sees the cue and plays the turn at once, mirrored to the cued side
            sign = 1.0 if cue == "left" else -1.0
            rt = min(0.8 + t - cue_at - c.attacker_lag, 3.2)
        turn = math.radians(TURN_DEG) * sign * turn_profile(rt, 0.8)
        tex = self.tex["holder"]
        rec = self.recording.at(rt) if c.recorded_flash else PAGE
        # the recorded frame: the holder's head turned as in the clip, in the light of its own moment
        frame = np.zeros((tex.h, tex.w, 3), np.float32) + 60.0
        render(frame, tex.with_blink(blink_profile(rt)), tex.head_depth, tex.centre, tuple(tex.centre), turn)
        lit = frame * (1 + 0.08 * (rec - rec.mean()))
        if scene == "replay-aware" and self.guess is not None:
            g = self.guess.at(t)                             # the attacker's guess, painted as a reflection
            lit = lit * (1 + c.screen * 1.2 * (g - g.mean()) / max(c.ambient, 0.3))
        scale = {"phone": 0.75, "tablet": 1.0, "monitor": 1.15}[c.device]
        canvas = self.background.copy()
        border = 14 if c.device == "phone" else 0
        sheet, centre = _paper(lit.astype(np.float32), tex.centre, border, 10.0)
        sheet = _screen_artefacts(sheet, max(border, 1), {"phone": 0.9, "tablet": 1.3, "monitor": 1.9}[c.device])
        if self._replay_glass is None or self._replay_glass.shape != sheet.shape[:2]:
            self._replay_glass = self._glass_reflection(sheet.shape)
        dev = _planes(sheet, 0.0, 1.0, self._replay_glass)
        if scale != 1.0:
            dev = _resize_planes(dev, scale)
            centre = centre * scale
        render(canvas, dev, np.zeros(dev.shape[:2]), centre, at, 0.0, roll)
        return canvas

    def _expose(self, canvas: np.ndarray, t: float, light: Light) -> np.ndarray:
        """The camera: reflected light = colour x (counter light + screen light x shade); emitted light as shown;
        the glass's mirror of the screen on top; exposure held or slowly adapting; noise; 8 bits."""
        c = self.cond
        dt = 1.0 / 15
        screen = light.over(t - dt - c.camera_lag - c.display_lag, t - c.camera_lag - c.display_lag)
        amb = (c.ambient * np.asarray(c.tint)).astype(np.float32)
        colour, e = canvas[..., COLOUR], canvas[..., EMIT, None]
        light = amb + (c.screen * screen).astype(np.float32) * canvas[..., SHADE, None]
        light = light * (1 - e) + np.float32(c.ambient * self.brightness) * e      # a device emits its own
        img = colour * light + np.float32(255 * c.glass) * screen.astype(np.float32) * canvas[..., MIRROR, None]
        mean = float(img.mean())
        if self.ae_target is None:
            self.ae_target, self.ae_gain = 128.0, 128.0 / max(mean, 1.0)
        elif c.ae_tau > 0 and self.last_t is not None:
            want = self.ae_target / max(mean, 1.0)
            self.ae_gain += (want - self.ae_gain) * min(1.0, (t - self.last_t) / c.ae_tau)
        self.last_t = t
        off = self.rng.randrange(img.shape[0])
        img = img * np.float32(self.ae_gain) + np.float32(c.noise) * self._noise[off:off + img.shape[0]]
        return np.clip(img, 0, 255).astype(np.uint8)


def _resize_planes(planes: np.ndarray, scale: float) -> np.ndarray:
    h, w = planes.shape[:2]
    nh, nw = max(2, int(h * scale)), max(2, int(w * scale))
    ys = np.clip((np.arange(nh) + 0.5) / scale - 0.5, 0, h - 1.001)
    xs = np.clip((np.arange(nw) + 0.5) / scale - 0.5, 0, w - 1.001)
    v, u = np.meshgrid(ys, xs, indexing="ij")
    return _sample_n(planes, u, v).astype(np.float32)
