"""A card reader slot as one interface: APDUs in and out, card presence. Opened by URL through
:mod:`.registry` (``open_device("reader", url)``).

A transport moves APDUs to one card and tells whether a card is present. It knows nothing of the My Number
Card; :mod:`.card` does. Above every backend's ``_transmit`` sit the two things no backend repeats:
:class:`~.apdu.PrivacyGuard` on every APDU, so no caller can reach 個人番号, and ISO 7816-4 response chaining
(:func:`chained`: ``61xx`` -> GET RESPONSE for the rest, ``6Cxx`` -> the command again with the right Le), so
a card or reader that answers in T=0 style reads the same on PC/SC, PN532 and the virtual card.
:class:`SpyTransport` (``spy+URL``) logs every exchange on the line and hides nothing of what it wraps.
"""
from __future__ import annotations

import abc
import dataclasses
import logging
import time
import urllib.parse
from typing import Callable

from . import apdu as apdu_mod
from .errors import MalformedResponse

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TransportStats:
    """Counts for ``mynareader bench card``: every APDU sent and bytes moved since the last reset."""

    apdus: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    seconds: float = 0.0

    def reset(self) -> None:
        self.apdus = self.bytes_out = self.bytes_in = 0
        self.seconds = 0.0


class Transport(abc.ABC):
    """One reader slot. Subclasses implement the ``_``-prefixed methods."""

    url: str = ""

    def __init__(self) -> None:
        self.stats = TransportStats()
        self._guard = apdu_mod.PrivacyGuard()

    # -- public API ------------------------------------------------------------------------------
    def transmit(self, command: bytes) -> bytes:
        """Send one C-APDU, return the whole R-APDU (data + SW1 SW2), chained answers joined.

        Raises PrivacyViolation before anything is sent, else CardRemoved, Timeout, ... from the backend."""
        self._guard.check(command)
        return chained(self._exchange, bytes(command))

    def _exchange(self, command: bytes) -> bytes:
        """One exchange on the line, counted."""
        t0 = time.perf_counter()
        resp = self._transmit(command)
        self.stats.apdus += 1
        self.stats.bytes_out += len(command)
        self.stats.bytes_in += len(resp)
        self.stats.seconds += time.perf_counter() - t0
        return resp

    def connect(self) -> bytes:
        """Power the card and return its ATR. Raises NoCard when none is present."""
        self._guard = apdu_mod.PrivacyGuard()
        return self._connect()

    @abc.abstractmethod
    def _connect(self) -> bytes: ...

    @abc.abstractmethod
    def _transmit(self, command: bytes) -> bytes: ...

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Release the card (powering it down resets its verified state)."""

    @abc.abstractmethod
    def card_present(self) -> bool: ...

    @abc.abstractmethod
    def wait_for_change(self, present: bool, timeout: float) -> bool:
        """Block until the card presence differs from ``present``, up to ``timeout`` s. True if it changed."""

    def close(self) -> None:
        self.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SpyTransport(Transport):
    """``spy+URL``: the transport ``inner`` with each exchange on the line logged, VERIFY data redacted.

    Like pyserial's ``spy://``, it is a transport of its own (the guard and the chaining run here, and every
    exchange they cause is logged, GET RESPONSE included) that hides nothing it wraps: what the wrapped transport
    offers (a sim:// slot for the bench commands and the card-face source, a PN532's lock) stays reachable.
    """

    def __init__(self, inner: Transport):
        super().__init__()
        self.inner, self.url = inner, "spy+" + inner.url
        self.stats = inner.stats

    def __getattr__(self, name: str):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _transmit(self, command: bytes) -> bytes:
        resp = self.inner._transmit(command)
        log.info("APDU > %s  < %s", apdu_mod.redact(command), resp[-2:].hex().upper()
                 + (f" +{len(resp) - 2} bytes" if len(resp) > 2 else ""))
        return resp

    def _connect(self) -> bytes:
        atr = self.inner.connect()
        log.info("ATR %s", atr.hex(" ").upper())
        return atr

    def disconnect(self) -> None:
        self.inner.disconnect()

    def card_present(self) -> bool:
        return self.inner.card_present()

    def wait_for_change(self, present: bool, timeout: float) -> bool:
        return self.inner.wait_for_change(present, timeout)

    def close(self) -> None:
        self.inner.close()

    def twin(self) -> Transport:
        return presence_watcher(self.inner)


# -- response chaining (ISO 7816-4 5.3.4; yubikit's ChainedResponseProcessor) -------------------------------

MAX_CHAINED = 64 * 1024       # the largest EF is 32 KiB: a card that keeps saying "more" is broken or hostile
NO_RESEND_INS = {0x20, 0x24, 0x2A}   # VERIFY, CHANGE REFERENCE DATA, COMPUTE SIGNATURE: never sent twice


def chained(exchange: Callable[[bytes], bytes], command: bytes) -> bytes:
    """Send ``command`` through ``exchange`` and finish what the card's status asks for.

    ``6Cxx`` (wrong Le, xx is right): the same command again with Le=xx, for commands without data only, and
    never a VERIFY, CHANGE REFERENCE DATA or COMPUTE SIGNATURE (a second one could spend a PIN try).
    ``61xx`` (xx more bytes wait): GET RESPONSE until the card answers a final status; the data is joined.
    """
    resp = exchange(command)
    if len(resp) == 2 and resp[0] == 0x6C and len(command) <= 5 and command[1] not in NO_RESEND_INS:
        resp = exchange(apdu_mod.with_le(command, resp[1]))
    data = b""
    while len(resp) >= 2 and resp[-2] == 0x61:
        data += resp[:-2]
        if len(data) > MAX_CHAINED:
            raise MalformedResponse(f"the card kept chaining its answer past {MAX_CHAINED} bytes")
        resp = exchange(apdu_mod.get_response(resp[-1]))
    return data + resp


def query(url: str) -> dict[str, str]:
    """The query parameters of a device URL, last value wins."""
    return {k: v for k, v in urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query)}


def presence_watcher(transport: Transport) -> Transport:
    """A transport for watching presence from another thread while ``transport`` exchanges APDUs.

    PC/SC contexts must not be shared between threads, so a pcsc:// transport gets a twin with its own context;
    transports whose presence checks are thread-safe (sim://) watch themselves.
    """
    twin = getattr(transport, "twin", None)
    return twin() if twin else transport
