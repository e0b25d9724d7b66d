"""Fields placed by their printed anchors (layout.py), in any orientation: geometry by hand, no OCR."""
import datetime as dt
import math

import pytest

from mynareader.daemon.cardface.fields import GENERATIONS, FieldError, Line

G = GENERATIONS["2020"]

# (text, x0, y0, x1, y1) in millimetres of the published layout (reference/cardface.md)
CARD = [("番号 花子", 9, 2.4, 30, 6), ("東京都千代田区霞が関1丁目1番1号", 9, 9.8, 50, 12.5),
        ("昭和55年 2月17日生", 9, 19.4, 33, 22), ("2024年 4月 1日 転入", 9, 24.4, 30, 26.4),
        ("2285", 66.5, 33.4, 72, 35.6), ("2035年 2月17日まで有効", 4.5, 40.5, 31, 43)]


def placed(card, angle_deg=0.0, scale=12.0, shift=(200.0, 150.0)):
    """Lines as OCR gives them from a frame: each box in reading order, the card turned by ``angle_deg``."""
    a = math.radians(angle_deg)

    def at(x, y):
        x, y = x * scale, y * scale
        return (shift[0] + x * math.cos(a) - y * math.sin(a), shift[1] + x * math.sin(a) + y * math.cos(a))

    out = []
    for text, x0, y0, x1, y1 in card:
        quad = (at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1))
        cx, cy = sum(p[0] for p in quad) / 4, sum(p[1] for p in quad) / 4
        out.append(Line(text, cx, cy, 0.99, quad))
    return out


@pytest.mark.parametrize("angle", [0, 8, -15, 180, 172])
def test_the_code_is_found_under_the_photo_in_any_orientation(angle):
    fields = G.parse(placed(CARD, angle))
    assert G.key(fields) == "55021720352285"


def test_a_code_box_read_the_other_way_round_is_not_taken():
    lines = placed(CARD, 180)
    code = next(i for i, line in enumerate(lines) if line.text == "2285")
    q = lines[code].quad
    lines[code] = Line("5822", lines[code].x, lines[code].y, 0.99, (q[2], q[3], q[0], q[1]))
    with pytest.raises(FieldError, match="code_unreadable"):
        G.parse(lines)


def test_four_digits_elsewhere_are_not_the_code_and_two_in_its_place_are_ambiguous():
    decoys = [("1234", 35, 24.4, 40, 26.4), ("5678", 9, 33, 14, 35)]    # the note band; left of the photo's column
    assert G.parse(placed(CARD + decoys)).number == "2285"
    with pytest.raises(FieldError, match="code_ambiguous"):
        G.parse(placed(CARD + [("9999", 66.5, 36.5, 72, 38.5)]))


def test_expiry_above_the_birth_line_is_not_a_card():
    swapped = [(t, x0, 61 - y1, x1, 61 - y0) if "生" in t or "有効" in t else (t, x0, y0, x1, y1)
               for t, x0, y0, x1, y1 in CARD]
    with pytest.raises(FieldError, match="layout_implausible"):
        G.parse(placed(swapped))


def test_an_anchor_split_at_a_wide_space_is_joined_up():
    split = [c for c in CARD if "生" not in c[0]] + [("昭和55年", 9, 19.4, 20, 22), ("2月17日生", 22, 19.4, 33, 22)]
    fields = G.parse(placed(split, 5))
    assert fields.birth == dt.date(1980, 2, 17) and G.key(fields) == "55021720352285"
    apart = [c for c in CARD if "生" not in c[0]] + [("昭和55年", 9, 19.4, 20, 22), ("2月17日生", 9, 29, 20, 31.6)]
    with pytest.raises(FieldError, match="birth_unreadable"):     # not on one row: never joined
        G.parse(placed(apart))
