"""A second opinion on a doubtful field line: taken only when every variant confirms it, never to pick a reading."""
import datetime as dt

import numpy as np
import pytest

from mynareader.daemon.cardface.confirm import confirm
from mynareader.daemon.cardface.fields import GENERATIONS, Line
from mynareader.daemon.cardface.reader import CardFaceReader

G = GENERATIONS["2020"]


def line(text, confs, x=0.25 * 856, y=0.38 * 540):
    """An OCR line with one confidence per character (mean as rapidocr reports it)."""
    assert len(confs) == len(text)
    return Line(text, x, y, sum(confs) / len(confs), weakest=min(confs), confs=tuple(confs))


def sure(text, x=0.25 * 856, y=0.38 * 540):
    return line(text, [0.99] * len(text), x, y)


# 「8月 6日」: the gap of a padded day is the character OCR doubts most on noisy and dim frames
DOUBTFUL_GAP = line("令和5年 8月 6日生", [0.99, 1, 1, 1, 0.51, 1, 1, 0.78, 1, 1, 1])


def test_a_doubtful_gap_the_variants_all_read_surely_is_confirmed():
    looks = [sure("令和5年8月6日生"), sure("令和5年8月 6日生"), sure("令和5年 8月6日生")]
    confirmed = confirm(DOUBTFUL_GAP, looks, 0.80)
    assert confirmed is not None and confirmed.text == "令和5年8月6日生" and confirmed.weakest >= 0.65


@pytest.mark.parametrize("looks", [
    [sure("令和5年8月6日生"), sure("令和5年8月16日生"), sure("令和5年8月6日生")],     # one variant disagrees
    [sure("令和5年8月16日生")] * 3,                # they agree, but on a digit the first reading did not have
    [sure("令和5年8月6日生"), line("令和5年8月6日生", [1, 1, 1, 1, 1, 1, 0.6, 1, 1]), sure("令和5年8月6日生")],
    [sure("令和5年8月6日生")],                      # one look is no second opinion
    [],
])
def test_variants_that_disagree_or_doubt_leave_the_line_refused(looks):
    assert confirm(DOUBTFUL_GAP, looks, 0.80) is None


def test_variants_never_overturn_a_character_the_first_reading_was_sure_of():
    """「8459」 read 「8450」 with the 0 at 0.50: variants may confirm 「8459」 only if the 0 was the doubtful one."""
    first = line("8450", [0.99, 0.99, 0.99, 0.50])
    assert confirm(first, [sure("8459")] * 3, 0.80).text == "8459"
    sure_zero = line("8450", [0.99, 0.50, 0.99, 0.99])      # the doubt was on the 4, the 0 was sure
    assert confirm(sure_zero, [sure("8459")] * 3, 0.80) is None


def test_a_line_without_per_character_confidences_is_not_confirmed():
    assert confirm(Line("2285", 0, 0, 0.7, weakest=0.5), [sure("2285")] * 3, 0.80) is None


class FakeOcr:
    """The lines of one frame, and what each line's variants read (the real engine is tested in test_cardface_reader)."""

    def __init__(self, lines, looks):
        self._lines, self._looks, self.looked = lines, looks, []

    def lines(self, image, det_side=640, turn=True):
        return list(self._lines)

    def reread(self, image, boxes):
        return []

    def second_look(self, image, line):
        self.looked.append(line.text)
        return self._looks.get(line.text, [])


CARD = [sure("氏名", 0.05 * 856, 0.07 * 540), sure("昭和55年 2月17日生", 0.25 * 856, 0.38 * 540),
        sure("有効期限", 0.08 * 856, 0.71 * 540), sure("2035年 2月17日まで有効", 0.25 * 856, 0.77 * 540)]
CODE_AT = (0.8 * 856, 0.63 * 540)
GREY = np.full((480, 640, 3), 150, np.uint8)


def read(code_line, looks):
    ocr = FakeOcr(CARD + [code_line], looks)
    return CardFaceReader(ocr).read_frame(GREY), ocr


def test_a_frame_whose_doubtful_code_the_variants_confirm_is_read():
    fr, ocr = read(line("2285", [0.99, 0.99, 0.55, 0.99], *CODE_AT), {"2285": [sure("2285", *CODE_AT)] * 3})
    assert fr.fields is not None and fr.fields.number == "2285" and fr.fields.birth == dt.date(1980, 2, 17)
    assert ocr.looked == ["2285"]          # only the doubtful line got a second look


def test_a_frame_whose_variants_disagree_stays_refused():
    looks = {"2285": [sure("2285", *CODE_AT), sure("2265", *CODE_AT), sure("2285", *CODE_AT)]}
    fr, _ = read(line("2285", [0.99, 0.99, 0.55, 0.99], *CODE_AT), looks)
    assert fr.fields is None and fr.reason == "code_low_confidence"


def test_a_sure_frame_costs_no_second_look():
    fr, ocr = read(sure("2285", *CODE_AT), {})
    assert fr.fields is not None and ocr.looked == []
