"""The reception flow's transition table: the one place that says which event moves which state where.

Each row: (state, event, handler, states it may lead to). ``*`` rows apply in every state but ``idle``.
The machine refuses events not in this table for its state; docs/flow.md's diagram is generated from it.
"""
from __future__ import annotations

ACTIVE = "*"

TRANSITIONS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("idle", "CardPlaced", "card_placed", ("reading",)),
    ("reading", "CardRead", "card_read", ("choose_method", "registration_confirm", "take_card")),
    ("choose_method", "MethodChosen", "method_chosen", ("face_code", "pin_query", "choose_method")),
    ("face_code", "CardFaceCode", "face_code", ("face_kenmen", "choose_method")),
    ("face_kenmen", "KenmenVerified", "kenmen_verified", ("face_photo",)),
    ("face_kenmen", "KenmenRejected", "kenmen_rejected", ("choose_method",)),
    ("face_photo", "FacePhotoRead", "face_photo_read", ("face_matching",)),
    ("face_matching", "FaceGuidance", "face_guidance", ("face_matching",)),
    ("face_matching", "FaceVerdict", "face_verdict", ("face_matching", "choose_method", "consent",
                                                     "prescription_form", "take_card")),
    ("face_code", "FaceUnavailable", "face_unavailable", ("choose_method",)),
    ("face_photo", "FaceUnavailable", "face_unavailable", ("choose_method",)),
    ("face_matching", "FaceUnavailable", "face_unavailable", ("choose_method",)),
    ("pin_query", "PinTries", "pin_tries", ("pin_entry", "choose_method")),
    ("pin_entry", "PinEntered", "pin_entered", ("pin_verify", "pin_entry")),
    ("pin_entry", "MethodChosen", "method_chosen", ("face_code", "pin_query", "choose_method")),
    ("pin_verify", "PinAccepted", "pin_accepted", ("signing",)),
    ("pin_verify", "PinRejected", "pin_rejected", ("pin_query", "choose_method")),
    ("signing", "Signed", "signed", ("consent", "prescription_form", "registration_confirm", "take_card")),
    ("choose_method", "FaceLockLifted", "face_lock_lifted", ("choose_method",)),
    ("consent", "ConsentAnswered", "consent_answered", ("consent", "prescription_form", "take_card")),
    ("prescription_form", "ConsentAnswered", "prescription_answered", ("take_card",)),
    ("registration_confirm", "ConsentAnswered", "registration_answered", ("take_card",)),
    (ACTIVE, "ChallengeSet", "challenge_set", ()),
    (ACTIVE, "VisualCheckRequested", "visual_requested", ()),
    (ACTIVE, "VisualConfirmed", "visual_confirmed", ("consent", "prescription_form", "take_card")),
    (ACTIVE, "Cancelled", "cancelled", ("take_card",)),
    (ACTIVE, "CardFailed", "card_failed", ("take_card",)),
    (ACTIVE, "StillHere", "still_here", ()),
    (ACTIVE, "Tick", "tick", ("take_card",)),
    (ACTIVE, "CardRemoved", "card_removed", ("idle",)),
]

STATES = sorted({row[0] for row in TRANSITIONS if row[0] != ACTIVE} | {"take_card"})

# states in which the patient is confirming identity (目視 may complete them; face/PIN input is expected)
IDENTIFYING = {"choose_method", "face_code", "face_kenmen", "face_photo", "face_matching", "pin_query",
               "pin_entry", "pin_verify"}


def handler_for(state: str, event: str) -> str | None:
    for row_state, row_event, handler, _targets in TRANSITIONS:
        if row_event == event and (row_state == state or (row_state == ACTIVE and state != "idle")):
            return handler
    return None


def mermaid() -> str:
    """A Mermaid state diagram of the table (written into docs/flow.md by ``python -m ...reception.diagram``)."""
    lines = ["stateDiagram-v2", "    [*] --> idle"]
    seen = set()
    for state, event, _handler, targets in TRANSITIONS:
        sources = [state] if state != ACTIVE else ["active"]
        for source in sources:
            for target in targets or (source,):  # no target: taken without leaving the state
                key = (source, target, event)
                if key not in seen:
                    seen.add(key)
                    lines.append(f"    {source} --> {target}: {event}")
    lines.append("    note right of active: any state but idle")
    return "\n".join(lines)
