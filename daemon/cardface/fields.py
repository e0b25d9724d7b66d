"""The printed fields of the card front and the key built from them, per card generation. Pure code.

A generation is a parser (OCR lines -> fields) plus a key builder (fields -> the VERIFY data). The 2020 design
is the one in use; the 2026 design (Gregorian birth date, a 6-digit number instead of 照合番号B) is a new entry
in ``GENERATIONS`` when its layout is published, not a rewrite.

The parser anchors on 「生」 and 「まで有効」 (the 追記欄 can carry other dates) and forgives the usual OCR slips:
full-width digits, stray spaces, O/o/D for 0, I/l/| for 1, 目 or 曰 for 日, 元 for year 1.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from typing import Callable, TypeVar

from ...device.cardface import ERAS, code_b_of
from .errors import FieldError
from .layout import Quad, axes, is_code_place, rows, span, under

# era name -> (first day, last day); a year outside an era's span is a misread, not a date
ERA_SPANS = {"明治": (dt.date(1868, 1, 25), dt.date(1912, 7, 29)), "大正": (dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
             "昭和": (dt.date(1926, 12, 25), dt.date(1989, 1, 7)), "平成": (dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
             "令和": (dt.date(2019, 5, 1), dt.date(9999, 12, 31))}
assert set(ERA_SPANS) == {name for _start, name in ERAS}

# characters OCR gives for digits in a digit-only position
# Only the slips that are unambiguous in a digit-only position are undone; a letter that could be one of
# several digits (S/5, B/8, Z/2) leaves the field unread rather than guessed.
_DIGIT_SLIPS = str.maketrans({"O": "0", "o": "0", "D": "0", "〇": "0", "I": "1", "l": "1", "|": "1", "i": "1"})
_KANJI_SLIPS = str.maketrans({"目": "日", "曰": "日", "臼": "日", "迄": "まで"})
_D = r"[0-9OoD〇Il|i]"   # what may stand for a digit before the slips are undone
_V = TypeVar("_V")   # what one field parser returns


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), no spaces, the usual kanji slips undone."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s+", "", text)
    return text.translate(_KANJI_SLIPS)


def _num(raw: str) -> int:
    return int(raw.translate(_DIGIT_SLIPS))


def _date(year: int, month: int, day: int, what: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise FieldError(f"{what}_not_a_date") from None


@dataclasses.dataclass(frozen=True, repr=False)
class Fields:
    """What was read from one card front. repr hides the values: they must not reach logs."""

    generation: str
    birth: dt.date
    expiry: dt.date
    number: str           # 2020: the 4-digit security code; 2026: the 6-digit number
    birth_gregorian: bool = False

    def __repr__(self) -> str:
        return f"Fields({self.generation}, <redacted>)"


BIRTH_ERA = re.compile(rf"(明治|大正|昭和|平成|令和)({_D}{{1,2}}|元)年({_D}{{1,2}})月({_D}{{1,2}})日生")
BIRTH_GREGORIAN = re.compile(rf"({_D}{{4}})年({_D}{{1,2}})月({_D}{{1,2}})日生")
EXPIRY = re.compile(rf"({_D}{{4}})年({_D}{{1,2}})月({_D}{{1,2}})日まで有効")


def parse_birth(text: str) -> tuple[dt.date, bool]:
    """The birth date from the line ending in 生: (date, printed in the Gregorian calendar)."""
    t = normalise(text)
    m = BIRTH_ERA.search(t)
    if m:
        return _era_date(*m.groups()), False
    m = BIRTH_GREGORIAN.search(t)
    if m:
        born = _date(_num(m.group(1)), _num(m.group(2)), _num(m.group(3)), "birth")
        if born < ERA_SPANS["明治"][0]:
            raise FieldError("birth_outside_era")
        return born, True
    raise FieldError("birth_unreadable")


def _era_date(era: str, year_raw: str, month: str, day: str) -> dt.date:
    year = 1 if year_raw == "元" else _num(year_raw)
    first, last = ERA_SPANS[era]
    if year < 1:
        raise FieldError("birth_not_a_date")
    born = _date(first.year + year - 1, _num(month), _num(day), "birth")
    if not first <= born <= last:
        raise FieldError("birth_outside_era")
    return born


def parse_expiry(text: str) -> dt.date:
    m = EXPIRY.search(normalise(text))
    if not m:
        raise FieldError("expiry_unreadable")
    return _date(_num(m.group(1)), _num(m.group(2)), _num(m.group(3)), "expiry")


# A glare can wipe a date line's anchor word or its tail. The card prints the birthday's month and day twice (it
# expires on a birthday), so while one date line is read with its anchor, the other may be taken without its own:
# the birth date when its month and day are read and are the expiry's; the expiry's year when its anchor's tail
# (有効) or the 有効期限 label above it shows it is the expiry line, or when its month and day are the birthday's.
# What the key takes from the bare line is only its year; the chip's certificate still has to agree (reader.py).
BIRTH_BARE = re.compile(rf"(明治|大正|昭和|平成|令和)({_D}{{1,2}}|元)年({_D}{{1,2}})月({_D}{{1,2}})日?")
EXPIRY_HEAD = re.compile(rf"({_D}{{4}})年")
EXPIRY_TAIL = re.compile(rf"(?:({_D}{{1,2}})月)?({_D}{{1,2}})?(日)?(ま?で?有効)?")


def bare_birth(text: str, expiry: dt.date) -> tuple[dt.date, bool]:
    """The birth date from a line that lost its 生, taken only when its month and day are the expiry's."""
    m = BIRTH_BARE.fullmatch(normalise(text))
    try:
        born = _era_date(*m.groups()) if m else None
    except FieldError:
        born = None
    if born is None or not is_birthday(expiry, born) or born >= expiry:
        raise FieldError("birth_unreadable")
    return born, False


