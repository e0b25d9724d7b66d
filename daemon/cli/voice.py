"""``mynareader voice say|check|bench``: the patient screen's voice guidance from the command line (daemon/voice)."""
from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

from ..voice import Speaker, VoiceConfig, VoiceUnavailable
from ..voice.phrases import PinLikeText
from .util import CliFail


def _speaker(args) -> Speaker:
    return Speaker(VoiceConfig(english=args.english))


def cmd_say(args) -> int:
    speaker = _speaker(args)
    try:
        data = asyncio.run(speaker.wav(args.text, args.lang))
    except (VoiceUnavailable, PinLikeText) as exc:
        raise CliFail(str(exc)) from None
    if args.out == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(args.out, "wb") as f:
            f.write(data)
        print(f"{args.out}: {len(data)} bytes")
    return 0


def cmd_check(args) -> int:
    speaker = _speaker(args)
    ok = True
    for lang, present in speaker.available().items():
        print(f"{lang}: {'ready' if present else speaker.missing(lang)}")
        ok = ok and present
    return 0 if ok else 1


def cmd_bench(args) -> int:
    from ..voice import bench
    os.environ.pop("RUNTIME_DIRECTORY", None)       # synthesis is measured: no files from an earlier run
    speaker = _speaker(args)
    langs = tuple(args.lang.split(",")) if args.lang else tuple(lang for lang, ok in speaker.available().items() if ok)
    for lang in ("ja", "en"):
        if problem := speaker.missing(lang):
            if lang in langs:
                raise CliFail(str(problem))
            print(f"({lang} skipped: {problem})", file=sys.stderr)
    started = time.perf_counter()
    rows = asyncio.run(bench.run(speaker, langs))
    wall = time.perf_counter() - started
    print(f"{'text':22} {'lang':4} {'chars':>5} {'synth ms':>9} {'speech s':>8} {'x real':>7} {'hit us':>7} {'KiB':>6}")
    for r in rows:
        print(f"{r.key:22} {r.lang:4} {r.chars:5d} {r.synth_s * 1e3:9.1f} {r.audio_s:8.2f} "
              f"{r.synth_s / r.audio_s:7.3f} {r.hit_s * 1e6:7.1f} {r.wav_bytes / 1024:6.0f}")
    for lang in langs:
        mine = [r for r in rows if r.lang == lang]
        synth = [r.synth_s * 1e3 for r in mine]
        print(f"{lang}: {len(mine)} phrases, synthesis median {statistics.median(synth):.1f} ms, "
              f"max {max(synth):.1f} ms, total {sum(synth) / 1e3:.2f} s; cache hit median "
              f"{statistics.median(r.hit_s * 1e6 for r in mine):.1f} us")
    print(f"all: {len(rows)} phrases in {wall:.2f} s, {speaker.syntheses} engine runs, "
          f"memory cache {speaker.memory.size / 2**20:.1f} MiB")
    return 0


def register(groups) -> None:
    voice = groups["voice"]
    p = voice.add_parser("say", help="speak one text into a WAV file")
    p.add_argument("text")
    p.add_argument("--lang", choices=("ja", "en"), default="ja")
    p.add_argument("--out", required=True, help="WAV file to write, or - for standard output")
    p.set_defaults(func=cmd_say)
    p = voice.add_parser("check", help="which languages can be spoken, and what to install otherwise")
    p.set_defaults(func=cmd_check)
    p = voice.add_parser("bench", help="synthesis time and cache-hit time for every screen text (prints figures)")
    p.add_argument("--lang", default="", help="ja, en or ja,en (default: every language available)")
    p.set_defaults(func=cmd_bench)
    for p in voice.choices.values():
        p.add_argument("--english", choices=("flite", "espeak-ng"), default="flite", help="the English engine")
