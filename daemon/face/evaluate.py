"""Verification figures from a list of labelled pairs: score distributions, FAR/FRR at a threshold, EER. Pure."""
from __future__ import annotations

import numpy as np


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    """(false-accept rate, false-reject rate) when scores >= threshold are accepted."""
    far = float(np.mean(impostor >= threshold)) if impostor.size else 0.0
    frr = float(np.mean(genuine < threshold)) if genuine.size else 0.0
    return far, frr


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, the threshold where FAR and FRR are closest), sweeping every observed score."""
    best = (1.0, 0.0)
    gap = 2.0
    for t in np.unique(np.concatenate([genuine, impostor, [np.inf]])):
        far, frr = rates(genuine, impostor, t)
        if abs(far - frr) < gap:
            gap, best = abs(far - frr), ((far + frr) / 2, float(t))
    return best


def summary(scores: np.ndarray) -> str:
    if not scores.size:
        return "n=0"
    q = np.percentile(scores, [0, 10, 50, 90, 100])
    return f"n={scores.size:<4} min {q[0]:.3f}  p10 {q[1]:.3f}  median {q[2]:.3f}  p90 {q[3]:.3f}  max {q[4]:.3f}"


def histogram(scores: np.ndarray, bins: int = 10, width: int = 40) -> list[str]:
    counts, edges = np.histogram(scores, bins=bins, range=(0.0, 1.0))
    top = max(1, counts.max())
    return [f"  {edges[i]:.1f}-{edges[i + 1]:.1f} {'#' * int(round(width * c / top)):<{width}} {c}"
            for i, c in enumerate(counts)]
