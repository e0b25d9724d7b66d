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


def read_pairs(path: Path) -> list:
    """Lines ``IMAGE_A<TAB>IMAGE_B<TAB>same|different[<TAB>KIND[<TAB>GROUP[<TAB>AGE[<TAB>SPLIT]]]]`` (paths relative
    to the file; models/devset.py writes all seven columns): a list of evaluate.Pair."""
    from ..face.evaluate import PairsError, parse_pairs
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliFail(f"{path}: {exc.strerror or exc}", CANNOT) from None
    try:
        return parse_pairs(text)
    except PairsError as exc:
        raise CliFail(f"{path}:{str(exc).removeprefix('line ')}", CANNOT) from None


def _camera_shot(pair, path: str) -> bool:
    """Whether an image of a pair stands for a live camera frame: every image but the ID portrait (the first image
    of a portrait or dim pair)."""
    return not (path == pair.a and pair.kind in ("portrait", "dim"))


def _scores(pipeline, base: Path, pairs, images: dict, gates: bool = False) -> tuple[list, dict, dict, int]:
    """(scored pairs, images skipped and why, camera shots failing the live gates and why, pairs left out for
    them): the gates are the reader's own for a camera frame (quality.check), applied only when ``gates`` is set."""
    from ..face.evaluate import Scored
    from ..face.pipeline import NoFace, SeveralFaces
    from ..face.quality import check
    cache: dict = {}
    skipped: dict[str, str] = {}
    gated: dict[str, list[str]] = {}
    scored = []
    gated_out = 0
    for pair in pairs:
        for path in (pair.a, pair.b):
            if path not in cache and path not in skipped:
                try:
                    if path not in images:
                        images[path] = load_image(base / path)
                    face = pipeline.single_face(images[path])
                    crop = pipeline.crop(images[path], face)
                    cache[path] = pipeline.describe_crop(crop)
                    problems = check(face, crop)
                    if problems:
                        gated[path] = problems
                except (ImageError, NoFace, SeveralFaces) as exc:
                    skipped[path] = str(exc)
        if pair.a in skipped or pair.b in skipped:
            continue
        if gates and any(p in gated and _camera_shot(pair, p) for p in (pair.a, pair.b)):
            gated_out += 1
            continue
        scored.append(Scored(pair, pipeline.similarity(cache[pair.a], cache[pair.b])))
    return scored, skipped, gated if gates else {}, gated_out


def report_lines(scored: list, threshold: float, far_target: float | None, brief: bool) -> list[str]:
    """The figures for one system over scored pairs: distributions, rates at the threshold, EER, the threshold for
    a false-accept target, and the same per kind, group and age. Shared with models/dlib_evaluate.py."""
    from ..face.evaluate import (breakdown, equal_error_rate, histogram, rates, split_scores, summary,
                                 threshold_for_far)
    g, i = split_scores(scored)
    far, frr = rates(g, i, threshold)
    eer, at = equal_error_rate(g, i)
    out = [f"genuine  {summary(g)}", f"impostor {summary(i)}"]
    if not brief:
        out += ["genuine scores:", *histogram(g), "impostor scores:", *histogram(i)]
    out += [f"at threshold {threshold}: false accepts {far:.2%} ({int(round(far * i.size))}/{i.size}), "
            f"false rejects {frr:.2%} ({int(round(frr * g.size))}/{g.size})",
            f"genuine accepts (GAR) {1 - frr:.2%}, false accepts (FAR) {far:.2%} at threshold {threshold}",
            f"equal-error rate {eer:.2%} at threshold {at:.3f}"]
    if far_target is not None and g.size and i.size:
        t = threshold_for_far(g, i, far_target)
        far_t, frr_t = rates(g, i, t)
        out.append(f"threshold for false accepts <= {far_target:.2%} on these pairs: {t:.3f} "
                   f"(GAR {1 - frr_t:.2%}, FAR {far_t:.2%}; {i.size} impostor pairs resolve {1 / i.size:.3%} at best)"
                   f" - set on the reported pairs themselves: for reference only")
    for field in ("kind", "group", "age"):
        out += breakdown(scored, threshold, field)
    return out


