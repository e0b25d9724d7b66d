"""``mynareader face compare|detect`` and ``mynareader bench face``."""
from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

from .face.images import ImageError, load_image


def _pipeline(args):
    from .face.pipeline import FacePipeline
    return FacePipeline(getattr(args, "model", None), threads=getattr(args, "threads", 1))


def cmd_compare(args) -> int:
    from .face.pipeline import NoFace, SeveralFaces
    pipeline = _pipeline(args)
    try:
        a, b = load_image(args.a), load_image(args.b)
        da = pipeline.describe(a)
    except (ImageError, NoFace, SeveralFaces) as exc:
        return _fail(args, f"{args.a}: {exc}")
    try:
        db = pipeline.describe(b)
    except (NoFace, SeveralFaces) as exc:
        return _fail(args, f"{args.b}: {exc}")
    score = pipeline.similarity(da, db)
    out = {"similarity": round(score, 4), "threshold": pipeline.threshold, "match": score >= pipeline.threshold,
           "model": pipeline.model}
    print(json.dumps(out) if args.json else
          f"{'same person' if out['match'] else 'different people'}: similarity {out['similarity']} "
          f"(threshold {out['threshold']}, model {out['model']})")
    return 0


def _fail(args, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"mynareader: {message}", file=sys.stderr)
    return 1


def cmd_detect(args) -> int:
    from .face.quality import check
    pipeline = _pipeline(args)
    try:
        rgb = load_image(args.image)
    except ImageError as exc:
        return _fail(args, str(exc))
    faces = []
    for face in pipeline.detect(rgb):
        entry = face.as_json()
        entry["quality"] = check(face, pipeline.crop(rgb, face)) or ["ok"]
        faces.append(entry)
    out = {"image": {"width": rgb.shape[1], "height": rgb.shape[0]}, "faces": faces}
    print(json.dumps(out) if args.json else "\n".join(
        f"face {i + 1}: box {f['box']} score {f['score']} quality {', '.join(f['quality'])}"
        for i, f in enumerate(faces)) or "no face")
    return 0


def cmd_evaluate(args) -> int:
    """Pairs file: one pair a line, ``IMAGE_A<TAB>IMAGE_B<TAB>same|different`` (paths relative to the file)."""
    import numpy as np
    from .face.evaluate import equal_error_rate, histogram, rates, summary
    from .face.pipeline import NoFace, SeveralFaces
    pipeline = _pipeline(args)
    base = Path(args.pairs).parent
    cache, skipped = {}, {}
    genuine, impostor = [], []
    for n, line in enumerate(Path(args.pairs).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        a, b, label = line.split("\t")
        if label not in ("same", "different"):
            print(f"mynareader: {args.pairs}:{n}: the label is same or different, not {label!r}", file=sys.stderr)
            return 2
        for path in (a, b):
            if path not in cache and path not in skipped:
                try:
                    cache[path] = pipeline.describe(load_image(base / path))
                except (ImageError, NoFace, SeveralFaces) as exc:
                    skipped[path] = str(exc)
        if a in skipped or b in skipped:
            continue
        score = pipeline.similarity(cache[a], cache[b])
        (genuine if label == "same" else impostor).append(score)
    g, i = np.asarray(genuine), np.asarray(impostor)
    threshold = args.threshold if args.threshold is not None else pipeline.threshold
    far, frr = rates(g, i, threshold)
    eer, at = equal_error_rate(g, i)
    print(f"model {pipeline.model}, threshold {threshold}")
    print(f"genuine  {summary(g)}")
    print(f"impostor {summary(i)}")
    print("genuine scores:")
    print("\n".join(histogram(g)))
    print("impostor scores:")
    print("\n".join(histogram(i)))
    print(f"at threshold {threshold}: false accepts {far:.2%} ({int(round(far * i.size))}/{i.size}), "
          f"false rejects {frr:.2%} ({int(round(frr * g.size))}/{g.size})")
    print(f"equal-error rate {eer:.2%} at threshold {at:.3f}")
    for path, why in skipped.items():
        print(f"skipped {path} (and its pairs): {why}")
    return 0


def _times(fn, runs: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.9 * len(samples)))]


