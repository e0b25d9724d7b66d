"""Voice guidance (daemon/voice) with the real Debian engines: Open JTalk for Japanese, flite for English.

Engine launches are counted by wrapper scripts around the real programs, so "served from the cache" means no
process was started, not that a counter in the code says so."""
import asyncio
import io
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from mynareader.daemon.reception.texts import TEXTS
from mynareader.daemon.voice import Speaker, VoiceConfig, VoiceUnavailable, digit_deleted, digit_entered
from mynareader.daemon.voice.audio import tidy
from mynareader.daemon.voice.phrases import PinLikeText

DEFAULT = VoiceConfig()
EXE = str(Path(sys.executable).with_name("mynareader"))
TOOLS = Path(__file__).parent.parent / "systemd"   # apt_contrib.py lives with the system set-up files


@pytest.fixture(autouse=True)
def _no_runtime_directory(monkeypatch):
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)


def engines_present():
    for lang in ("ja", "en"):
        problem = Speaker().missing(lang)
        assert problem is None, f"{problem} (make test installs the voice packages)"


def wav_info(data: bytes) -> tuple[int, int, float]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnframes(), w.getnframes() / w.getframerate()


def wrapper(tmp_path: Path, real: str, name: str, before: str = "") -> str:
    """A script standing in for an engine: logs each launch to NAME.log, runs `before`, then execs the real one."""
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\necho launched >> '{tmp_path / name}.log'\n{before}\nexec '{real}' \"$@\"\n")
    script.chmod(0o755)
    return str(script)


def launches(tmp_path: Path, name: str) -> int:
    log = tmp_path / f"{name}.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("lang,english", [("ja", "flite"), ("en", "flite"), ("en", "espeak-ng")])
def test_real_synthesis_gives_a_wav_whose_length_fits_the_text(lang, english):
    engines_present()
    short, long = {"ja": (TEXTS["pin_wrong"][0], TEXTS["face_liveness_failed"][0]),
                   "en": (TEXTS["pin_wrong"][1], TEXTS["face_liveness_failed"][1])}[lang]

    async def both():
        speaker = Speaker(VoiceConfig(english=english))
        assert speaker.available()[lang], speaker.missing(lang)
        return await speaker.wav(short, lang), await speaker.wav(long, lang)

    a, b = asyncio.run(both())
    for text, data in ((short, a), (long, b)):
        rate, frames, seconds = wav_info(data)
        assert rate >= 16000 and frames > 0
        # Japanese: roughly 6-10 characters a second; English: 10-20 (generous either way)
        per_second = (2, 25) if lang == "ja" else (4, 40)
        assert len(text) / per_second[1] < seconds < len(text) / per_second[0], (text, seconds)
    assert wav_info(b)[2] > 2 * wav_info(a)[2]          # a longer text is longer speech


def test_a_text_over_several_lines_is_one_wav():
    engines_present()
    one_line = asyncio.run(Speaker().wav(TEXTS["pin_blocked"][0], "ja"))
    several = asyncio.run(Speaker().wav(TEXTS["pin_blocked"][0].replace("。", "。\n"), "ja"))
    assert wav_info(several)[2] > 0.9 * wav_info(one_line)[2]      # every line, not the first one only


def test_the_cache_answers_without_a_second_process(tmp_path):
    engines_present()
    config = VoiceConfig(open_jtalk=wrapper(tmp_path, DEFAULT.open_jtalk, "jtalk"),
                         flite=wrapper(tmp_path, DEFAULT.flite, "flite"))

    async def scenario():
        speaker = Speaker(config)
        first = await speaker.wav(TEXTS["done"][0], "ja")
        again = await speaker.wav(TEXTS["done"][0], "ja")
        en = await speaker.wav(TEXTS["done"][1], "en")
        en_again = await speaker.wav(TEXTS["done"][1], "en")
        # the same text asked twice at once: one process
        x, y = await asyncio.gather(speaker.wav(TEXTS["consent"][0], "ja"), speaker.wav(TEXTS["consent"][0], "ja"))
        return first, again, en, en_again, x, y

    first, again, en, en_again, x, y = asyncio.run(scenario())
    assert again == first and en_again == en and x == y
    assert launches(tmp_path, "jtalk") == 2 and launches(tmp_path, "flite") == 1


