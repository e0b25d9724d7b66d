"""Our dlib chip against dlib's own: run outside CI, in a throwaway venv with dlib (it compiles for ~12 minutes):

    python3 -m venv /tmp/dlibenv && /tmp/dlibenv/bin/pip install dlib face_recognition_models onnxruntime numpy pillow
    /tmp/dlibenv/bin/pip install --no-deps -e .
    /tmp/dlibenv/bin/python models/dlib_landmarks_equivalence.py [--calibrate] [--fixtures] PHOTO_OR_DIR...

Three checks, on every photo where dlib's HOG detector (upsampled once, as face_recognition does) and our BlazeFace
both find exactly one face:
1. the port: with dlib's own box, our cascade's 5 landmarks against dlib.shape_predictor's (pixels), and our chip
   against dlib.get_face_chip's (grey levels);
2. the reader's path: BlazeFace -> box mapping -> our landmarks -> our chip -> models/dlib_resnet.onnx, against
   dlib's whole pipeline (HOG box -> its landmarks -> its chip -> its ResNet): landmark error in pixels and the
   Euclidean distance between the two descriptors (median, max; the goal is max <= 0.05);
3. ``--calibrate`` first fits the box mapping (BlazeFace box -> dlib's HOG box) on these photos and writes it into
   models/manifest.json; ``--fixtures`` writes dlib's descriptors of the committed public-domain photos to
   tests/fixtures/dlib_reference.json, so the test suite checks the agreement without dlib.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from mynareader.daemon.face import landmarks as lm
from mynareader.daemon.face.dlib_chip import face_chip
from mynareader.daemon.face.images import load_image
from mynareader.daemon.face.pipeline import FacePipeline, keypoint_features

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = {"astronaut.png": ROOT / "tests/fixtures/astronaut.png", "holder.png": ROOT / "device/mock/assets/holder.png",
            "other.jpg": ROOT / "device/mock/assets/other.jpg"}
EXTS = {".jpg", ".jpeg", ".png", ".jp2", ".bmp", ".webp"}


def photos(args: list[str]) -> list[Path]:
    out = []
    for a in args or [str(p) for p in FIXTURES.values()]:
        p = Path(a)
        out += sorted(q for q in p.rglob("*") if q.suffix.lower() in EXTS) if p.is_dir() else [p]
    return out


def stats(values: list[float]) -> str:
    if not values:
        return "n=0"
    return f"n={len(values)} median {statistics.median(values):.4f} max {max(values):.4f}"


def fit_mapping(pairs: list[tuple]) -> dict:
    """Least squares, no intercept (so it scales with the face): dlib's box centre minus BlazeFace's eye midpoint,
    and its side, as linear functions of the keypoint features. Reports the leave-one-out box error in pixels."""
    rows, targets = [], []
    for face, rect in pairs:
        eyes, features = keypoint_features(face)
        rows.append(features)
        targets.append([(rect.left() + rect.right()) / 2 - eyes[0], (rect.top() + rect.bottom()) / 2 - eyes[1],
                        rect.right() - rect.left() + 1])
    x, t = np.asarray(rows), np.asarray(targets)
    coef = np.linalg.lstsq(x, t, rcond=None)[0]
    errors = []
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        c = np.linalg.lstsq(x[keep], t[keep], rcond=None)[0]
        errors.append(float(np.abs(x[i] @ c - t[i]).max()))
    return {"kind": "blazeface-keypoints", "features": "dx, dy, side = [eye vector, eyes->mouth, eyes->nose, box "
            "width] @ coef", "coef": [[round(float(v), 6) for v in row] for row in coef],
            "calibrated_on": len(pairs), "leave_one_out_px": {"median": round(statistics.median(errors), 1),
                                                              "max": round(max(errors), 1)}}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", nargs="*")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--fixtures", action="store_true")
    args = ap.parse_args(argv)
    import dlib
    import face_recognition_models as frm

    detector = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    pipe = FacePipeline("dlib_resnet")
    ours_sp = pipe.landmarks
    found = []
    for path in photos(args.photos):
        try:
            rgb = load_image(path)
        except Exception as exc:
            print(f"{path}: skipped ({exc})")
            continue
        rects, faces = list(detector(rgb, 1)), pipe.detect(rgb)
        if len(rects) != 1 or len(faces) != 1:
            print(f"{path.parent.name}/{path.name}: skipped (dlib found {len(rects)}, BlazeFace {len(faces)})")
            continue
        r, (x0, y0, x1, y1) = rects[0], faces[0].box
        if not (r.left() <= (x0 + x1) / 2 <= r.right() and r.top() <= (y0 + y1) / 2 <= r.bottom()):
            print(f"{path.parent.name}/{path.name}: skipped (dlib and BlazeFace found different faces)")
            continue
        found.append((path, rgb, faces[0], r))
    if args.calibrate:
        mapping = fit_mapping([(f, r) for _p, _rgb, f, r in found])
        manifest_path = ROOT / "models/manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["models"]["dlib_landmarks5"]["box_mapping"] = mapping
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        print(f"box mapping written: {mapping}")
        pipe = FacePipeline("dlib_resnet", box_mapping=mapping)
    port_px, port_chip, port_desc, path_px, path_desc, fixtures = [], [], [], [], [], {}
    for path, rgb, face, rect in found:
        theirs = sp(rgb, rect)
        their_pts = np.array([(p.x, p.y) for p in theirs.parts()], float)
        box = lm.Box(rect.left(), rect.top(), rect.right(), rect.bottom())
        mine = ours_sp(rgb, box)
        port_px.append(float(np.abs(mine - their_pts).max()))
        their_chip = np.asarray(dlib.get_face_chip(rgb, theirs, size=150, padding=0.25))
        my_chip = face_chip(rgb, their_pts)
        port_chip.append(float(np.abs(my_chip.astype(int) - their_chip.astype(int)).max()))
        their_desc = np.asarray(net.compute_face_descriptor(rgb, theirs))
        port_desc.append(float(np.linalg.norm(pipe.describe_crop(my_chip).vector - their_desc)))
        # the reader's own path, from BlazeFace
        pts = pipe.landmarks_for(rgb, face)
        path_px.append(float(np.linalg.norm(pts - their_pts, axis=1).max()))
        d = float(np.linalg.norm(pipe.describe_crop(pipe.crop(rgb, face)).vector - their_desc))
        path_desc.append(d)
        print(f"{path.parent.name + '/' + path.name:<32} port: {port_px[-1]:.0f} px, chip {port_chip[-1]:.0f} grey levels, "
              f"descriptor {port_desc[-1]:.5f} | reader path: landmarks {path_px[-1]:.1f} px, descriptor {d:.4f}")
        if path.name in FIXTURES and path.resolve() == FIXTURES[path.name].resolve():
            fixtures[path.name] = {"hog_box": [rect.left(), rect.top(), rect.right(), rect.bottom()],
                                   "landmarks": their_pts.astype(int).tolist(),
                                   "descriptor": [round(float(v), 6) for v in their_desc]}
    print(f"port, dlib's box: landmark max error {stats(port_px)} px; chip max difference {stats(port_chip)}; "
          f"descriptor distance {stats(port_desc)}")
    print(f"reader path (BlazeFace + mapping): landmark error {stats(path_px)} px; "
          f"descriptor distance to dlib's {stats(path_desc)}")
    if args.fixtures:
        out = ROOT / "tests/fixtures/dlib_reference.json"
        out.write_text(json.dumps({"source": "dlib " + dlib.__version__ + " face_recognition pipeline: HOG "
                                   "(upsample 1), 5-point landmarks, get_face_chip(150, 0.25), ResNet",
                                   "faces": fixtures}, indent=1) + "\n")
        print(f"wrote {out} ({len(fixtures)} photos)")
    return 0 if found and max(path_desc) <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
