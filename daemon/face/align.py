"""Alignment: a square crop with the eyes level (faceres), or the ArcFace 5-point crop from BlazeFace's keypoints or
the face mesh's landmarks. Pure (numpy + Pillow)."""
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


# The 5-point template ArcFace-family descriptors are trained on (insightface's, for a 112x112 crop): the eye centres
# (image left, image right), the nose tip, the mouth corners (image left, image right).
ARCFACE_TEMPLATE = np.array([(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655),
                             (70.7299, 92.2041)])


def arcface_points(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """(points in the image, where the template puts them): BlazeFace's eyes (ordered left to right in the image,
    so a mirrored frame aligns the same way), nose tip and mouth centre against the template's eye centres, nose
    tip and the midpoint of its mouth corners."""
    k = face.keypoints
    eyes = sorted((k[0], k[1]), key=lambda p: float(p[0]))
    src = np.array([eyes[0], eyes[1], k[2], k[3]], dtype=np.float64)
    t = ARCFACE_TEMPLATE
    dst = np.array([t[0], t[1], t[2], (t[3] + t[4]) / 2])
    return src, dst


# The same five from MediaPipe's face mesh (models/face_mesh.onnx, 468 points), which places them more exactly than
# BlazeFace's six keypoints: each eye's centre as the mean of its two corners and the middle of its two lids (the
# descriptor package's own JavaScript takes the eye centre from lid points the same way), the nose tip, the mouth
# corners. On the development set this alignment kept 87% of genuine pairs where BlazeFace's kept 82% (docs/face.md).
MESH_EYES = ((33, 133, 159, 145), (362, 263, 386, 374))
MESH_NOSE_TIP = 1
MESH_MOUTH_CORNERS = (61, 291)


def mesh_points(points: np.ndarray) -> np.ndarray:
    """The template's five points (5 x 2, the template's order) from the face mesh's landmarks in the image: eyes and
    mouth corners ordered left to right in the image, as arcface_points does, so a mirrored frame aligns the same."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    eyes = sorted((xy[list(i)].mean(0) for i in MESH_EYES), key=lambda p: float(p[0]))
    mouth = sorted((xy[i] for i in MESH_MOUTH_CORNERS), key=lambda p: float(p[0]))
    return np.array([eyes[0], eyes[1], xy[MESH_NOSE_TIP], mouth[0], mouth[1]])


def template_crop(rgb: np.ndarray, src: np.ndarray, dst: np.ndarray, size: int = 112) -> np.ndarray:
    """The size x size RGB crop taking points src (image) onto dst (in a 112x112 template) by their least-squares
    similarity, sampled bilinearly (black outside the image)."""
    from .landmarks import similarity
    m, t = similarity(src, dst * (size / 112.0))        # image -> crop
    inv = np.linalg.inv(m)                              # crop -> image, as Pillow's affine transform wants it
    off = -inv @ t
    img = Image.fromarray(rgb)
    out = img.transform((size, size), Image.Transform.AFFINE,
                        (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1]),
                        resample=Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8)


def arcface_crop(rgb: np.ndarray, face: Face, size: int = 112) -> np.ndarray:
    """The crop an ArcFace-family descriptor expects, from BlazeFace's keypoints."""
    return template_crop(rgb, *arcface_points(face), size)


def arcface_mesh_crop(rgb: np.ndarray, points: np.ndarray, size: int = 112) -> np.ndarray:
    """The crop an ArcFace-family descriptor expects, from the face mesh's landmarks (all five template points)."""
    return template_crop(rgb, mesh_points(points), ARCFACE_TEMPLATE, size)
