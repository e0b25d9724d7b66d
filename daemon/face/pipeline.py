"""Detect, align, describe, compare: the face pipeline over the models in models/.

One FacePipeline holds the onnxruntime sessions (made once); it is not thread-safe, so the daemon runs it on
one worker thread.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .align import aligned_crop, arcface_crop, arcface_mesh_crop
from .detect import Detector, Face
from .dlib_chip import face_chip
from .landmarks import Box, ShapePredictor
from .mesh import FaceMesh
from .onnx_models import manifest, session, verify_file
from .errors import NoFace, SeveralFaces, UnknownModel


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


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of the angle between two embeddings (ArcFace-family descriptors), negatives as 0: every similarity
    here is 0..1, as the protocol's score is, and no threshold lies below 0."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.clip(np.dot(a, b) / (na * nb), 0.0, 1.0)) if na and nb else 0.0


SIMILARITIES = {"human-faceres": faceres_similarity, "dlib-distance": dlib_similarity, "cosine": cosine_similarity}


def keypoint_features(face: Face) -> tuple[np.ndarray, np.ndarray]:
    """The eyes' midpoint, and what places dlib's box from there: the eye-to-eye, eyes-to-mouth and eyes-to-nose
    vectors and the box width (BlazeFace's keypoints are steadier than its box)."""
    k = face.keypoints
    eyes = (k[0] + k[1]) / 2
    v, m, n = k[1] - k[0], k[3] - eyes, k[2] - eyes
    return eyes, np.array([v[0], v[1], m[0], m[1], n[0], n[1], face.box[2] - face.box[0]])


def dlib_box(face: Face, mapping: dict) -> Box:
    """The box dlib's HOG detector would draw around this BlazeFace face: the landmark cascade starts from its mean
    shape placed in that box. A linear map of the keypoint features (centre offset from the eyes, side), fitted
    against dlib's boxes by models/dlib_landmarks_equivalence.py --calibrate."""
    eyes, features = keypoint_features(face)
    dx, dy, side = features @ np.asarray(mapping["coef"], dtype=np.float64)
    side = max(2, int(round(side)))
    left, top = int(round(eyes[0] + dx - side / 2)), int(round(eyes[1] + dy - side / 2))
    return Box(left, top, left + side - 1, top + side - 1)


class FacePipeline:
    def __init__(self, descriptor: str | None = None, threads: int = 1, threshold: float | None = None,
                 box_mapping: dict | None = None):
        info = manifest()
        self.model = descriptor or info["default_descriptor"]
        known = sorted(k for k, v in info["models"].items() if v.get("role") == "descriptor")
        if self.model not in known:
            raise UnknownModel(f"unknown face model {self.model!r}; known models: {', '.join(known)}")
        entry = info["models"][self.model]
        self.detector = Detector(session("blazeface", threads))
        self.session = session(self.model, threads)
        self.input = self.session.get_inputs()[0].name
        self.size = int(entry["inputs"][0]["shape"][1])
        self.output = entry["descriptor_output"]
        self.similarity_fn = SIMILARITIES[entry["similarity"]]
        self.threshold = threshold or float(entry["threshold"])
        self.alignment = entry.get("alignment", {"kind": "square", "scale": 1.4})
        self.landmarks: ShapePredictor | None = None
        if self.alignment["kind"] == "dlib5":
            marks = info["models"][self.alignment["landmarks"]]
            self.landmarks = ShapePredictor.load(verify_file(self.alignment["landmarks"]))
            self.box_mapping = box_mapping or marks["box_mapping"]
        # the face mesh places the five template points (alignment "points": "mesh"); the liveness check shares it
        self.mesh = FaceMesh(threads) if self.alignment.get("points") == "mesh" else None

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.detector.detect(rgb)

    def crop(self, rgb: np.ndarray, face: Face, mesh_points: np.ndarray | None = None) -> np.ndarray:
        """The descriptor's input: the alignment its manifest entry names. ``mesh_points``: the face mesh's landmarks
        for this face when the caller has them already (the liveness check's), so the mesh is not run twice."""
        a = self.alignment
        if a["kind"] == "dlib5":
            return face_chip(rgb, self.landmarks_for(rgb, face), self.size, a.get("padding", 0.25))
        if a["kind"] == "arcface5":
            if self.mesh is None:
                return arcface_crop(rgb, face, self.size)
            if mesh_points is None:
                mesh_points = self.mesh(rgb, face)[0]
            return arcface_mesh_crop(rgb, mesh_points, self.size)
        return aligned_crop(rgb, face, self.size, a.get("scale", 1.4))

    def landmarks_for(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """dlib's 5 landmarks for a detected face (whole pixels)."""
        if self.landmarks is None:
            raise RuntimeError(f"{self.model} aligns without landmarks (alignment {self.alignment['kind']!r})")
        return self.landmarks(rgb, dlib_box(face, self.box_mapping))

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
