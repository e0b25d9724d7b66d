"""The reception flow as a sans-IO state machine: events in, actions out (design.md, h11's habit).

No sockets, threads or clock reads: time arrives in events. The store is the one piece of I/O the machine
consults directly (lockouts must be read before deciding); a StoreError in any handler becomes the StoreFailed
event, which ends the session (identity checks stop). The table in ``transitions.py`` decides which event is
taken in which state and where its handler may lead; ``handle`` holds every handler to its row.
"""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from ...device.card import PIN_MAX_TRIES
from ...device.certificate import CertificateInfo
from ..certificate_state import CertificateState, certificate_state
from ..clock import today_jst
from ..store import Store, StoreError
from . import messages as m
from .consent import Catalogue
from .errors import Rejected, StrayTransition
from .policy import Policy
from .states import IDENTIFYING, PATIENT_WAITS, State
from .texts import TEXTS
from .transitions import row_for

__all__ = ["Reception", "Rejected", "StrayTransition"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Reception:
    def __init__(self, policy: Policy, catalogue: Catalogue, store: Store | None, face_enabled: bool = True):
        self.policy, self.catalogue, self.store = policy, catalogue, store
        self.face_enabled = face_enabled   # False: no camera, models or card-face source on this reader
        self._reset()

    def _reset(self) -> None:
        self.state = State.IDLE
        self.session_id: str | None = None
        self.started: dt.datetime | None = None
        self.last_activity: dt.datetime | None = None
        self.nonce = b""
        self.registration = False
        self.certificate: CertificateInfo | None = None
        self.cert_state: CertificateState | None = None
        self.card_key: str | None = None
        self.pin_tries: int | None = None
        self.code_b_tries: int | None = None
        self.face_attempts = 0
        self.face_failures: list[dict[str, Any]] = []   # failed face verdicts, for the result event
        self.face_blocked: str | None = None      # why face is not offered, or None
        self.pin_blocked: str | None = None
        self.pin_failures = 0
        self.visual_requested = False
        self.identity: dict[str, Any] | None = None
        self.consents: list[dict] = []
        self.consent_queue: list[str] = []
        self.prescription: str | None = None
        self.told: list[str] = []
        self.ended = False
        self.slow_until: dt.datetime | None = None

    # -- entry point ------------------------------------------------------------------------------
    def accepts(self, event_type: type[m.Event]) -> bool:
        return row_for(self.state, event_type) is not None

    def handle(self, event: m.Event) -> list[m.Action]:
        """Look the event up in the table, let its handler decide, and hold the handler to the row's targets."""
        row = row_for(self.state, type(event))
        if row is None:
            raise Rejected(f"{type(event).__name__} is not taken in state {self.state}")
        if not isinstance(event, (m.Tick, m.CardRemoved, m.StoreFailed)):
            self.last_activity = event.now
        before = self.state
        try:
            actions = getattr(self, "_" + row.handler)(event)
        except StoreError as exc:   # the store failed mid-decision: that is an event of its own (fail closed)
            return self.handle(m.StoreFailed(event.now, str(exc)))
        if not row.allows(before, self.state):
            raise StrayTransition(f"{type(event).__name__} in state {before} led to {self.state}; the table allows "
                                  f"{', '.join(row.targets + ((before,) if row.stays else ())) or 'nothing'}")
        return actions

    # -- helpers ----------------------------------------------------------------------------------
    def _show(self, step: State, key: str, options: tuple[str, ...] = (), **data) -> m.Show:
        self.told.append(key)
        ja, en = TEXTS[key]
        return m.Show(step, key, ja, en, options, data)

    def _audit(self, now: dt.datetime, event: str, **detail) -> None:
        if self.store is not None:
            self.store.audit(now.timestamp(), self.session_id, event, **detail)

    def _db(self) -> Store:
        """The store, for a decision that needs it; none (it failed at start) fails closed like a store error."""
        if self.store is None:
            raise StoreError("the state store is not available")
        return self.store

    def _card(self) -> tuple[str, str]:
        """This session's id and card key: only steps after the card was read may touch the card's record."""
        if self.session_id is None or self.card_key is None:
            raise StrayTransition(f"a card record was touched before the card was read (state {self.state})")
        return self.session_id, self.card_key

    def _record_failure(self, kind: str, now: dt.datetime) -> None:
        session, card = self._card()
        self._db().record_failure(card, kind, session, now.timestamp())

    def _options(self) -> tuple[str, ...]:
        options = []
        if self.face_blocked is None and not self.registration:
            options.append("face")
        if self.pin_blocked is None:
            options.append("pin")
        if not self.registration:     # 目視 by staff is always offered: a tap on it calls them (registration needs the PIN)
            options.append("staff")
        return tuple(options)

    def _choose(self, key: str = "choose_method", *extra: m.Action) -> list[m.Action]:
        self.state = State.CHOOSE_METHOD
        shows = [] if key == "choose_method" else [self._show(State.CHOOSE_METHOD, key)]
        options = self._options()
        data = {"face_unavailable": self.face_blocked, "pin_unavailable": self.pin_blocked,
                "pin_tries": self.pin_tries}
        main_key = "visual_wait" if self.visual_requested or options == ("staff",) else "choose_method"
        return [*extra, *shows, self._show(State.CHOOSE_METHOD, main_key, options, **data)]

    def _abort(self, now: dt.datetime, reason: str, key: str, **detail) -> list[m.Action]:
        actions: list[m.Action] = []
        if self.state == State.FACE_MATCHING:
            actions.append(m.StopFaceCheck())
        self.state = State.TAKE_CARD
        self.ended = True
        try:
            self._audit(now, "session_aborted", reason=reason)
        except StoreError:
            pass  # already failing closed; the abort itself must still happen
        return [*actions, self._show(State.TAKE_CARD, key, **detail), m.EndSession("aborted", reason)]

    def _slowed_until(self, now: dt.datetime) -> dt.datetime | None:
        """When failures on many cards make the reader pause identity checks: until when, else None."""
        p = self.policy
        since = now.timestamp() - p.slowdown_window_minutes * 60
        cards, last = self._db().cards_failing_since(since)
        if cards >= p.slowdown_cards and last is not None:
            self.slow_until = dt.datetime.fromtimestamp(last + p.slowdown_seconds, dt.timezone.utc)
            if now < self.slow_until:
                return self.slow_until
        return None

    # -- handlers ---------------------------------------------------------------------------------
    def _card_placed(self, e: m.CardPlaced) -> list[m.Action]:
        self._reset()
        self.state, self.session_id, self.started = State.READING, e.session_id, e.now
        self.last_activity, self.nonce, self.registration = e.now, e.nonce, e.registration
        return [self._show(State.READING, "reading"), m.ReadCard()]

    def _card_read(self, e: m.CardRead) -> list[m.Action]:
        if self.store is None:
            raise StoreError("no state store is open")
        if e.token != "mynumber" or e.certificate is None:
            self._audit(e.now, "card_rejected", token=e.token)
            return self._abort(e.now, "unsupported_card", "not_mynumber", token=e.token)
        self.certificate = e.certificate
        self.cert_state = certificate_state(e.certificate.not_after, today_jst(e.now), self.policy.certificates)
        self.card_key = self._db().card_key(e.certificate.serial)
        self.pin_tries, self.code_b_tries = e.pin_tries, e.code_b_tries
        self._audit(e.now, "card_read", card=self.card_key, certificate_state=self.cert_state.value,
                    registration=self.registration)
        if self.cert_state is CertificateState.EXPIRED:
            return self._abort(e.now, "certificate_expired", "expired")
        pre: list[m.Action] = []
        if self.cert_state is CertificateState.RENEWAL_DUE:
            pre.append(self._show(State.READING, "renewal_due"))
        elif self.cert_state is CertificateState.GRACE:
            pre.append(self._show(State.READING, "grace"))
        if not self.face_enabled:
            self.face_blocked = "face_off"
        elif e.code_b_tries is None:
            self.face_blocked = "no_card_face"
        elif e.code_b_tries <= self.policy.code_b_floor:
            self.face_blocked = "code_b_tries_low"
        elif self._db().face_locked(self.card_key, self.policy.face_lock_sessions,
                                    e.now.timestamp() - self.policy.face_lock_window_hours * 3600):
            self.face_blocked = "face_locked"
            pre.append(self._show(State.CHOOSE_METHOD, "face_locked"))
        if e.pin_tries == 0:
            self.pin_blocked = "pin_blocked"
            pre.append(self._show(State.CHOOSE_METHOD, "pin_blocked"))
        if self.registration and self.pin_blocked:
            return [*pre, *self._abort(e.now, "registration_needs_pin", "pin_blocked")]
        if (until := self._slowed_until(e.now)) is not None:
            pre.append(self._show(State.CHOOSE_METHOD, "slow_down", until=until.isoformat()))
        return self._choose("choose_method", *pre)

    def _method_chosen(self, e: m.MethodChosen) -> list[m.Action]:
        if self.slow_until is not None and e.now < self.slow_until:
            raise Rejected(f"the reader is pausing identity checks until {self.slow_until.isoformat()}")
        if e.method == "face":
            if self.registration:     # not offered there (_options): registration is confirmed by the PIN only
                raise Rejected("保険証利用登録 needs the patient's PIN")
            if self.face_blocked:
                raise Rejected(f"face authentication is not available: {self.face_blocked}")
            self.state = State.CODE_B_READ
            return [self._show(State.CODE_B_READ, "face_scan"), m.RequestCodeB()]
        if e.method == "pin":
            if self.pin_blocked:
                raise Rejected(f"PIN entry is not available: {self.pin_blocked}")
            self.state = State.PIN_QUERY
            return [m.QueryPinTries()]
        if e.method == "staff":       # the patient asks for staff: the same 目視 request reception can make
            if self.registration:
                raise Rejected("保険証利用登録 needs the patient's PIN")
            self.visual_requested = True
            self._audit(e.now, "visual_check_requested", by="patient")
            return self._choose()
        raise AssertionError(f"MethodChosen let {e.method!r} through")   # messages.METHODS is checked on construction

    def _code_b_read(self, e: m.CodeBRead) -> list[m.Action]:
        # never VERIFY 照合番号B from a scan that is not certain, nor at or below the floor
        if e.code is None or not e.certain:
            if e.code is not None:
                e.code.wipe()
            self.face_blocked = "card_face_unreadable"
            return self._choose("face_unavailable")
        if self.code_b_tries is None or self.code_b_tries <= self.policy.code_b_floor:
            e.code.wipe()
            self.face_blocked = "code_b_tries_low"
            return self._choose("face_unavailable")
        self.state = State.CODE_B_VERIFY
        return [m.VerifyCodeB(e.code)]

    def _code_b_accepted(self, e: m.CodeBAccepted) -> list[m.Action]:
        self.state = State.FACE_PHOTO
        return [m.ReadFacePhoto()]

    def _code_b_rejected(self, e: m.CodeBRejected) -> list[m.Action]:
        self.code_b_tries = e.tries_left
        self._record_failure("code_b", e.now)
        self.face_blocked = "card_face_mismatch"
        return self._choose("face_unavailable")

    def _face_photo_read(self, e: m.FacePhotoRead) -> list[m.Action]:
        self.state = State.FACE_MATCHING
        self.face_attempts = 1
        return [self._show(State.FACE_MATCHING, "face_look", attempt=1), m.StartFaceCheck(1)]

    def _face_guidance(self, e: m.FaceGuidance) -> list[m.Action]:
        # guidance (no face, too dark, move closer) is not a failure and does not use up an attempt
        return [m.Show(State.FACE_MATCHING, "face_guidance", e.ja, e.en, (), {"code": e.code})]

    def _face_verdict(self, e: m.FaceVerdict) -> list[m.Action]:
        evidence = {"model": e.model, "score": round(e.score, 4), "threshold": e.threshold,
                    "liveness": e.liveness}
        if e.match:
            self._audit(e.now, "identity_confirmed", method="face", **evidence)
            return [m.StopFaceCheck(), *self._identified(e.now, "face", face=evidence)]
        # a failed liveness check is a failed face attempt like a mismatch: same count, same lockout
        spoof = e.liveness.startswith("failed")
        self.face_failures.append({"attempt": self.face_attempts,
                                   "outcome": "liveness_failed" if spoof else "no_match", "liveness": e.liveness})
        if spoof:
            self._audit(e.now, "face_liveness_failed", attempt=self.face_attempts, reason=e.liveness)
        if self.face_attempts < self.policy.face_tries_per_session:
            self.face_attempts += 1
            return [self._show(State.FACE_MATCHING, "face_liveness_failed" if spoof else "face_retry",
                               attempt=self.face_attempts),
                    m.StartFaceCheck(self.face_attempts)]
        self._record_failure("face", e.now)
        self._audit(e.now, "face_failed", attempts=self.face_attempts, **evidence)
        self.face_blocked = "face_failed"
        return self._choose("face_failed", m.StopFaceCheck())

    def _face_unavailable(self, e: m.FaceUnavailable) -> list[m.Action]:
        stop = [m.StopFaceCheck()] if self.state == State.FACE_MATCHING else []
        self.face_blocked = "camera_unavailable"
        self._audit(e.now, "face_unavailable")
        return self._choose("face_unavailable", *stop)

    def _pin_tries(self, e: m.PinTries) -> list[m.Action]:
        self.pin_tries = e.tries
        if e.tries == 0:
            self.pin_blocked = "pin_blocked"
            return self._choose("pin_blocked")
        if self.pin_failures >= self.policy.max_pin_failures_per_session or \
                (e.tries == 1 and self.policy.refuse_last_pin_try):
            self.pin_blocked = "ask_staff"
            self.visual_requested = True
            return self._choose("pin_to_staff")
        self.state = State.PIN_ENTRY
        key = "pin_last_try" if e.tries == 1 else "pin_entry"
        return [self._show(State.PIN_ENTRY, key, ("submit", "cancel"), tries_left=e.tries, last_try=e.tries == 1)]

    def _pin_entered(self, e: m.PinEntered) -> list[m.Action]:
        if self.pin_tries == 1 and not e.confirm_last_try:
            e.pin.wipe()
            return [self._show(State.PIN_ENTRY, "pin_last_try", ("submit", "cancel"), tries_left=1, last_try=True,
                               needs_confirmation=True)]
        self.state = State.PIN_VERIFY
        return [m.VerifyPin(e.pin)]

    def _pin_accepted(self, e: m.PinAccepted) -> list[m.Action]:
        self.pin_tries = PIN_MAX_TRIES  # a correct PIN resets the card's counter
        self.state = State.SIGNING
        return [m.SignChallenge(self.nonce)]

    def _pin_rejected(self, e: m.PinRejected) -> list[m.Action]:
        self.pin_failures += 1
        self.pin_tries = e.tries_left
        self._record_failure("pin", e.now)
        self._audit(e.now, "pin_wrong", tries_left=e.tries_left)
        if e.tries_left == 0:
            self.pin_blocked = "pin_blocked"
            if self.registration:
                return self._abort(e.now, "registration_needs_pin", "pin_blocked")
            return self._choose("pin_blocked")
        self.state = State.PIN_QUERY
        return [self._show(State.PIN_QUERY, "pin_wrong", tries_left=e.tries_left), m.QueryPinTries()]

    def _signed(self, e: m.Signed) -> list[m.Action]:
        signature = {"algorithm": "RSASSA-PKCS1-v1_5-SHA256", "challenge": _b64(self.nonce),
                     "signature": _b64(e.signature)}
        self._audit(e.now, "identity_confirmed", method="pin")
        return self._identified(e.now, "pin", signature=signature)

    def _face_lock_lifted(self, e: m.FaceLockLifted) -> list[m.Action]:
        if self.face_blocked != "face_locked":
            raise Rejected("face authentication is not locked for this card")
        _session, card = self._card()
        self._db().lift_face_lock(card, e.staff, e.now.timestamp())
        self._audit(e.now, "face_lock_lifted", card=card)
        self.face_blocked = None
        return self._choose()

    def _challenge_set(self, e: m.ChallengeSet) -> list[m.Action]:
        if self.state in (State.SIGNING, State.TAKE_CARD) or self.identity is not None:
            raise Rejected("the challenge can only change before the card signs")
        self.nonce = e.nonce
        return []

    def _visual_requested(self, e: m.VisualCheckRequested) -> list[m.Action]:
        if self.state not in IDENTIFYING:
            raise Rejected("目視確認 can be asked for only while the patient is confirming identity")
        self.visual_requested = True
        self._audit(e.now, "visual_check_requested")
        if self.state == State.CHOOSE_METHOD:
            return self._choose()
        return []

    def _visual_confirmed(self, e: m.VisualConfirmed) -> list[m.Action]:
        if not self.visual_requested or self.state not in IDENTIFYING:
            raise Rejected("ask for 目視確認 for this session first (session.request_visual)")
        if self.registration:
            raise Rejected("保険証利用登録 needs the patient's PIN")
        # 目視確認 resets no counter: neither the card's nor the store's
        stop = [m.StopFaceCheck()] if self.state == State.FACE_MATCHING else []
        self._audit(e.now, "identity_confirmed", method="visual")
        return [*stop, *self._identified(e.now, "visual", staff=e.staff)]

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
            "identity": identity,
            "certificate": {"serial": format(cert.serial, "X"), "state": cert_state.value,
                            "not_after": cert.not_after.isoformat(), "der": _b64(cert.der)},
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

    def _cancelled(self, e: m.Cancelled) -> list[m.Action]:
        if self.ended:
            raise Rejected("the session has already ended")
        return self._abort(e.now, f"cancelled_by_{e.by}", "cancelled")

    def _card_failed(self, e: m.CardFailed) -> list[m.Action]:
        if self.ended:
            return []
        return self._abort(e.now, "card_error", "card_error", detail=e.message)

    def _store_failed(self, e: m.StoreFailed) -> list[m.Action]:
        # even a session that had just completed: its result was not recorded, so it is not given out
        return self._abort(e.now, "store_unavailable", "store_unavailable", detail=e.message)

    def idle_deadline(self) -> dt.datetime | None:
        """When the idle timeout will end this session if nothing happens, or None while no timeout runs (the
        reader is working, or the session has ended). The patient's screen counts down to it."""
        if self.ended or self.state not in PATIENT_WAITS or self.last_activity is None:
            return None
        return self.last_activity + dt.timedelta(seconds=self.policy.idle_timeout_seconds)

    def _still_here(self, e: m.StillHere) -> list[m.Action]:
        # handle() has already moved last_activity to now: the idle timer starts again
        if self.ended or self.state not in PATIENT_WAITS:
            raise Rejected("no timeout is running at this step")
        return []

    def _tick(self, e: m.Tick) -> list[m.Action]:
        deadline = self.idle_deadline()
        if deadline is not None and e.now >= deadline:
            return self._abort(e.now, "idle_timeout", "idle_timeout")
        return []

    def _card_removed(self, e: m.CardRemoved) -> list[m.Action]:
        actions: list[m.Action] = []
        if not self.ended:
            if self.state == State.FACE_MATCHING:
                actions.append(m.StopFaceCheck())
            actions.append(m.EndSession("aborted", "card_removed"))
            try:
                self._audit(e.now, "session_aborted", reason="card_removed")
            except StoreError:
                pass
        self._reset()
        return actions
