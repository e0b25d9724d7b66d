"""``mynareader face compare|detect`` and ``mynareader bench face``."""
from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..face.dlib_chip import face_chip
from ..face.images import ImageError, load_image
from .util import CANNOT, CliFail

if TYPE_CHECKING:
    import numpy as np


def _pipeline(args, model: str | None = None):
    from ..face.pipeline import FacePipeline, UnknownModel
    try:
        return FacePipeline(model or getattr(args, "model", None), threads=getattr(args, "threads", 1))
    except UnknownModel as exc:
        raise CliFail(str(exc), CANNOT) from None


def _load(path) -> np.ndarray:
    try:
        return load_image(path)
    except ImageError as exc:
        raise CliFail(f"{path}: {exc}") from None


def _describe(pipeline, path, rgb):
    from ..face.pipeline import NoFace, SeveralFaces
    try:
        return pipeline.describe(rgb)
    except (NoFace, SeveralFaces) as exc:
        raise CliFail(f"{path}: {exc}") from None


def cmd_compare(args) -> int:
    pipeline = _pipeline(args)
    da = _describe(pipeline, args.a, _load(args.a))
    db = _describe(pipeline, args.b, _load(args.b))
    score = pipeline.similarity(da, db)
    out = {"similarity": round(score, 4), "threshold": pipeline.threshold, "match": score >= pipeline.threshold,
           "model": pipeline.model}
    print(json.dumps(out) if args.json else
          f"{'same person' if out['match'] else 'different people'}: similarity {out['similarity']} "
          f"(threshold {out['threshold']}, model {out['model']})")
    return 0


def cmd_detect(args) -> int:
    from ..face.quality import check
    pipeline = _pipeline(args)
    rgb = _load(args.image)
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


