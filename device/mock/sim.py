"""``sim://PROFILE?state=DIR``: the virtual My Number Card in-process, no pcscd. The demos' default reader.

The transport owns a bench :class:`~.slot.CardSlot`, reachable as ``.slot`` for tests and the demo
(insert, remove, pull-after, ...). Counters persist in the state directory like a real card's.
``sim`` as a card-face source (:class:`SimCardFace`) reads the code printed on the card in that slot.
Both are opened by name through :mod:`..registry`; no production module imports this one.
"""
from __future__ import annotations

import os
import threading
import urllib.parse
from pathlib import Path

from ..errors import BadDeviceUrl, CardFaceUnavailable, CardRemoved, NoCard
from ..transport import Transport, query
from .profiles import PROFILES
from .slot import CardPulled, CardSlot, NoCardPresent


def default_state_dir() -> Path:
    base = os.environ.get("MYNAREADER_MOCK_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "mynareader", "mock")
    return Path(base)


class SimTransport(Transport):
    def __init__(self, slot: CardSlot):
        super().__init__()
        self.slot = slot
        self._changed = threading.Condition()
        self._connected = False
        self._seen_generation = slot.generation
        slot.subscribe(self._on_change)

    @classmethod
    def from_url(cls, url: str) -> "SimTransport":
        parts = urllib.parse.urlsplit(url)
        profile = parts.netloc or parts.path.strip("/") or "fresh"
        if profile != "empty" and profile not in PROFILES:
            raise BadDeviceUrl(f"unknown virtual card profile {profile!r}; choose from empty, {', '.join(PROFILES)}")
        state = query(url).get("state")
        return cls(CardSlot(Path(state) if state else default_state_dir(),
                            None if profile == "empty" else profile))

    def _on_change(self, present: bool) -> None:
        with self._changed:
            self._changed.notify_all()

    def _connect(self) -> bytes:
        try:
            atr = self.slot.power_on()
        except NoCardPresent:
            raise NoCard() from None
        self._connected = True
        return atr

    def _transmit(self, command: bytes) -> bytes:
        if not self._connected:
            raise NoCard("not connected to a card")
        try:
            return self.slot.process(command)
        except CardPulled:
            self._connected = False
            raise CardRemoved() from None

    def disconnect(self) -> None:
        if self._connected:
            self.slot.power_off()
        self._connected = False

    def card_present(self) -> bool:
        return self.slot.present

    def wait_for_change(self, present: bool, timeout: float) -> bool:
        """A swap (removed and another placed between two looks) counts as a change: the caller then sees the
        slot empty-then-full, so one patient's session ends before the next begins."""
        with self._changed:
            seen = self._seen_generation
            changed = self._changed.wait_for(
                lambda: self.slot.present != present or (present and self.slot.generation != seen), timeout)
            if changed:        # a swap returns here with the slot still full: the caller reports the removal first
                self._seen_generation = self.slot.generation
            return changed


class SimCardFace:
    """``sim``: the 照合番号B printed on the virtual card in the sim:// reader's slot (no camera, no OCR).

    The slot is found through the transport, through a ``spy+`` wrapper too (it hides nothing it wraps)."""

    def __init__(self, spec: str = "sim", transport: Transport | None = None):
        self.slot = getattr(transport, "slot", None)
        if self.slot is None:
            raise CardFaceUnavailable("the sim card-face source needs a sim:// reader (or spy+sim://)")

    def code(self) -> str | None:
        return getattr(self.slot.card, "code_b", None) if self.slot is not None else None
