"""Concrete reception scenarios on the sans-IO machine."""
import datetime as dt

import pytest

from mynareader.daemon.reception import messages as m
from mynareader.daemon.reception.errors import Rejected
from mynareader.daemon.reception.policy import Policy
from mynareader.daemon.store import Store
from mynareader.device.pin import Pin

from helpers.flow import CODE_B, Driver, FakeCard, T0, certificate


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
    assert not any(isinstance(a, m.VerifyCodeB) for a in out)
    assert d.machine.state == "choose_method" and d.card.code_b_verifies == 0


def test_kenmen_floor_is_respected(store):
    d = Driver(store, card=FakeCard(code_b_tries=3))
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


STEPS = ["reading", "choose_method", "code_b_read", "code_b_verify", "face_photo", "face_matching", "pin_query",
         "pin_entry", "pin_verify", "signing", "consent", "take_card"]


def _drive_to(d, step):
    d.send(m.CardPlaced, session_id="s", nonce=b"n" * 32)
    if step == "reading":
        return
    d.send(m.CardRead, token="mynumber", certificate=d.cert, pin_tries=3, code_b_tries=10)
    script = {
        "code_b_read": [(m.MethodChosen, {"method": "face"})],
        "code_b_verify": [(m.MethodChosen, {"method": "face"}),
                        (m.CodeBRead, {"code": Pin(CODE_B, min_len=14, max_len=14), "certain": True})],
        "pin_query": [(m.MethodChosen, {"method": "pin"})],
        "pin_entry": [(m.MethodChosen, {"method": "pin"}), (m.PinTries, {"tries": 3})],
        "pin_verify": [(m.MethodChosen, {"method": "pin"}), (m.PinTries, {"tries": 3}),
                       (m.PinEntered, {"pin": Pin("1234")})],
        "signing": [(m.MethodChosen, {"method": "pin"}), (m.PinTries, {"tries": 3}),
                    (m.PinEntered, {"pin": Pin("1234")}), (m.PinAccepted, {})],
    }
    script["face_photo"] = script["code_b_verify"] + [(m.CodeBAccepted, {})]
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


def test_state_diagram_in_the_docs_is_generated_from_the_table():
    from pathlib import Path
    from mynareader.daemon.reception.diagram import render
    from mynareader.daemon.reception.machine import Reception
    from mynareader.daemon.reception.transitions import TRANSITIONS
    doc = (Path(__file__).parent.parent / "docs" / "flow.md").read_text(encoding="utf-8")
    assert render(doc) == doc, "run: python -m mynareader.daemon.reception.diagram docs/flow.md"
    for row in TRANSITIONS:
        assert hasattr(Reception, "_" + row.handler), row.handler
        assert f": {row.event.__name__}\n" in doc
    assert "active --> take_card: StoreFailed" in doc         # the store-failure edge is a row like any other


def test_states_keep_the_names_clients_see():
    import json
    from mynareader.daemon.reception.states import State
    assert [s.value for s in State] == [
        "idle", "reading", "choose_method", "code_b_read", "code_b_verify", "face_photo", "face_matching", "pin_query",
        "pin_entry", "pin_verify", "phone_unlock", "certificate_read", "signing", "consent", "prescription_form",
        "registration_confirm", "take_card"]
    assert json.dumps({"state": State.TAKE_CARD}) == '{"state": "take_card"}'
    assert f"{State.PIN_ENTRY}" == str(State.PIN_ENTRY) == "pin_entry" and State("consent") is State.CONSENT


def test_every_row_is_keyed_by_an_event_class_and_every_state_has_a_way_out():
    from mynareader.daemon.reception.states import State
    from mynareader.daemon.reception.transitions import TABLE
    for state, rows in TABLE.items():
        assert all(isinstance(event, type) and issubclass(event, m.Event) for event in rows)
        if state is not State.IDLE:
            assert rows[m.CardRemoved].targets == (State.IDLE,) and rows[m.StoreFailed].targets == (State.TAKE_CARD,)
    assert set(TABLE[State.IDLE]) == {m.CardPlaced}


def test_a_handler_that_leaves_its_row_is_a_flow_bug(store, monkeypatch):
    from mynareader.daemon.reception.errors import StrayTransition
    from mynareader.daemon.reception.machine import Reception
    from mynareader.daemon.reception.states import State
    original = Reception._code_b_accepted

    def stray(self, e):
        actions = original(self, e)
        self.state = State.CONSENT          # skips the chip photo and the face match
        return actions
    monkeypatch.setattr(Reception, "_code_b_accepted", stray)
    d = Driver(store)
    d.place()
    with pytest.raises(StrayTransition, match="CodeBAccepted in state code_b_verify led to consent"):
        d.face_path([True])


