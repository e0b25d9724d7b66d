"""Voice for the page, from daemon/voice's Speaker when it is installed and works; silent otherwise.

The page asks for each screen's text; a PIN digit is asked for by the key ``pin_digit`` ("1桁入力しました"),
never by its value (the Speaker also refuses any text that looks like a PIN).
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class VoiceOut:
    def __init__(self, speaker=None):
        self.speaker = speaker
        if speaker is None:
            try:
                from ..voice import Speaker
            except ImportError:
                log.info("voice guidance is off: daemon/voice is not installed")
                return
            try:
                self.speaker = Speaker()
            except Exception as exc:      # VoiceUnavailable: no engine or voice on this machine
                log.info("voice guidance is off: %s", exc)

    @classmethod
    def off(cls) -> "VoiceOut":
        """No voice, whatever is installed."""
        out = cls.__new__(cls)
        out.speaker = None
        return out

    def available(self) -> dict[str, bool]:
        if self.speaker is None:
            return {"ja": False, "en": False}
        try:
            return dict(self.speaker.available())
        except Exception as exc:          # a broken engine must not break the page
            log.warning("voice check failed: %s", exc)
            return {"ja": False, "en": False}

    async def wav(self, text: str, lang: str) -> bytes | None:
        if self.speaker is None:
            return None
        try:
            return await self.speaker.wav(text, lang)
        except Exception as exc:          # VoiceUnavailable, a refused PIN-like text, an engine failure
            log.info("no voice for this text (%s): %s", lang, type(exc).__name__)
            return None
