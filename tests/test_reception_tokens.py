"""The reception flow per token kind (device/tokens.py decides): Android, iPhone, the PIN-less card, and a card's
lockouts kept across the change of store keys."""
import datetime as dt

import pytest

from mynareader.daemon.reception import messages as m
from mynareader.daemon.reception.errors import Rejected
from mynareader.daemon.reception.states import State
from mynareader.daemon.store import Store
from mynareader.device.pin import Pin

from helpers.flow import Driver, FakeCard, T0, certificate


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "state")
    yield s
    s.close()


def phone(d: Driver, token: str, *, pin_tries=None, locked=False, cert=None, registration=False):
    d.send(m.CardPlaced, session_id="s1", nonce=b"n" * 32, registration=registration)
    return d.send(m.CardRead, token=token, certificate=cert, pin_tries=pin_tries, code_b_tries=None, locked=locked)


def kinds(actions, cls):
    return [a for a in actions if isinstance(a, cls)]


def test_android_pin_then_certificate_then_signature(store):
    d = Driver(store)
    phone(d, "android", pin_tries=5)
    show = d.last_show()
    assert d.machine.state == State.PIN_ENTRY and show.message == "phone_pin_entry"
    assert show.data["tries_left"] == 5                          # the phone's own count, not a card's 3
    assert kinds(d.send(m.PinEntered, pin=Pin("1234")), m.VerifyPin)
    assert kinds(d.send(m.PinAccepted), m.ReadCertificate)       # the certificate opens only after VERIFY
    assert kinds(d.send(m.CertificateRead, certificate=d.cert), m.SignChallenge)
    d.send(m.Signed, signature=b"s" * 256)
    d.consent_all()
    result = d.results[0]
    assert result["token"] == "android" and result["identity"]["method"] == "pin"
    assert "signature" in result["identity"] and "face_failures" not in result


def test_android_offers_no_face_and_no_visual_check(store):
    d = Driver(store)
    phone(d, "android", pin_tries=5)
    with pytest.raises(Rejected):
        d.send(m.VisualCheckRequested)
    with pytest.raises(Rejected):
        d.send(m.MethodChosen, method="face")


def test_android_wrong_pins_stop_at_the_session_cap_and_never_ask_staff_for_a_visual(store):
    d = Driver(store)
    phone(d, "android", pin_tries=5)
    for left in (4, 3):
        d.send(m.PinEntered, pin=Pin("0000"))
        d.send(m.PinRejected, tries_left=left)
        d.send(m.PinTries, tries=left)
    assert d.ended[-1].reason == "pin_stopped" and "phone_pin_stop" in d.machine.told
    assert store.failures(d.machine.card_key, "pin", 0) == 2     # kept under the session: the serial is unread


def test_android_blocked_or_expired_ends_with_a_clear_message(store):
    d = Driver(store)
    phone(d, "android", pin_tries=0)
    assert d.ended[-1].reason == "pin_blocked" and "phone_pin_blocked" in d.machine.told
    for not_after in (dt.date(2026, 10, 20), dt.date(2024, 1, 1)):      # in a card's grace, and long expired
        d = Driver(store)
        phone(d, "android", pin_tries=3)
        d.send(m.PinEntered, pin=Pin("1234"))
        d.send(m.PinAccepted)
        d.send(m.CertificateRead, certificate=certificate(not_after, serial=0x77))
        assert d.ended[-1].reason == "certificate_expired" and not d.results    # no grace for a phone


def test_iphone_unlocked_signs_at_once_with_no_pin(store):
    d = Driver(store)
    out = phone(d, "iphone", cert=d.cert)
    assert d.machine.state == State.SIGNING and kinds(out, m.SignChallenge)
    assert not kinds(d.actions, m.QueryPinTries)
    d.send(m.Signed, signature=b"s" * 256)
    d.consent_all()
    assert d.results[0]["token"] == "iphone" and d.results[0]["identity"]["method"] == "device_unlock"


def test_locked_iphone_is_told_to_unlock_then_reads_again(store):
    d = Driver(store)
    phone(d, "iphone", locked=True)
    assert d.machine.state == State.PHONE_UNLOCK and d.last_show().message == "phone_unlock"
    assert d.last_show().options == ("device_unlock", "cancel")
    with pytest.raises(Rejected):
        d.send(m.MethodChosen, method="pin")
    assert kinds(d.send(m.MethodChosen, method="device_unlock"), m.ReadCertificate)
    d.send(m.TokenLocked)                                          # still locked
    assert d.machine.state == State.PHONE_UNLOCK
    d.send(m.MethodChosen, method="device_unlock")
    d.send(m.CertificateRead, certificate=d.cert)
    d.send(m.TokenLocked)                                          # it locked again before signing
    d.send(m.MethodChosen, method="device_unlock")
    d.send(m.CertificateRead, certificate=d.cert)
    with pytest.raises(Rejected):
        d.send(m.VisualCheckRequested)
    d.send(m.Signed, signature=b"s" * 256)
    assert d.machine.state == State.CONSENT