def cmd_evaluate(args) -> int:
    """Figures per model over labelled pairs; the summary line per model is read by scripts: keep its form."""
    from ..face.evaluate import roc, roc_svg, split_scores, tuned_threshold
    from ..face.onnx_models import manifest
    path = Path(args.pairs)
    pairs = read_pairs(path)
    models = args.model or [manifest()["default_descriptor"]]
    if models == ["all"]:
        models = [k for k, v in manifest()["models"].items() if v.get("role") == "descriptor"]
    pipelines = [_pipeline(args, m) for m in models]
    splits = sorted({p.split for p in pairs})
    for name in (args.split, args.tune_split):
        if name is not None and name not in splits:
            raise CliFail(f"{path}: no pairs with split {name!r} (splits: {', '.join(s or '(none)' for s in splits)})",
                          CANNOT)
    target = args.far_target if args.far_target is not None else 0.001
    images: dict = {}
    curves = {}
    for pipeline in pipelines:
        scored, skipped, gated, gated_out = _scores(pipeline, path.parent, pairs, images, args.gates)
        reported = [s for s in scored if args.split is None or s.pair.split == args.split]
        if args.cross_validate:
            from ..face.evaluate import Scored
            folds = [f for f in splits if f and f != "cross"]
            if len(folds) != 2:
                raise CliFail(f"{path}: --cross-validate needs two splits of identities besides cross "
                              f"(found {', '.join(folds) or 'none'})", CANNOT)
            reported, notes = [], []
            for tune, rep in (folds, folds[::-1]):
                t, ng, ni = tuned_threshold([s for s in scored if s.pair.split == tune], target)
                notes.append(f"{rep} judged at {t:.4f} set on {tune} ({ng} genuine, {ni} impostor pairs)")
                reported += [Scored(s.pair, s.score - t) for s in scored if s.pair.split == rep]
            threshold = 0.0
            basis = (f"2-fold cross-validation by identity for false accepts <= {target:.2%}: "
                     f"{'; '.join(notes)}; scores below are relative to their fold's threshold")
        elif args.tune_split is not None:
            tuning = [s for s in scored if s.pair.split == args.tune_split]
            threshold, ng, ni = tuned_threshold(tuning, target)
            threshold = round(threshold, 4)
            basis = (f"set on split {args.tune_split!r} ({ng} genuine, {ni} impostor pairs; no identity in both "
                     f"splits) for false accepts <= {target:.2%}")
        else:
            threshold = args.threshold if args.threshold is not None else pipeline.threshold
            basis = "given" if args.threshold is not None else "the model's own (manifest)"
        print(f"model {pipeline.model}, threshold {threshold} ({basis})")
        if args.split is not None:
            print(f"reported: the {len(reported)} scored pairs of split {args.split!r}")
        if args.gates:
            print(f"live gates on camera shots: {len(gated)} images fail them ({gated_out} pairs not compared, as "
                  f"the reader would ask the patient to move instead)")
        tuned = args.tune_split is not None or args.cross_validate
        for line in report_lines(reported, threshold, args.far_target if not tuned else None,
                                 args.brief):
            print(line)
        for p, why in skipped.items():
            print(f"skipped {p} (and its pairs): {why}")
        g, i = split_scores(reported)
        curves[f"{pipeline.model}"] = roc(g, i)
        east = [s for s in reported if s.pair.group == "east_asian"]
        ge, ie = split_scores(east)
        if ge.size and ie.size:
            curves[f"{pipeline.model}, east_asian"] = roc(ge, ie)
    if args.roc:
        what = f"split {args.split}, " if args.split else ""
        Path(args.roc).write_text(roc_svg(curves, f"ROC over {what}pairs of {path.name}"), encoding="utf-8")
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


def _cpu_ms(fn, runs: int) -> float:
    """Median CPU time of the calling thread per run (ms): one thread's work, which time spent waiting for a core
    that other processes share does not inflate. onnxruntime with one intra-op thread runs in the caller's thread."""
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.thread_time()
        fn()
        samples.append((time.thread_time() - t0) * 1000)
    return statistics.median(samples)