def read_pairs(path: Path) -> list[tuple[str, str, str, str]]:
    """Lines ``IMAGE_A<TAB>IMAGE_B<TAB>same|different[<TAB>KIND]`` (paths relative to the file; KIND groups the
    figures, e.g. photo or portrait)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliFail(f"{path}: {exc.strerror or exc}", CANNOT) from None
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) not in (3, 4) or cells[2] not in ("same", "different"):
            raise CliFail(f"{path}:{n}: expected IMAGE_A<TAB>IMAGE_B<TAB>same|different[<TAB>KIND]", CANNOT)
        pairs.append((cells[0], cells[1], cells[2], cells[3] if len(cells) == 4 else "all"))
    return pairs


def _scores(pipeline, base: Path, pairs, images: dict) -> tuple[dict, dict]:
    from ..face.pipeline import NoFace, SeveralFaces
    cache, skipped = {}, {}
    by_kind: dict[str, tuple[list[float], list[float]]] = {}    # kind -> (same-person scores, different)
    for a, b, label, kind in pairs:
        for path in (a, b):
            if path not in cache and path not in skipped:
                try:
                    if path not in images:
                        images[path] = load_image(base / path)
                    cache[path] = pipeline.describe(images[path])
                except (ImageError, NoFace, SeveralFaces) as exc:
                    skipped[path] = str(exc)
        if a in skipped or b in skipped:
            continue
        score = pipeline.similarity(cache[a], cache[b])
        by_kind.setdefault(kind, ([], []))[0 if label == "same" else 1].append(score)
    return by_kind, skipped


def cmd_evaluate(args) -> int:
    """Figures per model over labelled pairs; the summary line per model is read by scripts: keep its form."""
    import numpy as np
    from ..face.evaluate import equal_error_rate, histogram, rates, roc, roc_svg, summary, threshold_for_far
    from ..face.onnx_models import manifest
    path = Path(args.pairs)
    pairs = read_pairs(path)
    models = args.model or [manifest()["default_descriptor"]]
    if models == ["all"]:
        models = [k for k, v in manifest()["models"].items() if v.get("role") == "descriptor"]
    pipelines = [_pipeline(args, m) for m in models]
    images: dict = {}
    curves = {}
    for pipeline in pipelines:
        by_kind, skipped = _scores(pipeline, path.parent, pairs, images)
        g = np.asarray([s for gk, _ik in by_kind.values() for s in gk])
        i = np.asarray([s for _gk, ik in by_kind.values() for s in ik])
        threshold = args.threshold if args.threshold is not None else pipeline.threshold
        far, frr = rates(g, i, threshold)
        eer, at = equal_error_rate(g, i)
        print(f"model {pipeline.model}, threshold {threshold}")
        print(f"genuine  {summary(g)}")
        print(f"impostor {summary(i)}")
        if not args.brief:
            print("genuine scores:")
            print("\n".join(histogram(g)))
            print("impostor scores:")
            print("\n".join(histogram(i)))
        print(f"at threshold {threshold}: false accepts {far:.2%} ({int(round(far * i.size))}/{i.size}), "
              f"false rejects {frr:.2%} ({int(round(frr * g.size))}/{g.size})")
        print(f"genuine accepts (GAR) {1 - frr:.2%}, false accepts (FAR) {far:.2%} at threshold {threshold}")
        print(f"equal-error rate {eer:.2%} at threshold {at:.3f}")
        if args.far_target is not None and g.size and i.size:
            t = threshold_for_far(g, i, args.far_target)
            far_t, frr_t = rates(g, i, t)
            print(f"threshold for false accepts <= {args.far_target:.2%}: {t:.3f} "
                  f"(GAR {1 - frr_t:.2%}, FAR {far_t:.2%}; {i.size} impostor pairs resolve "
                  f"{1 / i.size:.3%} at best)")
        if len(by_kind) > 1:
            for kind, (gk, ik) in sorted(by_kind.items()):
                gk, ik = np.asarray(gk), np.asarray(ik)
                fa, fr = rates(gk, ik, threshold)
                e, _t = equal_error_rate(gk, ik) if gk.size and ik.size else (float("nan"), 0)
                print(f"  {kind:<10} genuine {gk.size:>5} accepted {1 - fr:7.2%} | impostor {ik.size:>6} "
                      f"accepted {fa:6.2%} | EER {e:.2%}")
        for p, why in skipped.items():
            print(f"skipped {p} (and its pairs): {why}")
        curves[f"{pipeline.model} (EER {eer:.1%})"] = roc(g, i)
    if args.roc:
        Path(args.roc).write_text(roc_svg(curves, f"ROC over {len(pairs)} pairs of {path.name}"), encoding="utf-8")
        print(f"ROC written to {args.roc}")
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


def _stages(p, probe) -> dict:
    """The reader's face path cut where the time goes: detect, alignment (landmarks + chip for dlib's alignment),
    descriptor, and the whole path."""
    from ..face.detect import letterbox
    face = p.single_face(probe)
    crop = p.crop(probe, face)
    tensor = letterbox(probe)[0]
    stages = {"detector (BlazeFace)": lambda: p.detector.raw(tensor), "detect + decode": lambda: p.detect(probe)}
    if p.landmarks is not None:
        marks = p.landmarks_for(probe, face)
        stages[f"landmarks ({p.alignment['landmarks']})"] = lambda: p.landmarks_for(probe, face)
        stages["chip (dlib's 150x150)"] = lambda: face_chip(probe, marks, p.size, p.alignment.get("padding", 0.25))
    else:
        stages["align (square crop)"] = lambda: p.crop(probe, face)
    stages[f"descriptor ({p.model})"] = lambda: p.describe_crop(crop)
    stages[f"end to end ({p.model})"] = lambda: p.describe(probe)
    return stages


def cmd_bench_face(args) -> int:
    from ..face.onnx_models import manifest
    here = Path(__file__).resolve().parent.parent
    fixture = here / "tests" / "fixtures" / "astronaut.png"
    if args.image or fixture.exists():
        probe = _load(Path(args.image) if args.image else fixture)
    else:
        from ...device.camera.bench import BenchCamera
        probe = BenchCamera().read()
    models = [k for k, v in manifest()["models"].items() if v.get("role") == "descriptor"]
    print(f"face pipeline on a {probe.shape[1]}x{probe.shape[0]} image, {args.runs} runs, median / p90 ms")
    print(f"{'stage':<32}{'1 thread':>18}{'2 threads':>18}")
    rows: dict[str, list[str]] = {}
    ours: dict[str, float] = {}
    for threads in (1, 2):
        for model in models:
            for name, fn in _stages(_pipeline(args, model) if threads == 1 else _threaded(model, threads),
                                    probe).items():
                med, p90 = _times(fn, args.runs)
                rows.setdefault(name, []).append(f"{med:8.1f} / {p90:6.1f}")
                if threads == 1 and name.startswith("end to end"):
                    ours[model] = med
    for name, cells in rows.items():
        print(f"{name:<32}{cells[0]:>18}{cells[1]:>18}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:.0f} MiB, both descriptor models loaded twice")
    try:
        import face_recognition as fr  # dlib: the anchor
    except ImportError:
        print("face_recognition (dlib) is not importable here: no side-by-side figures")
        return 0
    # dlib as face_recognition runs it by default (HOG upsampled once, 5 landmarks, chip, ResNet), one thread
    med_d, p90_d = _times(lambda: fr.face_locations(probe, 1), args.runs)
    locs = fr.face_locations(probe, 1)
    med_e, p90_e = _times(lambda: fr.face_encodings(probe, locs, model="small"), args.runs)
    med_t, p90_t = _times(lambda: fr.face_encodings(probe, fr.face_locations(probe, 1), model="small"), args.runs)
    print(f"{'dlib HOG detector (upsample 1)':<32}{med_d:8.1f} / {p90_d:6.1f}")
    print(f"{'dlib landmarks + chip + ResNet':<32}{med_e:8.1f} / {p90_e:6.1f}")
    print(f"{'dlib end to end':<32}{med_t:8.1f} / {p90_t:6.1f}")
    for model, med in ours.items():
        print(f"end to end, 1 thread: {model} {med:.1f} ms, dlib {med_t:.1f} ms: {med_t / med:.1f}x faster than dlib")
    return 0


def _threaded(model: str, threads: int):
    from ..face.pipeline import FacePipeline
    return FacePipeline(model, threads=threads)


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
    p.add_argument("--model", help="descriptor model whose alignment the quality gates use")
    p.set_defaults(func=cmd_detect)
    p = groups["face"].add_parser("evaluate", help="FAR/FRR/EER and score distributions over labelled pairs")
    p.add_argument("pairs", help="a file of lines IMAGE_A<TAB>IMAGE_B<TAB>same|different")
    p.add_argument("--threshold", type=float, help="default: the model's own")
    p.add_argument("--model", action="append", help="descriptor model from models/manifest.json; repeat it, "
                   "or 'all', to compare models on the same pairs (default: the manifest's default)")
    p.add_argument("--far-target", type=float, help="also print the threshold whose false-accept rate on these "
                   "impostor pairs is at most this fraction (e.g. 0.001)")
    p.add_argument("--roc", metavar="FILE.svg", help="write the ROC curves of the models as an SVG plot")
    p.add_argument("--brief", action="store_true", help="no score histograms")
    p.set_defaults(func=cmd_evaluate)
    p = groups["bench"].add_parser("face", help="latency per stage with 1 and 2 threads, and peak memory")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--image", help="a photo with one face (default: the astronaut test photo)")
    p.set_defaults(func=cmd_bench_face)
