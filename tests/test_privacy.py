"""The individual number (個人番号) is never read: no command path can select its applets or EF 0001."""
import pytest
from hypothesis import given, settings, strategies as st

from mynareader.device import apdu
from mynareader.device.apdu import FORBIDDEN_AIDS, Applet, PrivacyGuard
from mynareader.device.card import MyNumberCard
from mynareader.device.errors import PrivacyViolation
from mynareader.device.mock.slot import CardSlot
from mynareader.device.pin import Pin
from mynareader.device.mock.sim import SimTransport

HOJO = bytes.fromhex("D3921000310001010408")
COMMON = bytes.fromhex("D3921000310001010100")


def _forbidden(log):
    """APDUs in a log that would reach the individual number."""
    bad, applet = [], None
    for cmd in log:
        if cmd[1] == 0xA4 and cmd[2] == 0x04:
            applet = cmd[5:5 + cmd[4]]
            if applet in (HOJO, COMMON):
                bad.append(cmd)
        elif applet != Applet.JPKI.value and cmd[1] == 0xA4 and cmd[5:7] == b"\x00\x01":
            bad.append(cmd)
        elif applet != Applet.JPKI.value and cmd[1] == 0xB0 and cmd[2] == 0x81:
            bad.append(cmd)
    return bad


def test_every_card_operation_avoids_the_individual_number(tmp_path):
    slot = CardSlot(tmp_path, "fresh")
    transport = SimTransport(slot)
    card = MyNumberCard(transport)
    card.connect()
    card.token()
    card.auth_certificate()
    card.auth_ca_certificate()
    card.pin_tries()
    card.code_b_tries()
    card.verify_code_b(Pin(slot.card.code_b, min_len=14, max_len=14))
    card.read_card_face()
    card.verify_pin(Pin("1234"))
    card.sign(b"challenge")
    assert len(slot.apdu_log) > 20
    assert _forbidden(slot.apdu_log) == []
    # and the card layer has no name for the forbidden applets at all
    assert not set(FORBIDDEN_AIDS) & {a.value for a in Applet}


@pytest.mark.parametrize("aid", [HOJO, COMMON, HOJO[:7]])
def test_guard_refuses_forbidden_applets_whoever_builds_the_apdu(tmp_path, aid):
    transport = SimTransport(CardSlot(tmp_path, "fresh"))
    transport.connect()
    with pytest.raises(PrivacyViolation):
        transport.transmit(bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid)
    assert transport.slot.apdu_log == []   # nothing reached the card


def test_guard_refuses_ef_0001_outside_jpki_by_fid_and_sfi():
    guard = PrivacyGuard()
    guard.check(apdu.select_applet(Applet.KENMEN))
    with pytest.raises(PrivacyViolation):
        guard.check(bytes.fromhex("00A4020C020001"))
    with pytest.raises(PrivacyViolation):
        guard.check(bytes.fromhex("00B0810000"))
    guard.check(apdu.select_applet(Applet.JPKI))
    guard.check(bytes.fromhex("00A4020C020001"))  # JPKI's EF 0001 is the signature certificate: allowed


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=4, max_size=24), max_size=12))
def test_no_apdu_sequence_passes_the_guard_into_forbidden_files(commands):
    guard = PrivacyGuard()
    passed = []
    for cmd in commands:
        try:
            guard.check(cmd)
        except PrivacyViolation:
            continue
        passed.append(cmd)
    assert _forbidden([c for c in passed if len(c) >= 7 or c[1] == 0xB0]) == []
