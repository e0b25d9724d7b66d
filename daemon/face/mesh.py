"""MediaPipe's face mesh (models/face_mesh.onnx): 468 landmarks for a face BlazeFace found.

The crop is MediaPipe's own recipe for detections: the box centre, 1.5x its longer side, rotated so the eyes are
level, resampled to 192x192 and scaled to 0..1. Landmarks come back in image pixels (z in the same scale).
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .detect import Face
from .onnx_models import session

SIZE = 192
SCALE = 1.5


def roi(face: Face) -> tuple[float, float, float, float]:
    """(centre x, centre y, side, angle in radians) of the square crop the mesh sees."""
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    angle = math.atan2(ly - ry, lx - rx)
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return cx, cy, SCALE * max(face.width, face.height), angle


def crop_transform(face: Face) -> np.ndarray:
    """2x3 map from crop pixels to image pixels."""
    cx, cy, side, angle = roi(face)
    s = side / SIZE
    c, n = math.cos(angle) * s, math.sin(angle) * s
    return np.array([[c, -n, cx - c * SIZE / 2 + n * SIZE / 2],
                     [n, c, cy - n * SIZE / 2 - c * SIZE / 2]])


class FaceMesh:
    def __init__(self, threads: int = 1):
        self.session = session("face_mesh", threads)
        self.input = self.session.get_inputs()[0].name
        outs = sorted(self.session.get_outputs(), key=lambda o: -o.shape[-1])
        self.points_out, self.score_out = outs[0].name, outs[1].name

    def __call__(self, rgb: np.ndarray, face: Face) -> tuple[np.ndarray, float]:
        """(468 x 3 landmarks in image pixels, face presence 0..1)."""
        m = crop_transform(face)
        crop = Image.fromarray(rgb).transform((SIZE, SIZE), Image.Transform.AFFINE, tuple(m.reshape(-1)),
                                              Image.Resampling.BILINEAR)
        x = np.asarray(crop, dtype=np.float32)[None] / 255.0
        pts, logit = self.session.run([self.points_out, self.score_out], {self.input: x})
        pts = pts.reshape(-1, 3).astype(np.float64)
        xy = pts[:, :2] @ m[:, :2].T + m[:, 2]
        z = pts[:, 2:] * (np.hypot(m[0, 0], m[1, 0]))
        score = float(1.0 / (1.0 + math.exp(-float(np.clip(logit.reshape(-1)[0], -80, 80)))))
        return np.concatenate([xy, z], 1), score
