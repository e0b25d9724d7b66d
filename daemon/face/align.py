"""Alignment: rotate so the eyes are level, then a square crop around the face. Pure (numpy + Pillow)."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .detect import Face

CROP_SCALE = 1.4    # Human crops a square 1.4x the detector's box (reference/faces.md)


def eye_angle(face: Face) -> float:
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def aligned_crop(rgb: np.ndarray, face: Face, size: int, scale: float = CROP_SCALE) -> np.ndarray:
    """A size x size RGB crop centred on the face, rotated so the eye line is horizontal."""
    x0, y0, x1, y1 = face.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0) * scale
    img = Image.fromarray(rgb)
    # rotate about the face centre (Pillow rotates counter-clockwise for positive angles)
    rotated = img.rotate(eye_angle(face), resample=Image.Resampling.BILINEAR, center=(cx, cy))
    box = (int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(cx + side / 2)), int(round(cy + side / 2)))
    return np.asarray(rotated.crop(box).resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
