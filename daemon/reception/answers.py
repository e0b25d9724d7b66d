"""The flow after identity: 包括同意 or item-by-item consent from the catalogue, the prescription form, the
保険証利用登録 confirmation, and the result that ends a completed session.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from . import messages as m
from .certificate_state import CertificateState
from .errors import Rejected, StrayTransition
from .session import Session, b64
from .states import State


class AnswerPhase(Session):
    def _identified(self, now: dt.datetime, method: str, **evidence) -> list[m.Action]:
        self.identity = {"method": method, "at": now.isoformat(), **evidence}
        if self.registration:
            self.state = State.REGISTRATION_CONFIRM
            return [self._show(State.REGISTRATION_CONFIRM, "registration_confirm", ("agree", "refuse"))]
        if self.cert_state is CertificateState.GRACE:
            return self._after_consent(now)  # qualification only: no medical-information screens
        self.state = State.CONSENT
        self.consent_queue = []
        c = self.catalogue
        return [m.Show(State.CONSENT, "comprehensive", c.comprehensive_question.ja, c.comprehensive_question.en,
                       ("agree", "individual"),
                       {"screen": "comprehensive", "agree": c.comprehensive_agree.as_dict(),
                        "individual": c.comprehensive_individual.as_dict()})]

    def _show_item(self, item_id: str) -> m.Show:
        item = self.catalogue.item(item_id)
        return m.Show(State.CONSENT, item.id, item.question.ja, item.question.en, ("agree", "refuse"),
                      {"screen": item.id, "agree": item.agree.as_dict(), "refuse": item.refuse.as_dict()})

    def _consent_answered(self, e: m.ConsentAnswered) -> list[m.Action]:
        expected = self.consent_queue[0] if self.consent_queue else "comprehensive"
        if e.screen != expected:
            raise Rejected(f"the screen now is {expected!r}, not {e.screen!r}")
        medical = [i.id for i in self.catalogue.items if i.medical]
        if e.screen == "comprehensive":
            if e.answer == "agree":
                for item_id in medical:
                    self.consents.append({"item": item_id, "value": True, "at": e.now.isoformat(),
                                          "via": "comprehensive"})
                return self._after_consent(e.now)
            self.consent_queue = list(medical)
            return [self._show_item(self.consent_queue[0])]
        self.consents.append({"item": e.screen, "value": e.answer == "agree", "at": e.now.isoformat(),
                              "via": "individual"})
        self.consent_queue.pop(0)
        if self.consent_queue:
            return [self._show_item(self.consent_queue[0])]
        return self._after_consent(e.now)

    def _after_consent(self, now: dt.datetime) -> list[m.Action]:
        if self.policy.ask_prescription_form and self.catalogue.prescription_choices:
            self.state = State.PRESCRIPTION_FORM
            q = self.catalogue.prescription_question
            return [m.Show(State.PRESCRIPTION_FORM, "prescription_form", q.ja, q.en,
                           tuple(cid for cid, _ in self.catalogue.prescription_choices),
                           {"screen": "prescription_form",
                            "choices": {cid: t.as_dict() for cid, t in self.catalogue.prescription_choices}})]
        return self._complete(now)

    def _prescription_answered(self, e: m.ConsentAnswered) -> list[m.Action]:
        ids = [cid for cid, _ in self.catalogue.prescription_choices]
        if e.screen != "prescription_form" or e.answer not in ids:
            raise Rejected(f"answer one of {ids} on the prescription_form screen")
        self.prescription = e.answer
        return self._complete(e.now)

    def _registration_answered(self, e: m.ConsentAnswered) -> list[m.Action]:
        if e.screen != "registration":
            raise Rejected("answer agree or refuse on the registration screen")
        if e.answer == "refuse":
            return self._abort(e.now, "declined", "cancelled")
        return self._complete(e.now)

    def _complete(self, now: dt.datetime) -> list[m.Action]:
        cert, cert_state, started, identity = self.certificate, self.cert_state, self.started, self.identity
        if cert is None or cert_state is None or started is None or identity is None:
            raise StrayTransition(f"a session completed before the card was read and the patient identified "
                                  f"(state {self.state})")
        result: dict[str, Any] = {
            "type": "registration" if self.registration else "reception",
            "session_id": self.session_id,
            "started_at": started.isoformat(),
            "finished_at": now.isoformat(),
            "token": self.token.kind.value,
            "identity": identity,
            "certificate": {"serial": format(cert.serial, "X"), "state": cert_state.value,
                            "not_after": cert.not_after.isoformat(), "der": b64(cert.der)},
            "catalogue_version": self.catalogue.version,
        }
        if self.face_failures:     # staff see a failed liveness check ("liveness_failed") here
            result["face_failures"] = list(self.face_failures)
        if not self.registration:
            result["consents"] = list(self.consents)
            result["provided_without_consent"] = [
                item_id for item_id, _field, _text, in_grace in self.catalogue.always_provided
                if in_grace or self.cert_state is not CertificateState.GRACE]
            result["qualification_only"] = self.cert_state is CertificateState.GRACE
            if self.prescription:
                result["prescription_form"] = self.prescription
        self.state = State.TAKE_CARD
        self.ended = True
        done = self._show(State.TAKE_CARD, "done")
        result["told"] = list(self.told)
        self._audit(now, "session_completed", method=identity["method"], type=result["type"],
                    consents=len(self.consents))
        return [m.EmitResult(result), done, m.EndSession("completed", "completed")]
