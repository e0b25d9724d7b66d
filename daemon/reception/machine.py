"""The reception flow as a sans-IO state machine: events in, actions out (design.md, h11's habit).

No sockets, threads or clock reads: time arrives in events. The store is the one piece of I/O the machine
consults directly (lockouts must be read before deciding); a StoreError in any handler becomes the StoreFailed
event, which ends the session (identity checks stop). The table in ``transitions.py`` decides which event is
taken in which state and where its handler may lead; ``handle`` holds every handler to its row. The handlers
are grouped by phase: identity.py (face, PIN, staff), answers.py (consent, registration, the result); the
session's state and shared helpers are session.py's ``Session``.
"""
from __future__ import annotations

from ...device.tokens import TOKENS, TokenKind, Unlock
from ..store import StoreError
from . import messages as m
from .answers import AnswerPhase
from .certificate_state import CertificateState
from .errors import Rejected, StrayTransition
from .identity import IdentityPhase
from .states import PATIENT_WAITS, State
from .transitions import row_for

__all__ = ["Reception", "Rejected", "StrayTransition"]


class Reception(IdentityPhase, AnswerPhase):
    """The whole flow: the session's own events here, the phases' handlers in identity.py and answers.py."""

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

    # -- the session's own events -------------------------------------------------------------------
    def _card_placed(self, e: m.CardPlaced) -> list[m.Action]:
        self._reset()
        self.state, self.session_id, self.started = State.READING, e.session_id, e.now
        self.last_activity, self.nonce, self.registration = e.now, e.nonce, e.registration
        return [self._show(State.READING, "reading"), m.ReadCard()]

    def _card_read(self, e: m.CardRead) -> list[m.Action]:
        if self.store is None:
            raise StoreError("no state store is open")
        self.token = token = TOKENS[TokenKind(e.token)]
        if not token.accepted or (e.certificate is None and not token.cert_after_unlock):
            self._audit(e.now, "card_rejected", token=e.token)
            return self._abort(e.now, "unsupported_card", "not_mynumber", token=e.token)
        if self.registration and not token.registration:       # a phone registers in its own app
            self._audit(e.now, "card_rejected", token=e.token, registration=True)
            return self._abort(e.now, "registration_not_here", "registration_phone", token=e.token)
        pre: list[m.Action] = []
        if e.certificate is not None:
            if (end := self._take_certificate(e.now, e.certificate)) is not None:
                return end
            if self.cert_state is CertificateState.RENEWAL_DUE:
                pre.append(self._show(State.READING, "renewal_due"))
            elif self.cert_state is CertificateState.GRACE:
                pre.append(self._show(State.READING, "grace"))
        else:     # an Android phone before its PIN, a locked iPhone: PIN failures are kept under this session
            self.card_key = self._db().token_key("session", self.session_id or "")
            self._audit(e.now, "card_read", card=self.card_key, token=e.token, registration=self.registration)
        if (until := self._slowed_until(e.now)) is not None:
            pre.append(self._show(State.CHOOSE_METHOD, "slow_down", until=until.isoformat()))
        if token.phone:
            return [*pre, *self._phone_read(e)]
        self.pin_tries, self.code_b_tries = e.pin_tries, e.code_b_tries
        if not self.face_enabled:
            self.face_blocked = "face_off"
        elif e.code_b_tries is None:
            self.face_blocked = "no_card_face"
        elif e.code_b_tries <= self.policy.code_b_floor:
            self.face_blocked = "code_b_tries_low"
        elif self._db().face_locked(self._card()[1], self.policy.face_lock_sessions,
                                    e.now.timestamp() - self.policy.face_lock_window_hours * 3600):
            self.face_blocked = "face_locked"
            pre.append(self._show(State.CHOOSE_METHOD, "face_locked"))
        if token.unlock is not Unlock.PIN:
            self.pin_blocked = "no_pin"          # the PIN-less card: face or 目視 only
        elif e.pin_tries is None or e.pin_tries == 0:
            self.pin_blocked = "pin_blocked"
            pre.append(self._show(State.CHOOSE_METHOD, "pin_blocked"))
        if self.registration and not self._options():
            return [*pre, *self._abort(e.now, "registration_needs_pin", "pin_blocked")]
        return self._choose("choose_method", *pre)

    def _phone_read(self, e: m.CardRead) -> list[m.Action]:
        """A phone: no face, no 目視 (tokens.TOKENS). Android goes to its PIN with the tries the phone gave; an
        iPhone signs at once, or is told to unlock first."""
        self.face_blocked = "phone"
        if self.token.unlock is Unlock.PIN:
            if e.pin_tries is None:
                return self._abort(e.now, "card_error", "card_error", detail="the phone gave no PIN tries")
            return self._after_tries(e.now, e.pin_tries)
        self.pin_blocked = "device_unlock"
        if e.locked or e.certificate is None:
            return self._ask_unlock(e.now)
        self.state = State.SIGNING
        return [self._show(State.SIGNING, "phone_signing"), m.SignChallenge(self.nonce)]

    def _challenge_set(self, e: m.ChallengeSet) -> list[m.Action]:
        if self.state in (State.SIGNING, State.TAKE_CARD) or self.identity is not None:
            raise Rejected("the challenge can only change before the card signs")
        self.nonce = e.nonce
        return []

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
