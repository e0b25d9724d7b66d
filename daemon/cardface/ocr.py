"""Text lines from a rectified card front: rapidocr 3.x with the PP-OCR ONNX models shipped in its wheel.

Nothing is downloaded at run time: the model files are named explicitly and their SHA-256 must match the ones
pinned here (rapidocr==3.10.0 in pyproject.toml). A different wheel, or a tampered file, stops the card-face
reader with a clear error instead of reading with an unknown model.
"""
from __future__ import annotations

import hashlib
import logging
from importlib import util
from pathlib import Path

import numpy as np

from .fields import Line
from .errors import OcrUnavailable

log = logging.getLogger(__name__)

RAPIDOCR_VERSION = "3.10.0"
# file in rapidocr/models -> SHA-256 (rapidocr 3.10.0 wheel: PP-OCRv6 small det/rec, PP-OCR mobile v2 cls)
MODELS = {
    "det": ("PP-OCRv6_det_small.onnx", "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
    "rec": ("PP-OCRv6_rec_small.onnx", "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
    "cls": ("ch_ppocr_mobile_v2.0_cls_mobile.onnx", "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
}


def models_dir() -> Path:
    spec = util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise OcrUnavailable("the card-face reader needs rapidocr==3.10.0 and onnxruntime (pip install rapidocr)")
    return Path(spec.origin).parent / "models"


def check_models() -> dict[str, Path]:
    """The model paths, each checked against its pinned SHA-256."""
    base = models_dir()
    paths = {}
    for role, (name, digest) in MODELS.items():
        path = base / name
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            raise OcrUnavailable(f"the OCR model {name} is missing from rapidocr: install rapidocr=="
                                 f"{RAPIDOCR_VERSION}") from None
        if actual != digest:
            raise OcrUnavailable(f"the OCR model {name} is not the pinned one (sha256 {actual[:12]}...): "
                                 f"install rapidocr=={RAPIDOCR_VERSION}")
        paths[role] = path
    return paths


class Ocr:
    """One rapidocr engine (models loaded once). ``lines(card)`` reads a rectified card (RGB, any size)."""

    def __init__(self, threads: int = 2):
        paths = check_models()
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise OcrUnavailable(f"rapidocr cannot be imported: {exc}") from None
        # rapidocr logs every recognised text at info level: keep it quiet so no card text reaches a log
        for name in ("RapidOCR", "rapidocr"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self.engine = RapidOCR(params={
            "Global.log_level": "error", "Global.use_cls": False,
            "Det.model_path": str(paths["det"]), "Rec.model_path": str(paths["rec"]),
            "Cls.model_path": str(paths["cls"]),
            "Det.limit_side_len": 640,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })
        for name in ("RapidOCR", "rapidocr"):
            logging.getLogger(name).setLevel(logging.ERROR)

    def lines(self, card: np.ndarray) -> list[Line]:
        h, w = card.shape[:2]
        # every step named on every call: rapidocr keeps the last call's use_* as the next call's default
        from rapidocr.utils.output import RapidOCROutput
        result = self.engine(np.ascontiguousarray(card[:, :, ::-1]), use_det=True, use_cls=False, use_rec=True)
        # boxes without texts (recognition failed) come back as a detection-only output: no lines either
        if (not isinstance(result, RapidOCROutput) or result.txts is None or result.boxes is None
                or result.scores is None):
            return []
        out = []
        for text, score, box in zip(result.txts, result.scores, result.boxes):
            box = np.asarray(box, dtype=np.float32)
            cx, cy = box[:, 0].mean() / w, box[:, 1].mean() / h
            extent = (float(box[:, 0].min() / w), float(box[:, 1].min() / h), float(box[:, 0].max() / w),
                      float(box[:, 1].max() / h))
            out.append(Line(str(text), float(cx), float(cy), float(score), extent))
        return out

    def reread(self, card: np.ndarray, boxes: list[Line]) -> list[Line]:
        """Recognition only, in the boxes another frame of the same card found (a second look, ~50 ms a box)."""
        from rapidocr.ch_ppocr_rec import TextRecOutput
        from rapidocr.utils.output import RapidOCROutput
        h, w = card.shape[:2]
        out = []
        for line in boxes:
            if line.box is None:    # not a line from lines(): nowhere to look again (the caller reads in full)
                continue
            x0, y0, x1, y1 = line.box
            pad_y, pad_x = (y1 - y0) * 0.25, (y1 - y0) * 0.5
            crop = card[max(0, int((y0 - pad_y) * h)):min(h, int((y1 + pad_y) * h) + 1),
                        max(0, int((x0 - pad_x) * w)):min(w, int((x1 + pad_x) * w) + 1)]
            if crop.size == 0:
                continue
            result = self.engine(np.ascontiguousarray(crop[:, :, ::-1]), use_det=False, use_cls=False, use_rec=True)
            if isinstance(result, (TextRecOutput, RapidOCROutput)) and result.txts and result.scores:
                out.append(Line(str(result.txts[0]), line.x, line.y, float(result.scores[0]), line.box))
        return out
