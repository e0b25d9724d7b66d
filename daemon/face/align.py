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
    rotated = img.rotate(eye_angle(face), resample=Image.BILINEAR, center=(cx, cy))
    box = (int(round(cx - side / 2)), int(round(cy - side / 2)), int(round(cx + side / 2)), int(round(cy + side / 2)))
    return np.asarray(rotated.crop(box).resize((size, size), Image.BILINEAR), dtype=np.uint8)


def template_chip(rgb: np.ndarray, face: Face, size: int, template: list[list[float]]) -> np.ndarray:
    """A size x size chip where the first len(template) keypoints (right eye, left eye, nose, mouth) land as close
    as a similarity transform allows (least squares, Umeyama) to the template points.

    Used for dlib's ResNet: the template approximates dlib's own 5-landmark face chip (padding 0.25); it was
    calibrated by detecting our keypoints on chips dlib cut (models/README.md).
    """
    dst = np.asarray(template, float)
    src = np.asarray(face.keypoints[:len(dst)], float)
    sm, dm = src.mean(0), dst.mean(0)
    s0, d0 = src - sm, dst - dm
    # the similarity q = k R p + t minimising sum |q_i - dst_i|^2, as a complex ratio: k e^{i theta}
    zs, zd = s0[:, 0] + 1j * s0[:, 1], d0[:, 0] + 1j * d0[:, 1]
    ratio = np.vdot(zs, zd) / max(1e-9, np.vdot(zs, zs).real)
    # output -> input for Pillow: p = sm + (q - dm) / ratio
    inv = 1 / ratio
    a, b = inv.real, -inv.imag
    d, e = inv.imag, inv.real
    tx = sm[0] - (a * dm[0] + b * dm[1])
    ty = sm[1] - (d * dm[0] + e * dm[1])
    chip = Image.fromarray(rgb).transform((size, size), Image.AFFINE, (a, b, tx, d, e, ty), resample=Image.BILINEAR)
    return np.asarray(chip, dtype=np.uint8)
