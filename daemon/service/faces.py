"""Face attempts as the flow asks for them: one at a time, each a task that feeds the flow what the camera sees.

An attempt ends with its verdict, when the flow leaves face matching, or when the session it belongs to ends.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Awaitable, Callable

from ..clock import now
from ..reception import messages as m

if TYPE_CHECKING:    # the face pipeline is optional: it may not be installed
    from .face_check import FaceCheck

log = logging.getLogger(__name__)


class FaceAttempts:
    def __init__(self, face: FaceCheck | None, feed: Callable[[m.Event], Awaitable[None]],
                 session: Callable[[], str | None], matching: Callable[[], bool],
                 timed: Callable[[str, float], None] = lambda what, seconds: None):
        """``feed``: give the flow an event (dropped if refused); ``session()``: the current session's id;
        ``matching()``: is the flow still matching faces; ``timed``: how long an attempt took to its verdict."""
        self.face, self.feed, self.session, self.matching, self.timed = face, feed, session, matching, timed
        self._task: asyncio.Task | None = None

    async def perform(self, action: m.StartFaceCheck | m.StopFaceCheck, session: str | None) -> None:
        await self.stop()
        if isinstance(action, m.StopFaceCheck):
            return
        if self.face is None:
            await self.feed(m.FaceUnavailable(now(), "no face models are loaded", "face_check_unavailable"))
            return
        self._task = asyncio.get_running_loop().create_task(self._attempt(self.face, session))

    async def _attempt(self, face: FaceCheck, session: str | None) -> None:
        started = time.monotonic()
        try:
            async for outcome in face.attempt():
                if session != self.session():
                    return
                await self.feed(outcome(now()))
                if not self.matching():
                    self.timed("face_check", time.monotonic() - started)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("face check failed", exc_info=True, extra={"EVENT": "face_unavailable"})
            await self.feed(m.FaceUnavailable(now(), "the face check failed", "face_check_unavailable"))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self.face is not None:
            await self.face.stop()

    async def end_session(self) -> None:
        """The chip photo's descriptor lives for one session only."""
        if self.face is not None:
            await self.face.end_session()
