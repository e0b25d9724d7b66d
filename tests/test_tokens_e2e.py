"""Every token kind through the real daemon, pcscd and vpcd: an Android phone, an iPhone (locked, then
unlocked), the PIN-less card (reception by face, registration by 目視)."""
import base64

import pytest

from mynareader.device.certificate import parse_certificate

from helpers.daemon_process import BenchDaemon

pytestmark = pytest.mark.pcscd


@pytest.fixture
def bench(pcscd, tmp_path):
    d = BenchDaemon(tmp_path)
    yield d
    d.close()


def _signed_by_the_certificate(result: dict) -> bool:
    sig = result["identity"]["signature"]
    cert = parse_certificate(base64.b64decode(result["certificate"]["der"]))
    return cert.verify_signature(base64.b64decode(sig["signature"]), base64.b64decode(sig["challenge"]))


def test_android_pin_from_the_phone_then_certificate_and_signature(bench):
    bench.card("insert android")
    step = bench.wait_state("pin_entry")["step"]
    assert step["message"] == "phone_pin_entry" and step["data"]["tries_left"] == 5
    bench.kiosk.call("kiosk.submit_pin", pin="0000")
    step = bench.wait_state("pin_entry")["step"]
    assert step["data"]["tries_left"] == 4 and "pin=4 " in bench.card("status")
    bench.kiosk.call("kiosk.submit_pin", pin="1234")
    bench.wait_state("consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.event("result")
    assert result["token"] == "android" and result["identity"]["method"] == "pin"
    assert _signed_by_the_certificate(result)
    assert "pin=5 " in bench.card("status")                         # a right PIN resets the phone's counter


def test_iphone_locked_is_told_to_unlock_then_signs_without_a_pin(bench):
    bench.card("insert iphone")
    step = bench.wait_state("phone_unlock")["step"]
    assert step["message"] == "phone_unlock" and step["options"] == ["device_unlock", "cancel"]
    assert bench.card("unlock 60") == "ok"
    bench.kiosk.call("kiosk.choose_method", method="device_unlock")
    bench.wait_state("consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.event("result")
    assert result["token"] == "iphone" and result["identity"]["method"] == "device_unlock"
    assert _signed_by_the_certificate(result)


def test_pinless_card_by_face_and_registration_by_visual_check(bench):
    bench.card("insert pinless")
    step = bench.wait_state("choose_method")["step"]
    assert step["options"] == ["face", "staff"]
    bench.kiosk.call("kiosk.choose_method", method="face")
    bench.wait_state("consent", timeout=60)
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.event("result")
    assert result["token"] == "pinless" and result["identity"]["method"] == "face"
    bench.card("remove")
    bench.wait_state("idle")
    bench.reception.call("mode.set", mode="registration")
    bench.card("insert pinless")
    step = bench.wait_state("choose_method")["step"]
    assert step["options"] == ["face", "staff"]
    bench.reception.call("session.request_visual")
    bench.reception.call("session.confirm_visual", staff="受付1")
    bench.wait_state("registration_confirm")
    bench.kiosk.call("kiosk.answer", screen="registration", answer="agree")
    result = bench.event("result")
    assert result["type"] == "registration" and result["identity"]["method"] == "visual"


def test_iphone_taken_away_to_unlock_and_held_again_is_a_new_session_that_signs(bench):
    bench.card("insert iphone")
    first = bench.event("session.started")["session_id"]
    bench.wait_state("phone_unlock")
    assert bench.card("unlock 60") == "ok"                  # Face ID, then the phone is lifted and held again
    bench.card("remove")
    assert bench.event("session.aborted")["reason"] == "card_removed"
    assert bench.card("insert iphone") == "ok"
    assert bench.event("session.started")["session_id"] != first
    bench.wait_state("consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    assert bench.event("result")["identity"]["method"] == "device_unlock"