def _stages(p, probe) -> dict:
    """The reader's face path cut where the time goes: detect, alignment (landmarks, then the chip or the 5-point
    crop), descriptor, and the whole path."""
    from ..face.detect import letterbox
    face = p.single_face(probe)
    crop = p.crop(probe, face)
    tensor = letterbox(probe)[0]
    stages = {"detector (BlazeFace)": lambda: p.detector.raw(tensor), "detect + decode": lambda: p.detect(probe)}
    if p.landmarks is not None:
        marks = p.landmarks_for(probe, face)
        stages[f"landmarks ({p.alignment['landmarks']})"] = lambda: p.landmarks_for(probe, face)
        stages["chip (dlib's 150x150)"] = lambda: face_chip(probe, marks, p.size, p.alignment.get("padding", 0.25))
    elif p.alignment["kind"] == "arcface5":
        points = None
        if p.mesh is not None:
            points = p.mesh(probe, face)[0]
            stages["landmarks (face mesh)"] = lambda: p.mesh(probe, face)
        stages[f"align (5-point, {p.size}x{p.size})"] = lambda: p.crop(probe, face, points)
    else:
        stages["align (square crop)"] = lambda: p.crop(probe, face)
    stages[f"descriptor ({p.model})"] = lambda: p.describe_crop(crop)
    stages[f"end to end ({p.model})"] = lambda: p.describe(probe)
    return stages


def cmd_bench_face(args) -> int:
    from ..face.onnx_models import manifest
    here = Path(__file__).resolve().parents[2]          # the source tree (daemon/cli/face.py)
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
    cpu: dict[str, float] = {}
    for threads in (1, 2):
        for model in models:
            for name, fn in _stages(_pipeline(args, model) if threads == 1 else _threaded(model, threads),
                                    probe).items():
                med, p90 = _times(fn, args.runs)
                rows.setdefault(name, []).append(f"{med:8.1f} / {p90:6.1f}")
                if threads == 1 and name.startswith("end to end"):
                    ours[model] = med
                    cpu[model] = _cpu_ms(fn, args.runs)
    for name, cells in rows.items():
        print(f"{name:<32}{cells[0]:>18}{cells[1]:>18}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) {peak:.0f} MiB, every descriptor model loaded twice ({len(models)} models)")
    print("end to end, 1 thread, the thread's CPU time (median ms; waiting for a shared core not counted): " +
          ", ".join(f"{model} {ms:.1f}" for model, ms in cpu.items()))
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
    cpu_t = _cpu_ms(lambda: fr.face_encodings(probe, fr.face_locations(probe, 1), model="small"), args.runs)
    print(f"{'dlib HOG detector (upsample 1)':<32}{med_d:8.1f} / {p90_d:6.1f}")
    print(f"{'dlib landmarks + chip + ResNet':<32}{med_e:8.1f} / {p90_e:6.1f}")
    print(f"{'dlib end to end':<32}{med_t:8.1f} / {p90_t:6.1f}")
    for model, med in ours.items():
        print(f"end to end, 1 thread: {model} {med:.1f} ms, dlib {med_t:.1f} ms: {med_t / med:.1f}x faster than dlib"
              f" (CPU time {cpu[model]:.1f} against {cpu_t:.1f} ms: {cpu_t / cpu[model]:.1f}x)")
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
    p.add_argument("--split", help="report only the pairs of this split (the pairs file's 7th column, e.g. report)")
    p.add_argument("--tune-split", metavar="SPLIT", help="set the threshold for --far-target (default 0.001) on the "
                   "pairs of this split (e.g. tune) and report it on --split: identities never in both")
    p.add_argument("--cross-validate", action="store_true", help="2-fold cross-validation by identity over the two "
                   "splits (tune, report): each half judged at the threshold set on the other for --far-target, "
                   "pooled")
    p.add_argument("--gates", action="store_true", help="leave out pairs whose camera shot fails the reader's live "
                   "gates (face size, light, sharpness, yaw): the reader asks the patient to move instead")
    p.set_defaults(func=cmd_evaluate)
    p = groups["bench"].add_parser("face", help="latency per stage with 1 and 2 threads, and peak memory")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--image", help="a photo with one face (default: the astronaut test photo)")
    p.set_defaults(func=cmd_bench_face)
