"""A second opinion on a doubtful line: when a field's line was refused because the OCR was unsure of it, the same
box is recognised again in a few deterministic variants of its crop (variants.py). Pure code.

The line is taken only when every variant reads the same text, each one sure by the ordinary rule (mean and
weakest character above the thresholds), and the first reading differs from it only in characters that were
themselves doubtful. A variant that disagrees, or is unsure, leaves the line refused: the variants can settle a
character the first reading doubted, never overturn one it was sure of, and never choose between themselves.
(Most doubtful characters seen on the bench were the gaps of padded dates, 「8月 6日」; variants that read a
digit in such a gap - 「8月16日」 - change the line's length and leave it refused.)
"""
from __future__ import annotations

import dataclasses

from .fields import MIN_WEAKEST, Line, doubtful, normalise

MIN_LOOKS = 2          # fewer variants than this are no second opinion


def _characters(line: Line) -> list[tuple[str, float]] | None:
    """The line's normalised characters, each with the confidence of the character it came from; None when that
    cannot be told (no per-character confidences, or normalising does not map character by character)."""
    if len(line.confs) != len(line.text):
        return None
    out = [(c, conf) for raw, conf in zip(line.text, line.confs) for c in normalise(raw)]
    if "".join(c for c, _ in out) != normalise(line.text):
        return None
    return out


def confirm(line: Line, looks: list[Line], min_score: float) -> Line | None:
    """``line`` as the variants ``looks`` read it, when they confirm it (module docstring); else None."""
    if len(looks) < MIN_LOOKS or any(doubtful(look, min_score) for look in looks):
        return None
    text = normalise(looks[0].text)
    if not text or any(normalise(look.text) != text for look in looks):
        return None
    first = _characters(line)
    if first is None or len(first) != len(text):
        return None
    if any(c != agreed and conf >= MIN_WEAKEST for (c, conf), agreed in zip(first, text)):
        return None        # a character the first reading was sure of, read otherwise: no confirmation
    score = min(look.score for look in looks)
    weakest = min(look.weakest for look in looks)
    return dataclasses.replace(line, text=text, score=score, weakest=weakest, confs=(weakest,) * len(text))
