"""The card reader and a phone reader beside it (``devices.phone_reader``), as one slot for the service.

Clinics add a generic PC/SC reader for smartphones next to the face reader. The service still runs one session
at a time: whichever reader holds a token first is served, and a token on the other waits until the first is
taken away (then it is a new placement). One reader taking both cards and phones needs none of this: the token
decides (device/tokens.py).

Both readers are looked at in turn (a short poll each), since a backend can wait on only its own reader. APDUs go
to the reader chosen at ``connect``; the guard and the chaining run here, above both (as for ``spy+``).
"""
from __future__ import annotations

import threading
import time

from .errors import NoCard
from .transport import Transport, presence_watcher


class _Shared:
    """Which reader the session uses and when each reader's token arrived; shared with the presence twin."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: int | None = None
        self.arrived: list[float | None] = [None, None]


class ReaderPair(Transport):
    POLL = 0.15          # seconds between looks at the two readers

    def __init__(self, card: Transport, phone: Transport, shared: _Shared | None = None):
        super().__init__()
        self.readers = (card, phone)
        self.url = f"{card.url or 'card reader'} + {phone.url or 'phone reader'}"
        self.shared = shared or _Shared()
        slot = getattr(card, "slot", None)     # the bench's card slot stays reachable, as through spy+
        if slot is not None:
            self.slot = slot

    @property
    def active(self) -> Transport | None:
        i = self.shared.active
        return None if i is None else self.readers[i]

    def _look(self) -> bool:
        """Presence as the session sees it: the active reader's token, or, with none active, any token."""
        states = [r.card_present() for r in self.readers]
        s = self.shared
        with s.lock:
            for k, present in enumerate(states):
                if not present:
                    s.arrived[k] = None
                elif s.arrived[k] is None:
                    s.arrived[k] = time.monotonic()
            if s.active is not None:
                if states[s.active]:
                    return True
                s.active = None          # its token left: a removal, even if the other reader holds one
                return False
            return any(states)

    def _connect(self) -> bytes:
        self._look()
        s = self.shared
        with s.lock:
            present = [k for k in (0, 1) if s.arrived[k] is not None]
            if s.active not in present:
                s.active = min(present, key=lambda k: s.arrived[k] or 0.0) if present else None
            chosen = s.active
        if chosen is None:
            raise NoCard()
        return self.readers[chosen].connect()

    def _transmit(self, command: bytes) -> bytes:
        reader = self.active
        if reader is None:
            raise NoCard("not connected to a card")
        return reader._transmit(command)

    def disconnect(self) -> None:
        for reader in self.readers:
            reader.disconnect()

    def card_present(self) -> bool:
        return self._look()

    def wait_for_change(self, present: bool, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._look() != present:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.POLL, left))

    def close(self) -> None:
        for reader in self.readers:
            reader.close()

    def twin(self) -> Transport:
        """The presence watcher's own pair (a pcsc:// reader needs its own context per thread), sharing which
        reader is active."""
        twin = ReaderPair(presence_watcher(self.readers[0]), presence_watcher(self.readers[1]), self.shared)
        twin.url = self.url
        return twin
