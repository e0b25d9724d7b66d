"""Where 照合番号B comes from: the card-face source (a scanner with OCR on a real reader; the bench here).

A source returns (code, certain). The flow verifies 照合番号B only when ``certain`` is true, so a source that
is unsure must say so rather than guess: a misread that is submitted burns one of the card's 10 tries.

    none            no card-face scanner: face authentication is not offered
    sim             the virtual card on a sim:// reader (the demo)
    control:PATH    the bench mock's control socket ("card-face" command), e.g. a vpcd or PN532 mock
"""
from __future__ import annotations

from ..device.mock.control import send_control
from ..device.pin import Pin


class CardFaceUnavailable(Exception):
    pass


class CardFaceSource:
    def __init__(self, spec: str, transport=None):
        self.spec, self.transport = spec, transport
        if spec not in ("none", "sim") and not spec.startswith("control:"):
            raise ValueError(f"card-face source {spec!r}: use none, sim or control:PATH")

    @property
    def available(self) -> bool:
        return self.spec != "none"

    def read(self) -> tuple[Pin | None, bool]:
        """Blocking: the code and whether the source is certain of every digit."""
        if self.spec == "sim":
            card = getattr(getattr(self.transport, "slot", None), "card", None)
            code = getattr(card, "check_code_b", None)
        elif self.spec.startswith("control:"):
            reply = send_control(self.spec[len("control:"):], "card-face")
            code = reply[3:] if reply.startswith("ok ") else None
        else:
            raise CardFaceUnavailable("no card-face scanner is configured")
        if not code:
            return None, False
        return Pin(code, min_len=14, max_len=14), True
