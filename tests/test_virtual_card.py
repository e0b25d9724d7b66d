"""The virtual My Number Card behaves like the real one where the reader and OpenSC depend on it."""
import datetime as dt

import pytest

from mynareader.daemon.reception.certificate_state import certificate_state
from mynareader.device import apdu
from mynareader.device.apdu import Applet, JpkiFile, KenmenFile
from mynareader.device.certificate import parse_certificate
from mynareader.device.mock.profiles import PROFILES, card_dates
from mynareader.device.mock.slot import CardSlot
from mynareader.device.mock.virtual_card import VirtualCard

TODAY = dt.date(2026, 11, 24)

# AIDs other card drivers probe with before OpenSC's jpki driver gets its turn (PIV, OpenPGP, CoolKey, CAC,
# IAS/ECC, GIDS, MUSCLE, Estonian eID, ...): the virtual card must refuse every one.
PROBE_AIDS = ["A000000308000010000100", "D27600012401", "A0000001163030", "A0000000790100", "A000000077010800070000FE00000100",
              "A000000397425446590201", "A00000000101", "A000000063504B43532D3135", "F04573744549442076657220312E30",
              "A0000000030000", "D2760000850101", "E828BD080F", "A00000016700000001"]


def sw_of(resp: bytes) -> int:
    return int.from_bytes(resp[-2:], "big")


@pytest.fixture
def card(tmp_path):
    return VirtualCard("fresh", tmp_path, TODAY)


def select(card, applet, fid=None):
    assert card.process(apdu.select_applet(applet)) == b"\x90\x00"
    if fid is not None:
        assert card.process(apdu.select_ef(fid)) == b"\x90\x00"


@pytest.mark.parametrize("aid", PROBE_AIDS)
def test_probe_selects_of_other_drivers_fail(card, aid):
    raw = bytes.fromhex(aid)
    assert sw_of(card.process(bytes([0x00, 0xA4, 0x04, 0x00, len(raw)]) + raw + b"\x00")) == 0x6A82


def test_unknown_ef_ins_and_cla(card):
    select(card, Applet.JPKI)
    assert sw_of(card.process(bytes.fromhex("00A4020C020099"))) == 0x6A82
    assert sw_of(card.process(bytes.fromhex("00CA010000"))) == 0x6D00
    assert sw_of(card.process(bytes.fromhex("B0B0000000"))) == 0x6E00


def test_pin_counter_decrements_blocks_and_query_answers_63c0(card):
    select(card, Applet.JPKI, JpkiFile.AUTH_PIN)
    assert card.process(apdu.verify_query()) == b"\x63\xC3"
    assert card.process(apdu.verify(b"1111")) == b"\x63\xC2"
    assert card.process(apdu.verify(b"1234")) == b"\x90\x00"          # success resets
    assert card.process(apdu.verify(b"1111")) == b"\x63\xC2"
    assert card.process(apdu.verify(b"1111")) == b"\x63\xC1"
    assert card.process(apdu.verify(b"1111")) == b"\x63\xC0"          # the exhausting attempt
    assert card.process(apdu.verify(b"1234")) == b"\x69\x84"          # blocked, even the right PIN
    assert card.process(apdu.verify(b"1111")) == b"\x69\x84"
    assert card.process(apdu.verify_query()) == b"\x63\xC0"
    assert card.tries("pin") == 0


def test_wrong_length_pin_does_not_touch_the_counter(card):
    select(card, Applet.JPKI, JpkiFile.AUTH_PIN)
    assert sw_of(card.process(apdu.verify(b"12345"))) == 0x6700
    assert card.tries("pin") == 3


def test_counters_persist_across_insertions(tmp_path):
    first = VirtualCard("fresh", tmp_path, TODAY)
    select(first, Applet.JPKI, JpkiFile.AUTH_PIN)
    first.process(apdu.verify(b"0000"))
    again = VirtualCard("fresh", tmp_path, TODAY)
    assert again.tries("pin") == 2
    assert again.files[(Applet.JPKI, JpkiFile.AUTH_CERT)][0] == first.files[(Applet.JPKI, JpkiFile.AUTH_CERT)][0]


def test_power_off_clears_verified_state(card):
    select(card, Applet.JPKI, JpkiFile.AUTH_PIN)
    assert card.process(apdu.verify(b"1234")) == b"\x90\x00"
    assert card.process(apdu.verify_query()) == b"\x90\x00"
    card.power_off()
    select(card, Applet.JPKI, JpkiFile.AUTH_PIN)
    assert card.process(apdu.verify_query()) == b"\x63\xC3"
    select(card, Applet.JPKI, JpkiFile.AUTH_KEY)
    assert sw_of(card.process(apdu.compute_signature(apdu.sha256_digest_info(bytes(32))))) == 0x6982


def test_signature_certificate_needs_the_signature_password(card):
    select(card, Applet.JPKI, JpkiFile.SIGN_CERT)
    assert sw_of(card.process(apdu.read_binary(0, 4))) == 0x6982
    select(card, Applet.JPKI, JpkiFile.SIGN_PIN)
    assert card.process(apdu.verify_query()) == b"\x63\xC5"
    assert card.process(apdu.verify(b"ABC123")) == b"\x90\x00"
    select(card, Applet.JPKI, JpkiFile.SIGN_CERT)
    assert card.process(apdu.read_binary(0, 4))[:2] == b"\x30\x82"


