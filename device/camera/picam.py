"""``picamera2://0``: the Raspberry Pi camera (libcamera) through the OS's picamera2, imported lazily."""
from __future__ import annotations

import urllib.parse

import numpy as np

from ..errors import CameraGone
from . import Camera


class Picamera2Camera(Camera):
    def __init__(self, index: int = 0, width: int = 640, height: int = 480):
        from picamera2 import Picamera2  # lazy: provided by Raspberry Pi OS (python3-picamera2)
        super().__init__(0.0)
        try:
            self.cam = Picamera2(index)
            self.cam.configure(self.cam.create_video_configuration(main={"size": (width, height), "format": "RGB888"}))
            self.cam.start()
        except Exception as exc:
            raise CameraGone(f"the Pi camera {index} cannot be started: {exc}") from None

    @classmethod
    def from_url(cls, url: str) -> "Picamera2Camera":
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        return cls(int(parts.netloc or 0), int(q.get("width", 640)), int(q.get("height", 480)))

    def read(self) -> np.ndarray:
        try:
            frame = self.cam.capture_array()
        except Exception as exc:
            raise CameraGone(f"the Pi camera stopped: {exc}") from None
        return np.ascontiguousarray(frame[..., ::-1][..., :3])  # picamera2's RGB888 is BGR in memory

    def close(self) -> None:
        self.cam.stop()
        self.cam.close()