def cmd_bench_face(args) -> int:
    from .face.detect import letterbox
    from .face.onnx_models import manifest
    from .face.pipeline import FacePipeline
    here = Path(__file__).resolve().parent.parent
    probe = load_image(args.image or here / "tests" / "fixtures" / "astronaut.png") if args.image or \
        (here / "tests" / "fixtures" / "astronaut.png").exists() else None
    if probe is None:
        from ..device.camera.bench import BenchCamera
        probe = BenchCamera().read()
    print(f"face pipeline on a {probe.shape[1]}x{probe.shape[0]} image, {args.runs} runs, median / p90 ms")
    print(f"{'stage':<28}{'1 thread':>18}{'2 threads':>18}")
    rows: dict[str, list[str]] = {}
    for threads in (1, 2):
        p = FacePipeline(threads=threads)
        face = p.single_face(probe)
        crop = p.crop(probe, face)
        tensor = letterbox(probe)[0]
        stages = {"detector (BlazeFace)": lambda: p.detector.raw(tensor),
                  "detect + decode": lambda: p.detect(probe),
                  f"align ({p.model})": lambda: p.crop(probe, face),
                  f"descriptor ({p.model})": lambda: p.describe_crop(crop),
                  f"end to end ({p.model})": lambda: p.describe(probe)}
        for name, entry in manifest()["models"].items():
            if entry["role"] == "descriptor" and name != p.model:
                other = FacePipeline(name, threads=threads)
                other_crop = other.crop(probe, face)
                stages[f"descriptor ({name})"] = lambda o=other, c=other_crop: o.describe_crop(c)
                stages[f"end to end ({name})"] = lambda o=other: o.describe(probe)
        for name, fn in stages.items():
            med, p90 = _times(fn, args.runs)
            rows.setdefault(name, []).append(f"{med:8.1f} / {p90:6.1f}")
    for name, cells in rows.items():
        print(f"{name:<28}{cells[0]:>18}{cells[1]:>18}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:.0f} MiB")
    try:
        import face_recognition  # noqa: F401  (dlib)
    except ImportError:
        print("face_recognition (dlib) is not importable here: no side-by-side figures")
        return 0
    import face_recognition as fr
    med_d, p90_d = _times(lambda: fr.face_locations(probe, number_of_times_to_upsample=0), args.runs)
    locs = fr.face_locations(probe, number_of_times_to_upsample=0)
    med_e, p90_e = _times(lambda: fr.face_encodings(probe, locs), args.runs)
    med_t, p90_t = _times(lambda: fr.face_encodings(probe, fr.face_locations(probe, 0)), args.runs)
    print(f"{'dlib HOG detector':<28}{med_d:8.1f} / {p90_d:6.1f}")
    print(f"{'dlib ResNet descriptor':<28}{med_e:8.1f} / {p90_e:6.1f}")
    print(f"{'dlib end to end':<28}{med_t:8.1f} / {p90_t:6.1f}")
    return 0


def register(groups) -> None:
    p = groups["face"].add_parser("compare", help="are two photos the same person? (JPEG, PNG or JPEG 2000)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", help="descriptor model from models/manifest.json (default: the manifest's)")
    p.set_defaults(func=cmd_compare)
    p = groups["face"].add_parser("detect", help="faces in an image: boxes, keypoints, score, quality flags")
    p.add_argument("image")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_detect)
    p = groups["face"].add_parser("evaluate", help="FAR/FRR/EER and score distributions over labelled pairs")
    p.add_argument("pairs", help="a file of lines IMAGE_A<TAB>IMAGE_B<TAB>same|different")
    p.add_argument("--threshold", type=float, help="default: the model's own")
    p.add_argument("--model", help="descriptor model from models/manifest.json")
    p.set_defaults(func=cmd_evaluate)
    p = groups["bench"].add_parser("face", help="latency per stage with 1 and 2 threads, and peak memory")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--image", help="a photo with one face (default: the astronaut test photo)")
    p.set_defaults(func=cmd_bench_face)
