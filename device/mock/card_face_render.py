"""Synthetic fronts of the My Number Card (2020 design) and camera scenes of them, for the bench and tests.

The front is drawn at its real size (ID-1, 85.6 x 54 mm) with the fields where the card prints them: name,
address, 「昭和55年 2月17日生」 with the sex, the photo on the right with the 4-digit security code under it, and
「2035年 2月17日まで有効」 at the bottom left. A fine printed pattern lies under the text, as on a real card: a
plain background would make OCR look better than it is. The 個人番号 is on the back and is never drawn.

``scene()`` puts a card in front of a camera and degrades it the way a camera does: perspective (up to ~25
degrees of tilt), blur, noise, JPEG, glare spots, dim light and a finger over a corner. All randomness comes
from the ``random.Random`` passed in, so a bench run is reproducible.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ASSETS = Path(__file__).resolve().parent / "assets"
CARD_MM = (85.6, 54.0)
FONT_FILES = ["/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
              "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",     # older Debian layout
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"]
ERAS = [(dt.date(2019, 5, 1), "令和"), (dt.date(1989, 1, 8), "平成"), (dt.date(1926, 12, 25), "昭和"),
        (dt.date(1912, 7, 30), "大正"), (dt.date(1868, 1, 25), "明治")]
SURNAMES = ["番号", "山田", "佐藤", "鈴木", "高橋", "田中", "渡辺", "伊藤", "中村", "小林", "加藤"]
GIVEN = ["花子", "太郎", "一郎", "美咲", "健太", "陽菜", "翔", "由美", "直樹", "恵子"]
PLACES = ["東京都千代田区霞が関1丁目1番1号", "大阪府大阪市北区中之島1丁目3番20号", "北海道札幌市中央区北1条西2丁目",
          "福岡県福岡市中央区天神1丁目8番1号", "愛知県名古屋市中区三の丸3丁目1番1号"]


class FontsMissing(RuntimeError):
    pass


@lru_cache(maxsize=None)
def font_paths() -> tuple[str, ...]:
    found = tuple(p for p in FONT_FILES if Path(p).exists())
    if not found:
        raise FontsMissing("no Japanese font for the synthetic card face: apt install fonts-ipaexfont-gothic "
                           "(make demo does)")
    return found


@lru_cache(maxsize=64)
def _font(path: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px, index=0)


@dataclasses.dataclass(frozen=True, repr=False)
class PrintedFace:
    """What the front shows. repr hides it: a card face never reaches a log."""

    birth: dt.date
    expiry: dt.date
    security_code: str
    name: str = "番号 花子"
    address: str = PLACES[0]
    sex: str = "女"
    gregorian_birth: bool = False     # foreign residents' cards print the birth date in the Gregorian calendar
    note: str | None = None           # 追記欄: another date that must not be taken for a field

    def __repr__(self) -> str:
        return "PrintedFace(<redacted>)"


def era_text(day: dt.date) -> str:
    for start, name in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年"
    raise ValueError("date before the Meiji era")


def _md(day: dt.date) -> str:
    """Month and day as the card prints them: unpadded numbers aligned with a space (「2月 7日」)."""
    return f"{day.month:>2}月{day.day:>2}日"


def birth_line(face: PrintedFace) -> str:
    year = f"{face.birth.year}年" if face.gregorian_birth else era_text(face.birth)
    return f"{year}{_md(face.birth)}生"


def expiry_line(face: PrintedFace) -> str:
    return f"{face.expiry.year}年{_md(face.expiry)}まで有効"


def face_of_profile(profile, today: dt.date | None = None) -> PrintedFace:
    """The front printed for a virtual card profile: the same dates and code as its chip."""
    from .profiles import card_dates
    d = card_dates(profile, today or dt.date.today())
    return PrintedFace(d.birth, d.card_expiry, profile.security_code, name="番号 花子", sex="女")


@lru_cache(maxsize=4)
def _photo(width: int, height: int) -> Image.Image:
    img = Image.open(ASSETS / "holder.png").convert("RGB")
    w, h = img.size
    target = width / height
    if w / h > target:
        nw = int(h * target)
        img = img.crop(((w - nw) // 2, 0, (w - nw) // 2 + nw, h))
    else:
        nh = int(w / target)
        img = img.crop((0, 0, w, nh))
    return img.resize((width, height), Image.Resampling.LANCZOS)


@lru_cache(maxsize=4)
def _pattern(width: int, height: int, seed: int) -> np.ndarray:
    """A fine guilloche-like pattern in pale colours, like the security print of the card."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.empty((height, width, 3), np.float32)
    base[...] = (246, 244, 240)
    waves = np.zeros((height, width), np.float32)
    for _ in range(4):
        fx, fy = rng.uniform(0.03, 0.09, 2)
        phase = rng.uniform(0, 6.28)
        waves += np.sin(xs * fx + np.sin(ys * fy + phase) * 3.0)
    lines = (np.abs(np.sin(waves * 2.2)) < 0.18).astype(np.float32)
    tint = np.stack([225 + 20 * np.sin(xs / width * 3.1), 215 + 25 * np.cos(ys / height * 2.3),
                     235 + 15 * np.sin((xs + ys) / width * 2.0)], -1)
    base = base * (1 - 0.55 * lines[..., None]) + tint * 0.55 * lines[..., None]
    # a pale watermark ring behind the photo, as the card's pattern has
    ring = np.abs(np.hypot(xs - width * 0.8, ys - height * 0.45) - height * 0.42) < height * 0.015
    base[ring] = base[ring] * 0.9 + np.array([200, 180, 210]) * 0.1
    return base.clip(0, 255).astype(np.uint8)


