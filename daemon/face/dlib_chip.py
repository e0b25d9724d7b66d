"""dlib's face chip from its 5 landmarks: ``get_face_chip_details(shape, 150, 0.25)`` + ``extract_image_chip``.

Pure numpy, reproducing dlib's arithmetic (dlib/image_transforms/interpolation.h and image_pyramid.h):
- the chip's 5 template points (dlib's, in unit coordinates) are padded, scaled to the chip, and a similarity is
  fitted from them to the landmarks; its angle and scale give a rectangle centred where the chip's centre lands
  (dlib's ``centered_drect``, one pixel narrower than size x scale);
- when that rectangle, halved, is still larger than the chip, dlib first shrinks the image with its pyramid
  (``pyramid_down<2>``: a [1 4 6 4 1] filter each way, every other pixel, integer sums divided by 256) as many
  times as needed, so a large face is not sampled sparsely;
- the chip is sampled bilinearly (channel values truncated to integers; black outside the image) through the
  affine map that takes the chip's corners to the rotated rectangle's corners.
"""
from __future__ import annotations

import math

import numpy as np

from .landmarks import similarity

# dlib's 5-point chip template (get_face_chip_details): outer/inner corner of the eye at the chip's right, then
# outer/inner corner of the other eye, then the base of the nose.
TEMPLATE = np.array([(0.8595674595992, 0.2134981538014), (0.6460604764104, 0.2289674387677),
                     (0.1205750620789, 0.2137274526848), (0.3340850613712, 0.2290642403242),
                     (0.4901123135679, 0.6277975316475)])


def _rect_down(r):
    left, top, right, bottom = r
    return (left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75)


def _area(r) -> float:
    left, top, right, bottom = r
    if left > right or top > bottom:
        return 0.0
    return (right - left + 1) * (bottom - top + 1)


def _rotate(centre, p, angle):
    c, s = math.cos(angle), math.sin(angle)
    x, y = p[0] - centre[0], p[1] - centre[1]
    return (c * x - s * y + centre[0], s * x + c * y + centre[1])


def pyramid_down(img: np.ndarray) -> np.ndarray:
    """dlib's pyramid_down<2> on an RGB uint8 image: output (rows-3)//2 x (cols-3)//2."""
    rows, cols = img.shape[:2]
    if rows <= 8 or cols <= 8:
        return np.zeros((0, 0, 3), np.uint8)
    a = img.astype(np.int32)
    out_c = (cols - 3) // 2
    oc = 2 * np.arange(out_c)
    tmp = a[:, oc] + 4 * a[:, oc + 1] + 6 * a[:, oc + 2] + 4 * a[:, oc + 3] + a[:, oc + 4]
    out_r = (rows - 3) // 2
    r = 2 + 2 * np.arange(out_r)
    r = r[r < rows - 2]
    down = tmp[r - 2] + 4 * tmp[r - 1] + 6 * tmp[r] + 4 * tmp[r + 1] + tmp[r + 2]
    return (down // 256).astype(np.uint8)


def _bilinear(img: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    left, top = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    ok = (left >= 0) & (top >= 0) & (left + 1 < w) & (top + 1 < h)
    out = np.zeros(xs.shape + (3,), np.uint8)
    if not ok.any():
        return out
    l, t = left[ok], top[ok]
    fx, fy = (xs[ok] - l)[:, None], (ys[ok] - t)[:, None]
    tl, tr = img[t, l].astype(np.float64), img[t, l + 1].astype(np.float64)
    bl, br = img[t + 1, l].astype(np.float64), img[t + 1, l + 1].astype(np.float64)
    v = (1 - fy) * ((1 - fx) * tl + fx * tr) + fy * ((1 - fx) * bl + fx * br)
    out[ok] = v.astype(np.uint8)      # C++ static_cast<unsigned char>: truncation
    return out


def chip_transform(parts: np.ndarray, size: int = 150, padding: float = 0.25):
    """(rect, angle): dlib's chip_details for these 5 landmarks. rect = (left, top, right, bottom), floats."""
    chip_points = (padding + TEMPLATE) / (2 * padding + 1) * size
    m, t = similarity(chip_points, np.asarray(parts, np.float64))
    p = m @ np.array([1.0, 0.0])
    angle, scale = math.atan2(p[1], p[0]), math.hypot(p[0], p[1])
    cx, cy = m @ np.array([size / 2, size / 2]) + t
    half = (size * scale - 1) / 2
    return (cx - half, cy - half, cx + half, cy + half), angle


def face_chip(rgb: np.ndarray, parts: np.ndarray, size: int = 150, padding: float = 0.25) -> np.ndarray:
    """The size x size RGB chip dlib's compute_face_descriptor feeds its ResNet."""
    rect, angle = chip_transform(parts, size, padding)
    chip_area = size * size
    depth, grow = 0, 2.0
    down = _rect_down(rect)
    while _area(down) > chip_area:
        down = _rect_down(down)
        depth += 1
        grow = grow * 2 + 2
    left, top, right, bottom = rect
    centre = ((left + right) / 2, (top + bottom) / 2)
    corners = [_rotate(centre, p, angle) for p in ((left, top), (right, top), (left, bottom), (right, bottom))]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    h, w = rgb.shape[:2]
    bb = [max(min(xs) - grow, 0), max(min(ys) - grow, 0), min(max(xs) + grow, w - 1), min(max(ys) + grow, h - 1)]
    bl, bt, br, bb_ = (int(np.round(v)) if v >= 0 else -int(np.round(-v)) for v in bb)   # std::lround
    if bl > br or bt > bb_:
        return np.zeros((size, size, 3), np.uint8)
    src = rgb[bt:bb_ + 1, bl:br + 1]
    level_rect = (left - bl, top - bt, right - bl, bottom - bt)
    level = -1
    while _area(_rect_down(level_rect)) > chip_area:
        level += 1
        level_rect = _rect_down(level_rect)
    for _ in range(level + 1):
        src = pyramid_down(src)
    l2, t2, r2, b2 = level_rect
    c2 = ((l2 + r2) / 2, (t2 + b2) / 2)
    tl, tr, bl2 = (_rotate(c2, p, angle) for p in ((l2, t2), (r2, t2), (l2, b2)))
    # the affine map chip (0,0)->tl, (size-1,0)->tr, (0,size-1)->bl
    ax = (np.array(tr) - np.array(tl)) / (size - 1)
    ay = (np.array(bl2) - np.array(tl)) / (size - 1)
    cols, rows = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    xs_ = tl[0] + cols * ax[0] + rows * ay[0]
    ys_ = tl[1] + cols * ax[1] + rows * ay[1]
    return _bilinear(src, xs_, ys_)