def test_the_runtime_directory_serves_a_new_speaker_without_a_process(tmp_path):
    engines_present()
    runtime = tmp_path / "run"
    runtime.mkdir()
    config = VoiceConfig(open_jtalk=wrapper(tmp_path, DEFAULT.open_jtalk, "jtalk"), runtime_dir=str(runtime))
    first = asyncio.run(Speaker(config).wav(TEXTS["take_card"][0], "ja"))
    again = asyncio.run(Speaker(config).wav(TEXTS["take_card"][0], "ja"))   # as after a restart
    assert again == first and launches(tmp_path, "jtalk") == 1
    files = [p for p in runtime.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].suffix == ".wav"                   # the scratch directory is gone
    assert oct(files[0].stat().st_mode & 0o777) == oct(0o600)
    assert TEXTS["take_card"][0].encode() not in files[0].read_bytes()     # named by hash, holds only audio


@pytest.mark.parametrize("text", ["1234", "暗証番号は１２３４です", "1 2 3 4", "1、2、3、4", "PIN: 9-8-7-6",
                                  "123456789012"])
def test_pin_like_digits_are_refused_before_any_process_or_file(tmp_path, text):
    runtime = tmp_path / "run"
    runtime.mkdir()
    config = VoiceConfig(open_jtalk=wrapper(tmp_path, DEFAULT.open_jtalk, "jtalk"),
                         flite=wrapper(tmp_path, DEFAULT.flite, "flite"), runtime_dir=str(runtime))
    speaker = Speaker(config)
    for lang in ("ja", "en"):
        with pytest.raises(PinLikeText, match="digit_entered"):
            asyncio.run(speaker.wav(text, lang))
    assert launches(tmp_path, "jtalk") == launches(tmp_path, "flite") == 0
    assert list(runtime.rglob("*")) == []


def test_every_screen_text_and_the_digit_phrases_pass_the_guard():
    from mynareader.daemon.voice.phrases import refuse_pin_like
    for ja, en in TEXTS.values():
        refuse_pin_like(ja)
        refuse_pin_like(en)
    for lang in ("ja", "en"):
        refuse_pin_like(digit_entered(lang))
        refuse_pin_like(digit_deleted(lang))
    assert "1桁" in digit_entered("ja") and digit_entered("en") == "One digit entered."


@pytest.mark.parametrize("field,lang,package", [
    ("open_jtalk", "ja", "open-jtalk"), ("dictionary", "ja", "open-jtalk-mecab-naist-jdic"),
    ("htsvoice", "ja", "hts-voice-nitech-jp-atr503-m001"), ("flite", "en", "flite"),
    ("espeak_ng", "en", "espeak-ng")])
def test_a_missing_engine_names_the_package_to_install(tmp_path, field, lang, package):
    config = VoiceConfig(**{field: str(tmp_path / "not-installed")},
                         english="espeak-ng" if field == "espeak_ng" else "flite")
    speaker = Speaker(config)
    assert speaker.available()[lang] is False
    with pytest.raises(VoiceUnavailable) as caught:
        asyncio.run(speaker.wav("はい" if lang == "ja" else "Yes", lang))
    assert caught.value.package == package
    message = str(caught.value)
    assert f"apt-get install {package}" in message and str(tmp_path / "not-installed") in message
    if package.startswith("hts-voice"):
        assert "contrib" in message


def test_the_event_loop_runs_while_the_engine_works(tmp_path):
    """The engine waits for a file that only the event loop creates: a synthesis that blocked the loop would never
    see it, time out, and fail."""
    engines_present()
    started, gate = tmp_path / "started", tmp_path / "gate"
    held = wrapper(tmp_path, DEFAULT.open_jtalk, "jtalk",
                   before=f"touch '{started}'; i=0; while [ ! -e '{gate}' ] && [ $i -lt 2000 ]; do sleep 0.01; "
                          "i=$((i+1)); done")
    speaker = Speaker(VoiceConfig(open_jtalk=held, timeout=30))

    async def scenario():
        task = asyncio.create_task(speaker.wav(TEXTS["reading"][0], "ja"))
        ticks = 0
        while not started.exists() and not task.done():
            await asyncio.sleep(0.01)
        while ticks < 5:                      # the loop keeps ticking while the engine is running
            assert not task.done()
            ticks += 1
            await asyncio.sleep(0.01)
        gate.touch()
        return await task

    assert wav_info(asyncio.run(scenario()))[1] > 0


