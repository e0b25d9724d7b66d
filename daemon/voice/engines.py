"""The speech engines, as Debian installs them: which files each language needs, which package holds each, and the
command line that turns a text file into a WAV file. Pure data and argv building; :mod:`.speaker` runs them."""
from __future__ import annotations

import dataclasses
import os
import shutil

LANGS = ("ja", "en")


class VoiceUnavailable(Exception):
    """Speech cannot be made: an engine or a voice is missing (``package`` names the Debian package to install),
    or the engine failed or took too long (``package`` is None). The message says what to do."""

    def __init__(self, message: str, package: str | None = None):
        super().__init__(message)
        self.package = package


@dataclasses.dataclass(frozen=True)
class VoiceConfig:
    """Where the engines are. The defaults are Debian's and Raspberry Pi OS's paths."""
    open_jtalk: str = "/usr/bin/open_jtalk"
    dictionary: str = "/var/lib/mecab/dic/open-jtalk/naist-jdic"
    htsvoice: str = "/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice"
    english: str = "flite"                     # "flite" or "espeak-ng"
    flite: str = "/usr/bin/flite"
    flite_voice: str = "slt"                   # 16 kHz; flite -lv lists the voices built in
    espeak_ng: str = "/usr/bin/espeak-ng"
    timeout: float = 20.0                      # seconds for one synthesis; the Pi 4 needs well under one
    runtime_dir: str | None = None             # None: $RUNTIME_DIRECTORY when systemd sets it, else memory only
    memory_bytes: int = 48 * 1024 * 1024       # the in-memory cache's bound (LRU)


# (the file, what it is, the Debian package holding it)
def requirements(config: VoiceConfig, lang: str) -> list[tuple[str, str, str]]:
    if lang == "ja":
        return [(config.open_jtalk, "the Open JTalk program", "open-jtalk"),
                (config.dictionary, "Open JTalk's dictionary", "open-jtalk-mecab-naist-jdic"),
                (config.htsvoice, "the Japanese voice", "hts-voice-nitech-jp-atr503-m001")]
    if lang == "en":
        if config.english == "espeak-ng":
            return [(config.espeak_ng, "the espeak-ng program", "espeak-ng")]
        return [(config.flite, "the flite program", "flite")]
    raise ValueError(f"no voice for language {lang!r}; use one of {', '.join(LANGS)}")


def _present(path: str, program: bool) -> bool:
    if program:
        return os.path.isfile(path) and os.access(path, os.X_OK) or (os.sep not in path and bool(shutil.which(path)))
    return os.path.exists(path)


def missing(config: VoiceConfig, lang: str) -> VoiceUnavailable | None:
    """The first missing piece for lang, as the error to raise; None when everything is there."""
    for index, (path, what, package) in enumerate(requirements(config, lang)):
        if not _present(path, program=index == 0):
            how = f"sudo apt-get install {package}"
            if package == "hts-voice-nitech-jp-atr503-m001":
                how += " (it is in Debian's contrib component: docs/install-pi.md, section 1)"
            return VoiceUnavailable(f"{'Japanese' if lang == 'ja' else 'English'} voice guidance is unavailable: "
                                    f"{what} ({path}) is missing. Install it: {how}", package=package)
    return None


def command(config: VoiceConfig, lang: str, text_file: str, wav_file: str) -> list[str]:
    """The argv that reads UTF-8 text from text_file and writes a WAV to wav_file."""
    if lang == "ja":
        return [config.open_jtalk, "-x", config.dictionary, "-m", config.htsvoice, "-ow", wav_file, text_file]
    if config.english == "espeak-ng":
        return [config.espeak_ng, "-v", "en", "-f", text_file, "-w", wav_file]
    return [config.flite, "-voice", config.flite_voice, "-f", text_file, "-o", wav_file]


def identity(config: VoiceConfig, lang: str) -> str:
    """What decides the sound besides the text: part of the cache key, so a changed voice is not served stale."""
    return "\0".join(command(config, lang, "", ""))
