"""The flow's identity phase: the patient chooses face, PIN or staff; 照合番号B, the chip photo and the face
check; the PIN and the card's signature; 目視確認 by staff and lifting a face lock. Each handler ends in
``_identified`` (answers.py) or back at the choice (``_choose``).
"""
from __future__ import annotations

import datetime as dt

from ...device.tokens import Unlock
from . import messages as m
from .certificate_state import CertificateState
from .errors import Rejected
from .session import PHONE_UNLOCK_PROMPTS, Session, b64
from .states import IDENTIFYING, State


class IdentityPhase(Session):
    def _method_chosen(self, e: m.MethodChosen) -> list[m.Action]:
        if self.slow_until is not None and e.now < self.slow_until:
            raise Rejected(f"the reader is pausing identity checks until {self.slow_until.isoformat()}")
        if e.method != "device_unlock" and not self._allowed(e.method):
            if self.registration and e.method in self.token.methods:
                raise Rejected("保険証利用登録 with this card needs the patient's PIN")
            raise Rejected(f"{e.method} is not offered for this {self.token.kind.value} token")
        if e.method == "face":
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
            self.visual_requested = True
            self._audit(e.now, "visual_check_requested", by="patient")
            return self._choose()
        if e.method == "device_unlock":
            raise Rejected("device_unlock answers the phone_unlock screen only")
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
        data: dict = {"code": e.code}
        if e.flash is not None:        # the screen lights the face: what to show (docs/protocol.md, guidance)
            data["flash"] = e.flash
        return [m.Show(State.FACE_MATCHING, "face_guidance", e.ja, e.en, (), data)]

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
        self.face_blocked = e.cause
        self._audit(e.now, "face_unavailable")
        return self._choose("face_unavailable", *stop)

    def _pin_tries(self, e: m.PinTries) -> list[m.Action]:
        return self._after_tries(e.now, e.tries)

    def _after_tries(self, now: dt.datetime, tries: int) -> list[m.Action]:
        """The tries the token just gave (never assumed: a phone's limit is unknown) decide the PIN screen."""
        if self.token.pin_max is not None and tries > self.token.pin_max:
            return self._abort(now, "card_error", "card_error", detail=f"the card reports {tries} PIN tries")
        self.pin_tries = tries
        if tries == 0:
            self.pin_blocked = "pin_blocked"
            if self.token.phone:
                return self._abort(now, "pin_blocked", "phone_pin_blocked")
            return self._choose("pin_blocked")
        if self.pin_failures >= self.policy.max_pin_failures_per_session or \
                (tries == 1 and self.policy.refuse_last_pin_try):
            self.pin_blocked = "ask_staff"
            if self.token.phone:        # no 目視 for a phone: the patient uses the card, or asks at the desk
                return self._abort(now, "pin_stopped", "phone_pin_stop")
            self.visual_requested = True
            return self._choose("pin_to_staff")
        self.state = State.PIN_ENTRY
        key = "pin_last_try" if tries == 1 else ("phone_pin_entry" if self.token.phone else "pin_entry")
        phone = {"phone": True} if self.token.phone else {}     # the screen offers no 目視 for a phone
        return [self._show(State.PIN_ENTRY, key, ("submit", "cancel"), tries_left=tries, last_try=tries == 1, **phone)]

    def _pin_entered(self, e: m.PinEntered) -> list[m.Action]:
        if self.slow_until is not None and e.now < self.slow_until:   # a phone reaches its PIN without a choice
            e.pin.wipe()
            raise Rejected(f"the reader is pausing identity checks until {self.slow_until.isoformat()}")
        if self.pin_tries == 1 and not e.confirm_last_try:
            e.pin.wipe()
            return [self._show(State.PIN_ENTRY, "pin_last_try", ("submit", "cancel"), tries_left=1, last_try=True,
                               needs_confirmation=True)]
        self.state = State.PIN_VERIFY
        return [m.VerifyPin(e.pin)]

    def _pin_accepted(self, e: m.PinAccepted) -> list[m.Action]:
        self.pin_tries = self.token.pin_max  # a correct PIN resets the counter (a phone's full value: unknown)
        if self.token.cert_after_unlock and self.certificate is None:    # Android: the certificate opens only now
            self.state = State.CERTIFICATE_READ
            return [m.ReadCertificate()]
        self.state = State.SIGNING
        return [m.SignChallenge(self.nonce)]

    def _pin_rejected(self, e: m.PinRejected) -> list[m.Action]:
        self.pin_failures += 1
        self.pin_tries = e.tries_left
        self._record_failure("pin", e.now)
        self._audit(e.now, "pin_wrong", tries_left=e.tries_left)
        if e.tries_left == 0:
            self.pin_blocked = "pin_blocked"
            if self.token.phone:
                return self._abort(e.now, "pin_blocked", "phone_pin_blocked")
            if self.registration:
                return self._abort(e.now, "registration_needs_pin", "pin_blocked")
            return self._choose("pin_blocked")
        self.state = State.PIN_QUERY
        return [self._show(State.PIN_QUERY, "pin_wrong", tries_left=e.tries_left), m.QueryPinTries()]

    def _signed(self, e: m.Signed) -> list[m.Action]:
        signature = {"algorithm": "RSASSA-PKCS1-v1_5-SHA256", "challenge": b64(self.nonce),
                     "signature": b64(e.signature)}
        method = "device_unlock" if self.token.unlock is Unlock.DEVICE else "pin"
        self._audit(e.now, "identity_confirmed", method=method)
        return self._identified(e.now, method, signature=signature)

    # -- phones: the certificate after the PIN (Android) or the unlock (iPhone) ----------------------------
    def _ask_unlock(self, now: dt.datetime) -> list[m.Action]:
        """The iPhone refused: ask the patient to unlock it and hold it again, a few times, then to use the card."""
        self.unlock_prompts += 1
        if self.unlock_prompts > PHONE_UNLOCK_PROMPTS:
            return self._abort(now, "phone_locked", "phone_locked")
        self.state = State.PHONE_UNLOCK
        return [self._show(State.PHONE_UNLOCK, "phone_unlock", ("device_unlock", "cancel"),
                           prompt=self.unlock_prompts)]

    def _phone_unlocked(self, e: m.MethodChosen) -> list[m.Action]:
        if e.method != "device_unlock":
            raise Rejected("unlock the phone, hold it to the reader and answer device_unlock")
        self.state = State.CERTIFICATE_READ
        return [self._show(State.CERTIFICATE_READ, "phone_reading"), m.ReadCertificate()]

    def _certificate_read(self, e: m.CertificateRead) -> list[m.Action]:
        if self.certificate is not None and e.certificate.der != self.certificate.der:
            return self._abort(e.now, "card_error", "card_error", detail="another certificate than before")
        if (end := self._take_certificate(e.now, e.certificate)) is not None:
            return end
        pre = [self._show(State.SIGNING, "renewal_due")] if self.cert_state is CertificateState.RENEWAL_DUE else []
        self.state = State.SIGNING
        return [*pre, m.SignChallenge(self.nonce)]

    def _token_locked(self, e: m.TokenLocked) -> list[m.Action]:
        if self.token.unlock is Unlock.DEVICE:
            self._audit(e.now, "phone_locked", prompt=self.unlock_prompts + 1)
            return self._ask_unlock(e.now)
        # a card or an Android phone refusing after its PIN was accepted: a fault, never a reason to ask again
        return self._abort(e.now, "card_error", "card_error", detail="the token refused after the PIN")

    def _face_lock_lifted(self, e: m.FaceLockLifted) -> list[m.Action]:
        if self.face_blocked != "face_locked":
            raise Rejected("face authentication is not locked for this card")
        _session, card = self._card()
        self._db().lift_face_lock(card, e.staff, e.now.timestamp())
        self._audit(e.now, "face_lock_lifted", card=card)
        self.face_blocked = None
        return self._choose()

    def _visual_requested(self, e: m.VisualCheckRequested) -> list[m.Action]:
        if self.state not in IDENTIFYING:
            raise Rejected("目視確認 can be asked for only while the patient is confirming identity")
        if not self._allowed("staff"):
            raise Rejected(f"目視確認 is not offered for this {self.token.kind.value} token"
                           + (" in 保険証利用登録" if self.registration and self.token.visual else ""))
        self.visual_requested = True
        self._audit(e.now, "visual_check_requested")
        if self.state == State.CHOOSE_METHOD:
            return self._choose()
        return []

    def _visual_confirmed(self, e: m.VisualConfirmed) -> list[m.Action]:
        if not self.visual_requested or self.state not in IDENTIFYING:
            raise Rejected("ask for 目視確認 for this session first (session.request_visual)")
        if not self._allowed("staff"):
            raise Rejected("保険証利用登録 with this card needs the patient's PIN")
        # 目視確認 resets no counter: neither the card's nor the store's
        stop = [m.StopFaceCheck()] if self.state == State.FACE_MATCHING else []
        self._audit(e.now, "identity_confirmed", method="visual")
        return [*stop, *self._identified(e.now, "visual", staff=e.staff)]
