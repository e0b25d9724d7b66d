"""Where a line lies on the card, told by the printed anchors rather than by the card's outline. Pure code.

The birth line (…生) and the expiry line (…まで有効) are read first; together they give the card's own axes in
any image - a flattened card or a whole camera frame with the card tilted, turned round or partly out of view:
across = the direction their text reads, down = across turned a quarter clockwise, and a unit = the distance
down from the birth line to the expiry line (about 21 mm on the card). The security code is then the 4-digit
line printed under the photo: right of both anchors and in the card's right half (the photo's column), below
the birth line and not far below the expiry line, and reading the same way as they do. Only the published layout is used (birth above
expiry on the left, the photo and its code on the right): no millimetre of any one renderer.
"""
from __future__ import annotations

import dataclasses
import math

# (x, y) points of a text box in reading order: start-top, end-top, end-bottom, start-bottom
Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]

# the code's place, in units of the birth-to-expiry distance (the card is about 4 units wide, 2.6 high)
CODE_BELOW_BIRTH = 0.25        # its centre at least this far below the birth line's centre
CODE_BELOW_EXPIRY = 0.35       # and at most this far below the expiry line's centre
CODE_ACROSS = (2.0, 5.0)       # and its centre this far right of where the expiry line starts (the photo's column)
SAME_WAY = 0.9                 # cosine between the code's reading direction and the anchors'


@dataclasses.dataclass(frozen=True)
class Axes:
    """The card's axes in an image: ``across`` and ``down`` unit vectors, ``unit`` in image pixels."""

    across: tuple[float, float]
    down: tuple[float, float]
    unit: float


@dataclasses.dataclass(frozen=True)
class Span:
    """A line's place along the card's axes: start and end across, centre down (image pixels)."""

    start: float
    end: float
    down: float


def direction(quad: Quad) -> tuple[float, float]:
    """The unit vector a box's text reads along (start to end, averaged over its top and bottom edges)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = quad
    dx, dy = (x1 - x0 + x2 - x3) / 2, (y1 - y0 + y2 - y3) / 2
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def axes(birth: Quad | None, expiry: Quad | None, birth_at: tuple[float, float],
         expiry_at: tuple[float, float]) -> Axes | None:
    """The card's axes from its two anchor lines (boxes, or only centres: then the image's own axes), or None
    when the expiry does not lie below the birth line as printed (wrong way round, or not one card)."""
    if birth is not None and expiry is not None:
        (bx, by), (ex, ey) = direction(birth), direction(expiry)
        if bx * ex + by * ey < SAME_WAY:          # two lines of one card read the same way
            return None
        ax, ay = bx + ex, by + ey
        n = math.hypot(ax, ay)
        across = (ax / n, ay / n)
    else:
        across = (1.0, 0.0)
    down = (-across[1], across[0])
    gap = (expiry_at[0] - birth_at[0]) * down[0] + (expiry_at[1] - birth_at[1]) * down[1]
    if gap <= 0:
        return None
    return Axes(across, down, gap)


def span(a: Axes, quad: Quad | None, centre: tuple[float, float]) -> Span:
    """Where a line lies along the axes (a line without a box is a point at its centre)."""
    def along(p: tuple[float, float]) -> float:
        return p[0] * a.across[0] + p[1] * a.across[1]
    down = centre[0] * a.down[0] + centre[1] * a.down[1]
    if quad is None:
        return Span(along(centre), along(centre), down)
    ends = [along(p) for p in quad]
    return Span(min(ends), max(ends), down)


def is_code_place(a: Axes, code: Span, birth: Span, expiry: Span, code_quad: Quad | None) -> bool:
    """True when ``code`` lies where the security code is printed relative to the two anchors."""
    if code_quad is not None:
        dx, dy = direction(code_quad)
        if dx * a.across[0] + dy * a.across[1] < SAME_WAY:     # read the other way round: not trusted
            return False
    if not birth.down + CODE_BELOW_BIRTH * a.unit <= code.down <= expiry.down + CODE_BELOW_EXPIRY * a.unit:
        return False
    if code.start <= max(birth.end, expiry.end):
        return False
    return CODE_ACROSS[0] * a.unit <= (code.start + code.end) / 2 - expiry.start <= CODE_ACROSS[1] * a.unit


def under(label: Quad | None, quad: Quad | None) -> bool:
    """True when ``quad`` is the text printed just under the small label ``label`` (as 「有効期限」 heads the
    expiry's box): reading the same way, starting within three label heights of the label's start, and its
    centre a third to three label heights below the label's."""
    if label is None or quad is None:
        return False
    ux, uy = direction(label)
    dx, dy = direction(quad)
    if dx * ux + dy * uy < SAME_WAY:
        return False
    h = math.hypot(label[3][0] - label[0][0], label[3][1] - label[0][1]) or 1.0
    lx, ly = sum(p[0] for p in label) / 4, sum(p[1] for p in label) / 4
    qx, qy = sum(p[0] for p in quad) / 4, sum(p[1] for p in quad) / 4
    along = (quad[0][0] - label[0][0]) * ux + (quad[0][1] - label[0][1]) * uy
    down = -(qx - lx) * uy + (qy - ly) * ux
    return abs(along) <= 3 * h and h / 3 <= down <= 3 * h


def rows(quads: list[Quad | None]) -> list[list[int]]:
    """Indices of boxes that continue one another on one printed row, left to right in reading order (an OCR
    detector may split 「昭和55年 2月17日生」 at a wide space). Rows of one box are left out."""
    def height(q: Quad) -> float:
        return math.hypot(q[3][0] - q[0][0], q[3][1] - q[0][1]) or 1.0

    def follows(a: Quad, b: Quad) -> bool:
        ux, uy = direction(a)
        h = height(a)
        if direction(b)[0] * ux + direction(b)[1] * uy < SAME_WAY or not 0.6 < height(b) / h < 1.6:
            return False
        # b starts just after a ends, on the same line
        ex, ey = (a[1][0] + a[2][0]) / 2, (a[1][1] + a[2][1]) / 2
        sx, sy = (b[0][0] + b[3][0]) / 2, (b[0][1] + b[3][1]) / 2
        along = (sx - ex) * ux + (sy - ey) * uy
        across = -(sx - ex) * uy + (sy - ey) * ux
        return -0.5 * h < along < 2.5 * h and abs(across) < 0.4 * h

    boxed = [i for i, q in enumerate(quads) if q is not None]
    nxt = {}
    for i in boxed:
        after = [j for j in boxed if j != i and follows(quads[i], quads[j])]   # type: ignore[arg-type]
        if len(after) == 1:
            nxt[i] = after[0]
    starts = [i for i in nxt if i not in nxt.values()]
    out = []
    for i in starts:
        row, seen = [i], {i}
        while row[-1] in nxt and nxt[row[-1]] not in seen:
            row.append(nxt[row[-1]])
            seen.add(row[-1])
        out.append(row)
    return out
