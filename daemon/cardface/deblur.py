"""Motion blur, found in the frame itself and undone, for a frame that could not be read as it came. Pure code.

A card still sliding while the camera exposes smears every point along one short line (length L pixels,
direction theta). The line's spectrum has evenly spaced zeros, so the frame's log power spectrum ripples and its
cepstrum has a deep negative peak at (L cos theta, L sin theta); print, noise and focus blur make no such peak.
The spectrum is averaged over the frame's textured tiles (Welch) so the print's own structure averages out, and a
blur is trusted only when its peak stands MIN_PEAK_Z robust deviations below the rest of the ring and
MIN_ANISOTROPY times deeper than the deepest point in any other direction (focus blur and print are alike in
every direction; sensor noise and JPEG after the smear make the peak shallower, not less one-sided).

The peak often sits at half the length (the ripple's second harmonic is the stronger one when the line's
positions are not evenly spread), so ``lengths`` offers L and 2L, the one whose deconvolution has the sparser
gradients first (a wrong length leaves either blur or ringing, both dense in gradients). What is read from a
deblurred frame goes through every check a plain frame's reading does: this only gives the OCR a sharper look.
"""
from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

TILE = 256              # Welch tiles (px), overlapping by half
MIN_TILE_SD = 8.0       # a tile flatter than this (grey levels) has no print to measure blur on
RING = (4.5, 24)        # blur lengths looked for (px): shorter is no harm to the OCR, longer is not a card held
                        # still; print itself makes a shallow peak at 3-4 px, in both diagonal directions
MIN_PEAK_Z = 12.0       # how far the peak stands out: smears 18-124, print, noise, JPEG and focus blur 2-15
MIN_ANISOTROPY = 3.0    # peak over the deepest point 20+ degrees away: smears 2.2-29 (most above 4), the rest <= 2.3
NSR = 0.003             # Wiener noise-to-signal ratio: lower sharpens more and rings more
PAD = 24                # frame border mirrored before the filter, so its edges do not ring into the card

# the ring of the cepstrum searched for the peak: offsets from its centre, their direction, fixed by RING
_YS, _XS = np.mgrid[-RING[1]:RING[1] + 1, -RING[1]:RING[1] + 1]
_IN_RING = (np.hypot(_XS, _YS) >= RING[0]) & (np.hypot(_XS, _YS) <= RING[1])
_RING_Y, _RING_X = _YS[_IN_RING], _XS[_IN_RING]
_RING_ANGLE = np.arctan2(_RING_Y, _RING_X)


@dataclasses.dataclass(frozen=True)
class Blur:
    length: float       # px, the cepstral peak's distance (perhaps half the true length: see lengths())
    angle: float        # radians, [0, pi)


