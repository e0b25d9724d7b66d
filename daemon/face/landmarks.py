"""dlib's 5-point face landmarks: its regression-tree cascade evaluated in numpy. Pure (numpy only).

The model is dlib's ``shape_predictor_5_face_landmarks.dat`` converted to arrays (models/dlib_landmarks_convert.py).
The evaluation follows dlib's ``shape_predictor::operator()``: start from the mean shape placed in the face box;
at each of the 15 cascade levels, place the level's 800 feature pixels relative to the current shape (a similarity
fit of the mean shape to it), read their grey values (dlib's integer (r+g+b)/3, 0 outside the image, coordinates
rounded half up), run the level's 500 depth-4 trees (left when value[idx1] - value[idx2] > threshold) and add their
leaves. The points come back rounded to whole pixels, as dlib's ``full_object_detection`` holds them.

Points: 0/1 the outer/inner corner of the eye on the image's right (the subject's left eye), 2/3 the outer/inner
corner of the other eye, 4 the base of the nose.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class Box:
    """A dlib rectangle: inclusive integer corners (right = left + width - 1)."""
    left: int
    top: int
    right: int
    bottom: int


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity mapping src points onto dst: returns (2x2 matrix, translation).

    dlib fits it with Umeyama's SVD; in the plane, for shapes that are not mirror images of each other (always so
    for faces), that is the closed form below: k e^{i theta} = sum(conj(s) d) / sum(|s|^2) over centred points."""
    ms, md = src.mean(0), dst.mean(0)
    zs = (src[:, 0] - ms[0]) + 1j * (src[:, 1] - ms[1])
    zd = (dst[:, 0] - md[0]) + 1j * (dst[:, 1] - md[1])
    norm = float((zs.real ** 2 + zs.imag ** 2).sum())
    k = complex(np.vdot(zs, zd)) / norm if norm else 1 + 0j
    m = np.array([[k.real, -k.imag], [k.imag, k.real]])
    return m, md - m @ ms


def _round_half_up(v: np.ndarray) -> np.ndarray:
    return np.floor(v + 0.5).astype(np.int64)


class ShapePredictor:
    def __init__(self, arrays):
        self.initial = np.asarray(arrays["initial_shape"], np.float32).reshape(-1, 2)
        self.levels, self.trees, self.splits = arrays["split_idx1"].shape
        self.depth = int(np.log2(self.splits + 1))
        # flattened per level, so that one take() walks a tree step for all 500 trees at once
        self.idx1 = arrays["split_idx1"].reshape(self.levels, -1)
        self.idx2 = arrays["split_idx2"].reshape(self.levels, -1)
        self.thresh = arrays["split_thresh"].reshape(self.levels, -1)
        self.leaves = arrays["leaf_values"].reshape(self.levels, -1, self.initial.size)
        self.anchor, self.deltas = arrays["anchor_idx"], arrays["deltas"]
        self._tree_base = np.arange(self.trees) * self.splits
        self._leaf_base = np.arange(self.trees) * (self.splits + 1)

    @classmethod
    def load(cls, path: str | Path) -> "ShapePredictor":
        with np.load(path) as data:
            return cls({k: data[k] for k in data.files})

    def __call__(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """The 5 points (x, y) as whole pixels, for a face in the RGB image ``rgb`` inside ``box``."""
        h, w = rgb.shape[:2]
        origin = np.array([box.left, box.top], np.float64)
        extent = np.array([box.right - box.left, box.bottom - box.top], np.float64)
        shape = self.initial.copy()
        reference = self.initial.astype(np.float64)
        for level in range(self.levels):
            m, _t = similarity(reference, shape.astype(np.float64))
            m = m.astype(np.float32)
            norm = self.deltas[level] @ m.T + shape[self.anchor[level]]          # float32, as dlib computes it
            px = _round_half_up(origin + norm.astype(np.float64) * extent)
            inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
            values = np.zeros(len(px), np.float32)
            values[inside] = intensity(rgb[px[inside, 1], px[inside, 0]])
            node = np.zeros(self.trees, np.int64)
            i1, i2, th = self.idx1[level], self.idx2[level], self.thresh[level]
            for _ in range(self.depth):
                flat = self._tree_base + node
                go_left = values[i1.take(flat)] - values[i2.take(flat)] > th.take(flat)
                node = 2 * node + 2 - go_left
            leaf = self._leaf_base + node - self.splits
            shape = shape + self.leaves[level].take(leaf, axis=0).sum(0, dtype=np.float32).reshape(-1, 2)
        return _round_half_up(origin + shape.astype(np.float64) * extent)


def intensity(rgb: np.ndarray) -> np.ndarray:
    """dlib's get_pixel_intensity for RGB pixels (..., 3): the integer mean of the three channels."""
    return rgb.astype(np.uint16).sum(-1) // 3
