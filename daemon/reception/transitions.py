"""The reception flow's transition table: the one place that says which event moves which state where.

As in h11's ``_state.py``, the table decides. Each row: the state it applies in (``ACTIVE``: every state but
``idle``), the event class, the handler that decides among the row's targets, and the targets themselves.
``Reception.handle`` refuses an event with no row for the current state (``Rejected``) and refuses a handler
that leaves the machine anywhere the row does not name (``StrayTransition``: a bug in the flow). ``stays``: the
event may also leave the state as it was (rows that apply in many states). docs/flow.md's diagram is generated
from this table (``python -m mynareader.daemon.reception.diagram``).
"""
from __future__ import annotations

import dataclasses

from . import messages as m
from .states import ACTIVE, IDENTIFYING, State

__all__ = ["ACTIVE", "IDENTIFYING", "STATES", "TABLE", "TRANSITIONS", "Row", "State", "mermaid", "row_for"]

S = State


@dataclasses.dataclass(frozen=True)
class Row:
    source: State | None                 # None: ACTIVE, every state but idle
    event: type[m.Event]
    handler: str                         # Reception._<handler>
    targets: tuple[State, ...]
    stays: bool = False                  # may also leave the state it found unchanged

    def allows(self, before: State, after: State) -> bool:
        return after in self.targets or (self.stays and after == before)


def _row(source: State | None, event: type[m.Event], handler: str, *targets: State, stays: bool = False) -> Row:
    return Row(source, event, handler, targets, stays)