def test_an_iphone_that_never_opens_sends_the_patient_to_the_card(store):
    d = Driver(store)
    phone(d, "iphone", locked=True)
    for _ in range(3):
        d.send(m.MethodChosen, method="device_unlock")
        d.send(m.TokenLocked)
    assert d.ended[-1].reason == "phone_locked" and "phone_locked" in d.machine.told


def test_phones_do_not_register_here(store):
    for token in ("android", "iphone"):
        d = Driver(store)
        phone(d, token, pin_tries=3 if token == "android" else None, registration=True)
        assert d.ended[-1].reason == "registration_not_here" and "registration_phone" in d.machine.told


def test_a_card_reporting_more_tries_than_it_has_is_a_fault_not_a_guess(store):
    d = Driver(store)
    d.place()
    d.send(m.MethodChosen, method="pin")
    d.send(m.PinTries, tries=7)
    assert d.ended[-1].reason == "card_error"


def pinless(d: Driver, registration=False):
    d.send(m.CardPlaced, session_id="s1", nonce=b"n" * 32, registration=registration)
    return d.send(m.CardRead, token="pinless", certificate=d.cert, pin_tries=None, code_b_tries=10)


def test_pinless_card_chooses_face_or_staff_and_never_a_pin(store):
    d = Driver(store)
    pinless(d)
    assert d.last_show().options == ("face", "staff")
    with pytest.raises(Rejected):
        d.send(m.MethodChosen, method="pin")
    d.face_path([True])
    d.consent_all()
    assert d.results[0]["token"] == "pinless" and d.results[0]["identity"]["method"] == "face"
    assert not kinds(d.actions, m.QueryPinTries) and not kinds(d.actions, m.VerifyPin)


@pytest.mark.parametrize("how", ["face", "visual"])
def test_pinless_card_registers_by_face_or_visual_check(store, how):
    d = Driver(store)
    pinless(d, registration=True)
    assert d.last_show().options == ("face", "staff")
    if how == "face":
        d.face_path([True])
    else:
        d.send(m.MethodChosen, method="staff")
        d.send(m.VisualConfirmed, staff="受付1")
    assert d.machine.state == State.REGISTRATION_CONFIRM
    d.send(m.ConsentAnswered, screen="registration", answer="agree")
    assert d.results[0]["type"] == "registration" and d.results[0]["identity"]["method"] == how
    assert d.results[0]["token"] == "pinless"


def test_pinless_registration_keeps_the_face_lock(store):
    d = Driver(store)
    for session in range(3):                  # three failed face sessions lock face for this card
        d = Driver(store)
        d.send(m.CardPlaced, session_id=f"f{session}", nonce=b"n" * 32)
        d.send(m.CardRead, token="pinless", certificate=d.cert, pin_tries=None, code_b_tries=10)
        d.face_path([False, False, False])
    d = Driver(store)
    pinless(d, registration=True)
    assert d.last_show().options == ("staff",) and "face_locked" in d.machine.told


def test_a_card_with_a_pin_still_registers_by_pin_only(store):
    d = Driver(store, card=FakeCard(pin_tries=0))
    d.place(registration=True)
    assert d.ended[-1].reason == "registration_needs_pin"
    d = Driver(store)
    d.place(registration=True)
    assert d.last_show().options == ("pin",)
    with pytest.raises(Rejected):
        d.send(m.MethodChosen, method="face")
    with pytest.raises(Rejected):
        d.send(m.VisualCheckRequested)


def test_lockouts_from_before_the_issuer_keys_are_kept(tmp_path):
    """A store written when keys were the serial alone: the card's face lock survives the new keys."""
    path = tmp_path / "state"
    old = Store(path)
    cert = certificate()
    legacy = old.legacy_card_key(cert.serial)
    for i in range(3):
        old.record_failure(legacy, "face", f"old{i}", dt.datetime(2026, 11, 24, 0, i, tzinfo=dt.timezone.utc).timestamp())
    old.close()
    store = Store(path)
    d = Driver(store, cert=cert)
    d.place()
    assert "face_locked" in d.machine.told and "face" not in d.last_show().options
    key = d.machine.card_key
    assert key != legacy and store.failures(key, "face", 0) == 3 and store.failures(legacy, "face", 0) == 0
    # the same serial from another issuer (a phone's CA) is another token
    assert store.token_key("CN=PHONE CA", cert.serial) != key
    store.close()


def test_a_slowed_reader_takes_no_phone_pin_until_the_pause_ends(store):
    from mynareader.daemon.reception.policy import Policy
    policy = Policy(slowdown_cards=1, slowdown_seconds=30)
    store.record_failure("another-card", "pin", "old", (T0 - dt.timedelta(seconds=5)).timestamp())
    d = Driver(store, policy=policy)
    phone(d, "android", pin_tries=5)
    assert "slow_down" in d.machine.told and d.machine.state == State.PIN_ENTRY
    with pytest.raises(Rejected, match="pausing"):
        d.send(m.PinEntered, pin=Pin("1234"))
    d.now += dt.timedelta(seconds=40)
    assert kinds(d.send(m.PinEntered, pin=Pin("1234")), m.VerifyPin)
