"""The card layer against the virtual card, over every bench backend (in-process, pcscd+vpcd, PN532)."""
import contextlib
import hashlib

import pytest

from mynareader.device.card import MyNumberCard, TokenKind
from mynareader.device.errors import CardRemoved, PinBlocked, SecurityNotSatisfied, WrongPin
from mynareader.device.pin import Pin

PIN = "1234"


@contextlib.contextmanager
def card_on(bench_obj):
    """The card on a started bench, connected; the transport is closed afterwards."""
    transport = bench_obj.open()
    try:
        bench_obj.wait_present(transport)
        card = MyNumberCard(transport)
        card.connect()
        yield transport, card
    finally:
        transport.close()


def test_reads_certificate_token_and_counters(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        assert card.token() is TokenKind.MYNUMBER
        cert = card.auth_certificate()
        ca = card.auth_ca_certificate()
        assert cert.der[:2] == b"\x30\x82" and len(cert.der) == (cert.der[2] << 8 | cert.der[3]) + 4
        assert cert.issuer == ca.subject
        assert card.pin_tries() == 3
        assert card.kenmen_tries() == 10


def test_wrong_pin_three_times_blocks_and_right_pin_resets(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        with pytest.raises(WrongPin) as e1:
            card.verify_pin(Pin("0000"))
        assert e1.value.tries_left == 2 and card.pin_tries() == 2
        card.verify_pin(Pin(PIN))                      # success resets the counter
        transport.disconnect()
        card.connect()
        assert card.pin_tries() == 3
        for left in (2, 1, 0):
            with pytest.raises(WrongPin) as e:
                card.verify_pin(Pin("9999"))
            assert e.value.tries_left == left
        assert card.pin_tries() == 0                   # the query answers 63C0 when blocked
        with pytest.raises(PinBlocked):
            card.verify_pin(Pin(PIN))                  # even the right PIN is refused now
        assert card.pin_tries() == 0


def test_signature_needs_pin_and_verifies_under_certificate(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        cert = card.auth_certificate()
        with pytest.raises(SecurityNotSatisfied):
            card.sign(b"challenge")
        card.verify_pin(Pin(PIN))
        signature = card.sign_digest(hashlib.sha256(b"challenge").digest())
        assert len(signature) == 256
        assert cert.verify_signature(signature, b"challenge")
        assert not cert.verify_signature(signature, b"another challenge")


def test_verified_state_is_cleared_by_reconnect(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        card.verify_pin(Pin(PIN))
        card.sign(b"x")
        card.disconnect()
        card.connect()
        with pytest.raises(SecurityNotSatisfied):
            card.sign(b"x")


def test_card_face_needs_check_code_b_and_decodes_photo(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        code_b = b.slot.card.check_code_b if b.slot else None
        if code_b is None:
            pytest.skip("this backend runs the card out of process")
        with pytest.raises(SecurityNotSatisfied):
            card.read_card_face()
        with pytest.raises(WrongPin) as e:
            card.verify_kenmen_b(Pin("0" * 14, min_len=14, max_len=14))
        assert e.value.tries_left == 9
        card.verify_kenmen_b(Pin(code_b, min_len=14, max_len=14))
        assert card.kenmen_tries() == 10
        face = card.read_card_face()
        photo = face.photo()
        assert photo.size == (180, 240)
        assert face.expiry > face.birth_date
        assert "photo" in repr(face) and str(face.birth_date.year) not in repr(face)


def test_removal_mid_read_is_card_removed(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        assert b.control("pull-after 3") == "ok"      # select applet, select EF, first chunk; then gone
        with pytest.raises(CardRemoved):
            card.auth_certificate()


def test_reinsertion_keeps_counters(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        with pytest.raises(WrongPin):
            card.verify_pin(Pin("0000"))
        assert b.control("remove") == "ok"
        assert transport.wait_for_change(True, 15)
        assert b.control("insert fresh") == "ok"
        b.wait_present(transport)
        card.connect()
        assert card.pin_tries() == 2


@pytest.mark.parametrize("profile,token", [("juki", TokenKind.JUKI), ("android", TokenKind.ANDROID)])
def test_token_classification(bench, profile, token):
    b = bench(profile)
    with card_on(b) as (transport, card):
        assert card.token() is token
