"""Each token kind's recipe (device/tokens.py, card.read_card_info) against its virtual token, over every bench
backend (in-process, pcscd+vpcd, the PN532 emulator: the phones answer there as Type A targets)."""
import time

import pytest

from mynareader.device import card as card_recipes, tokens
from mynareader.device.card import MyNumberCard, read_card_info, read_certificate
from mynareader.device.errors import SecurityNotSatisfied, UnexpectedStatus
from mynareader.device.pin import Pin
from mynareader.device.tokens import TOKENS, TokenKind, Unlock

from test_card_layer import PIN, card_on


def _verifies_with_data(bench_obj) -> list[bytes]:
    return [c for c, _ in bench_obj.slot.exchanges if c[1] == 0x20 and len(c) > 5]


def test_android_gives_tries_first_and_the_certificate_only_after_verify(bench):
    b = bench("android")
    with card_on(b) as (transport, card):
        info = read_card_info(card)
        assert (info.token, info.certificate, info.pin_tries, info.code_b_tries) == (TokenKind.ANDROID, None, 5, None)
        assert not _verifies_with_data(b)                        # the first read spends nothing
        with pytest.raises(SecurityNotSatisfied):               # the phone answers 6982 before VERIFY
            read_certificate(card)
        card.verify_pin(Pin(PIN))
        cert = read_certificate(card)
        assert cert.verify_signature(card.sign(b"challenge"), b"challenge")
    sent = [c for c, _ in b.slot.exchanges]
    assert bytes.fromhex("00200080") in sent                    # tries by VERIFY without data (jpki/myna)
    assert len(_verifies_with_data(b)) == 1


def test_iphone_is_never_asked_for_a_pin_and_says_locked_until_unlocked(bench):
    b = bench("iphone")
    with card_on(b) as (transport, card):
        info = read_card_info(card)
        assert (info.token, info.certificate, info.pin_tries, info.locked) == (TokenKind.IPHONE, None, None, True)
        with pytest.raises(SecurityNotSatisfied):
            card.sign(b"challenge")
        assert b.control("unlock 30") == "ok"
        info = read_card_info(card)
        assert info.certificate is not None and not info.locked
        assert info.certificate.verify_signature(card.sign(b"challenge"), b"challenge")
    assert not [c for c, _ in b.slot.exchanges if c[1] == 0x20]   # no VERIFY of any kind, not even the query


def test_iphone_unlock_runs_out(bench):
    b = bench("iphone")
    assert b.control("unlock 0.3") == "ok"
    time.sleep(0.6)
    with card_on(b) as (transport, card):
        assert read_card_info(card).locked


def test_pinless_card_offers_its_card_face_and_no_pin(bench):
    b = bench("pinless")
    with card_on(b) as (transport, card):
        info = read_card_info(card)
        assert (info.token, info.pin_tries, info.code_b_tries) == (TokenKind.PINLESS, None, 10)
        assert info.certificate is not None
        with pytest.raises(SecurityNotSatisfied):                # no PIN, so no signature
            card.sign(b"challenge")
    assert not _verifies_with_data(b)


def test_an_unknown_answer_to_the_pin_query_is_a_clear_fault_not_a_guess(bench):
    b = bench("fresh")
    with card_on(b) as (transport, card):
        card.auth_certificate()
        card.token()
        assert b.control("fail 6F00") == "ok"                    # the next APDU (SELECT EF 0018) answers 6F00
        with pytest.raises(UnexpectedStatus) as err:
            read_card_info(card)
        assert "6F00" in str(err.value)
    assert not _verifies_with_data(b)


def test_an_iphone_refusing_anyhow_is_taken_as_locked(bench):
    b = bench("iphone")
    with card_on(b) as (transport, card):
        assert card.token() is TokenKind.IPHONE
        assert b.control("unlock 30") == "ok" and b.control("fail 6A82") == "ok"   # the certificate's SELECT
        assert card_recipes._read_phone(card, TokenKind.IPHONE).locked


def test_the_token_table_decides_methods_and_marks_its_evidence():
    assert TOKENS[TokenKind.MYNUMBER].methods == ("face", "pin", "staff")
    assert TOKENS[TokenKind.PINLESS].methods == ("face", "staff")
    assert TOKENS[TokenKind.ANDROID].methods == ("pin",)
    assert TOKENS[TokenKind.IPHONE].methods == () and TOKENS[TokenKind.IPHONE].unlock is Unlock.DEVICE
    assert not any(TOKENS[k].grace or TOKENS[k].card_face for k in (TokenKind.ANDROID, TokenKind.IPHONE))
    assert TOKENS[TokenKind.ANDROID].pin_max is None                    # never assumed: read from the phone
    for token in TOKENS.values():
        for _behaviour, evidence in token.evidence:
            assert evidence.split(":")[0] in ("confirmed", "assumed")
    assert tokens.NO_PIN_ANSWERS == {0x6A82, 0x6A88}


def test_pn532_polls_type_a_after_type_b_and_makes_the_pcsc_atr():
    from mynareader.device.pn532 import atr_type_a
    from mynareader.device.mock.pn532_emulator import TYPE_A_TARGET
    from mynareader.device.mock.profiles import ATR_TYPE_A
    assert atr_type_a(TYPE_A_TARGET[9:]) == ATR_TYPE_A                 # the ATS after its length byte
    # T0 78: TA TB TC follow, then the historical bytes AB CD; TCK is the XOR of everything after 3B
    assert atr_type_a(bytes([0x78, 0x80, 0x70, 0x02, 0xAB, 0xCD])) == bytes.fromhex("3B828001ABCD65")


@pytest.mark.parametrize("profile,rf", [("android", 0x00), ("iphone", 0x00), ("fresh", 0x03)])
def test_the_pn532_finds_each_token_on_its_own_type(tmp_path, profile, rf):
    from helpers.bench_pn532 import start_pn532_bench
    with start_pn532_bench(profile, tmp_path) as b:
        with card_on(b) as (transport, card):
            assert card.token() is {"android": TokenKind.ANDROID, "iphone": TokenKind.IPHONE,
                                    "fresh": TokenKind.MYNUMBER}[profile]
        polls = [p for p in b.emulator.commands_seen if p[1] == 0x4A]
        assert polls[0][3] == 0x03                                    # Type B first: the card
        assert any(p[3] == rf for p in polls)


def test_docs_list_every_modelled_behaviour_with_its_evidence():
    from pathlib import Path
    text = (Path(__file__).parents[1] / "docs" / "card.md").read_text(encoding="utf-8")
    block = text.split("<!-- evidence:begin")[1].split("<!-- evidence:end -->")[0]
    rows = {tuple(cell.strip() for cell in line.strip("|").split("|"))
            for line in block.splitlines() if line.startswith("| ") and not line.startswith("| token")}
    expected = {(t.kind.value, behaviour, evidence) for t in TOKENS.values() for behaviour, evidence in t.evidence}
    assert rows == expected
