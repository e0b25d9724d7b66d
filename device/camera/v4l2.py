"""``v4l2:///dev/video0``: a V4L2 camera through OpenCV (opencv-python-headless), imported lazily."""
from __future__ import annotations

import urllib.parse

import numpy as np

from ..errors import CameraGone
from . import Camera


class V4l2Camera(Camera):
    def __init__(self, device: str, width: int = 640, height: int = 480):
        import cv2  # lazy: only readers with a USB camera need OpenCV
        super().__init__(0.0)
        self.cv2 = cv2
        self.cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        if not self.cap.isOpened():
            raise CameraGone(f"cannot open the camera {device}")
        self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    @classmethod
    def from_url(cls, url: str) -> "V4l2Camera":
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        return cls(parts.path or "/dev/video0", int(q.get("width", 640)), int(q.get("height", 480)))

    def read(self) -> np.ndarray:
        ok, frame = self.cap.read()
        if not ok:
            raise CameraGone()
        return self.cv2.cvtColor(frame, self.cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self.cap.release()
