"""Quality gates for a live frame: is this face good enough to compare? Pure numpy.

Each failed gate becomes guidance for the patient ("move closer", "too dark"), not a failed attempt.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .detect import Face


@dataclasses.dataclass(frozen=True)
class Gates:
    min_face_px: float = 80.0          # face box width in the camera frame
    min_brightness: float = 50.0       # mean luma of the face crop, 0..255
    max_brightness: float = 220.0
    min_sharpness: float = 12.0        # variance of a Laplacian of the crop's luma
    max_yaw: float = 0.35              # nose offset from the eyes' midpoint, as a fraction of the eye distance


GUIDANCE = {
    "no_face": ("カメラに顔を向けてください。", "Please face the camera."),
    "one_person": ("お一人ずつカメラの前にお立ちください。", "One person at a time in front of the camera, please."),
    "move_closer": ("もう少し近づいてください。", "Please come a little closer."),
    "too_dark": ("暗すぎます。明るい場所でお試しください。", "It is too dark; please move to better light."),
    "too_bright": ("明るすぎます。", "There is too much light."),
    "blurry": ("動かずにカメラを見てください。", "Please hold still and look at the camera."),
    "look_at_camera": ("正面からカメラを見てください。", "Please look straight at the camera."),
    # liveness cues (liveness.py): left and right are the patient's own; the kiosk shows and speaks them
    "turn_left": ("まばたきをしてから、顔をゆっくり左に向けてください。",
                  "Blink, then slowly turn your head to your left."),
    "turn_right": ("まばたきをしてから、顔をゆっくり右に向けてください。",
                   "Blink, then slowly turn your head to your right."),
    # the screen lights the face with a short colour sequence (flash.py): shown with the colours it names
    "flash": ("画面の色が変わります。そのまま画面を見ていてください。",
              "The screen will change colour for a moment: keep looking at it."),
}


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def sharpness(gray: np.ndarray) -> float:
    lap = -4 * gray[1:-1, 1:-1] + gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:]
    return float(lap.var())


def yaw(face: Face) -> float:
    (rx, ry), (lx, ly), (nx, ny) = face.keypoints[0], face.keypoints[1], face.keypoints[2]
    eye_dist = max(1.0, float(np.hypot(lx - rx, ly - ry)))
    return abs(nx - (rx + lx) / 2) / eye_dist


def check(face: Face, crop: np.ndarray, gates: Gates = Gates()) -> list[str]:
    """The gates this face fails, most important first (empty: good to compare)."""
    problems = []
    if face.width < gates.min_face_px:
        problems.append("move_closer")
    gray = luma(crop.astype(np.float32))
    mean = float(gray.mean())
    if mean < gates.min_brightness:
        problems.append("too_dark")
    elif mean > gates.max_brightness:
        problems.append("too_bright")
    if sharpness(gray) < gates.min_sharpness:
        problems.append("blurry")
    if yaw(face) > gates.max_yaw:
        problems.append("look_at_camera")
    return problems
