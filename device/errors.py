"""Typed errors of the device layer: every error the readers, cameras and card-face sources raise.

The split the docs describe is the class hierarchy: a *device fault* (the reader, the card, the line, the
camera misbehaved: report it, place the card again) against the *card's answer*, a normal outcome the caller
acts on (wrong PIN, blocked, no such file). Each error carries a sentence staff can act on (``advice``)::

    DeviceError                         everything the device layer raises
    ├── DeviceUrlError                  the configured device cannot be opened as written
    │   ├── BadDeviceUrl                    the URL does not parse, or names no known scheme
    │   └── BackendUnavailable              the scheme's package is not installed (names the package)
    ├── DeviceFault                     the reader, the line, the card or the camera failed
    │   ├── ReaderUnavailable               the reader cannot be reached (cable, pcscd)
    │   │   └── Pn532Unsupported                a PN532 without ISO 14443-B
    │   ├── NoCard                          no card on the reader
    │   ├── CardRemoved                     the card left during an exchange
    │   ├── Timeout                         the reader or card did not answer in time
    │   ├── MalformedResponse               bytes that do not parse (a damaged or hostile answer)
    │   ├── CameraGone                      the camera stopped answering
    │   └── CardFaceUnavailable             no card-face source can be asked
    ├── CardStatusError                 the card's answer: a status word other than success
    │   ├── NotFound                        no such applet or file (6A82, 6A88)
    │   ├── SecurityNotSatisfied            the PIN is not verified (6982)
    │   ├── WrongPin(tries_left)            a VERIFY failed (63Cx)
    │   ├── PinBlocked                      the PIN is locked (6983, 6984)
    │   └── UnexpectedStatus                any other status word
    └── PrivacyViolation                something asked for the individual number: refused, never sent

Catch ``DeviceFault`` to report a broken reader, ``CardStatusError`` to act on the card's answer.
"""
from __future__ import annotations


class DeviceError(Exception):
    """Base of everything the device layer raises."""

    #: what a receptionist or the patient should be told; subclasses override
    advice = "The card reader reported a problem. Ask the patient to take the card and place it again."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.advice)


# -- the device as configured ------------------------------------------------------------------------


class DeviceUrlError(DeviceError):
    """The configured device URL cannot be opened as written: fix the configuration or install a package."""


class BadDeviceUrl(DeviceUrlError):
    """The device URL cannot be understood."""


class BackendUnavailable(DeviceUrlError):
    """A device URL names a backend whose Python package or system library is missing."""

    def __init__(self, scheme: str, package: str, detail: str = ""):
        self.scheme, self.package = scheme, package
        extra = f" ({detail})" if detail else ""
        super().__init__(f"the {scheme}:// backend needs the package '{package}', which is not installed{extra}")


# -- device faults ----------------------------------------------------------------------------------


class DeviceFault(DeviceError):
    """The reader, the line, the card or the camera failed: report it; the next placement may work."""


class ReaderUnavailable(DeviceFault):
    advice = "The card reader cannot be reached. Check its cable (and that pcscd is running), then try again."


class Pn532Unsupported(ReaderUnavailable):
    advice = "This PN532 cannot read the My Number Card (no ISO 14443-B). Use another reader module."


class NoCard(DeviceFault):
    advice = "No card is on the reader. Ask the patient to place the card."


class CardRemoved(DeviceFault):
    advice = "The card was taken off the reader before reading finished. Ask the patient to place it again."


class Timeout(DeviceFault):
    advice = "The card reader did not answer in time. Place the card again; if it repeats, restart the reader."


class MalformedResponse(DeviceFault):
    """The card (or a hostile device) answered bytes that do not parse."""

    advice = "The card gave an answer that cannot be read. Try again; if it repeats, confirm identity by staff."


class CameraGone(DeviceFault):
    advice = "The camera stopped answering. Check its cable; face authentication is off until it returns."


class CardFaceUnavailable(DeviceFault):
    """No card-face source can be asked for 照合番号B (none configured, or it cannot be opened)."""

    advice = "The card-face camera is not available; use the PIN or a visual check."


# -- the card's answers -----------------------------------------------------------------------------


class CardStatusError(DeviceError):
    """The card answered a status word other than success."""

    def __init__(self, sw: int, message: str | None = None):
        self.sw = sw
        super().__init__(message or f"{self.advice} (status {sw:04X})")


class NotFound(CardStatusError):
    advice = "This card does not have the expected application or file; it may not be a My Number Card."


class SecurityNotSatisfied(CardStatusError):
    advice = "The card refused: the required PIN has not been verified in this session."


class WrongPin(CardStatusError):
    """A VERIFY failed. ``tries_left`` is what the card reports now; 0 means the PIN is now blocked."""

    def __init__(self, sw: int, tries_left: int):
        self.tries_left = tries_left
        super().__init__(sw, f"The PIN was not correct. Tries left on the card: {tries_left}.")


class PinBlocked(CardStatusError):
    advice = ("This PIN is locked on the card. It can only be unlocked at the municipal office; "
              "confirm identity by face or by staff (目視確認).")


class UnexpectedStatus(CardStatusError):
    advice = "The card answered an unexpected status."


# -- privacy ----------------------------------------------------------------------------------------


class PrivacyViolation(DeviceError):
    """Something asked the card layer to read the individual number (個人番号). It never does."""
