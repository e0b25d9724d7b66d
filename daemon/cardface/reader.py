"""From camera frames to a certain 照合番号B, or to the reason there is none. Never a guess.

A read is certain only when all of these hold:
  1. at least two distinct frames (a frozen camera repeating one frame is no second look) give the same
     fields, and no frame gave different ones that outweigh them;
  2. the fields parse to real dates within their era, and the card's expiry falls on the birthday;
  3. what the chip shows without a key agrees: the user-authentication certificate (read before any VERIFY)
     expires on a birthday too, so its month and day must be the birth date's, and it cannot outlive the card;
  4. the resulting key is not one this card has already refused.
Anything less returns the reason, which the service turns into guidance for the patient.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import time
from collections import Counter
from typing import Callable, Iterable

import numpy as np

from ..clock import JST
from .confirm import confirm
from .fields import DEFAULT_GENERATION, GENERATIONS, FieldError, Fields, Line, doubtful, is_birthday
from .rectify import Rectified, brighten, rectify

# reasons a frame or a read is uncertain, each with what the patient is told (ja, en)
GUIDANCE = {
    "no_card": ("カードの表面を上にして、トレイに置いてください", "Place the card face up on the tray"),
    "too_far": ("カード全体が写るよう、トレイの奥まで置いてください", "Put the card fully on the tray"),
    "too_dark": ("カードが暗くて読めません", "The card is too dark to read"),
    "glare": ("光が反射しています。カードを少し動かしてください", "Light reflects on the card: move it slightly"),
    "fields_unreadable": ("カードの表面を上にして置いてください", "Place the card face up"),
    "frames_disagree": ("カードを読み取れませんでした", "The card face could not be read"),
    "not_confirmed": ("カードを動かさずにお待ちください", "Hold the card still"),
    "moving": ("カードを動かさずにお待ちください", "Hold the card still"),
    "chip_disagrees": ("カードを読み取れませんでした", "The card face could not be read"),
    "refused_before": ("カードを読み取れませんでした", "The card face could not be read"),
    "camera_unavailable": ("カードを読み取れませんでした", "The card-face camera is not available"),
}


@dataclasses.dataclass(frozen=True)
class ChipHints:
    """What the chip revealed before any VERIFY: the user-auth certificate's serial and notAfter."""

    serial: int
    cert_not_after: dt.datetime


# where a frame's fields were read ("card": the flattened card, "frame": the whole frame) and their lines
Layout = tuple[str, list[Line]]
MIN_TEXT_PX = 22        # most text boxes lower than this (px; ~1.8x the printed height) in an unread frame: too far
MIN_CARD_PX = 300       # an outline narrower than this (~3.5 px/mm) is not taken for the card's bounds
CARD_DET_SIDE = 512     # detection on the flattened card (856 px wide) runs at this longest side
FRAME_DET_SIDE = 960    # and on a whole frame at this one (recognition always cuts from full resolution)
MAX_SECOND_LOOKS = 4    # doubtful lines given a second opinion in one frame (a field's row may be split in two)


@dataclasses.dataclass
class FrameRead:
    fields: Fields | None
    reason: str | None
    turned: bool = False
    lines: Layout | None = None     # where the fields were read, and their lines (boxes for the next frame)


@dataclasses.dataclass(repr=False)
class ReadResult:
    certain: bool
    reason: str | None
    fields: Fields | None = None
    key: str | None = None           # the VERIFY data, only when certain
    frames: int = 0
    seconds: float = 0.0

    def __repr__(self) -> str:
        return f"ReadResult(certain={self.certain}, reason={self.reason}, frames={self.frames})"


def _shift(lines: list[Line], offset: tuple[int, int], sign: int = 1) -> list[Line]:
    """The lines moved by ``offset`` (sign 1: from a part of the frame into the frame; -1: back)."""
    if offset == (0, 0):
        return lines
    dx, dy = sign * offset[0], sign * offset[1]
    return [dataclasses.replace(line, x=line.x + dx, y=line.y + dy, quad=None if line.quad is None else
                                tuple((x + dx, y + dy) for x, y in line.quad))  # type: ignore[arg-type]
            for line in lines]


def _height(line: Line) -> float:
    if line.quad is None:
        return float("inf")
    (x0, y0), _, _, (x3, y3) = line.quad
    return float(np.hypot(x3 - x0, y3 - y0))


def frame_problem_reason(reason: str) -> str:
    """Collapse per-field parser reasons into the patient-facing reason."""
    if reason in GUIDANCE:
        return reason
    return "fields_unreadable"


class RefusedKeys:
    """Keys a card refused, kept as salted digests in memory for the daemon's life, so none is sent twice."""

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)
        self._seen: set[bytes] = set()

    def _digest(self, serial: int | None, key: str) -> bytes:
        return hashlib.sha256(self._salt + str(serial).encode() + b"/" + key.encode()).digest()

    def add(self, serial: int | None, key: str) -> None:
        self._seen.add(self._digest(serial, key))

    def __contains__(self, item: tuple[int | None, str]) -> bool:
        return self._digest(*item) in self._seen