class _FailingStore:
    """The real store until ``fail`` is set; then every SQL call fails as a locked or broken SQLite would."""

    def __init__(self, store: Store):
        self.store, self.fail = store, False

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if name == "card_key" or not self.fail:
            return attr

        def failing(*args, **kw):
            from mynareader.daemon.store import StoreError
            raise StoreError("writing the state store failed: database is locked")
        return failing


@pytest.mark.parametrize("step", ["choose_method", "pin_verify", "consent"])
def test_a_store_failure_mid_session_is_the_store_failed_row(store, step):
    failing = _FailingStore(store)
    d = Driver(failing)
    d.place()
    if step == "pin_verify":
        d.send(m.MethodChosen, method="pin")
        d.send(m.PinTries, tries=3)
        d.send(m.PinEntered, pin=Pin("0000"))
    elif step == "consent":
        d.pin_path("1234")
    assert d.machine.state == step
    failing.fail = True
    if step == "choose_method":
        d.send(m.MethodChosen, method="staff")                # audits the request: the store fails
    elif step == "pin_verify":
        d.send(m.PinRejected, tries_left=2)                   # the failure cannot be counted: fail closed
    else:
        d.consent_all()                                       # the completion cannot be audited: no result
    assert d.machine.state == "take_card" and d.results == []
    assert d.ended[-1] == m.EndSession("aborted", "store_unavailable")
    assert d.last_show().message == "store_unavailable" and "locked" in d.last_show().data["detail"]
    d.send(m.CardRemoved)
    assert d.machine.state == "idle" and len(d.ended) == 1


def test_registration_takes_no_face_even_when_asked(store):
    """Found by the table's check: face was not offered in registration, but choosing it was taken and a face
    match then reached the registration screen (FaceVerdict's row does not lead there)."""
    d = Driver(store)
    d.place(registration=True)
    assert d.last_show().options == ("pin",)
    with pytest.raises(Rejected, match="PIN"):
        d.send(m.MethodChosen, method="face")
    assert d.machine.state == "choose_method" and d.card.code_b_verifies == 0


@pytest.mark.parametrize("event,kw,needle", [
    (m.MethodChosen, {"method": "iris"}, "choose face, pin, staff or device_unlock"),
    (m.PinEntered, {"pin": Pin(CODE_B, min_len=14, max_len=14)}, "4 digits"),
    (m.PinEntered, {"pin": "1234"}, "4 digits"),                                   # a str is never a PIN
    (m.PinTries, {"tries": 16}, "0 to 15"),          # a 63Cx nibble; the flow holds a card to its 3 (below)
    (m.PinTries, {"tries": -1}, "0 to 15"),
    (m.PinRejected, {"tries_left": 15}, "0 to 14"),
    (m.CodeBRejected, {"tries_left": 10}, "0 to 9"),
    (m.CardRead, {"token": "mynumber", "certificate": None, "pin_tries": 5, "code_b_tries": 10}, "pin_tries"),
    (m.CardRead, {"token": "passport", "certificate": None, "pin_tries": None, "code_b_tries": None}, "token"),
    (m.ConsentAnswered, {"screen": "comprehensive", "answer": "refuse"}, "agree or individual"),
    (m.ConsentAnswered, {"screen": "surgery", "answer": "individual"}, "agree or refuse"),
    (m.ConsentAnswered, {"screen": "registration", "answer": "individual"}, "registration"),
    (m.ConsentAnswered, {"screen": "prescription_form", "answer": ""}, "answer"),
    (m.ChallengeSet, {"nonce": b"x" * 15}, "16-64"),
    (m.ChallengeSet, {"nonce": b"x" * 65}, "16-64"),
    (m.CardPlaced, {"session_id": "s", "nonce": b""}, "nonce"),
    (m.VisualConfirmed, {"staff": ""}, "staff"),
    (m.FaceLockLifted, {"staff": "x" * 65}, "64"),
    (m.Cancelled, {"by": "robot"}, "patient or staff"),
    (m.FaceVerdict, {"match": True, "score": "high", "threshold": 0.5, "model": "t"}, "score"),
    (m.FaceVerdict, {"match": True, "score": 0.9, "threshold": 0.5, "model": "t", "liveness": "maybe"}, "liveness"),
    (m.Signed, {"signature": b""}, "signature"),
])
def test_an_event_that_cannot_be_valid_cannot_be_built(event, kw, needle):
    from mynareader.daemon.reception.errors import InvalidEvent
    with pytest.raises(InvalidEvent, match=needle):
        event(T0, **kw)


def test_an_event_needs_an_aware_time():
    from mynareader.daemon.reception.errors import InvalidEvent
    with pytest.raises(InvalidEvent, match="timezone-aware"):
        m.Tick(dt.datetime(2026, 11, 24, 10, 0))


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
