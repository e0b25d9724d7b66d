"""Verification figures from a list of labelled pairs: score distributions, FAR/FRR at a threshold, EER, figures
per group of people, and a threshold set on one split of the identities and reported on the other. Pure."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

COLUMNS = ("image_a", "image_b", "label", "kind", "group", "age", "split")


@dataclasses.dataclass(frozen=True)
class Pair:
    """One line of a pairs file: IMAGE_A IMAGE_B same|different [KIND [GROUP [AGE [SPLIT]]]] (models/devset.py
    writes all seven; a missing column is empty)."""
    a: str
    b: str
    same: bool
    kind: str = "all"
    group: str = ""
    age: str = ""
    split: str = ""


class PairsError(ValueError):
    pass


def parse_pairs(text: str) -> list[Pair]:
    """Tab-separated lines, 3 to 7 columns; blank lines and lines starting with # are skipped."""
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not 3 <= len(cells) <= len(COLUMNS) or cells[2] not in ("same", "different"):
            raise PairsError(f"line {n}: expected IMAGE_A<TAB>IMAGE_B<TAB>same|different"
                             f"[<TAB>KIND[<TAB>GROUP[<TAB>AGE[<TAB>SPLIT]]]]")
        rest = cells[3:] + [""] * (len(COLUMNS) - len(cells))
        pairs.append(Pair(cells[0], cells[1], cells[2] == "same", rest[0] or "all", *rest[1:]))
    return pairs


@dataclasses.dataclass(frozen=True)
class Scored:
    pair: Pair
    score: float


def split_scores(scored: Iterable[Scored]) -> tuple[np.ndarray, np.ndarray]:
    """(genuine scores, impostor scores)."""
    items = list(scored)
    return (np.asarray([s.score for s in items if s.pair.same], dtype=np.float64),
            np.asarray([s.score for s in items if not s.pair.same], dtype=np.float64))


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


def roc(genuine: np.ndarray, impostor: np.ndarray) -> list[tuple[float, float, float]]:
    """(threshold, FAR, GAR) at every observed score, from the strictest threshold to the most lenient."""
    points = []
    for t in np.unique(np.concatenate([genuine, impostor]))[::-1]:
        far, frr = rates(genuine, impostor, float(t))
        points.append((float(t), far, 1.0 - frr))
    return points


def threshold_for_far(genuine: np.ndarray, impostor: np.ndarray, target: float) -> float:
    """The most lenient observed threshold whose false-accept rate on these impostors is at most ``target``."""
    best = float(np.max(impostor)) + 1e-6 if impostor.size else 0.0
    for t, far, _gar in roc(genuine, impostor):
        if far <= target:
            best = t
    return best


def roc_svg(curves: dict[str, list[tuple[float, float, float]]], title: str) -> str:
    """A small ROC plot (GAR against FAR on a log axis from 0.01% to 100%) as standalone SVG text."""
    w, h, left, bottom, top, right = 570, 360, 60, 40, 30, 200
    pw, ph = w - left - right, h - top - bottom
    lo, hi = -4.0, 0.0   # log10 FAR

    def xy(far: float, gar: float) -> tuple[float, float]:
        x = (min(max(np.log10(max(far, 1e-4)), lo), hi) - lo) / (hi - lo)
        return left + x * pw, top + (1 - gar) * ph

    colours = ["#1f4e9c", "#c0392b", "#2e7d32", "#6a1b9a", "#ef6c00"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
           f'font-size="11"><rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="13">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>']
    for e in range(int(lo), int(hi) + 1):
        x = left + (e - lo) / (hi - lo) * pw
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle">{10.0 ** e * 100:g}%</text>')
    for g in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + (1 - g) * ph
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{g:.0%}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 6}" text-anchor="middle">false accepts (impostor pairs)</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" '
               f'text-anchor="middle">genuine accepts</text>')
    bases: list[str] = []
    for i, (name, points) in enumerate(curves.items()):
        # "model, subset" is drawn dashed in its model's colour
        base, _, subset = name.partition(", ")
        if base not in bases:
            bases.append(base)
        c = colours[bases.index(base) % len(colours)]
        dash = ' stroke-dasharray="5,3"' if subset else ""
        pts = [xy(1e-4, 0.0)] + [xy(far, gar) for _t, far, gar in points] + [xy(1.0, 1.0)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        out.append(f'<line x1="{left + pw + 10}" y1="{top + 12 + 16 * i}" x2="{left + pw + 28}" '
                   f'y2="{top + 12 + 16 * i}" stroke="{c}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + pw + 32}" y="{top + 16 + 16 * i}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def count(rate: float, n: int) -> str:
    return f"{rate:7.2%} ({int(round(rate * n))}/{n})"


def breakdown(scored: list[Scored], threshold: float, field: str) -> list[str]:
    """One line per value of a pair field (kind, group, age): genuine and impostor pairs, accepted at the threshold,
    and the equal-error rate within that value."""
    values = sorted({getattr(s.pair, field) for s in scored})
    if len(values) < 2 and values in ([""], ["all"]):
        return []
    lines = [f"by {field}:"]
    for value in values:
        g, i = split_scores(s for s in scored if getattr(s.pair, field) == value)
        far, frr = rates(g, i, threshold)
        eer = f"{equal_error_rate(g, i)[0]:6.2%}" if g.size and i.size else "     -"
        resolves = f"; resolves {1 / i.size:.2%}" if i.size else ""
        lines.append(f"  {value or '(none)':<11} genuine {g.size:>5} accepted {count(1 - frr, g.size) if g.size else '      -'}"
                     f" | impostor {i.size:>6} accepted {count(far, i.size) if i.size else '      -'} | EER {eer}"
                     f"{resolves}")
    return lines


def tuned_threshold(scored: list[Scored], target: float) -> tuple[float, int, int]:
    """(the most lenient threshold whose false-accept rate on these impostors is at most target, genuine count,
    impostor count): the threshold is set here and only reported on other pairs."""
    g, i = split_scores(scored)
    return threshold_for_far(g, i, target), g.size, i.size
