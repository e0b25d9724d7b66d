"""The card-face parser and key builder against the facts of reference/cardface.md, not against each other."""
import datetime as dt

import pytest

from mynareader.daemon.cardface.fields import (GENERATIONS, FieldError, Fields, Line, parse_birth, parse_code,
                                               parse_expiry)
from mynareader.daemon.cardface.reader import ChipHints, chip_disagreement

G = GENERATIONS["2020"]


@pytest.mark.parametrize("printed, born", [
    ("昭和55年 2月17日生", dt.date(1980, 2, 17)),
    ("明治45年 7月29日生", dt.date(1912, 7, 29)),
    ("大正元年 8月 1日生", dt.date(1912, 8, 1)),
    ("大正15年12月24日生", dt.date(1926, 12, 24)),
    ("昭和元年12月25日生", dt.date(1926, 12, 25)),
    ("昭和64年 1月 7日生", dt.date(1989, 1, 7)),
    ("平成元年 1月 8日生", dt.date(1989, 1, 8)),
    ("平成31年 4月30日生", dt.date(2019, 4, 30)),
    ("令和元年 5月 1日生", dt.date(2019, 5, 1)),
    ("令和6年11月3日生", dt.date(2024, 11, 3)),
])
def test_every_era_and_gannen(printed, born):
    assert parse_birth(printed) == (born, False)


@pytest.mark.parametrize("printed", ["平成元年 1月 7日生", "昭和64年 1月 8日生", "令和元年 4月30日生", "大正16年 1月 1日生",
                                     "平成0年 3月 1日生"])
def test_a_year_outside_its_era_is_not_a_date(printed):
    with pytest.raises(FieldError):
        parse_birth(printed)


@pytest.mark.parametrize("printed, born", [
    ("1985年 4月 3日生", dt.date(1985, 4, 3)),
    ("２０１９年　５月　１日生", dt.date(2019, 5, 1)),
])
def test_gregorian_birth_dates_of_foreign_residents(printed, born):
    assert parse_birth(printed) == (born, True)


@pytest.mark.parametrize("ocr_text", [
    "昭和５５年　２月１７日生",         # full-width digits and space
    "昭和55年2月17日生",                # no spaces
    "昭和 55 年  2 月 17 日 生",        # spaces everywhere
    "昭和55年 2月17目生",               # 日 read as 目
    "昭和55年 2月I7日生",               # 1 read as I
    "昭和55年 2月l7曰生",               # 1 read as l, 日 as 曰
])
def test_usual_ocr_slips(ocr_text):
    assert parse_birth(ocr_text) == (dt.date(1980, 2, 17), False)


def test_expiry_and_code_slips():
    assert parse_expiry("2O35年 2月17日まで有効") == dt.date(2035, 2, 17)
    assert parse_expiry("２０３５年　２月１７日まで有効") == dt.date(2035, 2, 17)
    assert parse_code("22O5") == "2205" and parse_code("I285") == "1285" and parse_code("２２８５") == "2285"
    for bad in ("22B5", "228", "22855", "2 2 8"):
        with pytest.raises(FieldError):
            parse_code(bad)
    with pytest.raises(FieldError, match="expiry_not_a_date"):
        parse_expiry("2035年 2月30日まで有効")


def lines(*texts_at):
    """Lines at (x, y) given as fractions of the card, placed on the flattened card (856 x 540 px)."""
    return [Line(text, x * 856, y * 540, 0.99) for text, x, y in texts_at]


CARD = [("氏名", 0.05, 0.07), ("番号花子", 0.2, 0.07), ("東京都千代田区霞が関1丁目1番1号", 0.3, 0.2),
        ("昭和55年 2月17日生", 0.25, 0.38), ("2024年 4月 1日 転入", 0.25, 0.47), ("2285", 0.8, 0.63),
        ("有効期限", 0.08, 0.71), ("2035年 2月17日まで有効", 0.25, 0.77)]


def test_key_of_the_reference_card():
    fields = G.parse(lines(*CARD))
    assert G.key(fields) == "55021720352285"          # reference/cardface.md, confirmed on a real card


