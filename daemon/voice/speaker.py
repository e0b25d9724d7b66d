"""Speech for the patient's screen: text in, WAV bytes out, made once per (language, text) and then served from
the cache. The engines run as child processes awaited by asyncio, so the event loop (and the kiosk page it serves)
never waits on them; at most ``concurrency`` syntheses run at once."""
from __future__ import annotations

import asyncio
import functools
import io
import os
import tempfile
import wave

from . import engines
from .audio import tidy
from .cache import DirectoryCache, MemoryCache, key
from .engines import VoiceConfig, VoiceUnavailable
from .phrases import refuse_pin_like


class Speaker:
    def __init__(self, config: VoiceConfig = VoiceConfig(), concurrency: int = 1):
        if config.english not in ("flite", "espeak-ng"):
            raise ValueError(f"english must be 'flite' or 'espeak-ng', not {config.english!r}")
        self.config = config
        self.concurrency = concurrency
        self.memory = MemoryCache(config.memory_bytes)
        runtime = config.runtime_dir or os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
        self.directory = DirectoryCache(os.path.join(runtime, "voice")) if runtime else None
        self._scratch = runtime if runtime and os.path.isdir(runtime) else None   # else the system's temp dir
        self.syntheses = 0                      # engine processes started (the bench and tests read it)
        self._inflight: dict[str, asyncio.Task] = {}
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    def available(self) -> dict[str, bool]:
        """Which languages can be spoken now (files present; cheap enough to ask per page load)."""
        return {lang: engines.missing(self.config, lang) is None for lang in engines.LANGS}

    def missing(self, lang: str) -> VoiceUnavailable | None:
        """Why lang cannot be spoken (the package to install), or None."""
        return engines.missing(self.config, lang)

    def cached(self, text: str, lang: str) -> bytes | None:
        """The WAV when it is already in memory; never synthesises."""
        return self.memory.get(key(engines.identity(self.config, lang), lang, text))

    async def wav(self, text: str, lang: str) -> bytes:
        """The spoken text as WAV bytes. Raises PinLikeText (a ValueError) for text with a PIN-like run of digits,
        VoiceUnavailable when the engine is missing, fails or times out."""
        refuse_pin_like(text)
        if lang not in engines.LANGS:
            raise ValueError(f"no voice for language {lang!r}; use one of {', '.join(engines.LANGS)}")
        if not text.strip():
            raise ValueError("nothing to say")
        k = key(engines.identity(self.config, lang), lang, text)
        data = self.memory.get(k)
        if data is not None:
            return data
        task = self._inflight.get(k)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            # one synthesis per text however many ask at once; a caller that gives up (the patient moved on)
            # does not stop it, so the next ask finds it cached
            task = asyncio.get_running_loop().create_task(self._make(k, text, lang))
            self._inflight[k] = task
            task.add_done_callback(functools.partial(self._finished, k))
        return await asyncio.shield(task)

    def _finished(self, k: str, task: asyncio.Task) -> None:
        if self._inflight.get(k) is task:
            del self._inflight[k]
        if not task.cancelled():
            task.exception()        # retrieved, even when every caller has gone: no "never retrieved" warning

    async def _make(self, k: str, text: str, lang: str) -> bytes:
        data = self.directory.get(k) if self.directory else None
        if data is None or not _is_wav(data):
            data = await self._synthesise(text, lang)
            if self.directory:
                self.directory.put(k, data)
        self.memory.put(k, data)
        return data

    async def warm(self, items: list[tuple[str, str]]) -> dict[str, int]:
        """Synthesise (text, lang) pairs ahead of need, e.g. every screen text at start; counts made/failed."""
        counts = {"made": 0, "failed": 0}
        for text, lang in items:
            try:
                await self.wav(text, lang)
                counts["made"] += 1
            except (VoiceUnavailable, ValueError):
                counts["failed"] += 1
        return counts

    def _slots_for_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.concurrency), loop
        return self._slots

    async def _synthesise(self, text: str, lang: str) -> bytes:
        problem = engines.missing(self.config, lang)
        if problem:
            raise problem
        async with self._slots_for_loop():
            # the engines want files (flite cannot write its WAV to a pipe); a private directory, removed at once
            with tempfile.TemporaryDirectory(prefix="voice-", dir=self._scratch) as tmp:
                text_file, wav_file = os.path.join(tmp, "text.txt"), os.path.join(tmp, "out.wav")
                with open(text_file, "w", encoding="utf-8") as f:
                    # one line: open_jtalk makes one WAV per input line, all into the same file
                    f.write(" ".join(text.split()) + "\n")
                argv = engines.command(self.config, lang, text_file, wav_file)
                self.syntheses += 1
                try:
                    proc = await asyncio.create_subprocess_exec(
                        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                        stderr=asyncio.subprocess.PIPE)
                except OSError as exc:
                    raise VoiceUnavailable(f"could not start {argv[0]}: {exc.strerror}") from None
                try:
                    _, err = await asyncio.wait_for(proc.communicate(), self.config.timeout)
                except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
                    try:
                        proc.kill()
                    except ProcessLookupError:
                        pass
                    await proc.wait()
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    raise VoiceUnavailable(f"{os.path.basename(argv[0])} took longer than "
                                           f"{self.config.timeout:g} s; no speech this time") from None
                try:
                    with open(wav_file, "rb") as f:
                        data = f.read()
                except OSError:
                    data = b""
        if proc.returncode != 0 or not _is_wav(data):
            detail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
            raise VoiceUnavailable(f"{os.path.basename(argv[0])} made no speech: {detail[0]}")
        return await asyncio.to_thread(tidy, data)


def _is_wav(data: bytes) -> bool:
    try:
        with wave.open(io.BytesIO(data)) as w:
            return w.getnframes() > 0 and w.getframerate() > 0
    except (wave.Error, EOFError):
        return False
