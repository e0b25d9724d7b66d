"""``bench://FACE?fps=N``: a synthetic camera scene with a bench face, steerable like a libfprint virtual device.

The face sways by a few pixels and degrees from frame to frame (a patient never stands still). Commands, from
the bench control socket or in-process through ``control()``:

    show holder|other   whose face is in front of the camera (holder: the virtual card's holder)
    dark                the light goes out       noface      nobody in front of the camera
    two-faces           two people in the frame  unplug      the camera disappears (reads fail)
    replug              it comes back
    scene NAME          a liveness scene (liveness_scenes.py): live, live-other, print, print-bent, screen,
                        replay, replay-aware, mask; ``show`` returns to the plain faces
    cue left|right      what the patient's screen asks (FaceCheck passes it on; live people follow it)

A single face is a live person: it blinks and turns on the cue, lit by the counter and by the patient's screen
(``flash()``: the colours the screen showed, passed on by FaceCheck). Each seed draws its own conditions (light,
latency, noise, skin tone, glasses, a slow turn: liveness_scenes.Conditions); ``?plain=1`` keeps the defaults. The
scene clock runs at ``fps`` (15 when 0), by frame count, so a scene plays the same on a slow machine.
"""
from __future__ import annotations

import random
import urllib.parse
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import CameraGone
from . import Camera
from .liveness_scenes import SCENES, Conditions, Light, SceneRenderer

ASSETS = Path(__file__).resolve().parent.parent / "mock" / "assets"
FACES = {"holder": "holder.png", "other": "other.jpg"}
SIZE = (640, 480)
SCENE_FPS = 15.0


def _face_image(name: str) -> Image.Image:
    img = Image.open(ASSETS / FACES[name]).convert("RGB")
    if name == "other":   # a portrait crop like the holder's
        w, h = img.size
        img = img.crop((int(w * 0.2), int(h * 0.12), int(w * 0.8), int(h * 0.72)))
    return img.resize((220, int(220 * img.size[1] / img.size[0])))


class BenchCamera(Camera):
    def __init__(self, face: str = "holder", fps: float = 0.0, seed: int = 0, plain: bool = False):
        super().__init__(fps)
        self.seed = seed
        self.conditions = Conditions() if plain else Conditions.draw(random.Random(seed * 7919 + 1))
        self.light = Light()
        self.mode, self.face = "face", face
        self.plugged = True
        self.rng = random.Random(seed)
        self._faces = {name: _face_image(name) for name in FACES}
        ys, xs = np.mgrid[0:SIZE[1], 0:SIZE[0]]
        self._background = np.stack([90 + 60 * xs / SIZE[0], 100 + 40 * ys / SIZE[1],
                                     110 + 0 * xs], -1).astype(np.uint8)
        self.scene: str | None = None
        self.frames = 0
        self.cue_word: str | None = None      # the cue the screen showed, and when (for the bench person)
        self.cue_at: float | None = None
        self._renderer: SceneRenderer | None = None

    @classmethod
    def from_url(cls, url: str) -> Camera:     # bench://card is the card tray: not a BenchCamera
        parts = urllib.parse.urlsplit(url)
        face = parts.netloc or "holder"
        if face == "card":   # the card tray seen from above, for the card-face reader
            from ..registry import load   # a bench device under device/mock, loaded by name
            return load("mynareader.device.mock.card_camera:BenchCardCamera.from_url")(url)
        if face not in FACES:
            raise ValueError(f"bench camera face {face!r}: use {', '.join(FACES)}")
        q = dict(urllib.parse.parse_qsl(parts.query))
        return cls(face, float(q.get("fps", 0)), int(q.get("seed", 0)), q.get("plain", "0") not in ("0", ""))

    def _paste(self, scene: Image.Image, name: str, centre_x: int) -> None:
        face = self._faces[name].rotate(self.rng.uniform(-3, 3), resample=Image.Resampling.BILINEAR, expand=False,
                                        fillcolor=(120, 120, 120))
        x = centre_x - face.size[0] // 2 + self.rng.randint(-8, 8)
        y = 60 + self.rng.randint(-6, 6)
        scene.paste(face, (x, y))

    def read(self) -> np.ndarray:
        self.pace()
        if not self.plugged:
            raise CameraGone()
        t = self.frames / (self.fps or SCENE_FPS)
        self.frames += 1
        if self.mode in ("face", "dark"):
            return self._live(t)
        scene = Image.fromarray(self._background)
        if self.mode == "two-faces":
            self._paste(scene, "holder", SIZE[0] // 4 + 10)
            self._paste(scene, "other", 3 * SIZE[0] // 4 - 10)
        frame = np.asarray(scene, dtype=np.uint8)
        if self.mode == "dark":
            frame = (frame * 0.03).astype(np.uint8)
        return frame

    def frame_time(self) -> float:
        """The scene time of the last frame read (0 before any)."""
        return max(0, self.frames - 1) / (self.fps or SCENE_FPS)

    def cue(self, word: str) -> None:
        self.cue_word, self.cue_at = word, self.frames / (self.fps or SCENE_FPS)   # seen from the next frame on

    def clock(self, monotonic: float) -> float:
        return self.frames / (self.fps or SCENE_FPS)   # the scene clock: the screen's light starts with the next frame

    def flash(self, colours: np.ndarray, step: float, start: float, palette: np.ndarray) -> None:
        self.light = self._scene_renderer().flash(np.asarray(colours, float), step, start, np.asarray(palette, float))

    def _scene_renderer(self) -> SceneRenderer:
        if self._renderer is None:
            self._renderer = SceneRenderer(self._faces, self._background, self.rng.uniform(0, 3.2), self.conditions,
                                           self.seed)
        return self._renderer

    def _live(self, t: float) -> np.ndarray:
        renderer = self._scene_renderer()
        scene = self.scene or ("live" if self.face == "holder" else "live-other")
        sway = (self.rng.uniform(-6, 6), self.rng.uniform(-4, 4), self.rng.uniform(-2, 2))
        frame = renderer.frame(scene, t, self.cue_word, self.cue_at, sway, self.light)
        if self.mode == "dark":
            frame = (frame * 0.03).astype(np.uint8)
        return frame

    def control(self, line: str) -> str:
        problem = check_command(line)
        if problem:
            return problem
        verb, *args = line.split()
        if verb == "show":
            self.mode, self.face, self.scene = "face", args[0], None
        elif verb == "scene":
            self.mode, self.scene = "face", args[0]
        elif verb == "cue":
            self.cue(args[0])
        elif verb in ("dark", "noface", "two-faces"):
            self.mode = verb
        else:
            self.plugged = verb == "replug"
        return "ok"


def check_command(line: str) -> str | None:
    """None when ``line`` is a bench camera command, else the error reply."""
    words = line.split()
    verb, args = (words[0], words[1:]) if words else ("", [])
    if (verb == "show" and len(args) == 1 and args[0] in FACES) or \
            (verb in ("dark", "noface", "two-faces", "unplug", "replug") and not args) or \
            (verb == "scene" and len(args) == 1 and args[0] in SCENES) or \
            (verb == "cue" and len(args) == 1 and args[0] in ("left", "right")):
        return None
    return f"error unknown camera command {line.strip()!r}; use show holder|other, dark, noface, two-faces, " \
           f"unplug, replug, scene {'|'.join(SCENES)}, cue left|right"
