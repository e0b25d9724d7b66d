"""``bench://card``: a synthetic camera looking down at the card tray, showing the virtual card's printed face.

Which card lies on the tray follows the bench reader: the sim:// slot in-process (wired by the card-face
source), or a vpcd/PN532 mock through its control socket (``bench://card?control=PATH`` asks it ``status``),
or a fixed profile (``bench://card?profile=fresh``). Every frame is rendered anew with a little jitter, as
a real camera's frames differ. Commands (bench control socket, or ``control()``):

    cardface KIND       how the card is seen: a kind of card_face_render (KINDS, STRESS_KINDS: harsh, tiny)
    cardface away       the tray is empty            cardface wrong   a card whose security code differs
"""
from __future__ import annotations

import dataclasses
import random
import urllib.parse
from typing import Callable

import numpy as np

from . import card_face_render as cfr
from ..bench_control import send_control
from .profiles import PROFILES
from ..camera import Camera
from ..errors import CameraGone

MODES = [*cfr.KINDS, *cfr.STRESS_KINDS, "away", "wrong"]


class BenchCardCamera(Camera):
    def __init__(self, profile: str | None = None, control: str | None = None, fps: float = 0.0, seed: int = 0,
                 mode: str = "good", size: tuple[int, int] = (1280, 960)):
        super().__init__(fps)
        self.profile, self.control_path, self.mode, self.size = profile, control, mode, size
        self.rng = random.Random(seed)
        self._follow: Callable[[], object] | None = None
        self.plugged = True

    @classmethod
    def from_url(cls, url: str) -> "BenchCardCamera":
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        profile = q.get("profile")
        if profile is not None and profile not in PROFILES:
            raise ValueError(f"bench card profile {profile!r}: use {', '.join(PROFILES)}")
        mode = q.get("mode", "good")
        if mode not in MODES:
            raise ValueError(f"bench card mode {mode!r}: use {', '.join(MODES)}")
        return cls(profile, q.get("control"), float(q.get("fps", 0)), int(q.get("seed", 0)), mode)

    def follow(self, profile_of: Callable[[], object]) -> None:
        """Show whatever card ``profile_of()`` names (a Profile, a profile name, or None for an empty tray)."""
        self._follow = profile_of

    def _current(self):
        if self._follow is not None:
            p = self._follow()
        elif self.control_path:
            reply = send_control(self.control_path, "status")
            p = reply.split()[1] if reply.startswith("ok ") and reply != "ok empty" else None
        else:
            p = self.profile or "fresh"
        return PROFILES.get(p) if isinstance(p, str) else p

    def read(self) -> np.ndarray:
        self.pace()
        if not self.plugged:
            raise CameraGone()
        profile = None if self.mode == "away" else self._current()
        if profile is None:
            return cfr.scene_empty(self.rng, self.size)
        face = cfr.face_of_profile(profile)
        if self.mode == "wrong":
            face = dataclasses.replace(face, security_code=f"{(int(face.security_code) + 1111) % 10000:04d}")
        kind = "good" if self.mode == "wrong" else self.mode
        return cfr.scene(face, self.rng, cfr.Degradation.random(self.rng, kind), self.size)

    def control(self, line: str) -> str:
        words = line.split()
        if len(words) == 2 and words[0] == "cardface" and words[1] in MODES:
            self.mode = words[1]
            return "ok"
        if words in (["unplug"], ["replug"]):
            self.plugged = words[0] == "replug"
            return "ok"
        return f"error unknown card camera command {line.strip()!r}; use cardface {'|'.join(MODES)}"
