"""What goes into and comes out of the reception machine. Events carry the time; nothing reads a clock.

Card answers are the device layer's typed results (tries as ints, CertificateInfo, WrongPin, ...), so the machine
never sees bytes. Secrets travel as :class:`~mynareader.device.pin.Pin`, never as str.

An event that cannot be valid cannot be built (h11's habit): each checks its own fields in ``__post_init__`` and
raises :class:`~.errors.InvalidEvent`, so the handlers only decide what a valid input means at this step.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import numbers
from typing import Any

from ...device.card import KENMEN_B_MAX_TRIES, PIN_MAX_TRIES
from ...device.tokens import TokenKind
from ...device.certificate import CertificateInfo
from ...device.pin import Pin
from .errors import InvalidEvent
from .states import State

NONCE_BYTES = (16, 64)              # a challenge to sign: the daemon's, or one reception supplies
METHODS = ("face", "pin", "staff", "device_unlock")   # device_unlock: "I have unlocked my iPhone", held again
TRIES_MAX = 15                      # what a 63Cx answer can say: a phone's limit is unknown, so no less
STAFF_MAX = 64                      # characters of a staff name or code (the protocol's limit)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidEvent(message)


def _tries(value, name: str, most: int) -> None:
    _check(type(value) is int and 0 <= value <= most, f"{name}: a whole number from 0 to {most}, not {value!r}")


def _text(value, name: str, most: int | None = None) -> None:
    _check(isinstance(value, str) and value != "" and (most is None or len(value) <= most),
           f"{name}: a non-empty text" + (f" of at most {most} characters" if most else ""))


def _nonce(nonce) -> None:
    low, high = NONCE_BYTES
    _check(isinstance(nonce, bytes) and low <= len(nonce) <= high,
           f"nonce: {low}-{high} random bytes" + (f", not {len(nonce)}" if isinstance(nonce, bytes) else ""))

# -- events --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    now: dt.datetime

    def __post_init__(self) -> None:
        _check(isinstance(self.now, dt.datetime) and self.now.tzinfo is not None,
               f"{type(self).__name__}.now: a timezone-aware datetime")


@dataclasses.dataclass(frozen=True)
class CardPlaced(Event):
    session_id: str
    nonce: bytes                      # the daemon's challenge; reception may replace it before signing
    registration: bool = False        # 保険証利用登録 instead of a reception

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self.session_id, "session_id")
        _nonce(self.nonce)
        _check(type(self.registration) is bool, "registration: true or false")


@dataclasses.dataclass(frozen=True)
class CardRead(Event):
    token: str                        # device/tokens.py TokenKind: "mynumber" | "pinless" | "android" | "iphone" | ...
    certificate: CertificateInfo | None   # None: an unknown token, an Android phone before its PIN, a locked iPhone
    pin_tries: int | None             # None: no PIN at the reader (iPhone, PIN-less card)
    code_b_tries: int | None          # None: the token has no card-face applet
    locked: bool = False              # the phone refused its certificate: the holder must unlock it

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.token in {t.value for t in TokenKind}, f"token: one of {', '.join(t.value for t in TokenKind)}")
        _check(self.certificate is None or isinstance(self.certificate, CertificateInfo),
               "certificate: a CertificateInfo or None")
        # a My Number Card's counters (the PIN-less card's 照合番号B too); a phone's limit is unknown, and a token the
        # flow turns away may count differently
        mynumber = self.token == TokenKind.MYNUMBER
        card = self.token in (TokenKind.MYNUMBER, TokenKind.PINLESS)
        if self.pin_tries is not None:
            _tries(self.pin_tries, "pin_tries", PIN_MAX_TRIES if mynumber else TRIES_MAX)
        if self.code_b_tries is not None:
            _tries(self.code_b_tries, "code_b_tries", KENMEN_B_MAX_TRIES if card else TRIES_MAX)
        _check(type(self.locked) is bool, "locked: true or false")


@dataclasses.dataclass(frozen=True)
class CardRemoved(Event):
    pass


@dataclasses.dataclass(frozen=True)
class CardFailed(Event):
    """A device fault during an operation (not a removal): the session cannot go on."""
    message: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.message, str), "message: a text")


@dataclasses.dataclass(frozen=True)
class StoreFailed(Event):
    """The state store failed while the flow consulted it (machine.py raises this from a StoreError): the
    session ends and identity checks stop (fail closed)."""
    message: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.message, str), "message: a text")


@dataclasses.dataclass(frozen=True)
class MethodChosen(Event):
    method: str                       # "face" | "pin" | "staff"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.method in METHODS, f"unknown method {self.method!r}; choose face, pin, staff or device_unlock")


@dataclasses.dataclass(frozen=True)
class CodeBRead(Event):
    """照合番号B from the card-face source (scanner/OCR; the bench supplies it)."""
    code: Pin | None
    certain: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.code is None or isinstance(self.code, Pin), "code: a Pin or None")
        _check(type(self.certain) is bool, "certain: true or false")


@dataclasses.dataclass(frozen=True)
class CodeBAccepted(Event):
    pass


@dataclasses.dataclass(frozen=True)
class CodeBRejected(Event):
    tries_left: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _tries(self.tries_left, "tries_left", KENMEN_B_MAX_TRIES - 1)


@dataclasses.dataclass(frozen=True)
class FacePhotoRead(Event):
    pass


@dataclasses.dataclass(frozen=True)
class FaceGuidance(Event):
    code: str                         # "no_face" | "too_dark" | "move_closer" | "one_person" | ...
    ja: str
    en: str
    flash: dict | None = None         # code "flash": the colours the screen must show (face/flash.py Flash.wire())

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self.code, "code")
        _check(isinstance(self.ja, str) and isinstance(self.en, str), "ja, en: texts")


@dataclasses.dataclass(frozen=True)
class FaceVerdict(Event):
    match: bool
    score: float
    threshold: float
    model: str
    liveness: str = "off"             # "passed" | "failed: <reason>" | "pending" | "off"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("score", "threshold"):
            value = getattr(self, name)
            _check(isinstance(value, numbers.Real) and not isinstance(value, bool), f"{name}: a number")
        _text(self.model, "model")
        _check(isinstance(self.liveness, str) and (self.liveness in ("passed", "pending", "off")
                                                   or self.liveness.startswith("failed")),
               f"liveness: passed, failed: <reason>, pending or off, not {self.liveness!r}")


FACE_CAUSES = ("camera_unavailable", "face_check_unavailable")


@dataclasses.dataclass(frozen=True)
class FaceUnavailable(Event):
    """The camera or the face check (models, worker process, the chip photo) failed: offer PIN or staff.
    ``cause`` tells the patient's screen which: a camera to look at, or a check that is restarting."""
    message: str
    cause: str = "camera_unavailable"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.message, str), "message: a text")
        _check(self.cause in FACE_CAUSES, f"cause: one of {', '.join(FACE_CAUSES)}")