def render(face: PrintedFace, px_per_mm: float = 10.0, font: str | None = None, seed: int = 0) -> Image.Image:
    """The card front, flat, ``px_per_mm`` pixels a millimetre (856 x 540 at 10)."""
    font_file = font or font_paths()[0]
    s = px_per_mm
    w, h = round(CARD_MM[0] * s), round(CARD_MM[1] * s)
    card = Image.fromarray(_pattern(w, h, seed % 4))
    draw = ImageDraw.Draw(card)
    ink, label = (30, 30, 34), (90, 90, 110)

    def text(x_mm, y_mm, string, size_mm, colour=ink):
        draw.text((x_mm * s, y_mm * s), string, fill=colour, font=_font(font_file, max(6, round(size_mm * s))))

    text(3.0, 3.2, "氏名", 1.7, label)
    text(9.0, 2.4, face.name, 3.6)
    text(3.0, 10.2, "住所", 1.7, label)
    address = face.address
    text(9.0, 9.8, address[:16], 2.5)
    if len(address) > 16:
        text(9.0, 13.4, address[16:], 2.5)
    text(9.0, 19.4, birth_line(face), 2.5)
    text(43.0, 19.6, "性別", 1.7, label)
    text(48.0, 19.4, face.sex, 2.5)
    if face.note:   # 追記欄 text sits in its own band
        text(9.0, 24.4, face.note, 2.0)
    # the photo on the right, the security code in small print under it
    pw, ph = round(21.5 * s), round(27.5 * s)
    card.paste(_photo(pw, ph), (round(61.5 * s), round(5.0 * s)))
    text(66.5, 33.4, face.security_code, 2.2)
    text(3.0, 31.5, "個人番号カード", 2.8, (40, 40, 90))
    draw.rectangle((3.0 * s, 37.5 * s, 40.0 * s, 44.5 * s), outline=(150, 150, 170), width=max(1, round(s / 5)))
    text(4.0, 38.0, "有効期限", 1.5, label)
    text(4.5, 40.5, expiry_line(face), 2.4)
    text(3.0, 48.0, "臓器提供意思表示欄は裏面", 1.5, label)
    text(55.0, 47.0, "JAPAN", 2.2, (120, 120, 150))
    return card


