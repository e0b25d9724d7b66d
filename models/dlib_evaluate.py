"""dlib's own pipeline (face_recognition: HOG detector upsampled once, 5 landmarks, chip, ResNet) over the pairs file
``mynareader face evaluate`` reads (models/devset.py's seven columns, or three or four), with the same figures, per
kind, group and age: the anchor the issue measures us against. Run in the throwaway venv with dlib (see
models/README.md):

    /tmp/dlibenv/bin/python models/dlib_evaluate.py PAIRS.tsv [--threshold 0.4] [--split report --tune-split tune]

Scores are 1 - distance, as daemon/face/pipeline.py's dlib similarity, so thresholds compare directly (dlib's own
rule "same person below 0.6" is 0.4 here). A photo where dlib finds no face or several is skipped with its pairs:
the count of those is part of dlib's result.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# the reader's own parsing and figures, imported here so that a rename breaks this script's test, not its next run
from mynareader.daemon.cli.face import read_pairs, report_lines
from mynareader.daemon.face.evaluate import Scored, tuned_threshold
from mynareader.daemon.face.images import load_image


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pairs", help="the pairs file (paths relative to it)")
    ap.add_argument("--threshold", type=float, default=0.4, help="1 - distance; dlib's own rule is 0.4")
    ap.add_argument("--far-target", type=float, default=0.001)
    ap.add_argument("--split", help="report only the pairs of this split (e.g. report)")
    ap.add_argument("--tune-split", metavar="SPLIT", help="set the threshold for --far-target on this split's pairs")
    ap.add_argument("--brief", action="store_true", help="no score histograms")
    args = ap.parse_args(argv)
    import face_recognition
    import numpy as np
    path = Path(args.pairs)
    pairs = read_pairs(path)
    cache: dict = {}
    skipped: dict[str, str] = {}
    times = []
    for pair in pairs:
        for p in (pair.a, pair.b):
            if p in cache or p in skipped:
                continue
            rgb = load_image(path.parent / p)
            t = time.perf_counter()
            boxes = face_recognition.face_locations(rgb, 1)
            if len(boxes) == 1:
                cache[p] = np.asarray(face_recognition.face_encodings(rgb, boxes, model="small")[0])
                times.append(time.perf_counter() - t)
            else:
                skipped[p] = f"dlib found {len(boxes)} faces"
    scored = [Scored(pair, float(np.clip(1 - np.linalg.norm(cache[pair.a] - cache[pair.b]), 0, 1)))
              for pair in pairs if pair.a not in skipped and pair.b not in skipped]
    threshold = args.threshold
    basis = "given"
    if args.tune_split is not None:
        t, ng, ni = tuned_threshold([s for s in scored if s.pair.split == args.tune_split], args.far_target)
        threshold = round(t, 4)
        basis = f"set on split {args.tune_split!r} ({ng} genuine, {ni} impostor pairs) for FAR <= {args.far_target:.2%}"
    reported = [s for s in scored if args.split is None or s.pair.split == args.split]
    dropped = len(pairs) - len(scored)
    print(f"dlib's own pipeline, threshold {threshold} ({basis}); {len(skipped)} photos without exactly one face, "
          f"{dropped} of {len(pairs)} pairs dropped; {np.median(times) * 1000:.0f} ms per photo (median)")
    if args.split is not None:
        print(f"reported: the {len(reported)} scored pairs of split {args.split!r}")
    for line in report_lines(reported, threshold, args.far_target if args.tune_split is None else None, args.brief):
        print(line)
    for p, why in skipped.items():
        print(f"skipped {p} (and its pairs): {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
