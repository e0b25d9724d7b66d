"""Tidying the engines' WAVs (pure, numpy): the silence they put before and after the speech is cut, so a
spoken "one digit entered" follows the tap at once, and every phrase is brought to the same peak level (Open
JTalk speaks at about a third of full scale, flite near full), so the volume the clinic sets holds for both
languages. Any WAV this does not understand (not 16-bit PCM) is returned as it came."""
from __future__ import annotations

import io
import wave

import numpy as np

PEAK = 0.89                 # -1 dBFS: loud, without clipping
SILENCE = 0.01              # below 1 % of full scale counts as silence
KEEP = 0.04                 # seconds of quiet kept either side so the speech does not start with a click


def tidy(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            return data
        channels, rate = w.getnchannels(), w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, channels)
    loud = np.flatnonzero(np.abs(samples).max(axis=1) > SILENCE * 32767)
    if loud.size == 0:
        return data
    keep = int(KEEP * rate)
    samples = samples[max(0, loud[0] - keep): loud[-1] + 1 + keep].astype(np.float64)
    samples *= PEAK * 32767 / np.abs(samples).max()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.round(samples).astype("<i2").tobytes())
    return out.getvalue()
