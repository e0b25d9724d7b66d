"""Convert MediaPipe's face mesh (``face_landmark.tflite``, 468 points) from the ``mediapipe`` 0.10.18 wheel
(Apache-2.0) to ONNX for the liveness check. Runs OUTSIDE CI, once, in the TensorFlow venv of models/README.md:

    pip download --no-deps mediapipe==0.10.18 -d wheel/
    tfenv/bin/python models/mediapipe_convert.py wheel/mediapipe-0.10.18-*.whl models/

Writes models/face_mesh.onnx and its manifest entry (SHA-256, shapes, source, licence), then checks the ONNX
graph against the TFLite interpreter on the same input (``--check`` alone repeats that check).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from convert import signature  # the manifest's shape entry, as for the other models (run as a script from models/)

VERSION = "0.10.18"
MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
ENTRY = {
    "role": "mesh",
    "preprocessing": "RGB crop around the face, rotated so the eyes are level, 192x192, NHWC float32, 0..1",
    "notes": "MediaPipe face mesh: 468 landmarks (x, y in crop pixels, z relative depth) and a face-presence logit",
    "source": {"package": "mediapipe", "version": VERSION, "file": MEMBER,
               "licence": "Apache-2.0 (the wheel's LICENSE; (c) Google LLC)"},
}


def check(tflite: Path, onnx_path: Path) -> float:
    """Largest absolute difference between TFLite and ONNX outputs on a fixed random crop."""
    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf
    x = np.random.default_rng(0).random((1, 192, 192, 3), dtype=np.float32)
    interp = tf.lite.Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    ref = sorted((interp.get_tensor(o["index"]) for o in interp.get_output_details()), key=lambda a: a.size)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sorted(sess.run(None, {sess.get_inputs()[0].name: x}), key=lambda a: a.size)
    return max(float(np.abs(a.reshape(-1) - b.reshape(-1)).max()) for a, b in zip(ref, got))


def main(wheel: str, out_dir: str) -> int:
    out = Path(out_dir)
    target = out / "face_mesh.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as zf:
            tflite = Path(zf.extract(MEMBER, tmp))
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(target),
                        "--opset", "13"], check=True)
        diff = check(tflite, target)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = dict(ENTRY, file=target.name, sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
                 converter="tf2onnx 1.17.0 --tflite under tensorflow-cpu 2.15.1 (onnx 1.17.0)",
                 equivalence=f"largest difference to the TFLite interpreter on a random crop: {diff:.2e}",
                 **signature(target))
    manifest["models"]["face_mesh"] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"face_mesh.onnx written; TFLite vs ONNX max difference {diff:.2e}")
    return 0 if diff < 1e-3 else 1


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", help=f"the mediapipe {VERSION} wheel (pip download --no-deps mediapipe=={VERSION})")
    ap.add_argument("out_dir", help="where face_mesh.onnx and manifest.json go (models/)")
    a = ap.parse_args(argv)
    return main(a.wheel, a.out_dir)


if __name__ == "__main__":
    sys.exit(cli())
