"""Figures for ``mynareader voice bench``: per guidance text, the first synthesis and a cache hit."""
from __future__ import annotations

import dataclasses
import io
import time
import wave

from ..reception.texts import TEXTS
from .phrases import digit_deleted, digit_entered
from .speaker import Speaker


@dataclasses.dataclass
class Row:
    key: str
    lang: str
    chars: int
    synth_s: float          # the first ask: an engine process
    hit_s: float            # the second ask: the memory cache
    audio_s: float          # how long the speech lasts
    wav_bytes: int


def phrases(langs: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(key, lang, text) for every screen text and the PIN-digit phrases."""
    out = [(k, lang, pair[0 if lang == "ja" else 1]) for k, pair in TEXTS.items() for lang in langs]
    out += [(name, lang, fn(lang)) for name, fn in (("digit_entered", digit_entered),
                                                      ("digit_deleted", digit_deleted)) for lang in langs]
    return out


async def run(speaker: Speaker, langs: tuple[str, ...]) -> list[Row]:
    rows = []
    for k, lang, text in phrases(langs):
        t0 = time.perf_counter()
        data = await speaker.wav(text, lang)
        t1 = time.perf_counter()
        again = await speaker.wav(text, lang)
        t2 = time.perf_counter()
        assert again is data
        with wave.open(io.BytesIO(data)) as w:
            audio = w.getnframes() / w.getframerate()
        rows.append(Row(k, lang, len(text), t1 - t0, t2 - t1, audio, len(data)))
    return rows