def test_gannen_key_is_01():
    card = [c if "生" not in c[0] else ("平成元年 3月 1日生", 0.25, 0.38) for c in CARD]
    card = [c if "有効" not in c[0] or c[0] == "有効期限" else ("2031年 3月 1日まで有効", 0.25, 0.77) for c in card]
    assert G.key(G.parse(lines(*card))) == "01030120312285"


def test_gregorian_birth_becomes_the_era_year_in_the_key():
    card = [c if "生" not in c[0] else ("1980年 2月17日生", 0.25, 0.38) for c in CARD]
    assert G.key(G.parse(lines(*card))) == "55021720352285"


def test_other_dates_in_the_note_field_are_not_taken():
    fields = G.parse(lines(*CARD))
    assert fields.expiry == dt.date(2035, 2, 17) and fields.birth == dt.date(1980, 2, 17)


@pytest.mark.parametrize("change, reason", [
    (("2035年 3月17日まで有効", 0.25, 0.77), "expiry_not_on_birthday"),      # the card expires on a birthday
    (("2285", 0.3, 0.2), "code_unreadable"),                                  # 4 digits not under the photo
    (("昭和55年 2月17日", 0.25, 0.38), "birth_unreadable"),                   # no 生: not the birth line
])
def test_consistency_checks(change, reason):
    card = list(CARD)
    index = {"expiry_not_on_birthday": 7, "code_unreadable": 5, "birth_unreadable": 3}[reason]
    card[index] = change
    with pytest.raises(FieldError, match=reason):
        G.parse(lines(*card))


def test_two_different_birth_lines_are_ambiguous_and_low_scores_are_refused():
    with pytest.raises(FieldError, match="birth_ambiguous"):
        G.parse(lines(*CARD, ("昭和56年 2月17日生", 0.25, 0.5)))
    weak = [Line(t, x * 856, y * 540, 0.5 if t == "2285" else 0.99) for t, x, y in CARD]
    with pytest.raises(FieldError, match="code_low_confidence"):
        G.parse(weak)


def test_leap_day_birth_expires_on_1_march():
    card = [c if "生" not in c[0] else ("平成8年 2月29日生", 0.25, 0.38) for c in CARD]
    card = [c if "まで有効" not in c[0] else ("2035年 3月 1日まで有効", 0.25, 0.77) for c in card]
    assert G.parse(lines(*card)).birth == dt.date(1996, 2, 29)


def test_the_chip_certificate_must_end_on_the_printed_birthday():
    fields = Fields("2020", dt.date(1980, 2, 17), dt.date(2035, 2, 17), "2285")
    jst_end = dt.datetime(2030, 2, 17, 14, 59, 59, tzinfo=dt.timezone.utc)     # 23:59:59 JST on the birthday
    assert chip_disagreement(fields, ChipHints(1, jst_end)) is None
    assert chip_disagreement(fields, ChipHints(1, jst_end + dt.timedelta(days=1))) == "certificate_not_on_birthday"
    late = dt.datetime(2036, 2, 17, 14, 59, 59, tzinfo=dt.timezone.utc)
    assert chip_disagreement(fields, ChipHints(1, late)) == "certificate_outlives_card"


def test_fields_and_lines_never_show_their_values():
    fields = G.parse(lines(*CARD))
    assert "1980" not in repr(fields) and "2285" not in repr(fields)
    assert "2285" not in repr(Line("2285", 0.8, 0.6, 1.0))


def test_one_doubtful_digit_is_not_hidden_by_a_good_mean():
    """「8459」 once read 「8450」 at a mean of 0.87, the last digit at 0.50: the field is not taken."""
    card = [Line(t, x * 856, y * 540, 0.99) for t, x, y in CARD if t != "2285"]
    sure = G.parse(card + [Line("8450", 0.8 * 856, 0.63 * 540, 0.87, weakest=0.9)])
    assert sure.number == "8450"
    with pytest.raises(FieldError, match="code_low_confidence"):
        G.parse(card + [Line("8450", 0.8 * 856, 0.63 * 540, 0.87, weakest=0.5)])
