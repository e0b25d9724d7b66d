"""Local face-verification evaluation on the few real photos found in packages (run by hand, never in CI).

The photos' licences are unclear, so they are extracted at run time into a temporary folder and never
committed: the insightface wheel's data/images (t1.jpg: six people; Tom_Hanks_54745.png) and the npm package
@vladmandic/human's assets/screenshot-facematch.jpg, whose first row of face tiles shows one man (labelled by
eye; Human ranked those tiles with faceres, so genuine scores here flatter faceres). Identities: that man,
six strangers, Tom Hanks, the astronaut (our fixture) and Grace Hopper (our bench 'other').

    python models/evaluate_local.py [--keep DIR]      # needs network access to PyPI and npm
"""
from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def fetch(tmp: Path) -> tuple[Path, Path]:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "insightface==0.7.3", "-d",
                    str(tmp)], check=False)
    wheels = list(tmp.glob("insightface-*"))
    if not wheels or not wheels[0].name.endswith(".whl"):
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "insightface", "-d", str(tmp)], check=True)
        wheels = list(tmp.glob("insightface-*.whl"))
    subprocess.run(["npm", "pack", "-q", "@vladmandic/human"], cwd=tmp, check=True, capture_output=True)
    return wheels[0], next(tmp.glob("vladmandic-human-*.tgz"))


def crops(pipeline, rgb: np.ndarray, margin: float = 0.6) -> list[np.ndarray]:
    out = []
    for f in sorted(pipeline.detect(rgb), key=lambda f: (f.box[1] // 60, f.box[0])):
        x0, y0, x1, y1 = f.box
        m = margin * max(x1 - x0, y1 - y0)
        box = [int(max(0, x0 - m)), int(max(0, y0 - m)), int(min(rgb.shape[1], x1 + m)), int(min(rgb.shape[0], y1 + m))]
        out.append((f, rgb[box[1]:box[3], box[0]:box[2]]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="keep the extracted photos and pairs here")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from mynareader.daemon.face.images import load_image
    from mynareader.daemon.face.pipeline import FacePipeline
    pipeline = FacePipeline()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="mynareader-eval-"))
    tmp.mkdir(parents=True, exist_ok=True)
    wheel, tgz = fetch(tmp)
    photos: dict[str, list[str]] = {}

    def save(identity: str, rgb: np.ndarray) -> None:
        name = f"{identity}-{len(photos.setdefault(identity, []))}.png"
        Image.fromarray(rgb).save(tmp / name)
        photos[identity].append(name)

    with zipfile.ZipFile(wheel) as z:
        t1 = load_image(z.read("insightface/data/images/t1.jpg"))
        save("hanks", load_image(z.read("insightface/data/images/Tom_Hanks_54745.png")))
    for i, (_f, crop) in enumerate(crops(pipeline, t1)):
        save(f"stranger{i}", crop)
    with tarfile.open(tgz) as t:
        shot = load_image(t.extractfile("package/assets/screenshot-facematch.jpg").read())
    h = shot.shape[0]
    row = shot[int(h * 0.30):int(h * 0.42)]        # the first row of extracted face tiles
    tiles = sorted(crops(pipeline, row, margin=0.1), key=lambda fc: fc[0].box[0])[:6]
    for _f, crop in tiles:
        save("man", crop)
    save("astronaut", load_image(ROOT / "tests" / "fixtures" / "astronaut.png"))
    save("hopper", load_image(ROOT / "device" / "mock" / "assets" / "other.jpg"))
    from mynareader.device.mock.virtual_card import holder_photo_jp2
    save("astronaut", load_image(holder_photo_jp2()))       # the chip photo as the card serves it

    lines = []
    names = [(identity, n) for identity, ns in photos.items() for n in ns]
    for (ia, a), (ib, b) in itertools.combinations(names, 2):
        lines.append(f"{a}\t{b}\t{'same' if ia == ib else 'different'}")
    (tmp / "pairs.tsv").write_text("\n".join(lines) + "\n")
    print(f"{len(names)} photos of {len(photos)} identities, {len(lines)} pairs in {tmp}", flush=True)
    return subprocess.run([str(Path(sys.executable).with_name("mynareader")), "face", "evaluate",
                           str(tmp / "pairs.tsv")]).returncode


if __name__ == "__main__":
    sys.exit(main())
