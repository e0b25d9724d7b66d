"""BlazeFace detection: letterbox to 256x256, run, decode with anchors, non-maximum suppression. Pure numpy
apart from the session call."""
from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image

INPUT = 256
MIN_SCORE = 0.5          # 0.2 admits objects (reference/faces.md)
NMS_IOU = 0.3
NESTED = 0.6         # share of a box inside a better one that makes it part of that face


@dataclasses.dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]     # x0, y0, x1, y1 in image pixels
    score: float
    keypoints: np.ndarray                      # 6 x 2: right eye, left eye, nose, mouth, right ear, left ear

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def as_json(self) -> dict:
        names = ["eye_right", "eye_left", "nose", "mouth", "ear_right", "ear_left"]
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4),
                "keypoints": {n: [round(float(x), 1), round(float(y), 1)] for n, (x, y) in zip(names, self.keypoints)}}


def anchors(size: int = INPUT) -> np.ndarray:
    """Anchor centres in input pixels: a 16x16 grid with 2 per cell, then an 8x8 grid with 6 per cell."""
    out = []
    for stride, per_cell in ((size // 16, 2), (size // 8, 6)):
        grid = size // stride
        for y in range(grid):
            for x in range(grid):
                out.extend([(stride * (x + 0.5), stride * (y + 0.5))] * per_cell)
    return np.asarray(out, dtype=np.float32)


ANCHORS = anchors()


def letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """Scale the image into a square of INPUT pixels, padding with black; returns (tensor, scale, pad_x, pad_y)."""
    h, w = rgb.shape[:2]
    scale = INPUT / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.Resampling.BILINEAR), dtype=np.float32)
    canvas = np.zeros((INPUT, INPUT, 3), dtype=np.float32)
    px, py = (INPUT - nw) // 2, (INPUT - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    return (canvas / 127.5 - 1.0)[None], scale, px, py


def decode(raw: np.ndarray, min_score: float = MIN_SCORE) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """raw: 896 x 17 [logit, dx, dy, w, h, 6 x (kx, ky)] -> (score, box x0y0x1y1, keypoints 6x2) in input pixels."""
    logits = np.clip(raw[:, 0], -80, 80)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.nonzero(scores >= min_score)[0]
    found = []
    for i in keep:
        cx, cy = ANCHORS[i] + raw[i, 1:3]
        w, h = raw[i, 3], raw[i, 4]
        if w <= 0 or h <= 0:
            continue
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)
        kps = raw[i, 5:17].reshape(6, 2) + ANCHORS[i]
        found.append((float(scores[i]), box, kps))
    return nms(found)


def _inter(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def _area(a: np.ndarray) -> float:
    return float((a[2] - a[0]) * (a[3] - a[1]))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = _inter(a, b)
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def nms(found: list, threshold: float = NMS_IOU, inside: float = NESTED) -> list:
    """Highest score first; a box is dropped when it overlaps a kept one (IoU) or lies mostly inside it: a face
    that fills the frame also fires anchors on its own eyes and mouth, and those boxes are small beside it."""
    found = sorted(found, key=lambda f: -f[0])
    kept: list = []
    for cand in found:
        box = cand[1]
        if all(iou(box, k[1]) < threshold and _inter(box, k[1]) < inside * _area(box) for k in kept):
            kept.append(cand)
    return kept


class Detector:
    def __init__(self, session, min_score: float = MIN_SCORE):
        self.session, self.min_score = session, min_score
        self.input = session.get_inputs()[0].name
        # the converted graph has two heads (16x16x2 and 8x8x6 anchors), scores and regressors apart
        outs = {o.name: o.shape for o in session.get_outputs()}
        by_size = sorted(outs, key=lambda n: (outs[n][1], outs[n][2]))
        self.s384, self.r384, self.s512, self.r512 = by_size

    def raw(self, tensor: np.ndarray) -> np.ndarray:
        s384, r384, s512, r512 = self.session.run([self.s384, self.r384, self.s512, self.r512], {self.input: tensor})
        return np.concatenate([np.concatenate([s512[0], r512[0]], 1), np.concatenate([s384[0], r384[0]], 1)], 0)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        tensor, scale, px, py = letterbox(rgb)
        faces = []
        for score, box, kps in decode(self.raw(tensor), self.min_score):
            box = (box - [px, py, px, py]) / scale
            kps = (kps - [px, py]) / scale
            h, w = rgb.shape[:2]
            box = np.clip(box, 0, [w, h, w, h])
            x0, y0, x1, y1 = (float(v) for v in box)
            faces.append(Face((x0, y0, x1, y1), score, kps))
        return faces
