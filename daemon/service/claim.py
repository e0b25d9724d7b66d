"""Who drives the patient screen: one kiosk client at a time (fprintd's lesson: a claim ends with its connection).

A kiosk client claims the screen with its first input the flow accepts (a refused input claims nothing); the
claim ends when its connection closes or when staff release it (``kiosk.release``).
"""
from __future__ import annotations

import logging

from ..rpc.errors import Busy
from ..rpc.server import Connection

log = logging.getLogger(__name__)


class KioskClaim:
    def __init__(self) -> None:
        self.holder: Connection | None = None

    def check(self, conn: Connection) -> None:
        """Raises Busy when another kiosk client holds the screen."""
        if self.holder is not None and self.holder is not conn:
            raise Busy()

    def take(self, conn: Connection) -> None:
        if self.holder is not None:
            return
        self.holder = conn

        def release() -> None:
            if self.holder is conn:
                self.holder = None
        conn.on_close.append(release)

    def release(self) -> int | None:
        """Staff free the screen from a client that holds it but no longer drives it; the client's id, or None."""
        held, self.holder = self.holder, None
        if held is None:
            return None
        log.warning("staff released the patient screen held by kiosk client %d", held.id,
                    extra={"EVENT": "kiosk_released"})
        return held.id

    def as_json(self) -> dict | None:
        held = self.holder
        if held is None:
            return None
        return {"client": held.id, "pid": held.peer.pid if held.peer else None}
