"""Concrete reception scenarios on the sans-IO machine."""
import datetime as dt

import pytest

from mynareader.daemon.reception import messages as m
from mynareader.daemon.reception.machine import Rejected
from mynareader.daemon.reception.policy import Policy, PolicyError
from mynareader.daemon.store import Store
from mynareader.device.pin import Pin

from flow_helpers import CODE_B, Driver, FakeCard, T0, certificate


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "state")
    yield s
    s.close()


def test_face_success_then_comprehensive_consent(store):
    d = Driver(store)
    d.place()
    assert d.last_show().options == ("face", "pin", "staff")
    d.face_path([True])
    assert d.machine.state == "consent"
    d.consent_all()
    (result,) = d.results
    assert result["identity"]["method"] == "face" and result["identity"]["face"]["score"] == 0.9
    assert [c["item"] for c in result["consents"]] == ["diagnosis_medication", "surgery", "health_checkup"]
    assert all(c["value"] for c in result["consents"])
    assert result["catalogue_version"] == "2024-10-07.1"
    assert result["provided_without_consent"] == ["high_cost_ceiling"]
    assert d.ended[-1].outcome == "completed" and d.machine.state == "take_card"
    d.send(m.CardRemoved)
    assert d.machine.state == "idle" and len(d.ended) == 1


def test_guidance_does_not_use_up_a_face_attempt(store):
    d = Driver(store)
    d.place()
    d.face_path([])
    for _ in range(10):
        d.send(m.FaceGuidance, code="too_dark", ja="暗すぎます", en="too dark")
    assert d.machine.state == "face_matching" and d.machine.face_attempts == 1


def test_three_face_failures_offer_pin_and_pin_succeeds(store):
    d = Driver(store)
    d.place()
    d.face_path([False, False, False])
    assert d.machine.state == "choose_method"
    assert d.last_show().options == ("pin", "staff")
    assert store.failures(d.machine.card_key, "face", 0) == 1
    with pytest.raises(Rejected):
        d.send(m.MethodChosen, method="face")
    d.pin_path("1234")
    d.consent_all()
    assert d.results[0]["identity"]["method"] == "pin"
    assert d.results[0]["identity"]["signature"]["algorithm"] == "RSASSA-PKCS1-v1_5-SHA256"


def test_item_by_item_consent_with_refusal(store):
    d = Driver(store)
    d.place()
    d.pin_path("1234")
    d.send(m.ConsentAnswered, screen="comprehensive", answer="individual")
    assert d.last_show().data["refuse"]["ja"] == "同意しない"
    with pytest.raises(Rejected):
        d.send(m.ConsentAnswered, screen="surgery", answer="agree")        # not the current screen
    d.send(m.ConsentAnswered, screen="diagnosis_medication", answer="agree")
    d.send(m.ConsentAnswered, screen="surgery", answer="refuse")
    assert d.last_show().data["refuse"]["ja"] == "同意しない・40歳未満"
    d.send(m.ConsentAnswered, screen="health_checkup", answer="refuse")
    values = {c["item"]: c["value"] for c in d.results[0]["consents"]}
    assert values == {"diagnosis_medication": True, "surgery": False, "health_checkup": False}


def test_wrong_pin_requeries_and_warns_on_the_last_try(store):
    d = Driver(store, card=FakeCard(pin_tries=2))
    d.place()
    out = d.pin_path("0000")
    assert any(isinstance(a, m.QueryPinTries) for a in out)            # asks the card again, never assumes
    out = d.answer_pin_query("1234")                                   # 1 left: not sent without confirming
    assert d.card.verify_pins == 1 and d.machine.state == "pin_entry"
    assert d.last_show().message == "pin_last_try" and d.last_show().data["needs_confirmation"]
    d.send(m.PinEntered, pin=Pin("1234"), confirm_last_try=True)
    assert d.machine.state == "pin_verify"


def test_session_pin_failures_are_capped_and_send_the_patient_to_staff(store):
    d = Driver(store, card=FakeCard(pin_tries=3))
    d.place()
    d.pin_path("0000")
    d.answer_pin_query("0000")
    assert d.card.verify_pins == 2 and d.card.pin_tries == 1
    d.send(m.PinTries, tries=1)                                        # the policy stops the third
    assert d.machine.state == "choose_method" and "staff" in d.last_show().options
    assert d.card.pin_tries == 1