@dataclasses.dataclass(frozen=True)
class Degradation:
    tilt_deg: float = 0.0        # perspective: how far the card plane leans from facing the camera
    rotate_deg: float = 0.0      # in-plane rotation
    scale: float = 0.8           # card width / frame width
    blur: float = 0.0            # Gaussian radius in pixels of the frame
    noise: float = 0.0           # sigma of Gaussian noise (0-255)
    jpeg: int | None = None      # JPEG quality, None: no compression
    glare: int = 0               # bright specular spots
    glare_peak: tuple[float, float] = (0.8, 1.3)   # their added brightness (x 255): above ~0.8 they wipe what they cover
    dim: float = 1.0             # light level (1: well lit)
    finger: bool = False         # a finger over one corner
    upside_down: bool = False
    off_frame: float = 0.0       # how much of the card (fraction of its width or height) lies beyond one frame edge
    motion: float = 0.0          # motion blur: length of the smear in pixels of the frame
    border_glare: float = 0.0    # a glare spot centred on the card's edge, radius as a fraction of the frame width

    @staticmethod
    def random(rng: random.Random, kind: str) -> "Degradation":
        """One of the kinds the bench counts (``KINDS``; ``EXTREME_KINDS`` are the hardest of them)."""
        d = Degradation(tilt_deg=rng.uniform(0, 5), rotate_deg=rng.uniform(-4, 4), scale=rng.uniform(0.72, 0.9))
        if kind == "tilt":
            d = dataclasses.replace(d, tilt_deg=rng.uniform(10, 25), rotate_deg=rng.uniform(-12, 12))
        elif kind == "blur":
            d = dataclasses.replace(d, blur=rng.uniform(1.0, 2.6))
        elif kind == "noise":
            d = dataclasses.replace(d, noise=rng.uniform(8, 22))
        elif kind == "jpeg":
            d = dataclasses.replace(d, jpeg=rng.randint(25, 60))
        elif kind == "glare":        # a sheen: the light shows, the print under it stays legible
            d = dataclasses.replace(d, glare=rng.randint(1, 3), glare_peak=(0.35, 0.6))
        elif kind == "glare_spot":   # a saturating spot: whatever it covers is gone from that frame
            d = dataclasses.replace(d, glare=rng.randint(1, 3))
        elif kind == "dim":
            d = dataclasses.replace(d, dim=rng.uniform(0.18, 0.45), noise=rng.uniform(2, 6))
        elif kind == "finger":
            d = dataclasses.replace(d, finger=True)
        elif kind == "far":     # small in the frame: 4.9-6.9 px/mm, the security code 11-15 px high
            d = dataclasses.replace(d, scale=rng.uniform(0.33, 0.46))
        elif kind == "off_frame":
            d = dataclasses.replace(d, off_frame=rng.uniform(0.03, 0.12), tilt_deg=rng.uniform(0, 12))
        elif kind == "motion":
            d = dataclasses.replace(d, motion=rng.uniform(5, 14))
        elif kind == "border_glare":
            d = dataclasses.replace(d, border_glare=rng.uniform(0.035, 0.06))
        elif kind == "mixed":
            d = dataclasses.replace(d, tilt_deg=rng.uniform(5, 20), blur=rng.uniform(0.3, 1.5),
                                    noise=rng.uniform(2, 10), jpeg=rng.randint(40, 85), dim=rng.uniform(0.5, 1.0),
                                    glare=rng.choice([0, 0, 1]))
        elif kind == "upside_down":
            d = dataclasses.replace(d, upside_down=True)
        elif kind == "harsh":   # everything at once, near where OCR breaks: where a misread is likeliest
            d = dataclasses.replace(d, tilt_deg=rng.uniform(12, 25), rotate_deg=rng.uniform(-10, 10),
                                    blur=rng.uniform(1.6, 3.0), noise=rng.uniform(8, 20), jpeg=rng.randint(18, 40),
                                    dim=rng.uniform(0.35, 0.7), glare=rng.choice([0, 1, 2]),
                                    scale=rng.uniform(0.6, 0.8))
        elif kind == "tiny":    # ~3 px/mm: below what can be read, the "too far" guidance
            d = dataclasses.replace(d, scale=rng.uniform(0.18, 0.24))
        elif kind != "good":
            raise ValueError(f"unknown degradation {kind!r}")
        return d


KINDS = ["good", "tilt", "blur", "noise", "jpeg", "glare", "dim", "mixed", "off_frame", "border_glare", "finger",
         "motion", "upside_down", "far", "glare_spot"]
# the bench's target is lower for these: the extreme kinds, and glare that wipes what it covers
EXTREME_KINDS = ["finger", "motion", "upside_down", "far", "glare_spot"]
STRESS_KINDS = ["harsh", "tiny"]      # not in the default bench: ``bench cardface --kinds harsh``


