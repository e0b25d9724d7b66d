"""What goes into and comes out of the reception machine. Events carry the time; nothing reads a clock.

Card answers are the device layer's typed results (tries as ints, CertificateInfo, WrongPin, ...), so the machine
never sees bytes. Secrets travel as :class:`~mynareader.device.pin.Pin`, never as str.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ...device.certificate import CertificateInfo
from ...device.pin import Pin

# -- events --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    now: dt.datetime


@dataclasses.dataclass(frozen=True)
class CardPlaced(Event):
    session_id: str
    nonce: bytes                      # the daemon's challenge; reception may replace it before signing
    registration: bool = False        # 保険証利用登録 instead of a reception


@dataclasses.dataclass(frozen=True)
class CardRead(Event):
    token: str                        # "mynumber" | "juki" | "android" | "iphone" | "unknown"
    certificate: CertificateInfo | None
    pin_tries: int | None
    kenmen_tries: int | None          # None: the token has no card-face applet


@dataclasses.dataclass(frozen=True)
class CardRemoved(Event):
    pass


@dataclasses.dataclass(frozen=True)
class CardFailed(Event):
    """A device fault during an operation (not a removal): the session cannot go on."""
    message: str


@dataclasses.dataclass(frozen=True)
class MethodChosen(Event):
    method: str                       # "face" | "pin"


@dataclasses.dataclass(frozen=True)
class CardFaceCode(Event):
    """照合番号B from the card-face source (scanner/OCR; the bench supplies it)."""
    code: Pin | None
    certain: bool


@dataclasses.dataclass(frozen=True)
class KenmenVerified(Event):
    pass


@dataclasses.dataclass(frozen=True)
class KenmenRejected(Event):
    tries_left: int


@dataclasses.dataclass(frozen=True)
class FacePhotoRead(Event):
    pass


@dataclasses.dataclass(frozen=True)
class FaceGuidance(Event):
    code: str                         # "no_face" | "too_dark" | "move_closer" | "one_person" | ...
    ja: str
    en: str


@dataclasses.dataclass(frozen=True)
class FaceVerdict(Event):
    match: bool
    score: float
    threshold: float
    model: str
    liveness: str = "off"             # "passed" | "failed: <reason>" | "pending" | "off"


@dataclasses.dataclass(frozen=True)
class FaceUnavailable(Event):
    """The camera or the face models failed: offer PIN or staff."""
    message: str


@dataclasses.dataclass(frozen=True)
class PinTries(Event):
    tries: int


@dataclasses.dataclass(frozen=True)
class PinEntered(Event):
    pin: Pin
    confirm_last_try: bool = False


@dataclasses.dataclass(frozen=True)
class PinAccepted(Event):
    pass


@dataclasses.dataclass(frozen=True)
class PinRejected(Event):
    tries_left: int                   # 0: the card just blocked


@dataclasses.dataclass(frozen=True)
class Signed(Event):
    signature: bytes


@dataclasses.dataclass(frozen=True)
class ChallengeSet(Event):
    nonce: bytes


@dataclasses.dataclass(frozen=True)
class VisualCheckRequested(Event):
    pass


@dataclasses.dataclass(frozen=True)
class VisualConfirmed(Event):
    staff: str


@dataclasses.dataclass(frozen=True)
class FaceLockLifted(Event):
    staff: str


@dataclasses.dataclass(frozen=True)
class ConsentAnswered(Event):
    screen: str                       # "comprehensive" | an item id | "prescription_form" | "registration"
    answer: str                       # "agree" | "individual" | "refuse" | a prescription choice id


@dataclasses.dataclass(frozen=True)
class Cancelled(Event):
    by: str                           # "patient" | "staff"


@dataclasses.dataclass(frozen=True)
class StillHere(Event):
    """The patient touched the screen after the countdown warning: the idle timer starts again."""


@dataclasses.dataclass(frozen=True)
class Tick(Event):
    pass

# -- actions -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Action:
    pass


@dataclasses.dataclass(frozen=True)
class ReadCard(Action):
    """Token, user-auth certificate, PIN tries and 照合番号B tries (queries consume nothing)."""


@dataclasses.dataclass(frozen=True)
class RequestCardFaceCode(Action):
    """Ask the card-face source for 照合番号B."""


@dataclasses.dataclass(frozen=True)
class VerifyKenmen(Action):
    code: Pin


@dataclasses.dataclass(frozen=True)
class ReadFacePhoto(Action):
    """Read the chip photo and hand it to the face verifier as its reference (memory only)."""


@dataclasses.dataclass(frozen=True)
class StartFaceCheck(Action):
    attempt: int


@dataclasses.dataclass(frozen=True)
class StopFaceCheck(Action):
    pass


@dataclasses.dataclass(frozen=True)
class QueryPinTries(Action):
    pass


@dataclasses.dataclass(frozen=True)
class VerifyPin(Action):
    pin: Pin


@dataclasses.dataclass(frozen=True)
class SignChallenge(Action):
    nonce: bytes


@dataclasses.dataclass(frozen=True)
class Show(Action):
    """What the patient's screen shows now, and what the reception side sees as the step."""
    step: str
    message: str                      # a stable key, e.g. "choose_method", "pin_last_try"
    ja: str
    en: str
    options: tuple[str, ...] = ()
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class EmitResult(Action):
    result: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class EndSession(Action):
    outcome: str                      # "completed" | "aborted"
    reason: str                       # "completed" | "card_removed" | "idle_timeout" | "cancelled" | ...