def test_blocked_card_offers_face_or_staff_then_visual_check(store):
    d = Driver(store, card=FakeCard(pin_tries=0))
    d.place()
    assert d.last_show().options == ("face", "staff")                 # flow.md: face or staff
    with pytest.raises(Rejected):
        d.send(m.MethodChosen, method="pin")
    with pytest.raises(Rejected):
        d.send(m.VisualConfirmed, staff="受付1")                        # must be asked for first
    d.send(m.VisualCheckRequested)
    assert d.last_show().options == ("face", "staff") and d.last_show().message == "visual_wait"
    d.send(m.VisualConfirmed, staff="受付1")
    d.consent_all()
    assert d.results[0]["identity"] == {"method": "visual", "at": d.results[0]["identity"]["at"], "staff": "受付1"}
    assert d.card.pin_tries == 0 and d.card.verify_pins == 0


def test_grace_certificate_gives_a_qualification_only_result(store):
    d = Driver(store, cert=certificate(dt.date(2026, 10, 20)))
    d.place()
    assert "grace" in d.machine.told
    d.pin_path("1234")
    (result,) = d.results
    assert result["qualification_only"] and result["consents"] == []
    assert result["certificate"]["state"] == "grace"


def test_expired_and_old_cards_stop_with_a_message(store):
    d = Driver(store, cert=certificate(dt.date(2024, 1, 1)))
    d.place()
    assert d.machine.state == "take_card" and d.ended[-1].reason == "certificate_expired"
    d2 = Driver(store)
    d2.place(token="juki")
    assert d2.ended[-1].reason == "unsupported_card" and "not_mynumber" in d2.machine.told


def test_registration_needs_pin_and_confirmation(store):
    d = Driver(store)
    d.place(registration=True)
    assert d.last_show().options == ("pin",)
    d.pin_path("1234")
    assert d.machine.state == "registration_confirm"
    d.send(m.ConsentAnswered, screen="registration", answer="agree")
    (result,) = d.results
    assert result["type"] == "registration" and "consents" not in result


def test_uncertain_card_face_scan_is_never_verified(store):
    d = Driver(store)
    d.place()
    out = d.face_path([], certain=False)
    assert not any(isinstance(a, m.VerifyKenmen) for a in out)
    assert d.machine.state == "choose_method" and d.card.verify_kenmens == 0


def test_kenmen_floor_is_respected(store):
    d = Driver(store, card=FakeCard(kenmen_tries=3))
    d.place()
    assert "face" not in d.last_show().options


def test_idle_patient_times_out(store):
    d = Driver(store)
    d.place()
    d.now += dt.timedelta(seconds=100)
    d.send(m.Tick)
    assert d.machine.state == "choose_method"
    d.now += dt.timedelta(seconds=25)
    d.send(m.Tick)
    assert d.machine.state == "take_card" and d.ended[-1].reason == "idle_timeout"


def test_still_here_restarts_the_idle_timer_and_the_deadline_says_when(store):
    d = Driver(store)
    d.place()
    placed = d.now
    assert d.machine.idle_deadline() == placed + dt.timedelta(seconds=120)
    d.now += dt.timedelta(seconds=100)
    d.send(m.StillHere)                                  # the patient touched the countdown warning
    assert d.machine.idle_deadline() == d.now + dt.timedelta(seconds=120)
    d.now += dt.timedelta(seconds=100)
    d.send(m.Tick)
    assert d.machine.state == "choose_method"            # 200 s after the card, but 100 s after the touch
    d.send(m.MethodChosen, method="pin")
    assert d.machine.state == "pin_query" and d.machine.idle_deadline() is None   # the reader is working
    with pytest.raises(Rejected):
        d.send(m.StillHere)


def test_forgot_pin_goes_from_the_pin_screen_to_staff_without_a_try(store):
    d = Driver(store)
    d.place()
    d.send(m.MethodChosen, method="pin")
    d.send(m.PinTries, tries=3)
    assert d.machine.state == "pin_entry"
    d.send(m.MethodChosen, method="staff")
    assert d.machine.state == "choose_method" and d.last_show().message == "visual_wait"
    assert d.card.verify_pins == 0
    d.send(m.VisualConfirmed, staff="受付1")
    assert d.machine.state == "consent" and d.machine.identity["method"] == "visual"


def test_staff_cancel_ends_without_result(store):
    d = Driver(store)
    d.place()
    d.send(m.Cancelled, by="staff")
    assert d.results == [] and d.ended[-1].reason == "cancelled_by_staff"


