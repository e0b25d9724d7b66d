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
from . import cardface_bench
from .util import CANNOT, CliFail


def _reader(generation: str, threads: int = 2):
    from ..cardface.ocr import Ocr, OcrUnavailable
    from ..cardface.reader import CardFaceReader
    try:
        return CardFaceReader(Ocr(threads=max(1, threads)), generation)
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
    reader = _reader(args.generation, args.threads)
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
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
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
    b.add_argument("--jobs", type=int, default=1, help="worker processes sharing the cards (default 1)")
    b.add_argument("--threads", type=int, default=1, help="onnxruntime threads per worker (default 1: one core)")
    b.add_argument("--frames", type=int, default=6, help="frames a read may take (the daemon's window; default 6)")
    b.add_argument("--log", help="append each card's outcome to this file (JSON lines; no card data)")
    b.add_argument("--summarise", metavar="LOG", help="print the figures of a --log file (a run cut short)")
    b.add_argument("--no-rss", action="store_true", help="skip the peak-RSS run of 'cardface read'")
    b.set_defaults(func=cardface_bench.cmd_bench)
