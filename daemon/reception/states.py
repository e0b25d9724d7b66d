"""The reception flow's states, by the names the protocol shows (``status.state``, ``kiosk.current``, WrongStep's
``data.state``). A ``StrEnum``: each state is its name wherever a string is expected (JSON, logs, comparisons
with what a client received), so clients see exactly these words.
"""
from __future__ import annotations

import enum


class State(enum.StrEnum):
    IDLE = "idle"
    READING = "reading"
    CHOOSE_METHOD = "choose_method"
    CODE_B_READ = "code_b_read"
    CODE_B_VERIFY = "code_b_verify"
    FACE_PHOTO = "face_photo"
    FACE_MATCHING = "face_matching"
    PIN_QUERY = "pin_query"
    PIN_ENTRY = "pin_entry"
    PIN_VERIFY = "pin_verify"
    PHONE_UNLOCK = "phone_unlock"          # an iPhone refused: unlock it (Face ID / Touch ID), then hold it again
    CERTIFICATE_READ = "certificate_read"  # a phone's certificate, read after its PIN or its unlock
    SIGNING = "signing"
    CONSENT = "consent"
    PRESCRIPTION_FORM = "prescription_form"
    REGISTRATION_CONFIRM = "registration_confirm"
    TAKE_CARD = "take_card"


# every state a session is in (the table's "active" rows apply in these)
ACTIVE = frozenset(State) - {State.IDLE}

# the patient is confirming identity: 目視 may complete it; face or PIN input is expected
IDENTIFYING = frozenset({State.CHOOSE_METHOD, State.CODE_B_READ, State.CODE_B_VERIFY, State.FACE_PHOTO,
                         State.FACE_MATCHING, State.PIN_QUERY, State.PIN_ENTRY, State.PIN_VERIFY,
                         State.PHONE_UNLOCK, State.CERTIFICATE_READ})

# the patient's screen takes an answer (kiosk.choose_method, kiosk.submit_pin, kiosk.answer)
KIOSK_INPUT = frozenset({State.CHOOSE_METHOD, State.PIN_ENTRY, State.CONSENT, State.PRESCRIPTION_FORM,
                         State.REGISTRATION_CONFIRM, State.PHONE_UNLOCK})

# the patient is the one expected to act (at the screen, or showing the card face or their face to a camera):
# here an idle patient times out
PATIENT_WAITS = KIOSK_INPUT | {State.FACE_MATCHING, State.CODE_B_READ}
