"""The real daemon as a process against pcscd + vpcd + the virtual card and the bench camera."""
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


def test_face_success_then_result(bench):
    assert bench.card("insert fresh") == "ok"
    started = bench.event("session.started")
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    bench.wait_state("consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.event("result")
    assert result["session_id"] == started["session_id"]
    assert result["identity"]["method"] == "face" and result["identity"]["face"]["score"] >= 0.5
    assert len(result["consents"]) == 3
    assert bench.reception.call("result.last") == result


def test_face_failures_then_pin_success_with_verifiable_signature(bench):
    bench.camera("show other")
    bench.card("insert fresh")
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    shown = bench.wait_state("choose_method", timeout=60)["step"]
    assert shown["options"] == ["pin", "staff"]
    nonce = base64.b64encode(b"clinic-nonce-0123456789abcdef").decode()
    bench.reception.call("session.set_challenge", nonce=nonce)
    bench.pin_then_consent()
    result = bench.event("result")
    sig = result["identity"]["signature"]
    assert sig["challenge"] == nonce
    cert = parse_certificate(base64.b64decode(result["certificate"]["der"]))
    assert cert.verify_signature(base64.b64decode(sig["signature"]), base64.b64decode(nonce))


def test_wrong_pins_last_try_warning_blocked_then_visual_check(bench):
    bench.card("insert last-try")
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="pin")
    step = bench.wait_state("pin_entry")["step"]
    assert step["message"] == "pin_last_try" and step["data"]["tries_left"] == 1
    bench.kiosk.call("kiosk.submit_pin", pin="0000")                 # not confirmed: nothing sent
    assert "pin=1 " in bench.card("status")
    bench.kiosk.call("kiosk.submit_pin", pin="0000", confirm_last_try=True)
    step = bench.wait_state("choose_method")["step"]
    assert "pin" not in step["options"]
    assert "pin=0 " in bench.card("status")
    bench.reception.call("session.request_visual")
    bench.reception.call("session.confirm_visual", staff="受付1")
    bench.wait_state("consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.event("result")
    assert result["identity"]["method"] == "visual"
    assert "pin=0 " in bench.card("status")                          # 目視 unlocked nothing


def test_card_pulled_mid_session_then_next_patient(bench):
    bench.card("insert fresh")
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="pin")
    bench.wait_state("pin_entry")
    bench.card("remove")
    aborted = bench.event("session.aborted")
    assert aborted["reason"] == "card_removed"
    bench.wait_state("idle")
    bench.card("insert fresh")
    bench.wait_state("choose_method")
    bench.pin_then_consent()
    assert bench.event("result")["identity"]["method"] == "pin"


def test_grace_certificate_gives_qualification_only(bench):
    bench.card("insert grace")
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="pin")
    bench.wait_state("pin_entry")
    bench.kiosk.call("kiosk.submit_pin", pin="1234")
    result = bench.event("result")
    assert result["qualification_only"] and result["consents"] == []
    assert result["certificate"]["state"] == "grace"


def test_registration(bench):
    bench.reception.call("mode.set", mode="registration")
    bench.card("insert fresh")
    assert bench.event("session.started")["mode"] == "registration"
    step = bench.wait_state("choose_method")["step"]
    assert step["options"] == ["pin"]
    bench.kiosk.call("kiosk.choose_method", method="pin")
    bench.wait_state("pin_entry")
    bench.kiosk.call("kiosk.submit_pin", pin="1234")
    bench.wait_state("registration_confirm")
    bench.kiosk.call("kiosk.answer", screen="registration", answer="agree")
    result = bench.event("result")
    assert result["type"] == "registration"


def test_roles_are_enforced_by_socket(bench):
    from mynareader.daemon.rpc.client import RemoteError
    bench.card("insert fresh")
    bench.wait_state("choose_method")
    with pytest.raises(RemoteError) as e:
        bench.reception.call("kiosk.submit_pin", pin="1234")
    assert e.value.name == "NotPermitted"
    with pytest.raises(RemoteError) as e:
        bench.kiosk.call("session.confirm_visual", staff="x")
    assert e.value.name == "NotPermitted"
    assert "pin=3 " in bench.card("status")


def test_pcscd_restart_is_a_reported_fault_and_the_reader_recovers(bench, pcscd):
    bench.card("insert fresh")
    bench.wait_state("choose_method")
    pcscd.kill()
    fault = bench.event("reader.fault")
    assert "pcscd" in fault["message"] or "reader" in fault["message"].lower()
    assert bench.event("session.aborted")["reason"] in ("card_removed", "card_error")
    status = bench.reception.call("status")
    assert status["reader"]["fault"] and status["state"] in ("idle", "take_card")
    pcscd.start()
    bench.event("reader.recovered", timeout=60)
    bench.wait_state("choose_method", timeout=60)        # the card (still on the mock) is read again
    bench.pin_then_consent()
    assert bench.event("result")["identity"]["method"] == "pin"
