"""Find the card in a camera frame and flatten it to ID-1 proportions (85.6 x 54 mm). Pure code on arrays.

The outline is a help, not a requirement: when no quadrilateral is found (an edge out of the frame, a finger on
a corner, glare across the border) the reader reads the whole frame and places the fields by their printed
anchors (layout.py).

OpenCV (opencv-python-headless, which rapidocr already requires) finds the card's outline; the four corners
are warped to an 856 x 540 image (10 px/mm), turned so the photo is on the right. What can be told from the
pixels alone - no card, too far, too dark, glare over the card - becomes a reason for the patient.
"""
from __future__ import annotations

import dataclasses

import numpy as np

CARD_PX = (856, 540)               # 10 px/mm
PHOTO = (0.72, 0.97, 0.09, 0.60)   # where the photo lies on the card front (x0, x1, y0, y1 as fractions)


@dataclasses.dataclass
class Rectified:
    card: np.ndarray | None        # RGB uint8, CARD_PX, photo on the right; None when no card was found
    problem: str | None            # reason code when the frame is not worth reading
    turned: bool = False           # the card lay upside down (corrected)
    width_px: float = 0.0          # the card's width in the frame, when its outline was found
    bounds: tuple[int, int, int, int] | None = None   # x0, y0, x1, y1 of that outline in the frame

    def __repr__(self) -> str:
        return f"Rectified(found={self.card is not None}, problem={self.problem}, turned={self.turned})"


def _order(pts: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left, the long side first."""
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]                 # clockwise from the left in image coordinates
    start = int(np.argmin(pts.sum(axis=1)))       # top-left: smallest x + y
    pts = np.roll(pts, -start, axis=0)
    if np.linalg.norm(pts[1] - pts[0]) < np.linalg.norm(pts[3] - pts[0]):
        pts = np.roll(pts, -1, axis=0)           # card stood on its side: make the long edge the top
    return pts.astype(np.float32)


def find_quad(gray: np.ndarray) -> np.ndarray | None:
    """The card's four corners in ``gray`` (any size), or None."""
    import cv2
    h, w = gray.shape
    min_area = 0.04 * h * w
    blurred = cv2.GaussianBlur(gray, (5, 5), 0)
    candidates = []
    edges = cv2.dilate(cv2.Canny(blurred, 30, 90), np.ones((3, 3), np.uint8))
    _, bright = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    for mask in (edges, bright):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in sorted(contours, key=cv2.contourArea, reverse=True)[:3]:
            hull = cv2.convexHull(c)
            area = cv2.contourArea(hull)
            if area < min_area:
                continue
            peri = cv2.arcLength(hull, True)
            for eps in (0.015, 0.025, 0.04):
                approx = cv2.approxPolyDP(hull, eps * peri, True)
                if len(approx) == 4:
                    candidates.append((area, approx.reshape(4, 2).astype(np.float32)))
                    break
            else:
                # a finger over a corner bends the outline: the rotated rectangle still bounds the card
                rect = cv2.minAreaRect(hull)
                box = cv2.boxPoints(rect)
                if area / max(1.0, rect[1][0] * rect[1][1]) > 0.9:
                    candidates.append((area * 0.99, box.astype(np.float32)))
    plausible = []
    for area, quad in candidates:
        q = _order(quad)
        long_side = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
        short_side = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
        ratio = long_side / max(float(short_side), 1.0)
        margin = 0.012 * max(h, w)    # a card cut by the frame's edge is not wholly in view
        inside = bool((q[:, 0] > margin).all() and (q[:, 0] < w - margin).all() and (q[:, 1] > margin).all()
                      and (q[:, 1] < h - margin).all())
        if 1.25 <= ratio <= 2.1 and inside:    # ID-1 is 1.585; perspective stretches it
            plausible.append((area, q))
    if not plausible:
        return None
    return max(plausible, key=lambda item: item[0])[1]


def brighten(frame: np.ndarray) -> np.ndarray:
    """A dim frame scaled up so its brightest part (the white card) is near white, as a camera's exposure would;
    a frame already bright, or black (nothing to scale), is returned as it is."""
    import cv2
    top = float(np.percentile(frame[::4, ::4], 99.5))
    if top >= 160 or top < 25:
        return frame
    return cv2.convertScaleAbs(frame, alpha=min(5.0, 230.0 / top))


def rectify(frame: np.ndarray) -> Rectified:
    """The card in ``frame`` (RGB uint8) flattened to CARD_PX, or the reason it cannot be read."""
    import cv2
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if float(gray.mean()) < 35:
        return Rectified(None, "too_dark")
    scale = 640.0 / max(gray.shape)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    quad = find_quad(small)
    if quad is None:
        return Rectified(None, "no_card")
    quad = quad / min(scale, 1.0)
    area = cv2.contourArea(quad.reshape(4, 1, 2))
    width_px = np.linalg.norm(quad[1] - quad[0])
    if width_px < 560 or area < 0.1 * gray.size:
        # below ~6.5 px/mm flattening only enlarges blur: the card's part of the frame is read instead (reader.py)
        return Rectified(None, "too_far", width_px=float(width_px), bounds=_bounds(quad, gray.shape))
    target = np.array([[0, 0], [CARD_PX[0] - 1, 0], [CARD_PX[0] - 1, CARD_PX[1] - 1], [0, CARD_PX[1] - 1]],
                      np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    card = cv2.warpPerspective(frame, matrix, CARD_PX, flags=cv2.INTER_AREA if width_px > CARD_PX[0]
                               else cv2.INTER_CUBIC)
    turned = False
    card_gray = cv2.cvtColor(card, cv2.COLOR_RGB2GRAY)
    if _photo_texture(card_gray[::-1, ::-1]) > 1.3 * _photo_texture(card_gray):
        card, card_gray, turned = np.ascontiguousarray(card[::-1, ::-1]), card_gray[::-1, ::-1], True
    if float(card_gray.mean()) < 60:
        return Rectified(card, "too_dark", turned, float(width_px))
    if float((card_gray >= 250).mean()) > 0.01:
        return Rectified(card, "glare", turned, float(width_px))
    return Rectified(card, None, turned, float(width_px))


def _bounds(quad: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The outline's bounding box grown by a tenth of the card's size, clipped to the frame."""
    h, w = shape[:2]
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return (max(0, int(x0 - mx)), max(0, int(y0 - my)), min(w, int(x1 + mx) + 1), min(h, int(y1 + my) + 1))


def _photo_texture(gray: np.ndarray) -> float:
    h, w = gray.shape
    x0, x1, y0, y1 = PHOTO
    region = gray[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].astype(np.float32)
    return float(region.std())
