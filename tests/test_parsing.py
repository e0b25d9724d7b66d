"""Pure parsing of what a card (or a hostile device) answers: typed errors, never a crash or a hang."""
import datetime as dt

import pytest
from hypothesis import given, settings, strategies as st

from mynareader.device import apdu, tlv
from mynareader.device.cardface import code_b_of, era_year, parse_card_face
from mynareader.device.certificate import parse_certificate
from mynareader.device.errors import (MalformedResponse, NotFound, PinBlocked, SecurityNotSatisfied,
                                      UnexpectedStatus, WrongPin)

FAST = settings(max_examples=300, deadline=None)


@FAST
@given(st.binary(max_size=600))
def test_tlv_parse_random_bytes_is_typed(buf):
    try:
        parsed = tlv.parse(buf)
    except MalformedResponse:
        return
    assert all(isinstance(v, bytes) for v in parsed.values())


@FAST
@given(st.dictionaries(st.sampled_from([0x01, 0x5F24, 0xDF21, 0xDF22, 0xDF27, 0xFF20]),
                       st.binary(max_size=700), max_size=5))
def test_tlv_encode_parse_round_trip(items):
    buf = b"".join(tlv.encode(t, v) for t, v in items.items())
    assert tlv.parse(buf) == items


@FAST
@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=299))
def test_truncated_tlv_is_malformed(value, cut):
    buf = tlv.encode(0xDF27, value)
    if cut < len(buf):
        with pytest.raises(MalformedResponse):
            tlv.parse(buf[:cut])


def test_der_total_length_uses_the_30_82_header():
    assert tlv.der_total_length(bytes.fromhex("3082033C")) == 0x33C + 4
    with pytest.raises(MalformedResponse):
        tlv.der_total_length(b"\x31\x82\x00\x10")
    with pytest.raises(MalformedResponse):
        tlv.der_total_length(b"\x30")


@FAST
@given(st.binary(max_size=400))
def test_certificate_parse_random_bytes_is_typed(buf):
    with pytest.raises(MalformedResponse):
        parse_certificate(b"\x30\x82" + buf)


@FAST
@given(st.binary(max_size=400))
def test_card_face_random_bytes_is_typed(buf):
    with pytest.raises(MalformedResponse):
        parse_card_face(buf)


def test_card_face_missing_photo_and_bad_dates_are_typed():
    inner = tlv.encode(0xDF22, b"19800217") + tlv.encode(0xDF29, b"20350217")
    with pytest.raises(MalformedResponse, match="DF27"):
        parse_card_face(tlv.encode(0xFF20, inner))
    bad = tlv.encode(0xDF22, b"1980-2-7") + tlv.encode(0xDF29, b"20350217") + tlv.encode(0xDF27, b"x")
    with pytest.raises(MalformedResponse):
        parse_card_face(tlv.encode(0xFF20, bad))


@pytest.mark.parametrize("sw,error", [(0x6A82, NotFound), (0x6982, SecurityNotSatisfied), (0x6F00, UnexpectedStatus)])
def test_status_words_map_to_typed_errors(sw, error):
    with pytest.raises(error):
        apdu.check(sw.to_bytes(2, "big"))


def test_verify_status_words():
    with pytest.raises(WrongPin) as e:
        apdu.check(b"\x63\xC1", pin=True)
    assert e.value.tries_left == 1
    with pytest.raises(PinBlocked):
        apdu.check(b"\x69\x84", pin=True)
    assert apdu.tries_from_query(b"\x63\xC0", 3) == 0
    assert apdu.tries_from_query(b"\x69\x84", 3) == 0
    assert apdu.tries_from_query(b"\x90\x00", 3) == 3
    with pytest.raises(MalformedResponse):
        apdu.check(b"\x90")


@FAST
@given(st.binary(max_size=260))
def test_any_response_is_data_or_typed_error(resp):
    try:
        apdu.check(resp, pin=True)
    except (MalformedResponse, UnexpectedStatus, NotFound, SecurityNotSatisfied, WrongPin, PinBlocked):
        pass


def test_redact_hides_verify_data():
    text = apdu.redact(apdu.verify(b"1234"))
    assert "31 32 33 34" not in text and "redacted" in text


def test_code_b_uses_the_japanese_era():
    assert code_b_of(dt.date(1980, 2, 17), 2035, "2285") == "55021720352285"   # 昭和55
    assert era_year(dt.date(1989, 1, 8)) == 1                                      # 平成元年
    assert era_year(dt.date(2019, 5, 1)) == 1                                      # 令和元年
    assert code_b_of(dt.date(2000, 12, 1), 2031, "0007") == "12120120310007"    # 平成12
