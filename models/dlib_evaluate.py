"""dlib's own pipeline (face_recognition: HOG detector upsampled once, 5 landmarks, chip, ResNet) over a pairs
file, with the same figures as ``mynareader face evaluate``: the anchor the issue measures us against. Run in the
throwaway venv with dlib (see models/dlib_landmarks_equivalence.py):

    /tmp/dlibenv/bin/python models/dlib_evaluate.py PAIRS.tsv [--threshold 0.4]

Scores are 1 - distance, as daemon/face/pipeline.py's dlib similarity, so thresholds compare directly (dlib's own
rule "same person below 0.6" is 0.4 here). A photo where dlib finds no face or several is skipped with its pairs:
the count of those is part of dlib's result.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    import face_recognition
    from mynareader.daemon.cli_face import read_pairs
    from mynareader.daemon.face.evaluate import equal_error_rate, rates, summary, threshold_for_far
    from mynareader.daemon.face.images import load_image
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs")
    ap.add_argument("--threshold", type=float, default=0.4)
    ap.add_argument("--far-target", type=float, default=0.001)
    args = ap.parse_args(argv)
    path = Path(args.pairs)
    pairs = read_pairs(path)
    cache, skipped, times = {}, {}, []
    for a, b, _label, _kind in pairs:
        for p in (a, b):
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
    by_kind, dropped = {}, 0
    for a, b, label, kind in pairs:
        if a in skipped or b in skipped:
            dropped += 1
            continue
        score = float(np.clip(1 - np.linalg.norm(cache[a] - cache[b]), 0, 1))
        by_kind.setdefault(kind, ([], []))[0 if label == "same" else 1].append(score)
    g = np.asarray([s for gk, _ in by_kind.values() for s in gk])
    i = np.asarray([s for _, ik in by_kind.values() for s in ik])
    far, frr = rates(g, i, args.threshold)
    eer, at = equal_error_rate(g, i)
    print(f"dlib's own pipeline, threshold {args.threshold}; {len(skipped)} photos without exactly one face, "
          f"{dropped} of {len(pairs)} pairs dropped; {np.median(times) * 1000:.0f} ms per photo (median)")
    print(f"genuine  {summary(g)}")
    print(f"impostor {summary(i)}")
    print(f"at threshold {args.threshold}: false accepts {far:.2%} ({int(round(far * i.size))}/{i.size}), "
          f"false rejects {frr:.2%} ({int(round(frr * g.size))}/{g.size})")
    print(f"equal-error rate {eer:.2%} at threshold {at:.3f}")
    t = threshold_for_far(g, i, args.far_target)
    far_t, frr_t = rates(g, i, t)
    print(f"threshold for false accepts <= {args.far_target:.2%}: {t:.3f} (GAR {1 - frr_t:.2%}, FAR {far_t:.2%})")
    for kind, (gk, ik) in sorted(by_kind.items()):
        fa, fr = rates(np.asarray(gk), np.asarray(ik), args.threshold)
        print(f"  {kind:<10} genuine {len(gk):>5} accepted {1 - fr:7.2%} | impostor {len(ik):>6} accepted {fa:6.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
