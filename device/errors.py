"""Typed errors of the device layer.

Two families (design.md): a *device fault* (the reader, the card, the line) and a *card answer* that is a
normal outcome for the caller to act on (wrong PIN, blocked). Each carries a sentence staff can act on.
"""
from __future__ import annotations


class DeviceError(Exception):
    """Base of everything the device layer raises."""

    #: what a receptionist or the patient should be told; subclasses override
    advice = "The card reader reported a problem. Ask the patient to take the card and place it again."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.advice)


class BackendUnavailable(DeviceError):
    """A device URL names a backend whose Python package or system library is missing."""

    def __init__(self, scheme: str, package: str, detail: str = ""):
        self.scheme, self.package = scheme, package
        extra = f" ({detail})" if detail else ""
        super().__init__(f"the {scheme}:// backend needs the package '{package}', which is not installed{extra}")


class BadDeviceUrl(DeviceError):
    """The device URL cannot be understood."""


class ReaderUnavailable(DeviceError):
    advice = "The card reader cannot be reached. Check its cable (and that pcscd is running), then try again."


class NoCard(DeviceError):
    advice = "No card is on the reader. Ask the patient to place the card."


class CardRemoved(DeviceError):
    advice = "The card was taken off the reader before reading finished. Ask the patient to place it again."


class Timeout(DeviceError):
    advice = "The card reader did not answer in time. Place the card again; if it repeats, restart the reader."


class MalformedResponse(DeviceError):
    """The card (or a hostile device) answered bytes that do not parse."""

    advice = "The card gave an answer that cannot be read. Try again; if it repeats, confirm identity by staff."


class PrivacyViolation(DeviceError):
    """Something asked the card layer to read the individual number (個人番号). It never does."""


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