def _perspective_coeffs(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """Coefficients for PIL's PERSPECTIVE transform mapping output points ``dst`` to input points ``src``."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def _push_off(quad: list[tuple[float, float]], cut: float, size: tuple[int, int], rng: random.Random,
              upside_down: bool) -> list[tuple[float, float]]:
    """The card moved so that ``cut`` of it (a fraction of its extent across that edge) lies beyond one frame
    edge. The left edge of the card (the printed side: the expiry starts ~4 mm in) is cut at most 4%."""
    w, h = size
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    sides = ["top", "bottom", "right", "left"]
    side = rng.choice(sides)
    if upside_down:     # the card's left edge then lies on the frame's right
        side = {"left": "right", "right": "left"}.get(side, side)
    card_left_in_view = "right" if upside_down else "left"
    if side == card_left_in_view:
        cut = min(cut, 0.04)
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    if side == "top":
        dx, dy = 0.0, -(min(ys) + cut * span_y)
    elif side == "bottom":
        dx, dy = 0.0, h - max(ys) + cut * span_y
    elif side == "left":
        dx, dy = -(min(xs) + cut * span_x), 0.0
    else:
        dx, dy = w - max(xs) + cut * span_x, 0.0
    return [(x + dx, y + dy) for x, y in quad]


def _motion_blur(img: Image.Image, length: float, angle: float) -> Image.Image:
    """The card smeared along a line of ``length`` pixels (a hand still moving it), as a camera sees it."""
    arr = np.asarray(img, dtype=np.float32)
    steps = max(2, int(round(length)))
    out = np.zeros_like(arr)
    for k in range(steps):
        t = k / (steps - 1) - 0.5
        dx, dy = int(round(t * length * math.cos(angle))), int(round(t * length * math.sin(angle)))
        out += np.roll(arr, (dy, dx), axis=(0, 1))
    return Image.fromarray((out / steps).clip(0, 255).astype(np.uint8))


def _background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w]
    tone = rng.uniform(40, 90)
    grad = tone + 25 * xs / w + 15 * ys / h
    rgb = np.stack([grad * rng.uniform(0.8, 1.1), grad * rng.uniform(0.8, 1.1), grad], -1)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def scene(face: PrintedFace, rng: random.Random, degradation: Degradation | None = None,
          size: tuple[int, int] = (1280, 960)) -> np.ndarray:
    """One camera frame (RGB uint8) of the card lying in front of the camera, degraded."""
    d = degradation or Degradation()
    w, h = size
    card = render(face, px_per_mm=12.0, font=rng.choice(font_paths()), seed=rng.randint(0, 3))
    if d.upside_down:
        card = card.rotate(180)
    cw, ch = card.size
    # corners of the card in the frame: a centred rectangle, rotated, then leaned back by the tilt
    width = d.scale * w
    height = width * CARD_MM[1] / CARD_MM[0]
    cx, cy = w / 2 + rng.uniform(-0.04, 0.04) * w, h / 2 + rng.uniform(-0.04, 0.04) * h
    corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2), (-width / 2, height / 2)]
    tilt = math.radians(d.tilt_deg)
    axis = rng.choice(["x", "y"])
    sign = rng.choice([-1, 1])
    focal = 1.2 * w
    projected = []
    for x, y in corners:
        # lean the plane about one axis, then project with a pinhole camera
        if axis == "x":
            y3, z = y * math.cos(tilt), sign * y * math.sin(tilt)
            x3 = x
        else:
            x3, z = x * math.cos(tilt), sign * x * math.sin(tilt)
            y3 = y
        f = focal / (focal + z)
        projected.append((x3 * f, y3 * f))
    a = math.radians(d.rotate_deg)
    quad = [(cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)) for x, y in projected]
    if d.off_frame:
        quad = _push_off(quad, d.off_frame, size, rng, upside_down=d.upside_down)
        cx, cy = sum(x for x, _ in quad) / 4, sum(y for _, y in quad) / 4
    coeffs = _perspective_coeffs([(0, 0), (cw, 0), (cw, ch), (0, ch)], quad)
    warped = card.transform(size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    mask = Image.new("L", card.size, 255).transform(size, Image.Transform.PERSPECTIVE, coeffs,
                                                    Image.Resampling.BILINEAR)
    frame = _background(size, rng)
    frame.paste(warped, (0, 0), mask)
    if d.finger:
        corner = quad[rng.randrange(4)]
        r = rng.uniform(0.05, 0.09) * w
        draw = ImageDraw.Draw(frame)
        skin = (rng.randint(190, 225), rng.randint(140, 170), rng.randint(115, 140))
        ox, oy = (corner[0] - cx) * 0.15, (corner[1] - cy) * 0.15
        draw.ellipse((corner[0] + ox - r, corner[1] + oy - 1.6 * r, corner[0] + ox + r, corner[1] + oy + 1.6 * r),
                     fill=skin)
    arr: np.ndarray = np.asarray(frame, dtype=np.float32)     # float32, then float64 once noise is added
    if d.glare:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        for _ in range(d.glare):
            gx, gy = rng.choice(quad)
            t = rng.uniform(0.15, 0.85)
            px, py = gx + (cx - gx) * t, gy + (cy - gy) * t
            radius = rng.uniform(0.04, 0.1) * w
            spot = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * radius ** 2))
            arr = arr + spot[..., None] * 255 * rng.uniform(*d.glare_peak)
    if d.border_glare:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        i = rng.randrange(4)
        (ax, ay), (bx, by) = quad[i], quad[(i + 1) % 4]
        t = rng.uniform(0.2, 0.8)
        px, py = ax + (bx - ax) * t, ay + (by - ay) * t
        radius = d.border_glare * w
        spot = np.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * radius ** 2))
        arr = arr + spot[..., None] * 255 * rng.uniform(1.2, 1.6)
    arr = arr * d.dim
    if d.noise:
        arr = arr + np.random.default_rng(rng.randint(0, 2 ** 31)).normal(0, d.noise, arr.shape)
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    if d.blur:
        img = img.filter(ImageFilter.GaussianBlur(d.blur))
    if d.motion:
        img = _motion_blur(img, d.motion, rng.uniform(0, math.pi))
    if d.jpeg:
        buf = io.BytesIO()   # in memory only: a card face never reaches disk
        img.save(buf, "JPEG", quality=d.jpeg)
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def random_face(rng: random.Random, today: dt.date | None = None, gregorian: bool | None = None) -> PrintedFace:
    """A plausible card: born 1925-2024, expiring on a birthday 1-10 years from today; 元年 and eras included."""
    today = today or dt.date.today()
    pick = rng.random()
    if pick < 0.08:    # 元年 of 平成 or 令和 or 昭和
        start = rng.choice([dt.date(1989, 1, 8), dt.date(2019, 5, 1), dt.date(1926, 12, 25)])
        end = dt.date(start.year, 12, 31)
        birth = start + dt.timedelta(days=rng.randint(0, (end - start).days))
    elif pick < 0.1:   # 大正
        birth = dt.date(1913, 1, 1) + dt.timedelta(days=rng.randint(0, 13 * 365))
    else:
        birth = dt.date(1927, 1, 1) + dt.timedelta(days=rng.randint(0, (dt.date(2024, 12, 31) - dt.date(1927, 1, 1)).days))
    year = today.year + rng.randint(1, 10)
    try:
        expiry = birth.replace(year=year)
    except ValueError:
        expiry = dt.date(year, 3, 1)
    code = f"{rng.randint(0, 9999):04d}"
    note = None
    if rng.random() < 0.3:
        n = today - dt.timedelta(days=rng.randint(30, 2000))
        note = f"{n.year}年{_md(n)} 転入"
    return PrintedFace(birth, expiry, code, name=f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
                       address=rng.choice(PLACES), sex=rng.choice("男女"),
                       gregorian_birth=rng.random() < 0.15 if gregorian is None else gregorian, note=note)


def scene_empty(rng: random.Random, size: tuple[int, int] = (1280, 960)) -> np.ndarray:
    """The tray with no card on it."""
    arr = np.asarray(_background(size, rng), dtype=np.float32)
    arr += np.random.default_rng(rng.randint(0, 2 ** 31)).normal(0, 2, arr.shape)
    return arr.clip(0, 255).astype(np.uint8)
