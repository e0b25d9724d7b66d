"""Cameras chosen by URL, imported lazily (the Pi's camera stack comes from the OS):

    bench://holder?fps=10      a synthetic scene with the bench card holder's face (steerable, see bench.py)
    bench://card               the card tray from above, showing the virtual card's printed face (bench_card.py)
    replay://DIR?fps=N         images from a folder, in name order, looping
    v4l2:///dev/video0         a USB/V4L2 camera through OpenCV (opencv-python-headless)
    picamera2://0              the Raspberry Pi camera through picamera2 (the OS's python3-picamera2)
"""
from __future__ import annotations

import abc
import importlib
import time
import urllib.parse

import numpy as np

from ..errors import BackendUnavailable, BadDeviceUrl, DeviceError


class CameraGone(DeviceError):
    advice = "The camera stopped answering. Check its cable; face authentication is off until it returns."


class Camera(abc.ABC):
    url = ""

    def __init__(self, fps: float = 0.0):
        self.fps = fps
        self._next = 0.0

    def pace(self) -> None:
        """Hold frames to the configured rate (replayed frames would otherwise arrive as fast as we ask)."""
        if self.fps > 0:
            now = time.monotonic()
            if self._next > now:
                time.sleep(self._next - now)
            self._next = max(now, self._next) + 1.0 / self.fps

    @abc.abstractmethod
    def read(self) -> np.ndarray:
        """The next frame as RGB uint8 (H x W x 3). Raises CameraGone."""

    def frame_time(self) -> float:
        """When the last frame was taken, in seconds (the bench camera keeps its own scene clock)."""
        return time.monotonic()

    def cue(self, word: str) -> None:
        """What the patient's screen just asked ("left"/"right"); only bench people act on it."""

    def control(self, line: str) -> str:
        return f"error this camera takes no commands ({line.split()[0] if line.split() else ''})"

    def close(self) -> None:
        pass


_BACKENDS = {"bench": (".bench", "BenchCamera", "pillow"), "replay": (".replay", "ReplayCamera", "pillow"),
             "v4l2": (".v4l2", "V4l2Camera", "opencv-python-headless"),
             "picamera2": (".picam", "Picamera2Camera", "picamera2 (on Raspberry Pi OS: apt install python3-picamera2)")}


def open_camera(url: str) -> Camera:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in _BACKENDS:
        raise BadDeviceUrl(f"unknown camera URL scheme {scheme!r} in {url!r}; use one of: "
                           + ", ".join(s + "://" for s in _BACKENDS))
    module, cls, package = _BACKENDS[scheme]
    try:
        mod = importlib.import_module(module, __package__)
        camera = getattr(mod, cls).from_url(url)
    except ImportError as exc:
        raise BackendUnavailable(scheme, package, str(exc)) from None
    camera.url = url
    return camera
