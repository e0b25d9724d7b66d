"""One reception session's state and the helpers every phase of the flow shares (reception/machine.py).

The handlers live with their phase: identity (identity.py), the answers after it (answers.py), and the session's
own events (machine.py). None of them chooses where the flow may go: the table in transitions.py does, and
``Reception.handle`` holds each handler to its row.
"""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from ...device.certificate import CertificateInfo
from ...device.tokens import TOKENS, Token, TokenKind
from ..clock import today_jst
from ..store import Store, StoreError
from . import messages as m
from .certificate_state import CertificateState, certificate_state
from .consent import Catalogue
from .errors import StrayTransition
from .policy import Policy
from .states import PATIENT_WAITS, State
from .texts import TEXTS

PHONE_UNLOCK_PROMPTS = 3    # times a session asks to unlock the iPhone before it sends the patient to use the card


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Session:
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
        self.token: Token = TOKENS[TokenKind.UNKNOWN]   # what the token is and allows (device/tokens.py)
        self.unlock_prompts = 0
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

    def _allowed(self, method: str) -> bool:
        """The token offers ``method`` (tokens.TOKENS), and so does this session's purpose: a registration takes
        only the methods the token's row lists for it (a card: the PIN; the PIN-less card: face or 目視)."""
        return method in self.token.methods and (not self.registration or method in self.token.registration)

    def _options(self) -> tuple[str, ...]:
        options = []
        if self.face_blocked is None and self._allowed("face"):
            options.append("face")
        if self.pin_blocked is None and self._allowed("pin"):
            options.append("pin")
        if self._allowed("staff"):    # 目視 by staff is offered wherever the token allows it: a tap calls them
            options.append("staff")
        return tuple(options)

    def _take_certificate(self, now: dt.datetime, cert: CertificateInfo) -> list[m.Action] | None:
        """The token's certificate is known: its state (no grace for a token without one: a phone), its store key
        (issuer + serial). Returns the session's end when it has expired, else None."""
        self.certificate = cert
        state = certificate_state(cert.not_after, today_jst(now), self.policy.certificates)
        if state is CertificateState.GRACE and not self.token.grace:
            state = CertificateState.EXPIRED
        self.cert_state = state
        self.card_key = self._db().token_key(cert.issuer, cert.serial, adopt_legacy=not self.token.phone)
        self._audit(now, "card_read", card=self.card_key, certificate_state=state.value, token=self.token.kind.value,
                    registration=self.registration)
        if state is CertificateState.EXPIRED:
            return self._abort(now, "certificate_expired", "expired")
        return None

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

    def idle_deadline(self) -> dt.datetime | None:
        """When the idle timeout will end this session if nothing happens, or None while no timeout runs (the
        reader is working, or the session has ended). The patient's screen counts down to it."""
        if self.ended or self.state not in PATIENT_WAITS or self.last_activity is None:
            return None
        return self.last_activity + dt.timedelta(seconds=self.policy.idle_timeout_seconds)

    def _identified(self, now: dt.datetime, method: str, **evidence) -> list[m.Action]:
        """Identity confirmed: on to the answers (AnswerPhase in answers.py)."""
        raise NotImplementedError