# The daemon's window before the PIN is offered: chosen from `bench cardface` (docs/cardface.md, "The window")
WINDOW_FRAMES = 6        # every bench card of every kind (1,005 of 1,005) is certain within 6 frames
WINDOW_SECONDS = 12.0    # the p90 time to certain on a Pi 4 (estimate) of every kind but motion fits
# A frame's extra tries (the smear undone) start only within this many seconds of the frame's start, so one frame's
# answer stays within the worker's deadline (10 s, daemon/worker/process.py) on a Pi 4, where one read of a whole
# frame takes ~4-5 s: on the bench machine (~1.3 s a read) it is never reached
FRAME_SECONDS = 4.0


class CardFaceReader:
    def __init__(self, ocr, generation: str = DEFAULT_GENERATION, agree: int = 2, max_frames: int = WINDOW_FRAMES,
                 max_seconds: float = WINDOW_SECONDS, frame_seconds: float = FRAME_SECONDS):
        self.ocr, self.generation = ocr, GENERATIONS[generation]
        self.agree, self.max_frames, self.max_seconds = agree, max_frames, max_seconds
        self.frame_seconds = frame_seconds

    def read_frame(self, frame: np.ndarray, layout: Layout | None = None) -> FrameRead:
        """One frame: the flattened card when its outline is found, else (or when that does not give every
        field) the whole frame, the fields placed by their printed anchors. With ``layout`` (where an earlier
        frame found the fields) recognition runs only in those boxes first. When the flattened card gives no
        fields and the frame shows a card still sliding, the smear is undone (deblur.py) before the costlier
        whole-frame reads; frames the flattened card reads never pay for that."""
        t0 = time.monotonic()
        frame = brighten(frame)
        r = rectify(frame)
        if r.problem == "too_dark" and r.card is None:
            return FrameRead(None, "too_dark")
        card = self._read_card(r, layout)
        if card is not None and card.fields is not None:
            return card
        import cv2                  # here, as in rectify: the service imports this module without reading a card
        from . import deblur
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        blur = deblur.estimate(grey)
        if blur is not None:
            for length in deblur.lengths(grey, blur):
                if time.monotonic() - t0 > self.frame_seconds:
                    return FrameRead(None, "moving")
                sharp = deblur.undo(frame, length, blur.angle)
                again = self._read_sharp(sharp, rectify(sharp), layout)
                if again.fields is not None:
                    return again
            if time.monotonic() - t0 > self.frame_seconds:
                return FrameRead(None, "moving")
        fr = self._read_sharp(frame, r, layout, card)
        if fr.fields is None and blur is not None and fr.reason not in ("no_card", "too_far", "too_dark"):
            return FrameRead(None, "moving")    # what the patient can change: hold the card still
        return fr       # an empty tray's texture may look smeared: "place the card" is still the advice

    def _read_card(self, r: Rectified, layout: Layout | None) -> FrameRead | None:
        """The flattened card's fields, or None when no outline was found."""
        if r.card is None:
            return None
        where, prior = layout or ("", [])
        fr = self._read_in(r.card, "card", prior if where == "card" else [], CARD_DET_SIDE)
        fr.turned = r.turned
        return fr

    def _read_sharp(self, frame: np.ndarray, r: Rectified, layout: Layout | None,
                    card: FrameRead | None = None) -> FrameRead:
        """The frame as it is (``r`` its rectification): the flattened card (unless ``card`` already read it),
        the part of the frame it bounds, the whole frame."""
        if r.problem == "too_dark" and r.card is None:
            return FrameRead(None, "too_dark")
        where, prior = layout or ("", [])
        reasons = []
        if card is None:
            card = self._read_card(r, layout)
        if card is not None:
            if card.fields is not None:
                return card
            reasons.append(card.reason)
        prior = prior if where == "frame" else []
        if r.bounds is not None and r.width_px >= MIN_CARD_PX:
            # a small card's outline bounds the part of the frame worth reading: detection there at full size
            x0, y0, x1, y1 = r.bounds
            fr = self._read_in(frame[y0:y1, x0:x1], "frame", prior, FRAME_DET_SIDE, offset=(x0, y0))
            if fr.fields is not None:
                return fr
        fr = self._read_in(frame, "frame", prior, FRAME_DET_SIDE)
        if fr.fields is not None:
            return fr
        reasons.append(fr.reason)
        # what the patient can change explains an unread frame better than the parser's reason
        if r.problem in ("glare", "too_far", "too_dark"):
            return FrameRead(None, r.problem)
        if r.card is None and fr.reason == "no_text":
            return FrameRead(None, "no_card")
        return FrameRead(None, next((x for x in reasons if x and x != "no_text"), "fields_unreadable"))

    def _read_in(self, image: np.ndarray, where: str, prior: list[Line], det_side: int,
                 offset: tuple[int, int] = (0, 0)) -> FrameRead:
        """The fields in ``image`` (the flattened card, or the frame or a part of it at ``offset``): the boxes of
        an earlier frame first (``prior``, in the same coordinates), else every line."""
        if prior:
            try:
                fields, used = self._parse(image, self.ocr.reread(image, _shift(prior, offset, -1)))
                return FrameRead(fields, None, lines=(where, _shift(used, offset)))
            except FieldError:
                pass
        lines = self.ocr.lines(image, det_side, turn=where == "frame")
        if not lines:
            return FrameRead(None, "no_text")
        try:
            fields, used = self._parse(image, lines)
            return FrameRead(fields, None, lines=(where, _shift(used, offset)))
        except FieldError as exc:
            heights = sorted(_height(line) for line in lines)
            if heights[(3 * len(heights)) // 4] < MIN_TEXT_PX:
                return FrameRead(None, "too_far")     # text was seen, too small to read: bring the card closer
            return FrameRead(None, str(exc))

    def _parse(self, image: np.ndarray, lines: list[Line]) -> tuple[Fields, list[Line]]:
        """The fields in ``lines`` (read from ``image``). A field refused only because its line was doubtful gets
        a second opinion: that line alone is recognised again in a few variants of its crop and taken only when
        they all confirm it (confirm.py). Sure frames never pay for it."""
        try:
            return self.generation.parse_with_lines(lines)
        except FieldError as exc:
            if not str(exc).endswith("_low_confidence"):
                raise
            min_score = self.generation.min_score
            todo = [i for i, line in enumerate(lines)
                    if doubtful(line, min_score) and self.generation.may_hold_field(line.text)][:MAX_SECOND_LOOKS]
            if not todo:
                raise
            lines = list(lines)
            for i in todo:
                lines[i] = confirm(lines[i], self.ocr.second_look(image, lines[i]), min_score) or lines[i]
            return self.generation.parse_with_lines(lines)

    def read(self, frames: Iterable[np.ndarray], hints: ChipHints | None = None,
             refused: RefusedKeys | None = None, on_frame: Callable[[FrameRead], None] | None = None) -> ReadResult:
        """Read frames until a certain read, or the frame/time budget runs out."""
        t0 = time.monotonic()
        votes: Counter = Counter()
        seen: set[bytes] = set()
        last_reason = "no_card"
        layout: Layout | None = None
        n = repeats = 0
        for frame in frames:
            digest = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()
            if digest in seen:           # the same pixels again prove nothing
                repeats += 1
                if repeats > 2 * self.max_frames or time.monotonic() - t0 > self.max_seconds:
                    break
                continue
            seen.add(digest)
            n += 1
            fr = self.read_frame(frame, layout)
            if on_frame:
                on_frame(fr)
            if fr.fields is None:
                last_reason = fr.reason or "fields_unreadable"
            else:
                layout = fr.lines
                votes[self._vote(fr.fields)] += 1
                top, count = votes.most_common(1)[0]
                others = sum(votes.values()) - count
                if count >= self.agree + 2 * others:
                    return self._conclude(top, hints, refused, n, time.monotonic() - t0)
            if n >= self.max_frames or time.monotonic() - t0 > self.max_seconds:
                break
        if len(votes) > 1:
            reason = "frames_disagree"
        elif votes:
            reason = "not_confirmed"     # one look read the fields; no second look agreed in time
        else:
            reason = frame_problem_reason(last_reason)
        fields = Fields(*votes.most_common(1)[0][0]) if votes else None
        return ReadResult(False, reason, fields, frames=n, seconds=time.monotonic() - t0)

    @staticmethod
    def _vote(fields: Fields) -> tuple:
        return (fields.generation, fields.birth, fields.expiry, fields.number, fields.birth_gregorian)

    def _conclude(self, vote: tuple, hints: ChipHints | None, refused: RefusedKeys | None, n: int,
                  seconds: float) -> ReadResult:
        fields = Fields(*vote)
        problem = chip_disagreement(fields, hints)
        if problem:
            return ReadResult(False, "chip_disagrees", frames=n, seconds=seconds)
        key = self.generation.key(fields)
        if refused is not None and (hints.serial if hints else None, key) in refused:
            return ReadResult(False, "refused_before", frames=n, seconds=seconds)
        return ReadResult(True, None, fields, key, n, seconds)


def chip_disagreement(fields: Fields, hints: ChipHints | None) -> str | None:
    """Why the chip's key-free data contradicts the printed fields, or None."""
    if hints is None:
        return None
    cert_end = hints.cert_not_after.astimezone(JST).date()
    if not is_birthday(cert_end, fields.birth):
        return "certificate_not_on_birthday"
    if cert_end.year > fields.expiry.year:
        return "certificate_outlives_card"
    return None