def bare_expiry(text: str, birth: dt.date, labelled: bool) -> dt.date:
    """The expiry from a line that lost its まで有効 or its month and day: the year read, the month and day the
    birthday's. Taken only when what is left of the line says it is the expiry (its 有効, or ``labelled``: it lies
    under the 有効期限 label), or when its own month and day are read and are the birthday's."""
    t = normalise(text)
    head = EXPIRY_HEAD.match(t)
    tail = EXPIRY_TAIL.fullmatch(t[head.end():]) if head else None
    if head is None or tail is None or "生" in t or (birth.month, birth.day) == (2, 29):
        raise FieldError("expiry_unreadable")
    month, digits, day_mark, anchor = tail.groups()
    if digits and not day_mark:     # cut short by the glare: the first digits of the month, or of the day
        agrees = str(birth.day if month else birth.month).startswith(str(_num(digits)))
    else:
        agrees = not digits or _num(digits) == birth.day
    if (month and _num(month) != birth.month) or not agrees:
        raise FieldError("expiry_unreadable")
    if not (anchor and "有効" in anchor) and not labelled and not (month and digits and day_mark):
        raise FieldError("expiry_unreadable")
    expiry = _date(_num(head.group(1)), birth.month, birth.day, "expiry")
    if expiry <= birth:         # the birth line itself, split into boxes
        raise FieldError("expiry_unreadable")
    return expiry


def parse_code(text: str, digits: int = 4) -> str:
    t = normalise(text)
    if not re.fullmatch(rf"{_D}{{{digits}}}", t):
        raise FieldError("code_unreadable")
    return t.translate(_DIGIT_SLIPS)


def is_birthday(day: dt.date, birth: dt.date) -> bool:
    """True when ``day`` falls on the birthday (29 Feb births: 28 Feb or 1 Mar in common years)."""
    if (day.month, day.day) == (birth.month, birth.day):
        return True
    if (birth.month, birth.day) == (2, 29):
        return (day.month, day.day) in ((2, 28), (3, 1))
    return False


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of OCR text: its centre (x, y) and box (points in reading order) in the pixels of the image it
    was read from - a flattened card or a whole camera frame - and its score. Without a box (tests, hand-made
    lines) the line is a point and the image's own axes are the card's."""

    text: str
    x: float
    y: float
    score: float                  # the mean of the characters' confidences
    quad: Quad | None = None
    weakest: float = 1.0          # the least sure character's confidence
    confs: tuple[float, ...] = ()  # each character's confidence, one per character of ``text`` (when known)

    def __repr__(self) -> str:
        return f"Line(<redacted>, x={self.x:.2f}, y={self.y:.2f}, score={self.score:.2f})"


MIN_WEAKEST = 0.65      # no character of a field's line less sure than this (min_score is for the mean)


def _confidence(line: Line) -> float:
    """The line's mean score, or 0 when one of its characters is doubtful (below MIN_WEAKEST)."""
    return line.score if line.weakest >= MIN_WEAKEST else 0.0


def doubtful(line: Line, min_score: float) -> bool:
    """A line the rule refuses: its mean below ``min_score``, or one character below MIN_WEAKEST."""
    return _confidence(line) < min_score


def _take(text: str, line: Line, parse: Callable[[str], _V], found: list[tuple[_V, float]], used: list[Line]) -> None:
    """Add what ``parse`` reads in ``text`` to ``found`` (and ``line`` to ``used``); skip a line it cannot read."""
    try:
        found.append((parse(text), _confidence(line)))
        used.append(line)
    except FieldError as exc:
        if "unreadable" not in str(exc):
            raise


def _joined_rows(lines: list[Line]) -> list[Line]:
    """One line for each printed row that OCR gave as several boxes (layout.rows)."""
    out = []
    for row in rows([line.quad for line in lines]):
        parts = [lines[i] for i in row]
        first, last = parts[0].quad, parts[-1].quad
        assert first is not None and last is not None
        quad: Quad = (first[0], last[1], last[2], first[3])
        confs = tuple(c for p in parts for c in p.confs) if all(len(p.confs) == len(p.text) for p in parts) else ()
        out.append(Line("".join(p.text for p in parts), sum(p.x for p in parts) / len(parts),
                        sum(p.y for p in parts) / len(parts), min(p.score for p in parts), quad,
                        min(p.weakest for p in parts), confs))
    return out


