"""Drive the reception machine in tests: a card model, certificates of a chosen expiry, a clock."""
from __future__ import annotations

import dataclasses
import datetime as dt

from mynareader.daemon.reception import messages as m
from mynareader.daemon.reception.consent import load_catalogue
from mynareader.daemon.reception.machine import Reception
from mynareader.daemon.reception.policy import Policy
from mynareader.daemon.reception.states import State
from mynareader.daemon.store import Store
from mynareader.device.certificate import CertificateInfo
from mynareader.device.pin import Pin

T0 = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.timezone.utc)   # 10:00 JST
CODE_B = "55021720352285"


def certificate(not_after: dt.date = dt.date(2029, 2, 17), serial: int = 0x1234) -> CertificateInfo:
    at = dt.datetime(not_after.year, not_after.month, not_after.day, 14, 59, 59, tzinfo=dt.timezone.utc)
    return CertificateInfo(der=b"\x30\x82\x00\x00test", serial=serial, subject="C=JP", issuer="CN=TEST CA",
                           not_before=at - dt.timedelta(days=5 * 365), not_after=at)


@dataclasses.dataclass
class FakeCard:
    """The card's counters, as the real card keeps them (decrement, reset on success, block at 0)."""
    pin: str = "1234"
    pin_tries: int = 3
    code_b_tries: int = 10
    verify_pins: int = 0
    code_b_verifies: int = 0

    def verify_pin(self, pin: Pin) -> m.Event:
        assert self.pin_tries > 0, "a VERIFY was sent to a blocked PIN"
        self.verify_pins += 1
        if pin.bytes_for_apdu().decode() == self.pin:
            self.pin_tries = 3
            return m.PinAccepted(T0)
        self.pin_tries -= 1
        return m.PinRejected(T0, self.pin_tries)


class Driver:
    """Feeds events with a moving clock and answers card actions from a FakeCard."""

    def __init__(self, store: Store, policy: Policy = Policy(), card: FakeCard | None = None,
                 cert: CertificateInfo | None = None):
        self.machine = Reception(policy, load_catalogue(), store)
        self.card = card or FakeCard()
        self.cert = cert or certificate()
        self.now = T0
        self.actions: list[m.Action] = []
        self.results: list[dict] = []
        self.ended: list[m.EndSession] = []

    def send(self, event_cls, **kw) -> list[m.Action]:
        self.now += dt.timedelta(seconds=1)
        out = self.machine.handle(event_cls(self.now, **kw))
        self.actions.extend(out)
        for a in out:
            if isinstance(a, m.EmitResult):
                self.results.append(a.result)
            if isinstance(a, m.EndSession):
                self.ended.append(a)
        return out

    def last_show(self) -> m.Show:
        return [a for a in self.actions if isinstance(a, m.Show)][-1]

    def place(self, token="mynumber", registration=False):
        self.send(m.CardPlaced, session_id="s1", nonce=b"n" * 32, registration=registration)
        return self.send(m.CardRead, token=token, certificate=self.cert, pin_tries=self.card.pin_tries,
                         code_b_tries=self.card.code_b_tries)

    def pin_path(self, pin: str, confirm_last_try=False):
        out = self.send(m.MethodChosen, method="pin") if self.machine.state == State.CHOOSE_METHOD else []
        return out + self.answer_pin_query(pin, confirm_last_try)

    def answer_pin_query(self, pin, confirm_last_try=False):
        out = self.send(m.PinTries, tries=self.card.pin_tries)
        if self.machine.state != State.PIN_ENTRY:
            return out
        out = self.send(m.PinEntered, pin=Pin(pin), confirm_last_try=confirm_last_try)
        verify = [a for a in out if isinstance(a, m.VerifyPin)]
        if not verify:
            return out
        answer = self.card.verify_pin(verify[0].pin)
        out = self.send(type(answer), **({"tries_left": answer.tries_left} if isinstance(answer, m.PinRejected) else {}))
        if any(isinstance(a, m.SignChallenge) for a in out):
            out = self.send(m.Signed, signature=b"s" * 256)
        return out

    def face_path(self, verdicts: list[bool], certain=True):
        self.send(m.MethodChosen, method="face")
        out = self.send(m.CodeBRead, code=Pin(CODE_B, min_len=14, max_len=14), certain=certain)
        if not any(isinstance(a, m.VerifyCodeB) for a in out):
            return out
        self.card.code_b_verifies += 1
        self.send(m.CodeBAccepted)
        self.send(m.FacePhotoRead)
        for match in verdicts:
            out = self.send(m.FaceVerdict, match=match, score=0.9 if match else 0.2, threshold=0.5, model="t")
            if self.machine.state != State.FACE_MATCHING:
                break
        return out

    def consent_all(self):
        return self.send(m.ConsentAnswered, screen="comprehensive", answer="agree")
