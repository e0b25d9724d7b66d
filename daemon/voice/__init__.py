"""Voice guidance: each screen's text spoken offline by Debian's engines (Open JTalk for ja, flite or espeak-ng
for en), synthesised once and cached, never blocking the event loop. See :class:`Speaker`."""
from .engines import VoiceConfig, VoiceUnavailable
from .phrases import digit_deleted, digit_entered, refuse_pin_like
from .speaker import Speaker

__all__ = ["Speaker", "VoiceConfig", "VoiceUnavailable", "digit_entered", "digit_deleted", "refuse_pin_like"]
