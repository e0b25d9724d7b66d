"""Card transports chosen by URL (like pyserial's ``serial_for_url``), with lazy imports.

A transport moves APDUs to one card and tells whether a card is present. It knows nothing of the My Number
Card; :mod:`.card` does. Every APDU passes :class:`~.apdu.PrivacyGuard` here, so no caller can reach 個人番号.

    pcsc://                    first PC/SC reader holding a card (pcscd; also the vpcd virtual reader)
    pcsc://?reader=ACS         the PC/SC reader whose name contains "ACS"
    sim://PROFILE?state=DIR    the virtual My Number Card in-process (no pcscd): demos and unit tests
    pn532:///dev/ttyAMA0       a PN532 NFC controller on a UART (see device/pn532.py)
    spy+URL                    any of these, logging each APDU with VERIFY data redacted
"""
from __future__ import annotations

import abc
import dataclasses
import importlib
import logging
import time
import urllib.parse

from . import apdu as apdu_mod
from .errors import BackendUnavailable, BadDeviceUrl

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
        """Send one C-APDU, return the R-APDU (data + SW1 SW2). Raises CardRemoved, Timeout, ..."""
        self._guard.check(command)
        t0 = time.perf_counter()
        resp = self._transmit(bytes(command))
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
    """Wraps another transport and logs each exchange, VERIFY data redacted. ``spy+pcsc://`` etc."""

    def __init__(self, inner: Transport):
        super().__init__()
        self.inner, self.url = inner, "spy+" + inner.url
        self.stats = inner.stats

    def __getattr__(self, name: str):
        # the spy adds logging and hides nothing: what the wrapped transport offers (a sim:// slot for the bench
        # commands and the card-face source, a PN532's firmware version) stays reachable through it
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def transmit(self, command: bytes) -> bytes:
        resp = self.inner.transmit(command)
        log.info("APDU > %s  < %s", apdu_mod.redact(command), resp[-2:].hex().upper()
                 + (f" +{len(resp) - 2} bytes" if len(resp) > 2 else ""))
        return resp

    def _transmit(self, command: bytes) -> bytes:  # pragma: no cover - transmit is overridden
        return self.inner.transmit(command)

    def connect(self) -> bytes:
        atr = self.inner.connect()
        log.info("ATR %s", atr.hex(" ").upper())
        return atr

    _connect = connect

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


# scheme -> (module, factory name, the package a user must install for it)
_BACKENDS = {
    "pcsc": (".pcsc", "PcscTransport", "pyscard"),
    "sim": (".sim", "SimTransport", "cryptography"),
    "pn532": (".pn532", "Pn532Transport", "pyserial"),
}


def register_backend(scheme: str, module: str, factory: str, package: str) -> None:
    _BACKENDS[scheme] = (module, factory, package)


def open_reader(url: str) -> Transport:
    """Open the transport a device URL names. Raises BadDeviceUrl or BackendUnavailable."""
    if url.startswith("spy+"):
        return SpyTransport(open_reader(url[4:]))
    parsed = urllib.parse.urlsplit(url)
    scheme = parsed.scheme.split("+", 1)[0]
    if scheme not in _BACKENDS:
        raise BadDeviceUrl(f"unknown reader URL scheme {parsed.scheme!r} in {url!r}; "
                           f"use one of: {', '.join(s + '://' for s in sorted(_BACKENDS))}")
    module, factory, package = _BACKENDS[scheme]
    try:
        mod = importlib.import_module(module, __package__)
    except ImportError as exc:
        raise BackendUnavailable(scheme, package, str(exc)) from None
    transport = getattr(mod, factory).from_url(url)
    transport.url = url
    return transport


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
