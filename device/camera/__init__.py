"""The camera interface. Cameras are opened by URL through :mod:`..registry` (``open_device("camera", url)``;
the schemes and the packages they need are listed there), each backend imported only when its URL is opened.
"""
from __future__ import annotations

import abc
import time

import numpy as np

__all__ = ["Camera"]


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

    def flash(self, colours: np.ndarray, step: float, start: float, palette: np.ndarray) -> None:
        """The patient's screen lights the scene with ``colours`` (N x 3, 0..1), ``step`` s each, from ``start``
        (this camera's clock); only the bench models the light. Real cameras see the real screen."""

    def clock(self, monotonic: float) -> float:
        """A time.monotonic() instant on this camera's clock (frame_time's)."""
        return monotonic

    def control(self, line: str) -> str:
        return f"error this camera takes no commands ({line.split()[0] if line.split() else ''})"

    def close(self) -> None:
        pass
