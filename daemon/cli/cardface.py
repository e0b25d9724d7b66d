"""``mynareader cardface read`` (frames of one card, read as the daemon reads them) and ``bench cardface``.

``--reveal`` prints the 14 digits of 照合番号B: a bench tool for synthetic or your own test cards. Without it
the code is never printed. Nothing is written to disk; images are only read.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import random
import resource
import sys
import time
from pathlib import Path

from ..cardface.fields import GENERATIONS, Fields
from .util import CANNOT, CliFail


def _reader(generation: str):
    from ..cardface.ocr import Ocr, OcrUnavailable
    from ..cardface.reader import CardFaceReader
    try:
        return CardFaceReader(Ocr(), generation)
    except OcrUnavailable as exc:
        raise CliFail(str(exc), CANNOT) from None


def _load(path: str):
    import numpy as np
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise CliFail(f"{path}: not an image ({exc.__class__.__name__})", CANNOT) from None


def cmd_read(args) -> int:
    frames = [_load(p) for p in args.frames]
    reader = _reader(args.generation)
    per_frame = []
    result = reader.read(iter(frames), on_frame=lambda fr: per_frame.append(fr.reason or "read"))
    out = {"certain": result.certain, "reason": result.reason, "frames": len(frames), "frames_read": result.frames,
           "per_frame": per_frame, "seconds": round(result.seconds, 3), "fields": None}
    if result.fields is not None:
        f = result.fields
        out["fields"] = {"generation": f.generation, "birth": f.birth.isoformat(),
                         "birth_printed": "gregorian" if f.birth_gregorian else "era",
                         "expiry": f.expiry.isoformat()}
    if args.reveal:
        out["code"] = result.key
        if result.fields is not None:
            out["fields"]["number"] = result.fields.number
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"certain: {'yes' if result.certain else 'no'}" + (f" ({result.reason})" if result.reason else ""))
        if out["fields"]:
            f = out["fields"]
            print(f"birth:   {f['birth']} (printed {f['birth_printed']})\nexpiry:  {f['expiry']}")
        print(f"frames:  {', '.join(per_frame) or 'none'}")
        if args.reveal:
            print(f"code:    {result.key or '-'}")
    return 0 if result.certain else 1


def cmd_bench(args) -> int:
    from ...device.mock import card_face_render as cfr
    from ..cardface.reader import ChipHints
    try:
        cfr.font_paths()
    except cfr.FontsMissing as exc:
        raise CliFail(str(exc), CANNOT) from None
    reader = _reader("2020")
    rng = random.Random(args.seed)
    today = dt.date.today()
    kinds = args.kinds.split(",") if args.kinds else cfr.KINDS
    unknown = [k for k in kinds if k not in cfr.KINDS + cfr.STRESS_KINDS]
    if unknown:
        raise CliFail(f"unknown degradation {', '.join(unknown)}; use {', '.join(cfr.KINDS + cfr.STRESS_KINDS)}",
                      CANNOT)
    counts: dict[str, collections.Counter[str]] = {k: collections.Counter() for k in kinds}   # kind -> outcomes
    reasons: collections.Counter[str | None] = collections.Counter()
    certain_times = []
    t_start = time.monotonic()
    for i in range(args.cards):
        kind = kinds[i % len(kinds)]
        face = cfr.random_face(rng, today)
        truth = GENERATIONS["2020"].key(Fields("2020", face.birth, face.expiry, face.security_code,
                                               face.gregorian_birth))
        render_seconds = [0.0]

        def frames(face=face, kind=kind):
            while True:
                t = time.monotonic()
                frame = cfr.scene(face, rng, cfr.Degradation.random(rng, kind))
                render_seconds[0] += time.monotonic() - t
                yield frame
        # the chip's certificate ends on a birthday: five years before the card for an adult's first card
        cert_end = _birthday(face.birth, face.expiry.year - 5)
        hints = ChipHints(i, dt.datetime(cert_end.year, cert_end.month, cert_end.day, 14, 59, 59,
                                         tzinfo=dt.timezone.utc))
        result = reader.read(frames(), hints)
        if result.certain and result.key == truth:
            outcome = "exact"
            if kind == "good":
                certain_times.append(result.seconds - render_seconds[0])
        elif result.certain:
            outcome = "wrong"
        else:
            outcome = "uncertain"
            reasons[result.reason] += 1
        counts[kind][outcome] += 1
        if args.progress and (i + 1) % 50 == 0:
            done = sum(sum(c.values()) for c in counts.values())
            print(f"  {done} cards, {time.monotonic() - t_start:.0f} s", file=sys.stderr, flush=True)
    total: collections.Counter[str] = collections.Counter()
    for c in counts.values():
        total.update(c)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    certain_times.sort()
    report = {
        "cards": args.cards, "seed": args.seed, "exact": total["exact"], "uncertain": total["uncertain"],
        "wrong": total["wrong"],
        "by_kind": {k: {o: c[o] for o in ("exact", "uncertain", "wrong")} for k, c in counts.items()},
        "uncertain_reasons": dict(reasons.most_common()),
        "certain_read_good_frame_s": {
            "median": round(certain_times[len(certain_times) // 2], 3) if certain_times else None,
            "p90": round(certain_times[int(len(certain_times) * 0.9)], 3) if certain_times else None},
        "peak_rss_mb": round(rss_mb, 1), "wall_s": round(time.monotonic() - t_start, 1)}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"{args.cards} generated cards (seed {args.seed}): exact {report['exact']}, uncertain (nothing "
              f"sent) {report['uncertain']}, wrong codes that would be sent {report['wrong']}")
        for k, c in report["by_kind"].items():
            print(f"  {k:<12} exact {c['exact']:>4}  uncertain {c['uncertain']:>4}  wrong {c['wrong']:>2}")
        print(f"  uncertain because: {', '.join(f'{r} {n}' for r, n in reasons.most_common()) or '-'}")
        t = report["certain_read_good_frame_s"]
        print(f"time to a certain read, good frames (OCR of 2 frames, rendering excluded): median "
              f"{t['median']} s, p90 {t['p90']} s\npeak RSS {report['peak_rss_mb']} MB; wall {report['wall_s']} s")
    return 1 if total["wrong"] else 0


def cmd_render(args) -> int:
    """Synthetic frames of a virtual card's front, for replay:// scenes and for trying ``cardface read``."""
    from PIL import Image
    from ...device.mock import card_face_render as cfr
    from ...device.mock.profiles import PROFILES
    try:
        cfr.font_paths()
    except cfr.FontsMissing as exc:
        raise CliFail(str(exc), CANNOT) from None
    if args.kind not in cfr.KINDS + cfr.STRESS_KINDS:
        raise CliFail(f"--kind {args.kind!r}: use one of {', '.join(cfr.KINDS + cfr.STRESS_KINDS)}", CANNOT)
    out = Path(args.directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    face = cfr.face_of_profile(PROFILES[args.profile])
    for i in range(args.frames):
        frame = cfr.scene(face, rng, cfr.Degradation.random(rng, args.kind))
        Image.fromarray(frame).save(out / f"card-{i:03d}.jpg", quality=92)
    print(f"{args.frames} frames of the '{args.profile}' virtual card ({args.kind}) in {out}; "
          f"use devices.cardface=replay://{out.resolve()}")
    return 0


def _birthday(birth: dt.date, year: int) -> dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


def register(groups) -> None:
    p = groups["cardface"].add_parser(
        "read", help="read 照合番号B from photos of one card's front, as the daemon would",
        description="Read the front of one card from one or more frames (image files) exactly as the daemon "
                    "does: certain only when two frames agree and the dates are consistent. Exit 0 when "
                    "certain, 1 when not. --reveal prints the 14 digits: a bench tool, never for a patient's "
                    "card on a shared screen.")
    p.add_argument("frames", nargs="+", metavar="FRAME", help="image files (JPEG, PNG) of the same card")
    p.add_argument("--json", action="store_true", help="one JSON object: certain, reason, fields[, code]")
    p.add_argument("--reveal", action="store_true", help="also print the code (bench tool)")
    p.add_argument("--generation", default="2020", choices=sorted(GENERATIONS), help="card design")
    p.set_defaults(func=cmd_read)
    r = groups["cardface"].add_parser(
        "render", help="write synthetic frames of a virtual card's front (for replay:// and 'cardface read')",
        description="Render camera frames of a virtual card profile's printed front (synthetic: the bench's "
                    "test card, never a patient's) into DIRECTORY.")
    r.add_argument("directory")
    from ...device.mock.profiles import PROFILES
    r.add_argument("--profile", default="fresh", choices=sorted(PROFILES))
    r.add_argument("--frames", type=int, default=4)
    r.add_argument("--kind", default="good", help="camera degradation (as in 'bench cardface'; default good)")
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(func=cmd_render)
    b = groups["bench"].add_parser(
        "cardface", help="card-face OCR over generated cards: exact, uncertain, wrong (must be 0)",
        description="Render cards (all eras, 元年, Gregorian birth dates) under camera degradations and read "
                    "them as the daemon does. Exit 1 if any wrong code would have been sent.")
    b.add_argument("--cards", type=int, default=1000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--kinds", help="comma-separated degradations (default: all)")
    b.add_argument("--json", action="store_true")
    b.add_argument("--progress", action="store_true", help="a line every 50 cards on stderr")
    b.set_defaults(func=cmd_bench)