def test_a_caller_that_gives_up_leaves_the_speech_cached(tmp_path):
    engines_present()
    gate = tmp_path / "gate"
    held = wrapper(tmp_path, DEFAULT.open_jtalk, "jtalk",
                   before=f"i=0; while [ ! -e '{gate}' ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done")
    speaker = Speaker(VoiceConfig(open_jtalk=held, timeout=30))

    async def scenario():
        asking = asyncio.create_task(speaker.wav(TEXTS["face_look"][0], "ja"))
        while launches(tmp_path, "jtalk") == 0:
            await asyncio.sleep(0.01)
        asking.cancel()                       # the patient moved to the next screen
        with pytest.raises(asyncio.CancelledError):
            await asking
        gate.touch()
        return await speaker.wav(TEXTS["face_look"][0], "ja")

    assert wav_info(asyncio.run(scenario()))[1] > 0
    assert launches(tmp_path, "jtalk") == 1


def test_an_engine_that_hangs_is_stopped_at_the_timeout(tmp_path):
    engines_present()
    pid_file = tmp_path / "pid"
    hung = tmp_path / "hung"
    hung.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\nexec sleep 600\n")
    hung.chmod(0o755)
    speaker = Speaker(VoiceConfig(open_jtalk=str(hung), timeout=1))
    with pytest.raises(VoiceUnavailable, match="took longer than 1 s"):
        asyncio.run(speaker.wav("はい", "ja"))
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)                       # killed and reaped, not left behind


def test_an_engine_that_fails_reports_its_last_error_line(tmp_path):
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'first line' >&2\necho 'cannot load the voice' >&2\nexit 3\n")
    broken.chmod(0o755)
    speaker = Speaker(VoiceConfig(flite=str(broken)))
    with pytest.raises(VoiceUnavailable, match="broken made no speech: cannot load the voice") as caught:
        asyncio.run(speaker.wav("Yes", "en"))
    assert caught.value.package is None


def test_tidy_cuts_the_silence_around_the_speech_and_sets_one_peak_level():
    rate = 16000
    tone = (3000 * np.sin(np.arange(rate // 2) * 2 * np.pi * 440 / rate)).astype("<i2")   # 0.5 s, quiet
    samples = np.concatenate([np.zeros(rate, "<i2"), tone, np.zeros(rate, "<i2")])
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    tidied = tidy(out.getvalue())
    with wave.open(io.BytesIO(tidied)) as w:
        got = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert w.getframerate() == rate
    assert 0.5 <= len(got) / rate <= 0.5 + 2 * 0.04 + 0.01     # the tone and 40 ms either side
    assert 0.85 * 32767 < np.abs(got).max() <= 0.9 * 32767


def test_cli_say_writes_a_wav_and_refuses_a_pin(tmp_path):
    engines_present()
    out = tmp_path / "a.wav"
    done = subprocess.run([EXE, "voice", "say", "--lang", "ja", TEXTS["pin_entry"][0], "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert wav_info(out.read_bytes())[1] > 0
    refused = subprocess.run([EXE, "voice", "say", "--lang", "en", "PIN 1234", "--out", str(tmp_path / "b.wav")],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "could be a PIN" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "b.wav").exists()


# -- systemd/apt_contrib.py: `make system` enables Debian's contrib for the voice -----------------------------------

def apt_contrib():
    sys.path.insert(0, str(TOOLS))
    try:
        import apt_contrib
        return apt_contrib
    finally:
        sys.path.remove(str(TOOLS))


DEB822 = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://download.example.com/repo
Suites: stable
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

LIST = """\
deb http://deb.debian.org/debian bookworm main non-free-firmware  # the archive
# deb http://deb.debian.org/debian bookworm main
deb [arch=arm64 signed-by=/usr/share/keyrings/raspberrypi-archive-keyring.gpg] http://archive.raspberrypi.com/debian/ bookworm main
deb-src http://ftp.jp.debian.org/debian bookworm main contrib
"""


def test_contrib_is_added_to_debian_entries_only_and_once(tmp_path):
    tool = apt_contrib()
    deb822 = tool.enable_in_deb822(DEB822)
    stanzas = deb822.split("\n\n")
    assert "Components: main contrib non-free-firmware" in stanzas[0]
    assert stanzas[1] == DEB822.split("\n\n")[1]              # a third-party repository: untouched
    assert stanzas[2] == DEB822.split("\n\n")[2]              # already there
    assert tool.enable_in_deb822(deb822) == deb822
    listed = tool.enable_in_list(LIST).splitlines()
    assert listed[0] == "deb http://deb.debian.org/debian bookworm main contrib non-free-firmware  # the archive"
    assert listed[1:] == LIST.splitlines()[1:]                 # comments, Raspberry Pi's archive, already there
    assert tool.enable_in_list("\n".join(listed) + "\n") == "\n".join(listed) + "\n"

    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list").write_text(LIST)
    assert len(tool.enable(tmp_path)) == 2
    assert tool.enable(tmp_path) == []                         # idempotent