def test_read_binary_sizes_and_end_of_file(card):
    select(card, Applet.JPKI, JpkiFile.AUTH_CERT)
    head = card.process(apdu.read_binary(0, 4))
    assert head[:2] == b"\x30\x82" and head[-2:] == b"\x90\x00"
    size = (head[2] << 8 | head[3]) + 4
    tail = card.process(apdu.read_binary(size - 10, 256))
    assert len(tail) == 10 + 2 and tail[-2:] == b"\x90\x00"           # short read at EOF
    assert card.process(apdu.read_binary(size, 1)) == b"\x6B\x00"
    select(card, Applet.JPKI, JpkiFile.AUTH_PIN)
    assert sw_of(card.process(apdu.read_binary(0, 4))) == 0x6986      # a PIN is not readable


def test_code_b_counter_is_ten_and_guards_the_card_face(card):
    select(card, Applet.KENMEN, KenmenFile.CARD_FACE)
    assert sw_of(card.process(apdu.read_binary(0, 5))) == 0x6982
    select(card, Applet.KENMEN, KenmenFile.CHECK_CODE_B)
    assert card.process(apdu.verify_query()) == b"\x63\xCA"
    assert card.process(apdu.verify(b"0" * 14)) == b"\x63\xC9"
    assert card.process(apdu.verify(card.code_b.encode())) == b"\x90\x00"
    select(card, Applet.KENMEN, KenmenFile.CARD_FACE)
    assert card.process(apdu.read_binary(0, 5))[:3] == b"\xFF\x20\x82"


@pytest.mark.parametrize("name", list(PROFILES))
def test_certificate_expires_on_the_5th_birthday_after_issue(tmp_path, name):
    card = VirtualCard(name, tmp_path, TODAY)
    d = card_dates(PROFILES[name], TODAY)
    cert = parse_certificate(card.files[(Applet.JPKI, JpkiFile.AUTH_CERT)][0])
    assert cert.not_after.date() == d.cert_not_after
    assert (d.cert_not_after.month, d.cert_not_after.day) == (d.birth.month, d.birth.day)
    birthdays_after_issue = [d.birth.replace(year=y) for y in range(d.issued.year, d.issued.year + 7)
                             if d.birth.replace(year=y) > d.issued]
    assert birthdays_after_issue[4] == d.cert_not_after
    assert cert.der[:2] == b"\x30\x82"


@pytest.mark.parametrize("name,state", [("fresh", "valid"), ("renewal", "renewal_due"), ("grace", "grace"),
                                        ("expired", "expired"), ("last-try", "valid")])
def test_profiles_land_in_their_certificate_state(tmp_path, name, state):
    card = VirtualCard(name, tmp_path, TODAY)
    cert = parse_certificate(card.files[(Applet.JPKI, JpkiFile.AUTH_CERT)][0])
    assert certificate_state(cert.not_after, TODAY).value == state


def test_profiles_counters(tmp_path):
    assert VirtualCard("last-try", tmp_path, TODAY).tries("pin") == 1
    assert VirtualCard("blocked", tmp_path, TODAY).tries("pin") == 0
    juki = VirtualCard("juki", tmp_path, TODAY)
    assert sw_of(juki.process(apdu.select_applet(Applet.KENMEN))) == 0x6A82


def test_slot_control_commands(tmp_path):
    slot = CardSlot(tmp_path, None)
    assert slot.control("status") == "ok empty"
    assert slot.control("insert nosuch").startswith("error")
    assert slot.control("insert fresh") == "ok"
    assert slot.control("set-tries 1") == "ok" and slot.card.tries("pin") == 1
    assert slot.control("fail 6F00") == "ok"
    assert slot.process(apdu.select_applet(Applet.JPKI)) == b"\x6F\x00"
    assert slot.process(apdu.select_applet(Applet.JPKI)) == b"\x90\x00"
    assert slot.control("frobnicate").startswith("error unknown command")
    assert slot.control("remove") == "ok" and not slot.present


def test_a_replaced_key_file_is_read_again(tmp_path):
    """The bench keeps parsed keys (parsing holds the interpreter lock ~28 ms a key, stalling an in-process
    daemon's loop at every insert), but a key file written anew must give the new key, as a new card would."""
    import os
    from mynareader.device.mock.pki import TestPki
    pki = TestPki(tmp_path)
    auth, _ = pki.holder_keys("fresh")
    assert pki.holder_keys("fresh")[0] is auth           # kept, not parsed again
    path = tmp_path / "fresh.auth.key.pem"
    other = TestPki(tmp_path / "other").holder_keys("fresh")[0]
    os.replace(tmp_path / "other" / "fresh.auth.key.pem", path)
    os.utime(path, ns=(1, 1))                           # a different mtime, whatever the clock's resolution
    again, _ = pki.holder_keys("fresh")
    assert again.public_key().public_numbers() == other.public_key().public_numbers()
    assert again.public_key().public_numbers() != auth.public_key().public_numbers()
