"""PC/SC transport through pcscd (pyscard's low-level ``scard`` module).

Presence is watched with SCardGetStatusChange, which blocks in pcscd until something changes: no polling.
"""
from __future__ import annotations

import logging
import time

from smartcard import scard

from .errors import CardRemoved, MalformedResponse, NoCard, ReaderUnavailable, Timeout
from .transport import Transport, query

log = logging.getLogger(__name__)

_REMOVED = {scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_UNPOWERED_CARD,
            scard.SCARD_W_RESET_CARD}
_MAYBE_REMOVED = {scard.SCARD_E_NOT_TRANSACTED, scard.SCARD_F_COMM_ERROR, scard.SCARD_E_COMM_DATA_LOST,
                  scard.SCARD_E_READER_UNAVAILABLE}
_NO_SERVICE = {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_NO_READERS_AVAILABLE}


def _message(hresult: int) -> str:
    return scard.SCardGetErrorMessage(hresult)


class PcscTransport(Transport):
    def __init__(self, reader_filter: str | None = None):
        super().__init__()
        self.reader_filter = reader_filter
        self.reader: str | None = None
        self._context = None
        self._card = None
        self._protocol = None

    @classmethod
    def from_url(cls, url: str) -> "PcscTransport":
        return cls(query(url).get("reader"))

    def twin(self) -> "PcscTransport":
        """The same readers through a separate PC/SC context, for watching presence from another thread."""
        other = PcscTransport(self.reader_filter)
        other.url = self.url
        return other

    # -- context and readers ----------------------------------------------------------------------
    def _ctx(self):
        if self._context is None:
            hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise ReaderUnavailable(f"cannot reach pcscd: {_message(hresult)}. Is the pcscd service running?")
            self._context = ctx
        return self._context

    def _reset_context(self) -> None:
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
        self._context = None

    def readers(self) -> list[str]:
        for attempt in (1, 2):
            hresult, readers = scard.SCardListReaders(self._ctx(), [])
            if hresult == scard.SCARD_S_SUCCESS:
                break
            # pcscd restarted (our context is stale) or has no readers: start afresh once, then report
            self._reset_context()
            if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            if attempt == 2:
                raise ReaderUnavailable(f"cannot list readers: {_message(hresult)}. Is pcscd running?")
        wanted = self.reader_filter
        return [r for r in readers if not wanted or wanted.lower() in r.lower()]

    def _states(self, timeout_ms: int, known: dict[str, int] | None = None) -> dict[str, int]:
        readers = self.readers()
        if not readers:
            return {}
        request = [(r, (known or {}).get(r, scard.SCARD_STATE_UNAWARE)) for r in readers]
        hresult, states = scard.SCardGetStatusChange(self._ctx(), timeout_ms, request)
        if hresult == scard.SCARD_E_TIMEOUT:
            return {r: s & ~scard.SCARD_STATE_CHANGED for r, s in request}
        if hresult != scard.SCARD_S_SUCCESS:
            self._reset_context()
            raise ReaderUnavailable(f"pcscd: {_message(hresult)}")
        return {r: s for r, s, _atr in states}

    def card_present(self) -> bool:
        return any(s & scard.SCARD_STATE_PRESENT for s in self._states(0).values())

    def wait_for_change(self, present: bool, timeout: float) -> bool:
        """Block in pcscd (SCardGetStatusChange) until a card appears (present=False) or the last one leaves.

        Presence is the aggregate over the matching readers, so an empty second slot does not count as a removal.
        """
        deadline = time.monotonic() + timeout
        known: dict[str, int] | None = None
        while True:
            left = deadline - time.monotonic()
            states = self._states(max(0, int(left * 1000)) if known else 0, known)
            if any(s & scard.SCARD_STATE_PRESENT for s in states.values()) != present:
                return True
            if left <= 0:
                return False
            if not states:  # no reader at all: wait for one to be plugged
                time.sleep(min(left, 0.5))
                continue
            known = {r: s & ~scard.SCARD_STATE_CHANGED for r, s in states.items()}

    # -- the card ---------------------------------------------------------------------------------
    def _connect(self) -> bytes:
        self.disconnect()
        states = self._states(0)
        candidates = [r for r, s in states.items() if s & scard.SCARD_STATE_PRESENT]
        if not candidates:
            where = f" matching {self.reader_filter!r}" if self.reader_filter else ""
            if not states:
                raise ReaderUnavailable(f"no PC/SC reader{where} is connected")
            raise NoCard()
        self.reader = candidates[0]
        hresult, card, protocol = scard.SCardConnect(self._ctx(), self.reader, scard.SCARD_SHARE_SHARED,
                                                     scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hresult in _REMOVED | _MAYBE_REMOVED:
            raise CardRemoved()
        if hresult != scard.SCARD_S_SUCCESS:
            raise ReaderUnavailable(f"cannot connect to the card in {self.reader}: {_message(hresult)}")
        self._card, self._protocol = card, protocol
        hresult, _reader, _state, _proto, atr = scard.SCardStatus(card)
        log.debug("connected to %s", self.reader)
        return bytes(atr)

    def _transmit(self, command: bytes) -> bytes:
        if self._card is None:
            raise NoCard("not connected to a card")
        # 61xx/6Cxx (T=0 conventions a reader may pass through) are chained above, in Transport.transmit
        hresult, response = scard.SCardTransmit(self._card, self._protocol, list(command))
        if hresult == scard.SCARD_S_SUCCESS and len(response) >= 2:
            return bytes(response)
        self._card = None
        if hresult in _REMOVED:
            raise CardRemoved()
        if hresult == scard.SCARD_S_SUCCESS:  # vpcd answers an empty R-APDU when the card leaves mid-exchange
            self._lost_exchange(MalformedResponse(f"the reader returned {len(response)} bytes without a status word"))
        if hresult in _MAYBE_REMOVED:
            self._lost_exchange(Timeout(f"the reader lost the exchange: {_message(hresult)}"))
        if hresult == scard.SCARD_E_TIMEOUT:
            raise Timeout()
        raise ReaderUnavailable(f"PC/SC transmit failed: {_message(hresult)}")

    def _lost_exchange(self, otherwise: Exception):
        """An exchange failed in a way a pulled card causes. pcscd notices a removal only on its next presence
        poll, so give it a moment: CardRemoved if the card is gone, else ``otherwise``."""
        try:
            gone = self.wait_for_change(True, 1.5)
        except ReaderUnavailable:
            gone = True
        if gone:
            raise CardRemoved()
        raise otherwise

    def disconnect(self) -> None:
        if self._card is not None:
            # resetting the card clears its verified PIN state, so nothing outlives our session
            scard.SCardDisconnect(self._card, scard.SCARD_RESET_CARD)
            self._card = None

    def close(self) -> None:
        self.disconnect()
        self._reset_context()
