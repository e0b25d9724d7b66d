"""``replay://DIR?fps=N``: recorded frames from a folder (JPEG/PNG), in name order, looping."""
from __future__ import annotations

import urllib.parse
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import CameraGone
from . import Camera

EXTENSIONS = {".jpg", ".jpeg", ".png", ".jp2", ".bmp"}


class ReplayCamera(Camera):
    def __init__(self, directory: Path, fps: float = 0.0, loop: bool = True):
        super().__init__(fps)
        self.dir, self.loop = directory, loop
        self.files = sorted(p for p in directory.iterdir() if p.suffix.lower() in EXTENSIONS) \
            if directory.is_dir() else []
        if not self.files:
            raise CameraGone(f"no frames to replay in {directory}")
        self.index = 0

    @classmethod
    def from_url(cls, url: str) -> "ReplayCamera":
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        return cls(Path(parts.netloc + parts.path), float(q.get("fps", 0)), q.get("loop", "1") != "0")

    def read(self) -> np.ndarray:
        self.pace()
        if self.index >= len(self.files):
            if not self.loop:
                raise CameraGone("the recording ended")
            self.index = 0
        path = self.files[self.index]
        self.index += 1
        try:
            return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
        except OSError as exc:
            raise CameraGone(f"frame {path.name} cannot be read: {exc}") from None