def estimate(grey: np.ndarray) -> Blur | None:
    """The motion blur of ``grey`` (uint8), or None when there is none to trust."""
    g = grey.astype(np.float32)
    h, w = g.shape
    if h < TILE or w < TILE:
        return None
    window = np.outer(np.hanning(TILE), np.hanning(TILE)).astype(np.float32)
    power = np.zeros((TILE, TILE), np.float64)
    tiles = 0
    for y in range(0, h - TILE + 1, TILE // 2):
        for x in range(0, w - TILE + 1, TILE // 2):
            t = g[y:y + TILE, x:x + TILE]
            sd = float(t.std())
            if sd < MIN_TILE_SD:
                continue
            spectrum = cv2.dft((t - t.mean()) * window, flags=cv2.DFT_COMPLEX_OUTPUT)
            power += spectrum[..., 0] ** 2 + spectrum[..., 1] ** 2
            tiles += 1
    if tiles == 0:
        return None
    cepstrum = np.fft.fftshift(np.real(np.fft.ifft2(np.log(power / tiles + 1e-6))))
    c, hi = TILE // 2, RING[1]
    values = cepstrum[c - hi:c + hi + 1, c - hi:c + hi + 1][_IN_RING]
    i = int(np.argmin(values))
    dy, dx = int(_RING_Y[i]), int(_RING_X[i])
    median = float(np.median(values))
    spread = max(1.4826 * float(np.median(np.abs(values - median))), 1e-9)
    z = (median - float(values[i])) / spread
    away = np.abs((_RING_ANGLE - math.atan2(dy, dx) + math.pi / 2) % math.pi - math.pi / 2) > math.radians(20)
    other = (median - float(values[away].min())) / spread
    if z < MIN_PEAK_Z or z < MIN_ANISOTROPY * other:
        return None
    return Blur(math.hypot(dx, dy), math.atan2(dy, dx) % math.pi)


def kernel(length: float, angle: float) -> np.ndarray:
    """A line ``length`` px long through the centre, drawn with sub-pixel weights, summing to 1."""
    size = 2 * int(math.ceil(length / 2)) + 3
    k = np.zeros((size, size), np.float32)
    c = size // 2
    n = max(2, int(math.ceil(length * 4)))
    for j in range(n):
        t = (j / (n - 1) - 0.5) * length
        x, y = c + t * math.cos(angle), c + t * math.sin(angle)
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        k[y0, x0] += (1 - fx) * (1 - fy)
        k[y0, x0 + 1] += fx * (1 - fy)
        k[y0 + 1, x0] += (1 - fx) * fy
        k[y0 + 1, x0 + 1] += fx * fy
    return k / k.sum()


def _wiener(channel: np.ndarray, k: np.ndarray) -> np.ndarray:
    """One channel (float32) deconvolved by ``k``; the result has the channel's size."""
    h, w = channel.shape
    H, W = cv2.getOptimalDFTSize(h + 2 * PAD), cv2.getOptimalDFTSize(w + 2 * PAD)
    x = cv2.copyMakeBorder(channel, PAD, H - h - PAD, PAD, W - w - PAD, cv2.BORDER_REFLECT)
    kp = np.zeros((H, W), np.float32)
    kp[:k.shape[0], :k.shape[1]] = k
    kp = np.roll(kp, (-(k.shape[0] // 2), -(k.shape[1] // 2)), axis=(0, 1))   # the kernel's centre at (0, 0)
    X = np.fft.rfft2(x)
    K = np.fft.rfft2(kp)
    out = np.fft.irfft2(X * np.conj(K) / (np.abs(K) ** 2 + NSR), s=(H, W))
    return out[PAD:PAD + h, PAD:PAD + w]


def undo(frame: np.ndarray, length: float, angle: float) -> np.ndarray:
    """``frame`` (uint8, grey or colour) with a motion blur of ``length`` px at ``angle`` deconvolved."""
    k = kernel(length, angle)
    planes = [frame] if frame.ndim == 2 else [frame[..., i] for i in range(frame.shape[2])]
    out = [np.clip(_wiener(p.astype(np.float32), k), 0, 255).astype(np.uint8) for p in planes]
    return out[0] if frame.ndim == 2 else np.dstack(out)


def _sparsity(grey: np.ndarray) -> float:
    """Gradients' L1 / L2 norm: low for sharp print on a flat ground, higher for blur or ringing."""
    g = np.concatenate([np.abs(np.diff(grey, axis=1)).ravel(), np.abs(np.diff(grey, axis=0)).ravel()])
    return float(g.sum() / max(1e-9, math.sqrt(float((g ** 2).sum()))))


def lengths(grey: np.ndarray, blur: Blur) -> list[float]:
    """The lengths worth a deconvolution, the likelier first (module docstring)."""
    options = [blur.length] + ([2 * blur.length] if 2 * blur.length <= RING[1] else [])
    if len(options) == 1:
        return options
    h, w = grey.shape
    y0, x0 = max(0, h // 2 - TILE // 2), max(0, w // 2 - TILE)
    sample = grey[y0:y0 + TILE, x0:x0 + 2 * TILE]      # the frame's middle, where the card's print is
    return sorted(options, key=lambda n: _sparsity(undo(sample, n, blur.angle).astype(np.float32)))