def _one(found: list[tuple[_V, float]], what: str, min_score: float) -> None:
    """One value for a field, read with enough confidence; else the reason."""
    if not found:
        raise FieldError(f"{what}_unreadable")
    if len({value for value, _ in found}) > 1:
        raise FieldError(f"{what}_ambiguous")
    if min(score for _, score in found) < min_score:
        raise FieldError(f"{what}_low_confidence")


class Generation2020:
    """The card issued since 2016: era birth date (Gregorian for foreign residents), 4-digit security code."""

    name = "2020"
    key_digits = 14
    code_digits = 4
    # the security code is printed under the photo: where that is, relative to the anchors, is layout.py's
    min_score = 0.80

    def parse(self, lines: list[Line]) -> Fields:
        """Fields from the OCR lines of one rectified frame. Raises FieldError with a reason code."""
        return self.parse_with_lines(lines)[0]

    def parse_with_lines(self, lines: list[Line]) -> tuple[Fields, list[Line]]:
        """The fields and the lines they came from (their boxes let the next frame skip detection).

        The birth and expiry lines are found by their words (生, まで有効), wherever they lie; the code is the
        one ``code_digits`` line where the card prints it relative to those two (layout.py)."""
        births: list[tuple[tuple[dt.date, bool], float]] = []
        expiries: list[tuple[dt.date, float]] = []
        birth_lines: list[Line] = []
        expiry_lines: list[Line] = []
        for line in lines:
            t = normalise(line.text)
            if "生" in t:
                _take(t, line, parse_birth, births, birth_lines)
            if "有効" in t:
                _take(t, line, parse_expiry, expiries, expiry_lines)
        # an anchor split into boxes: each row joined up is read too (and below, for a bare line)
        joined_rows = _joined_rows(lines) if not births or not expiries else []
        for joined in joined_rows:
            t = normalise(joined.text)
            if not births and "生" in t:
                _take(t, joined, parse_birth, births, birth_lines)
            if not expiries and "有効" in t:
                _take(t, joined, parse_expiry, expiries, expiry_lines)
        if births and not expiries:
            _one(births, "birth", self.min_score)
            labels = [line.quad for line in lines if "有効期" in normalise(line.text)]
            for line in lines + joined_rows:
                labelled = any(under(label, line.quad) for label in labels)
                _take(line.text, line, lambda t: bare_expiry(t, births[0][0][0], labelled), expiries, expiry_lines)
        elif expiries and not births:
            _one(expiries, "expiry", self.min_score)
            for line in lines + joined_rows:
                _take(line.text, line, lambda t: bare_birth(t, expiries[0][0]), births, birth_lines)
        _one(births, "birth", self.min_score)
        _one(expiries, "expiry", self.min_score)
        b, e = birth_lines[0], expiry_lines[0]
        card_axes = axes(b.quad, e.quad, (b.x, b.y), (e.x, e.y))
        if card_axes is None:
            raise FieldError("layout_implausible")
        b_span, e_span = span(card_axes, b.quad, (b.x, b.y)), span(card_axes, e.quad, (e.x, e.y))
        codes: list[tuple[str, float]] = []
        code_lines: list[Line] = []
        for line in lines:
            t = normalise(line.text)
            if re.fullmatch(rf"{_D}{{{self.code_digits}}}", t) and is_code_place(
                    card_axes, span(card_axes, line.quad, (line.x, line.y)), b_span, e_span, line.quad):
                codes.append((parse_code(t, self.code_digits), _confidence(line)))
                code_lines.append(line)
        _one(codes, "code", self.min_score)
        (birth, gregorian), expiry, code = births[0][0], expiries[0][0], codes[0][0]
        fields = Fields(self.name, birth, expiry, code, gregorian)
        self.check(fields)
        return fields, [b, e, code_lines[0]]

    def may_hold_field(self, text: str) -> bool:
        """Whether an OCR line could be (part of) a field: worth a second look when it was doubtful."""
        t = normalise(text)
        return bool(re.search(r"[年月日生効]", t)) or bool(re.fullmatch(rf"{_D}{{{self.code_digits}}}", t))

    @staticmethod
    def check(fields: Fields) -> None:
        """What holds on every genuine card: the card expires on a birthday, after the holder was born."""
        if not is_birthday(fields.expiry, fields.birth):
            raise FieldError("expiry_not_on_birthday")
        if not fields.birth < fields.expiry or fields.expiry.year - fields.birth.year > 130:
            raise FieldError("dates_implausible")

    @staticmethod
    def key(fields: Fields) -> str:
        """照合番号B: era YYMMDD of the birth date + the expiry's year + the security code."""
        return code_b_of(fields.birth, fields.expiry.year, fields.number)


GENERATIONS = {g.name: g for g in [Generation2020()]}
DEFAULT_GENERATION = "2020"
