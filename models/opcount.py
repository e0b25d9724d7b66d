"""Operation counts of the ONNX models in models/ and what they mean for a Raspberry Pi 4 (run by hand, outside CI,
in a venv with onnx: ``pip install onnx``):

    python models/opcount.py [--pi-gmacs 3 4] [MODEL ...]
    python models/opcount.py --file PATH.onnx --shape 1x3x320x512     (a model outside the manifest, sized)

Counts multiply-accumulates (MACs) of Conv, ConvTranspose, Gemm and MatMul from the graph with shapes inferred at
batch 1, and the elements the other nodes touch. The Pi estimate is MACs / R for a per-core rate R: a Cortex-A72
(BCM2711, 1.5 GHz; 1.8 GHz on later boards) has two 128-bit NEON pipes, 8 single-precision multiply-accumulates a
cycle, 12 GMAC/s at most; onnxruntime's kernels reach a fraction of that on small depthwise networks, so the default
range assumes 3 to 4 GMAC/s (25-33% of the peak). The estimate covers the networks only: the numpy and Pillow work
around them (BlazeFace decode, alignment, dlib's cascade) is scaled separately (docs/face.md says how).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def count(path: Path, shape: list[int] | None = None) -> tuple[int, int, int]:
    """(MACs, other elements, parameters) of one ONNX model at batch 1, or with its first input of ``shape``
    (models with free image sizes, e.g. the OCR detector, cost what the image size makes them cost)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper, shape_inference
    model = onnx.load(str(path))
    if shape:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for d, n in zip(dims, shape):
            d.dim_value = n
    for v in list(model.graph.input) + list(model.graph.output):
        for d in v.type.tensor_type.shape.dim:
            if not d.dim_value:
                d.dim_value = 1           # batch or unknown dims: 1
    model = shape_inference.infer_shapes(model)
    shapes = {}
    for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for name, arr in inits.items():
        shapes[name] = list(arr.shape)
    macs = other = 0
    for node in model.graph.node:
        out = shapes.get(node.output[0]) if node.output else None
        if not out or any(d == 0 for d in out):
            continue
        n_out = int(np.prod(out))
        if node.op_type in ("Conv", "ConvTranspose"):
            w = shapes.get(node.input[1], [])
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            if node.op_type == "Conv" and len(w) >= 3:
                macs += n_out * int(np.prod(w[1:]))
            elif len(w) >= 3:
                macs += int(np.prod(shapes.get(node.input[0], [0]))) * int(np.prod(w[1:])) // max(group, 1)
        elif node.op_type in ("Gemm", "MatMul"):
            a = shapes.get(node.input[0], [])
            k = a[-1] if a else 0
            macs += n_out * k
        else:
            other += n_out
    params = sum(int(a.size) for a in inits.values())
    return macs, other, params


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help="manifest names (default: every ONNX model in the manifest)")
    ap.add_argument("--pi-gmacs", type=float, nargs=2, default=(3.0, 4.0), metavar=("LOW", "HIGH"),
                    help="assumed Raspberry Pi 4 rate per core, GMAC/s (default 3 4)")
    ap.add_argument("--file", type=Path, help="an ONNX file outside the manifest (e.g. rapidocr's OCR models)")
    ap.add_argument("--shape", help="its first input's shape, e.g. 1x3x320x512 (free image sizes)")
    a = ap.parse_args(argv)
    lo, hi = a.pi_gmacs
    shape = [int(n) for n in a.shape.split("x")] if a.shape else None
    if a.file:
        files = {f"{a.file.stem[:13]}": a.file}
    else:
        manifest = json.loads((HERE / "manifest.json").read_text())["models"]
        names = a.models or [k for k, v in manifest.items() if v.get("file", "").endswith(".onnx")]
        files = {name: HERE / manifest[name]["file"] for name in names}
    print(f"{'model':<14}{'MACs':>12}{'other elems':>14}{'params':>12}   Pi 4, one core, at {lo:g}-{hi:g} GMAC/s")
    for name, path in files.items():
        macs, other, params = count(path, shape)
        print(f"{name:<14}{macs / 1e6:>10.1f} M{other / 1e6:>12.2f} M{params / 1e6:>10.2f} M   "
              f"{macs / hi / 1e6:5.1f}-{macs / lo / 1e6:5.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