TRANSITIONS: tuple[Row, ...] = (
    _row(S.IDLE, m.CardPlaced, "card_placed", S.READING),
    # the token decides the path (device/tokens.py): a card chooses; Android goes to its PIN; an iPhone signs,
    # or is told to unlock first
    _row(S.READING, m.CardRead, "card_read", S.CHOOSE_METHOD, S.PIN_ENTRY, S.SIGNING, S.PHONE_UNLOCK, S.TAKE_CARD),
    _row(S.CHOOSE_METHOD, m.MethodChosen, "method_chosen", S.CODE_B_READ, S.PIN_QUERY, S.CHOOSE_METHOD),
    _row(S.CODE_B_READ, m.CodeBRead, "code_b_read", S.CODE_B_VERIFY, S.CHOOSE_METHOD),
    _row(S.CODE_B_VERIFY, m.CodeBAccepted, "code_b_accepted", S.FACE_PHOTO),
    _row(S.CODE_B_VERIFY, m.CodeBRejected, "code_b_rejected", S.CHOOSE_METHOD),
    _row(S.FACE_PHOTO, m.FacePhotoRead, "face_photo_read", S.FACE_MATCHING),
    _row(S.FACE_MATCHING, m.FaceGuidance, "face_guidance", S.FACE_MATCHING),
    _row(S.FACE_MATCHING, m.FaceVerdict, "face_verdict", S.FACE_MATCHING, S.CHOOSE_METHOD, S.CONSENT,
         S.PRESCRIPTION_FORM, S.REGISTRATION_CONFIRM, S.TAKE_CARD),     # registration: the PIN-less card
    _row(S.CODE_B_READ, m.FaceUnavailable, "face_unavailable", S.CHOOSE_METHOD),
    _row(S.FACE_PHOTO, m.FaceUnavailable, "face_unavailable", S.CHOOSE_METHOD),
    _row(S.FACE_MATCHING, m.FaceUnavailable, "face_unavailable", S.CHOOSE_METHOD),
    _row(S.PIN_QUERY, m.PinTries, "pin_tries", S.PIN_ENTRY, S.CHOOSE_METHOD, S.TAKE_CARD),
    _row(S.PIN_ENTRY, m.PinEntered, "pin_entered", S.PIN_VERIFY, S.PIN_ENTRY),
    _row(S.PIN_ENTRY, m.MethodChosen, "method_chosen", S.CODE_B_READ, S.PIN_QUERY, S.CHOOSE_METHOD),  # forgot the PIN
    _row(S.PIN_VERIFY, m.PinAccepted, "pin_accepted", S.SIGNING, S.CERTIFICATE_READ),
    _row(S.PHONE_UNLOCK, m.MethodChosen, "phone_unlocked", S.CERTIFICATE_READ),
    _row(S.CERTIFICATE_READ, m.CertificateRead, "certificate_read", S.SIGNING, S.TAKE_CARD),
    _row(S.CERTIFICATE_READ, m.TokenLocked, "token_locked", S.PHONE_UNLOCK, S.TAKE_CARD),
    _row(S.SIGNING, m.TokenLocked, "token_locked", S.PHONE_UNLOCK, S.TAKE_CARD),
    _row(S.PIN_VERIFY, m.PinRejected, "pin_rejected", S.PIN_QUERY, S.CHOOSE_METHOD, S.TAKE_CARD),
    _row(S.SIGNING, m.Signed, "signed", S.CONSENT, S.PRESCRIPTION_FORM, S.REGISTRATION_CONFIRM, S.TAKE_CARD),
    _row(S.CHOOSE_METHOD, m.FaceLockLifted, "face_lock_lifted", S.CHOOSE_METHOD),
    _row(S.CONSENT, m.ConsentAnswered, "consent_answered", S.CONSENT, S.PRESCRIPTION_FORM, S.TAKE_CARD),
    _row(S.PRESCRIPTION_FORM, m.ConsentAnswered, "prescription_answered", S.TAKE_CARD),
    _row(S.REGISTRATION_CONFIRM, m.ConsentAnswered, "registration_answered", S.TAKE_CARD),
    _row(None, m.ChallengeSet, "challenge_set", stays=True),
    _row(None, m.VisualCheckRequested, "visual_requested", stays=True),
    _row(None, m.VisualConfirmed, "visual_confirmed", S.CONSENT, S.PRESCRIPTION_FORM, S.REGISTRATION_CONFIRM,
         S.TAKE_CARD),
    _row(None, m.Cancelled, "cancelled", S.TAKE_CARD),
    _row(None, m.CardFailed, "card_failed", S.TAKE_CARD),
    _row(None, m.StoreFailed, "store_failed", S.TAKE_CARD),     # any StoreError in a handler (fail closed)
    _row(None, m.StillHere, "still_here", stays=True),   # the patient answers the countdown
    _row(None, m.Tick, "tick", S.TAKE_CARD, stays=True),
    _row(None, m.CardRemoved, "card_removed", S.IDLE),
)


def _table(rows: tuple[Row, ...]) -> dict[State, dict[type[m.Event], Row]]:
    """state -> event class -> row; a pair defined twice is an error in the table, found at import."""
    table: dict[State, dict[type[m.Event], Row]] = {state: {} for state in State}
    for row in rows:
        for state in ([row.source] if row.source is not None else sorted(ACTIVE)):
            if row.event in table[state]:
                raise AssertionError(f"two rows for {row.event.__name__} in state {state}")
            table[state][row.event] = row
    return table


TABLE = _table(TRANSITIONS)

STATES = sorted(state for state, rows in TABLE.items() if rows)


def row_for(state: State, event: type[m.Event]) -> Row | None:
    return TABLE[state].get(event)


def mermaid() -> str:
    """A Mermaid state diagram of the table (written into docs/flow.md by ``python -m ...reception.diagram``)."""
    lines = ["stateDiagram-v2", "    [*] --> idle"]
    seen = set()
    for row in TRANSITIONS:
        source = row.source.value if row.source is not None else "active"
        targets = [t.value for t in row.targets] + ([source] if row.stays else [])
        for target in targets:
            key = (source, target, row.event.__name__)
            if key not in seen:
                seen.add(key)
                lines.append(f"    {source} --> {target}: {row.event.__name__}")
    lines.append("    note right of active: any state but idle")
    return "\n".join(lines)
