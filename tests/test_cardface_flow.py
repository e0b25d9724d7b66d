"""The camera card-face source through the real service (in-process, sim:// reader, bench://card camera + OCR).

The APDU log of the virtual card is the witness: an uncertain read must leave no VERIFY of 照合番号B in it,
and a code the card refused must never be sent again.
"""
import dataclasses
import logging
from types import SimpleNamespace

import pytest

from mynareader.daemon.app.inprocess import InProcessReader, demo_config
from mynareader.daemon.rpc.client import Client
from mynareader.device.bench_control import send_control

INS_VERIFY = 0x20


def code_b_verifies(slot) -> list[bytes]:
    """VERIFY commands carrying 14 bytes of data (照合番号B) that reached the card; queries carry none."""
    return [c for c, _ in slot.exchanges if len(c) > 5 and c[1] == INS_VERIFY and c[4] == 14]


def wait_step(kiosk, step, timeout=60):
    while True:
        event = kiosk.next_event(timeout, name="step.changed")
        if event["params"]["step"] == step:
            return event["params"]


@pytest.fixture
def bench(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    config = demo_config(tmp_path, profile="empty")
    config = dataclasses.replace(config, devices=dataclasses.replace(config.devices, cardface="bench://card"))
    reader = InProcessReader(config)
    kiosk, reception = Client(config.sockets.kiosk), Client(config.sockets.reception)
    kiosk.call("subscribe", events=["step.changed"])
    reception.call("subscribe")
    yield SimpleNamespace(config=config, kiosk=kiosk, reception=reception, slot=reader.service.transport.slot,
                          control=lambda line: send_control(config.bench.control, line), caplog=caplog)
    kiosk.close()
    reception.close()
    reader.close()


def test_face_reception_with_the_card_face_read_by_ocr(bench):
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    wait_step(bench.kiosk, "consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.reception.next_event(60, name="result")["params"]
    assert result["identity"]["method"] == "face"
    sent = code_b_verifies(bench.slot)
    assert len(sent) == 1 and sent[0][5:19] == bench.slot.card.code_b.encode()
    logged = "\n".join(r.getMessage() for r in bench.caplog.records)
    assert "card face: certain" in logged
    assert bench.slot.card.code_b not in logged and bench.slot.card.profile.security_code not in logged


@pytest.mark.parametrize("mode, reason", [("away", "no_card"), ("tiny", "too_far")])
def test_an_uncertain_read_sends_nothing_and_guides_then_offers_pin(bench, mode, reason):
    bench.control(f"cardface {mode}")
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    guidance = bench.reception.next_event(60, name="guidance")["params"]
    assert guidance["step"] == "code_b_read" and guidance["data"]["code"] == reason
    step = bench.kiosk.wait_state("choose_method", 60)["step"]
    assert "face" not in step["options"] and "pin" in step["options"]
    assert step["data"]["face_unavailable"] == "card_face_unreadable"
    assert code_b_verifies(bench.slot) == []
    assert "code_b=10" in bench.control("status")
    assert f"card face: uncertain ({reason})" in "\n".join(r.getMessage() for r in bench.caplog.records)


def test_a_refused_code_is_never_sent_again(bench):
    bench.control("cardface wrong")              # a card face that reads cleanly but is not this card's
    for session in range(2):
        bench.control("insert fresh")
        bench.kiosk.wait_state("choose_method", 60)
        bench.kiosk.call("kiosk.choose_method", method="face")
        step = bench.kiosk.wait_state("choose_method", 60)["step"]
        assert step["data"]["face_unavailable"] == ("card_face_mismatch", "card_face_unreadable")[session]
        assert len(code_b_verifies(bench.slot)) == 1, f"session {session}"
        assert "code_b=9" in bench.control("status")
        bench.control("remove")
        bench.kiosk.wait_state("idle", 60)
    assert "card face: uncertain (refused_before)" in "\n".join(r.getMessage() for r in bench.caplog.records)


def test_below_the_floor_the_camera_is_not_even_asked(bench):
    bench.control("insert fresh")
    bench.control("set-tries 3 code_b")
    bench.control("remove")
    bench.kiosk.wait_state("idle", 60)      # else the first card's choose_method may still be the current screen
    bench.control("insert fresh")
    step = bench.kiosk.wait_state("choose_method", 60)["step"]
    assert "face" not in step["options"] and step["data"]["face_unavailable"] == "code_b_tries_low"
    assert code_b_verifies(bench.slot) == []


@pytest.mark.parametrize("cardface", ["sim", "bench://card"])
def test_a_spy_reader_still_gives_the_card_face_and_completes_by_face(tmp_path, caplog, cardface):
    """spy+sim:// wraps the slot without hiding it: the card-face source (the sim code, or the bench camera
    showing the slot's card) still reads the card face, and the reception completes by face."""
    caplog.set_level(logging.DEBUG)
    config = demo_config(tmp_path, profile="empty")
    config = dataclasses.replace(config, devices=dataclasses.replace(
        config.devices, reader="spy+" + config.devices.reader, cardface=cardface))
    reader = InProcessReader(config)
    kiosk, reception = Client(config.sockets.kiosk), Client(config.sockets.reception)
    try:
        kiosk.call("subscribe", events=["step.changed"])
        reception.call("subscribe")
        transport = reader.service.transport
        assert transport.url.startswith("spy+sim://")
        send_control(config.bench.control, "insert fresh")
        step = wait_step(kiosk, "choose_method")
        assert "face" in step["options"]
        kiosk.call("kiosk.choose_method", method="face")
        wait_step(kiosk, "consent")
        kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
        result = reception.next_event(60, name="result")["params"]
        assert result["identity"]["method"] == "face"
        assert len(code_b_verifies(transport.slot)) == 1
        assert "APDU > 00 20 00 80 0E <redacted>" in caplog.text          # the spy logged the VERIFY, redacted
        assert transport.slot.card.code_b not in caplog.text
    finally:
        kiosk.close()
        reception.close()
        reader.close()
