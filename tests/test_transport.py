"""Reader URLs, the spy+ wrapper and presence detection of the in-process reader."""
import logging
import threading

import pytest

from mynareader.device.card import MyNumberCard
from mynareader.device.errors import BadDeviceUrl, NoCard
from mynareader.device.pin import Pin
from mynareader.device.transport import SpyTransport, open_reader


def test_sim_url_profiles_and_errors(tmp_path):
    t = open_reader(f"sim://last-try?state={tmp_path}")
    assert t.slot.card.profile.name == "last-try"
    with pytest.raises(BadDeviceUrl, match="unknown virtual card profile"):
        open_reader("sim://nosuch")
    with pytest.raises(BadDeviceUrl, match="unknown reader URL scheme"):
        open_reader("usb://0")
    empty = open_reader(f"sim://empty?state={tmp_path}")
    assert not empty.card_present()
    with pytest.raises(NoCard):
        empty.connect()


def test_spy_logs_apdus_with_verify_redacted(tmp_path, caplog):
    t = open_reader(f"spy+sim://fresh?state={tmp_path}")
    assert isinstance(t, SpyTransport)
    card = MyNumberCard(t)
    with caplog.at_level(logging.INFO, logger="mynareader.device.transport"):
        card.connect()
        card.verify_pin(Pin("1234"))
    text = caplog.text
    assert "00 20 00 80 04 <redacted>" in text
    assert "31 32 33 34" not in text and "1234" not in text
    assert t.stats.apdus == 3


def test_presence_waits_for_insert_and_removal_without_polling(tmp_path):
    t = open_reader(f"sim://empty?state={tmp_path}")
    threading.Timer(0.2, lambda: t.slot.insert("fresh")).start()
    assert t.wait_for_change(False, 10)
    assert t.card_present()
    threading.Timer(0.2, t.slot.remove).start()
    assert t.wait_for_change(True, 10)
    assert not t.wait_for_change(False, 0.05)


def test_pin_never_shows_its_digits():
    pin = Pin("1234")
    assert "1234" not in repr(pin) and "1234" not in str(pin) and "1234" not in f"{pin}"
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(pin)
    pin.wipe()
    with pytest.raises(ValueError):
        pin.bytes_for_apdu()
    with pytest.raises(ValueError):
        Pin("12a4")


def test_spy_hides_nothing_it_wraps(tmp_path):
    """spy+sim:// keeps the bench slot (bench commands, the sim card-face source) reachable."""
    from mynareader.daemon.card_face import CardFaceSource
    from mynareader.device.transport import open_reader
    spy = open_reader(f"spy+sim://fresh?state={tmp_path}")
    assert spy.slot is not None and spy.slot.control("status").startswith("ok fresh")
    code, certain = CardFaceSource("sim", spy).read()
    assert certain and code is not None