STEPS = ["reading", "choose_method", "face_code", "face_kenmen", "face_photo", "face_matching", "pin_query",
         "pin_entry", "pin_verify", "signing", "consent", "take_card"]


def _drive_to(d, step):
    d.send(m.CardPlaced, session_id="s", nonce=b"n" * 32)
    if step == "reading":
        return
    d.send(m.CardRead, token="mynumber", certificate=d.cert, pin_tries=3, kenmen_tries=10)
    script = {
        "face_code": [(m.MethodChosen, {"method": "face"})],
        "face_kenmen": [(m.MethodChosen, {"method": "face"}),
                        (m.CardFaceCode, {"code": Pin(CODE_B, min_len=14, max_len=14), "certain": True})],
        "pin_query": [(m.MethodChosen, {"method": "pin"})],
        "pin_entry": [(m.MethodChosen, {"method": "pin"}), (m.PinTries, {"tries": 3})],
        "pin_verify": [(m.MethodChosen, {"method": "pin"}), (m.PinTries, {"tries": 3}),
                       (m.PinEntered, {"pin": Pin("1234")})],
        "signing": [(m.MethodChosen, {"method": "pin"}), (m.PinTries, {"tries": 3}),
                    (m.PinEntered, {"pin": Pin("1234")}), (m.PinAccepted, {})],
    }
    script["face_photo"] = script["face_kenmen"] + [(m.KenmenVerified, {})]
    script["face_matching"] = script["face_photo"] + [(m.FacePhotoRead, {})]
    script["consent"] = script["signing"] + [(m.Signed, {"signature": b"s"})]
    script["take_card"] = script["consent"] + [(m.ConsentAnswered, {"screen": "comprehensive", "answer": "agree"})]
    for cls, kw in script.get(step, []):
        d.send(cls, **kw)


@pytest.mark.parametrize("step", STEPS)
def test_removal_at_every_step_ends_the_session(store, step):
    d = Driver(store)
    _drive_to(d, step)
    assert d.machine.state == step
    out = d.send(m.CardRemoved)
    assert d.machine.state == "idle"
    assert len(d.ended) == 1
    if step == "face_matching":
        assert any(isinstance(a, m.StopFaceCheck) for a in out)
    if step != "take_card":
        assert d.ended[0].reason == "card_removed" and d.results == []


def test_policy_from_mapping_is_strict():
    assert Policy.from_mapping({"face_tries_per_session": 2}).face_tries_per_session == 2
    assert Policy.from_mapping({"refuse_last_pin_try": "true"}).refuse_last_pin_try is True
    with pytest.raises(PolicyError, match="unknown key policy.face_trys"):
        Policy.from_mapping({"face_trys": 2})
    with pytest.raises(PolicyError, match="expected int"):
        Policy.from_mapping({"kenmen_floor": "three"})
    with pytest.raises(PolicyError, match="1 or 2"):
        Policy.from_mapping({"max_pin_failures_per_session": 3})


def test_state_diagram_in_the_docs_is_generated_from_the_table():
    from pathlib import Path
    from mynareader.daemon.reception.diagram import render
    from mynareader.daemon.reception.transitions import STATES, TRANSITIONS
    doc = (Path(__file__).parent.parent / "docs" / "flow.md").read_text(encoding="utf-8")
    assert render(doc) == doc, "run: python -m mynareader.daemon.reception.diagram docs/flow.md"
    for _state, event, handler, _targets in TRANSITIONS:
        assert hasattr(__import__("mynareader.daemon.reception.machine", fromlist=["Reception"]).Reception,
                       "_" + handler), handler
        assert event in doc
    assert "take_card" in STATES


def test_failures_on_many_cards_slow_the_reader_down(store):
    policy = Policy(slowdown_cards=3, slowdown_seconds=30)
    for serial in (1, 2, 3):
        d = Driver(store, policy=policy, cert=certificate(serial=serial))
        d.place()
        d.pin_path("0000")                                    # one wrong PIN on each of three cards
        d.send(m.CardRemoved)
    d = Driver(store, policy=policy, cert=certificate(serial=4))
    d.now = T0 + dt.timedelta(seconds=20)
    d.place()
    assert "slow_down" in d.machine.told
    with pytest.raises(Rejected, match="pausing"):
        d.send(m.MethodChosen, method="pin")
    d.now += dt.timedelta(seconds=40)
    d.send(m.MethodChosen, method="pin")                      # after the pause, checks go on
    assert d.machine.state == "pin_query"
