"""The flow's card actions, performed on the card thread and answered by one event each.

Nothing here decides: the action says what to do, the card answers, and the answer becomes the flow's event.
Device faults are reported once (``reader.fault``) and cleared by the next operation that works
(``reader.recovered``); secrets an action carries (a PIN, 照合番号B) are wiped however it ends.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import TYPE_CHECKING, Callable

from ...device.card import MyNumberCard, read_card_info, read_certificate
from ...device.errors import CardRemoved, DeviceError, PinBlocked, SecurityNotSatisfied, WrongPin
from ..cardface.reader import ChipHints
from ..clock import now
from ..reception import messages as m
from ..reception.errors import InvalidEvent
from .card_face import CardFaceSource
from .card_worker import CardWorker

if TYPE_CHECKING:    # the face pipeline is optional: it may not be installed
    from .face_check import FaceCheck

log = logging.getLogger(__name__)

Notify = Callable[[str, dict], None]        # an event to every client (rpc.broadcast)
Guide = Callable[[str], None]               # card-face guidance, from the reading thread


class CardActions:
    def __init__(self, worker: CardWorker, card_face: CardFaceSource, face: FaceCheck | None, notify: Notify):
        self.worker, self.card_face, self.face, self.notify = worker, card_face, face, notify
        self.fault: str | None = None        # a card operation failed; cleared by the next that succeeds

    async def answer(self, action: m.Action, hints: ChipHints | None, guide: Guide) -> tuple[m.Event, bool]:
        """The event that answers ``action``, and whether the card left (or was reset) mid-operation."""
        try:
            event = await self._operation(action, hints, guide)
        except CardRemoved:
            return m.CardRemoved(now()), True
        except (DeviceError, InvalidEvent) as exc:   # InvalidEvent: the card answered out of range (tries > max)
            log.warning("card fault during %s: %s", type(action).__name__, exc, extra={"EVENT": "card_fault"})
            self.fault = str(exc)
            self.notify("reader.fault", {"message": str(exc)})
            return m.CardFailed(now(), str(exc)), False
        else:
            if self.fault is not None:     # every reader.fault is followed by a reader.recovered
                self.fault = None
                self.notify("reader.recovered", {})
            return event, False
        finally:
            for secret in ("pin", "code"):
                pin = getattr(action, secret, None)
                if pin is not None:
                    pin.wipe()

    def card_left(self) -> None:
        """A fault of the card that has just been taken away ends with it: the next card starts clean, and the
        screens stop showing the banner on the idle screen."""
        if self.fault is not None:
            self.fault = None
            self.notify("reader.recovered", {})

    async def _operation(self, action: m.Action, hints: ChipHints | None, guide: Guide) -> m.Event:
        run = self.worker.run
        if isinstance(action, m.ReadCard):
            def read(card: MyNumberCard) -> m.Event:
                card.connect()
                info = read_card_info(card)
                return m.CardRead(now(), info.token.value, info.certificate, info.pin_tries, info.code_b_tries,
                                  info.locked)
            return await run(read)
        if isinstance(action, m.ReadCertificate):       # a phone: after its PIN (Android) or its unlock (iPhone)
            try:
                return m.CertificateRead(now(), await run(read_certificate))
            except SecurityNotSatisfied:
                return m.TokenLocked(now())
        if isinstance(action, m.RequestCodeB):
            try:
                code, certain = await asyncio.get_running_loop().run_in_executor(
                    None, self.card_face.read, hints, guide)
            except Exception as exc:
                log.warning("card-face source failed: %s", exc)
                code, certain = None, False
            return m.CodeBRead(now(), code, certain)
        if isinstance(action, m.VerifyCodeB):
            event = await self._verify(lambda card: card.verify_code_b(action.code),
                                       m.CodeBAccepted, m.CodeBRejected)
            if isinstance(event, m.CodeBRejected):   # this code is never sent to this card again
                self.card_face.record_refused(action.code, hints)
            return event
        if isinstance(action, m.ReadFacePhoto):
            face = await run(lambda card: card.read_card_face())
            if self.face is None:
                return m.FaceUnavailable(now(), "no face models are loaded", "face_check_unavailable")
            try:
                # JPEG 2000 decoding takes milliseconds: off the event loop (Pillow releases the lock meanwhile)
                photo = await asyncio.get_running_loop().run_in_executor(None, face.photo)
                await self.face.set_reference(photo)
            except Exception:    # the why goes to the log; the patient and staff hear only that face is off
                log.warning("the chip photo could not be used", exc_info=True, extra={"EVENT": "face_unavailable"})
                return m.FaceUnavailable(now(), "the card's photo could not be used", "face_check_unavailable")
            return m.FacePhotoRead(now())
        if isinstance(action, m.QueryPinTries):
            return m.PinTries(now(), await run(lambda card: card.pin_tries()))
        if isinstance(action, m.VerifyPin):
            return await self._verify(lambda card: card.verify_pin(action.pin), m.PinAccepted, m.PinRejected)
        if isinstance(action, m.SignChallenge):
            digest = hashlib.sha256(action.nonce).digest()
            try:
                return m.Signed(now(), await run(lambda card: card.sign_digest(digest)))
            except SecurityNotSatisfied:               # an iPhone that locked again (the flow decides for others)
                return m.TokenLocked(now())
        raise AssertionError(f"unhandled action {action!r}")

    async def _verify(self, operation, accepted, rejected) -> m.Event:
        """One VERIFY on the card thread, as the flow's accepted or rejected event (0 tries left: blocked)."""
        try:
            await self.worker.run(operation)
        except WrongPin as exc:
            return rejected(now(), exc.tries_left)
        except PinBlocked:
            return rejected(now(), 0)
        return accepted(now())
