"""The ONNX models of models/: the manifest, integrity checks, and onnxruntime sessions made once.

Sessions use few threads and no spinning: on a 2-4 core Pi, idle intra-op threads busy-waiting slow every
other thread down (reference/faces.md measured ~2.5x).
"""
from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from pathlib import Path
from .errors import ModelError


def models_dir() -> Path:
    return Path(str(resources.files("mynareader.models")))


@functools.lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads((models_dir() / "manifest.json").read_text())


def verify_file(name: str) -> Path:
    entry = manifest()["models"][name]
    path = models_dir() / entry["file"]
    if not path.exists():
        raise ModelError(f"model file {path} is missing; reinstall mynareader")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise ModelError(f"model file {path} does not match its manifest (SHA-256 {digest[:12]}...)")
    return path


def session(name: str, threads: int = 1):
    """An onnxruntime InferenceSession for a manifest model, checked against its SHA-256."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # subnormal numbers flushed to zero: x86 arithmetic on them is many times slower, and no model here needs them
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(verify_file(name)), opts, providers=["CPUExecutionProvider"])
