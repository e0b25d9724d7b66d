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
    (("昭和55年 3月17日", 0.25, 0.38), "birth_unreadable"),     # no 生, and not the expiry's month and day
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


def boxed(text: str, start: float, y: float, width: float, height: float) -> Line:
    """A line with its box: ``start`` and ``y`` (centre) as fractions of the flattened card, sizes in px."""
    x0, y0 = start * 856, y * 540 - height / 2
    quad = ((x0, y0), (x0 + width, y0), (x0 + width, y0 + height), (x0, y0 + height))
    return Line(text, x0 + width / 2, y * 540, 0.99, quad)


def card_with(birth: str | None, expiry: str | None) -> list[tuple[str, float, float]]:
    """CARD with its birth and expiry lines replaced (None: wiped)."""
    out = [c for c in CARD if "生" not in c[0] and "まで有効" not in c[0]]
    if birth is not None:
        out.append((birth, 0.25, 0.38))
    if expiry is not None:
        out.append((expiry, 0.25, 0.77))
    return out


@pytest.mark.parametrize("birth", ["昭和55年 2月17日", "昭和55年 2月17"])
def test_a_birth_line_that_lost_its_anchor_is_taken_when_the_expiry_vouches_for_its_month_and_day(birth):
    """A glare over 「日生」: the card prints the birthday's month and day again in the expiry."""
    fields = G.parse(lines(*card_with(birth, "2035年 2月17日まで有効")))
    assert G.key(fields) == "55021720352285"


@pytest.mark.parametrize("birth", ["昭和55年 2月", "昭和55年 2月1", "昭和55年 3月17日", "令和6年 4月 1日"])
def test_a_bare_era_date_the_expiry_does_not_vouch_for_is_not_the_birth(birth):
    with pytest.raises(FieldError, match="birth_unreadable"):
        G.parse(lines(*card_with(birth, "2035年 2月17日まで有効")))


@pytest.mark.parametrize("expiry", ["2035年 2月17日", "2035年日まで有効", "2035年 2月1まで有効", "2035年まで"])
def test_an_expiry_line_that_lost_its_anchor_or_its_day_keeps_its_year(expiry):
    """「2035年 2月17日」 (its まで有効 wiped) is vouched for by the birthday; 「2035年…日まで有効」 by its tail."""
    card = card_with("昭和55年 2月17日生", expiry)
    if expiry == "2035年まで":
        with pytest.raises(FieldError, match="expiry_unreadable"):     # a bare year says nothing of itself
            G.parse(lines(*card))
        return
    assert G.key(G.parse(lines(*card))) == "55021720352285"


@pytest.mark.parametrize("decoy", ["2024年 4月 1日", "2024年", "2035年 3月", "2035年 2月まで", "2035年 2月17"])
def test_other_dates_without_an_anchor_are_not_taken_for_the_expiry(decoy):
    """The 追記欄's 「2024年 4月 1日 転入」 with its 転入 wiped, or any bare year, is not the expiry."""
    with pytest.raises(FieldError, match="expiry_unreadable"):
        G.parse(lines(*card_with("昭和55年 2月17日生", None), (decoy, 0.25, 0.77)))


def test_a_bare_year_under_the_expiry_label_is_the_expiry():
    """Glare over all but 「2035年」: the 有効期限 label printed just above it says what it is."""
    base = [Line(t, x * 856, y * 540, 0.99) for t, x, y in card_with("昭和55年 2月17日生", None) if t != "有効期限"]
    label = boxed("有効期限", 0.03, 0.71, 80, 14)
    year = boxed("2035年", 0.05, 0.77, 60, 22)
    assert G.key(G.parse(base + [label, year])) == "55021720352285"
    cut = boxed("2035年 2", 0.05, 0.77, 80, 22)            # the month's first digit before the glare
    assert G.key(G.parse(base + [label, cut])) == "55021720352285"
    other = boxed("2035年 3", 0.05, 0.77, 80, 22)
    with pytest.raises(FieldError, match="expiry_unreadable"):
        G.parse(base + [label, other])
    far = boxed("2035年", 0.05, 0.90, 60, 22)              # well below the label: not its line
    with pytest.raises(FieldError, match="expiry_unreadable"):
        G.parse(base + [label, far])
    with pytest.raises(FieldError, match="expiry_unreadable"):
        G.parse(base + [year])


def test_a_past_date_on_the_birthday_taken_for_the_expiry_is_stopped_by_the_chip():
    """The one decoy the parser cannot tell: a 追記欄 date that falls on the birthday, its 転入 wiped. A card's
    certificate ends on a birthday before the card does, so the chip refuses a past year."""
    fields = G.parse(lines(*card_with("昭和55年 2月17日生", None), ("2024年 2月17日", 0.25, 0.77)))
    assert fields.expiry == dt.date(2024, 2, 17)
    cert_end = dt.datetime(2030, 2, 17, 14, 59, 59, tzinfo=dt.timezone.utc)
    assert chip_disagreement(fields, ChipHints(1, cert_end)) == "certificate_outlives_card"
