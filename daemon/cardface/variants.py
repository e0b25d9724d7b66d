"""Deterministic variants of one text line's crop, for a second opinion on a doubtful line (confirm.py).

Each undoes a different way a camera spoils print, without knowing which one did: a contrast stretch (a dim
frame, a sheen that greys the print), a non-local-means denoise then the stretch (sensor noise), a light
Gaussian smoothing then the stretch (noise and JPEG blocks at a coarser scale). All work on the crop alone,
in its own grey levels: no assumption about the card's colours or print.
"""
from __future__ import annotations

import cv2
import numpy as np


def stretch(crop: np.ndarray) -> np.ndarray:
    """Grey levels stretched so the darkest 1% become black and the brightest 1% white (BGR in, BGR out)."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    lo, hi = np.percentile(grey, (1, 99))
    out = np.clip((grey.astype(np.float32) - lo) * (255.0 / max(1.0, float(hi - lo))), 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def denoised(crop: np.ndarray) -> np.ndarray:
    """Non-local means (strength 10, the usual for camera noise), then stretched."""
    return stretch(cv2.fastNlMeansDenoisingColored(crop, None, 10, 10, 7, 21))


def smoothed(crop: np.ndarray) -> np.ndarray:
    """A 3 x 3 Gaussian, then stretched."""
    return stretch(cv2.GaussianBlur(crop, (3, 3), 0))


VARIANTS = (stretch, denoised, smoothed)


def variants(crop: np.ndarray) -> list[np.ndarray]:
    """The crop in each variant (an empty crop gives none)."""
    if crop.size == 0:
        return []
    return [np.ascontiguousarray(v(crop)) for v in VARIANTS]
