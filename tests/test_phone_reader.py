"""A phone reader beside the card reader (devices.phone_reader): one session at a time, first arrival wins."""
import subprocess

import pytest

from mynareader.device.card import MyNumberCard, read_card_info
from mynareader.device.mock.sim import SimTransport
from mynareader.device.mock.slot import CardSlot
from mynareader.device.reader_pair import ReaderPair
from mynareader.device.tokens import TokenKind

from helpers.daemon_process import EXE, BenchDaemon


def pair(tmp_path):
    card, phone = CardSlot(tmp_path / "card"), CardSlot(tmp_path / "phone")
    return card, phone, ReaderPair(SimTransport(card), SimTransport(phone))


def test_first_arrival_is_served_and_the_other_waits_its_turn(tmp_path):
    card, phone, readers = pair(tmp_path)
    assert not readers.card_present()
    phone.insert("android")
    assert readers.wait_for_change(False, 2)
    card.insert("fresh")                                     # arrives second: waits
    c = MyNumberCard(readers)
    c.connect()
    assert read_card_info(c).token is TokenKind.ANDROID
    assert not card.exchanges and phone.exchanges             # nothing went to the card
    assert not readers.wait_for_change(True, 0.3)             # the card's arrival is no change for the session
    phone.remove()
    assert readers.wait_for_change(True, 2)                   # the phone leaving ends its session ...
    assert readers.wait_for_change(False, 2)                  # ... and the card is a new placement
    c.connect()
    assert read_card_info(c).token is TokenKind.MYNUMBER


def test_one_reader_taking_both_needs_no_pair(tmp_path):
    slot = CardSlot(tmp_path / "one", "iphone")
    c = MyNumberCard(SimTransport(slot))
    c.connect()
    assert read_card_info(c).token is TokenKind.IPHONE


def test_the_phone_reader_is_checked_like_the_card_reader():
    from mynareader.daemon.config import ConfigError, load
    assert load(environ={}, overrides=["devices.phone_reader=pcsc://?reader=Sony"]).devices.phone_reader
    assert load(environ={}).devices.phone_reader == ""
    with pytest.raises(ConfigError, match="phone_reader"):
        load(environ={}, overrides=["devices.phone_reader=usb://phone"])


@pytest.mark.pcscd
def test_daemon_serves_a_phone_on_its_own_reader_after_the_card(pcscd, tmp_path):
    phone_control = str(tmp_path / "phone.sock")
    mock = subprocess.Popen([EXE, "mock", "card", "--vpcd", "127.0.0.1:35964", "--profile", "empty", "--state",
                             str(tmp_path / "phone"), "--control", phone_control], stdout=subprocess.PIPE, text=True)
    assert "served to vpcd" in mock.stdout.readline()
    bench = BenchDaemon(tmp_path, settings={"devices.reader": "pcsc://?reader=Virtual PCD 00 00",
                                            "devices.phone_reader": "pcsc://?reader=Virtual PCD 00 01"})
    from mynareader.device.bench_control import send_control
    try:
        assert "phone_reader" in bench.kiosk.call("hello")["capabilities"]
        bench.card("insert fresh")
        first = bench.event("session.started")["session_id"]
        bench.wait_state("choose_method")
        assert send_control(phone_control, "insert iphone") == "ok"
        assert send_control(phone_control, "unlock 60") == "ok"
        assert bench.kiosk.call("kiosk.current")["state"] == "choose_method"   # the card's session goes on
        bench.card("remove")
        assert bench.event("session.aborted")["reason"] == "card_removed"
        second = bench.event("session.started")["session_id"]
        assert second != first
        bench.wait_state("consent")
        bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
        result = bench.event("result")
        assert result["token"] == "iphone" and result["identity"]["method"] == "device_unlock"
    finally:
        bench.close()
        mock.terminate()
        mock.wait(10)
