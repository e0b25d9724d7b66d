"""Detect, align, describe, compare: the face pipeline over the models in models/.

One FacePipeline holds the onnxruntime sessions (made once); it is not thread-safe, so the daemon runs it on
one worker thread.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .align import aligned_crop, template_chip
from .detect import Detector, Face
from .onnx_models import manifest, session


class NoFace(ValueError):
    pass


class SeveralFaces(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class Descriptor:
    vector: np.ndarray
    model: str


def dlib_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - Euclidean distance: dlib's published rule "same person below 0.6" becomes "at or above 0.4"."""
    return float(np.clip(1.0 - np.linalg.norm(a - b), 0.0, 1.0))


def faceres_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Human's similarity for faceres: d = 25*sum((a-b)^2); clamp((1 - sqrt(d)/100 - 0.2)/0.6, 0, 1)."""
    d = 25.0 * float(np.sum((a - b) ** 2))
    return float(np.clip((1.0 - np.sqrt(d) / 100.0 - 0.2) / 0.6, 0.0, 1.0))


SIMILARITIES = {"human-faceres": faceres_similarity, "dlib-distance": dlib_similarity}


class FacePipeline:
    def __init__(self, descriptor: str | None = None, threads: int = 1, threshold: float | None = None):
        info = manifest()
        self.model = descriptor or info["default_descriptor"]
        entry = info["models"][self.model]
        self.detector = Detector(session("blazeface", threads))
        self.session = session(self.model, threads)
        self.input = self.session.get_inputs()[0].name
        self.size = int(entry["inputs"][0]["shape"][1])
        self.output = entry["descriptor_output"]
        self.similarity_fn = SIMILARITIES[entry["similarity"]]
        self.threshold = threshold or float(entry["threshold"])
        self.alignment = entry.get("alignment", {"kind": "square", "scale": 1.4})

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.detector.detect(rgb)

    def crop(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The descriptor's input: the alignment its manifest entry names."""
        a = self.alignment
        if a["kind"] == "template":
            return template_chip(rgb, face, self.size, a["points"])
        return aligned_crop(rgb, face, self.size, a.get("scale", 1.4))

    def describe_crop(self, crop: np.ndarray) -> Descriptor:
        (vec,) = self.session.run([self.output], {self.input: crop.astype(np.float32)[None]})
        return Descriptor(vec[0].astype(np.float32), self.model)

    def single_face(self, rgb: np.ndarray) -> Face:
        faces = self.detect(rgb)
        if not faces:
            raise NoFace("no face was found in the image")
        if len(faces) > 1:
            raise SeveralFaces(f"{len(faces)} faces were found; the image must show one person")
        return faces[0]

    def describe(self, rgb: np.ndarray) -> Descriptor:
        return self.describe_crop(self.crop(rgb, self.single_face(rgb)))

    def similarity(self, a: Descriptor, b: Descriptor) -> float:
        return self.similarity_fn(a.vector, b.vector)

    def compare(self, a_rgb: np.ndarray, b_rgb: np.ndarray) -> dict:
        score = self.similarity(self.describe(a_rgb), self.describe(b_rgb))
        return {"similarity": round(score, 4), "threshold": self.threshold, "match": score >= self.threshold,
                "model": self.model}
