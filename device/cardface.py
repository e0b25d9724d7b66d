"""The card face (券面) as the 券面事項確認AP stores it, and 照合番号B. Pure code.

Only what identity checks need is kept: birth date, card expiry and the face photo. The name, address and
security-code images in the same EF are dropped when parsing, never stored.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io

from . import tlv
from .errors import MalformedResponse

TAG_CARD_FACE = 0xFF20
TAG_BIRTH = 0xDF22
TAG_PHOTO = 0xDF27
TAG_EXPIRY = 0xDF29
JP2_MAGIC = bytes.fromhex("0000000C6A5020200D0A")

# Japanese eras for the birth year in 照合番号B: (first day, name)
ERAS = [(dt.date(2019, 5, 1), "令和"), (dt.date(1989, 1, 8), "平成"), (dt.date(1926, 12, 25), "昭和"),
        (dt.date(1912, 7, 30), "大正"), (dt.date(1868, 1, 25), "明治")]


@dataclasses.dataclass(frozen=True, repr=False)
class CardFace:
    birth_date: dt.date
    expiry: dt.date
    photo_jp2: bytes

    def __repr__(self) -> str:  # keeps the photo and birth date out of logs and tracebacks
        return f"CardFace(<redacted>, photo={len(self.photo_jp2)} bytes)"

    def photo(self):
        """The face photo decoded to a PIL image (Pillow with OpenJPEG)."""
        from PIL import Image
        try:
            img = Image.open(io.BytesIO(self.photo_jp2))
            img.load()
        except Exception as exc:
            raise MalformedResponse(f"the card's face photo does not decode as JPEG 2000: {exc}") from None
        return img


def _date(raw: bytes, what: str) -> dt.date:
    try:
        return dt.datetime.strptime(raw.decode("ascii"), "%Y%m%d").date()
    except (UnicodeDecodeError, ValueError):
        raise MalformedResponse(f"the card face's {what} is not a YYYYMMDD date") from None


def parse_card_face(buf: bytes) -> CardFace:
    outer = tlv.parse(buf)
    if TAG_CARD_FACE not in outer:
        raise MalformedResponse("the card face EF has no FF20 template")
    inner = tlv.parse(outer[TAG_CARD_FACE])
    missing = [f"{t:X}" for t in (TAG_BIRTH, TAG_PHOTO, TAG_EXPIRY) if t not in inner]
    if missing:
        raise MalformedResponse(f"the card face lacks {', '.join(missing)}")
    photo = inner[TAG_PHOTO]
    if not photo.startswith(JP2_MAGIC):
        raise MalformedResponse("the card's face photo is not a JPEG 2000 file")
    return CardFace(_date(inner[TAG_BIRTH], "birth date"), _date(inner[TAG_EXPIRY], "expiry date"), photo)


def era_year(day: dt.date) -> int:
    for start, _name in ERAS:
        if day >= start:
            return day.year - start.year + 1
    raise ValueError("date before the Meiji era")


def code_b_of(birth: dt.date, card_expiry_year: int, security_code: str) -> str:
    """照合番号B: birth date as Japanese-era YYMMDD + card expiry year + the 4-digit security code."""
    if len(security_code) != 4 or not security_code.isdigit():
        raise ValueError("the security code is 4 digits")
    return f"{era_year(birth):02d}{birth.month:02d}{birth.day:02d}{card_expiry_year:04d}{security_code}"