@dataclasses.dataclass(frozen=True)
class PinTries(Event):
    tries: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _tries(self.tries, "tries", TRIES_MAX)      # the flow holds a card to its 3 (tokens.TOKENS)


@dataclasses.dataclass(frozen=True)
class PinEntered(Event):
    pin: Pin
    confirm_last_try: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.pin, Pin) and len(self.pin) == 4, "pin: exactly 4 digits")
        _check(type(self.confirm_last_try) is bool, "confirm_last_try: true or false")


@dataclasses.dataclass(frozen=True)
class PinAccepted(Event):
    pass


@dataclasses.dataclass(frozen=True)
class PinRejected(Event):
    tries_left: int                   # 0: the card just blocked

    def __post_init__(self) -> None:
        super().__post_init__()
        _tries(self.tries_left, "tries_left", TRIES_MAX - 1)


@dataclasses.dataclass(frozen=True)
class Signed(Event):
    signature: bytes

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.signature, bytes) and len(self.signature) > 0, "signature: the card's bytes")


@dataclasses.dataclass(frozen=True)
class CertificateRead(Event):
    """The certificate of a token that gates it: an Android phone after its PIN, an iPhone once unlocked."""
    certificate: CertificateInfo

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.certificate, CertificateInfo), "certificate: a CertificateInfo")


@dataclasses.dataclass(frozen=True)
class TokenLocked(Event):
    """The token refused its certificate or its signature (6982 or any refusal): for an iPhone, it is locked."""


@dataclasses.dataclass(frozen=True)
class ChallengeSet(Event):
    nonce: bytes

    def __post_init__(self) -> None:
        super().__post_init__()
        _nonce(self.nonce)


@dataclasses.dataclass(frozen=True)
class VisualCheckRequested(Event):
    pass


@dataclasses.dataclass(frozen=True)
class VisualConfirmed(Event):
    staff: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self.staff, "staff", STAFF_MAX)


@dataclasses.dataclass(frozen=True)
class FaceLockLifted(Event):
    staff: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _text(self.staff, "staff", STAFF_MAX)


@dataclasses.dataclass(frozen=True)
class ConsentAnswered(Event):
    screen: str                       # "comprehensive" | an item id | "prescription_form" | "registration"
    answer: str                       # "agree" | "individual" | "refuse" | a prescription choice id

    def __post_init__(self) -> None:
        """The answers each screen can take; which screen is showing now, and the catalogue's prescription
        choices, are the machine's to check."""
        super().__post_init__()
        _text(self.screen, "screen")
        _text(self.answer, "answer")
        if self.screen == "comprehensive":
            _check(self.answer in ("agree", "individual"), "answer agree or individual")
        elif self.screen == "registration":
            _check(self.answer in ("agree", "refuse"), "answer agree or refuse on the registration screen")
        elif self.screen != "prescription_form":       # a consent item
            _check(self.answer in ("agree", "refuse"), "answer agree or refuse")


@dataclasses.dataclass(frozen=True)
class Cancelled(Event):
    by: str                           # "patient" | "staff"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.by in ("patient", "staff"), "by: patient or staff")


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
class RequestCodeB(Action):
    """Ask the card-face source for 照合番号B."""


@dataclasses.dataclass(frozen=True)
class VerifyCodeB(Action):
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
class ReadCertificate(Action):
    """Read the user-authentication certificate now (after the phone's PIN, or once the iPhone is unlocked)."""


@dataclasses.dataclass(frozen=True)
class SignChallenge(Action):
    nonce: bytes


@dataclasses.dataclass(frozen=True)
class Show(Action):
    """What the patient's screen shows now, and what the reception side sees as the step."""
    step: State                       # the state whose screen this is (clients see its name)
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
