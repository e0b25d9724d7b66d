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
from .variants import variants

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


# multiply-accumulates of the pinned models by input size (models/opcount.py --file ... --shape ...): the
# detector per input pixel (1,733 M at 320 x 512), recognition per column of its 48-pixel-high input (1,488 M at
# width 480), the angle classifier per box (48 x 192). They turn a read into a Raspberry Pi 4 estimate.
DET_MACS_PER_PIXEL = 1733.3e6 / (320 * 512)
REC_MACS_PER_COLUMN = 1487.9e6 / 480
CLS_MACS_PER_BOX = 16.3e6


class Ocr:
    """One rapidocr engine (models loaded once), its steps called one by one: detection on a copy scaled to
    ``det_side``, the boxes cut from the full-resolution image, the angle classifier turning each box that reads
    upside down (so the text itself tells which way up the card lies), then recognition."""

    def __init__(self, threads: int = 2):
        paths = check_models()
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise OcrUnavailable(f"rapidocr cannot be imported: {exc}") from None
        # rapidocr logs every recognised text at info level: keep it quiet so no card text reaches a log
        for name in ("RapidOCR", "rapidocr"):
            logging.getLogger(name).setLevel(logging.ERROR)
        engine = RapidOCR(params={
            "Global.log_level": "error",
            "Det.model_path": str(paths["det"]), "Rec.model_path": str(paths["rec"]),
            "Cls.model_path": str(paths["cls"]),
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })
        for name in ("RapidOCR", "rapidocr"):
            logging.getLogger(name).setLevel(logging.ERROR)
        self.det = engine._load_det_model()
        self.det.limit_type = "max"         # the side given to lines() is the longest the detector sees
        self.cls = engine._load_cls_model()
        self.rec = engine._load_rec_model()
        # rapidocr pads every batch to at least 320 columns (6.7x the height): a 4-digit code or a label then
        # costs as much as an address line. Twice the height is enough: the same reads, a fifth less work
        self.rec.rec_image_shape = [3, 48, 96]
        # and a batch is padded to its widest line: one line at a time, each at its own width, is a fifth less
        # work again (bench, good cards: 0.53 -> 0.42 s median), and a line reads the same whichever lines the
        # detector found beside it (the next frame re-reads three boxes alone)
        self.rec.rec_batch_num = 1
        self.macs = {"det": 0.0, "rec": 0.0, "cls": 0.0}     # counted over this engine's life (bench figures)

    def lines(self, image: np.ndarray, det_side: int = 640, turn: bool = True) -> list[Line]:
        """Every text line in ``image`` (RGB), each box in reading order in ``image`` pixels. ``turn=False``
        skips the angle classifier (a flattened card already turned by its photo: a wrong turn leaves the
        anchors unread, and the whole frame, classifier on, is read next)."""
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        self.det.limit_side_len = det_side
        h, w = bgr.shape[:2]
        ratio = min(1.0, det_side / max(h, w))
        self.macs["det"] += DET_MACS_PER_PIXEL * round(h * ratio / 32) * 32 * round(w * ratio / 32) * 32
        found = self.det(bgr)
        if found.boxes is None or len(found.boxes) == 0:
            return []
        quads = [np.asarray(b, dtype=np.float32) for b in found.boxes]
        crops = [_crop(bgr, q) for q in quads]
        if not turn:
            return self._recognise(crops, quads)
        turned = self.cls(crops)
        self.macs["cls"] += CLS_MACS_PER_BOX * len(crops)
        labels = turned.cls_res or [("0", 0.0)] * len(crops)
        crops = turned.img_list if turned.img_list is not None else crops
        # a box the classifier turned reads from its right end: its reading order starts at the opposite corner
        quads = [np.roll(q, 2, axis=0) if "180" in label and score > self.cls.cls_thresh else q
                 for q, (label, score) in zip(quads, labels)]
        return self._recognise(crops, quads)

    def reread(self, image: np.ndarray, boxes: list[Line]) -> list[Line]:
        """Recognition only, in the boxes another frame of the same card found (a second look, ~20 ms a box).
        Each box is cut in its reading order, so it comes out upright whichever way the card lies."""
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        quads = [_pad(np.asarray(line.quad, dtype=np.float32)) for line in boxes if line.quad is not None]
        crops = [_crop(bgr, q) for q in quads]
        keep = [i for i, c in enumerate(crops) if c.size]
        return self._recognise([crops[i] for i in keep], [quads[i] for i in keep])

    def second_look(self, image: np.ndarray, line: Line) -> list[Line]:
        """``line``'s box recognised again in each variant of its crop (variants.py): a second opinion on a
        doubtful line, ~20 ms a variant. Each result has ``line``'s box."""
        if line.quad is None:
            return []
        quad = np.asarray(line.quad, dtype=np.float32)
        # the box cut from the RGB frame and only the crop turned to BGR: up to four lines a frame ask for this,
        # and the whole frame need not be copied for each (the cut works on any three channels)
        crops = variants(np.ascontiguousarray(_crop(image, quad)[:, :, ::-1]))
        return self._recognise(crops, [quad] * len(crops), keep_empty=True)

    def _recognise(self, crops: list[np.ndarray], quads: list[np.ndarray], keep_empty: bool = False) -> list[Line]:
        from rapidocr.ch_ppocr_rec import TextRecInput
        if not crops:
            return []
        # rapidocr recognises in batches of its rec_batch_num, sorted by shape, padded to the widest in the batch
        ratios = sorted(c.shape[1] / max(1, c.shape[0]) for c in crops)
        size, (_, height, width) = self.rec.rec_batch_num, self.rec.rec_image_shape[:3]
        for i in range(0, len(ratios), size):
            batch = ratios[i:i + size]
            self.macs["rec"] += REC_MACS_PER_COLUMN * int(height * max(width / height, batch[-1])) * len(batch)
        # with word boxes rapidocr also gives each character's confidence: the mean it reports as the score hides
        # one doubtful digit among sure ones (「8459」 read 「8450」: mean 0.87, the 0 at 0.50), so the weakest
        # character is kept too
        result = self.rec(TextRecInput(img=crops, return_word_box=True))
        if result.txts is None or result.scores is None:
            return []
        words = result.word_results or [None] * len(result.txts)
        out = []
        for text, mean, word, q in zip(result.txts, result.scores, words, quads):
            if not str(text).strip() and not keep_empty:
                continue
            confs = [float(c) for c in getattr(word, "confs", None) or []]
            weakest = min(confs) if confs else float(mean)
            quad = tuple((float(x), float(y)) for x, y in q)
            out.append(Line(str(text), float(q[:, 0].mean()), float(q[:, 1].mean()), float(mean), quad,  # type: ignore[arg-type]
                            weakest, tuple(confs) if len(confs) == len(str(text)) else ()))
        return out


def _crop(bgr: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The box cut out and flattened, its first edge (quad[0] -> quad[1]) along the top."""
    from rapidocr.utils.process_img import get_rotate_crop_image
    return get_rotate_crop_image(bgr, quad.astype(np.float32).copy())


def _pad(quad: np.ndarray) -> np.ndarray:
    """A box grown by half its height along the text and a quarter across it: the card may have moved a little."""
    along = (quad[1] - quad[0] + quad[2] - quad[3]) / 2
    across = (quad[3] - quad[0] + quad[2] - quad[1]) / 2
    height = float(np.linalg.norm(across)) or 1.0
    u = along / (float(np.linalg.norm(along)) or 1.0) * height * 0.5
    v = across / height * height * 0.25
    return np.array([quad[0] - u - v, quad[1] + u - v, quad[2] + u + v, quad[3] - u + v], dtype=np.float32)
