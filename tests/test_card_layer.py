"""The card layer against the virtual card, over every bench backend (in-process, pcscd+vpcd, PN532)."""
import contextlib
import hashlib

import pytest

from mynareader.device.card import MyNumberCard, TokenKind, read_card_info
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
        assert card.code_b_tries() == 10


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


def test_card_face_needs_code_b_and_decodes_photo(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        code_b = b.slot.card.code_b if b.slot else None
        if code_b is None:
            pytest.skip("this backend runs the card out of process")
        with pytest.raises(SecurityNotSatisfied):
            card.read_card_face()
        with pytest.raises(WrongPin) as e:
            card.verify_code_b(Pin("0" * 14, min_len=14, max_len=14))
        assert e.value.tries_left == 9
        card.verify_code_b(Pin(code_b, min_len=14, max_len=14))
        assert card.code_b_tries() == 10
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


def test_chained_answers_read_the_same_and_spend_no_extra_try(bench):
    """A card answering T=0 style (61xx: the rest by GET RESPONSE; 6Cxx: ask again with this Le) reads the same
    through every backend: the chaining sits above them all, in Transport.transmit."""
    b = bench("fresh")
    with card_on(b) as (transport, card):
        plain_cert = card.auth_certificate().der
        card.disconnect()
        assert b.control("chain 100") == "ok" and b.control("exact-le on") == "ok"
        card.connect()
        transport.stats.reset()
        assert card.auth_certificate().der == plain_cert          # 256-byte chunks come as 100 + 100 + 56
        assert transport.stats.apdus > 2 + 3 * (len(plain_cert) // 256)
        card.verify_code_b(Pin(b.slot.card.code_b, min_len=14, max_len=14))
        assert card.read_card_face().photo().size == (180, 240)
        card.verify_pin(Pin(PIN))
        assert card.auth_certificate().verify_signature(card.sign(b"challenge"), b"challenge")
        # a READ BINARY asking past the end of the 160-byte token file: 6CA0, sent again with Le=A0
        transport.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))
        transport.transmit(bytes.fromhex("00A4020C020006"))
        resp = transport.transmit(bytes.fromhex("00B0000000"))
        assert resp[-2:] == b"\x90\x00" and len(resp) == 160 + 2
    log = list(b.slot.exchanges)
    assert any(c[1] == 0xC0 and r[-2:] == b"\x90\x00" for c, r in log)              # GET RESPONSE finished
    assert any(r[-2] == 0x61 for c, r in log)
    assert (bytes.fromhex("00B0000000"), b"\x6C\xA0") in log and bytes.fromhex("00B00000A0") in [c for c, _ in log]
    verifies = [c for c, _ in log if c[1] == 0x20 and len(c) > 5]
    assert len(verifies) == 2                                  # one 照合番号B, one PIN: nothing sent twice


@pytest.mark.parametrize("profile,code_b", [("fresh", 10), ("juki", None)])
def test_one_recipe_reads_what_the_reader_needs(bench, profile, code_b):
    b = bench(profile)
    with card_on(b) as (transport, card):
        info = read_card_info(card)
    assert info.certificate is not None and info.pin_tries == 3 and info.code_b_tries == code_b
    sent = [c for c, _ in b.slot.exchanges]
    assert not [c for c in sent if c[1] == 0x20 and len(c) > 5]     # no try consumed
