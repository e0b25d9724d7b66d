"""A virtual My Number Card: the ISO 7816 behaviour the reader and OpenSC rely on (reference/card.md).

Counters decrement on a wrong PIN, reset on a right one, stay blocked at 0 and persist in the state directory
(a real card keeps them in its chip). The verified state lives only while the card is powered. Any AID or EF it
does not hold answers 6A82, so OpenSC's probe SELECTs for other card types all fail.
"""
from __future__ import annotations

import dataclasses
import functools
import datetime as dt
import io
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from ..apdu import Applet, JpkiFile, KenmenFile
from ..cardface import TAG_BIRTH, TAG_CARD_FACE, TAG_EXPIRY, TAG_PHOTO, code_b_of
from .. import tlv
from .pki import TestPki
import time

from .profiles import GATE_NONE, GATE_PIN, GATE_UNLOCK, PROFILES, UNLOCK_SECONDS, Profile, card_dates

SW_OK = b"\x90\x00"
UNLOCKED = ("phone", "unlocked")   # the gate an iPhone's Face ID / Touch ID opens (not a PIN of the card)
ASSETS = Path(__file__).with_name("assets")

# DigestInfo prefixes the card accepts for COMPUTE DIGITAL SIGNATURE, by hash
_DIGEST_INFOS = {
    bytes.fromhex("3031300D060960864801650304020105000420"): hashes.SHA256(),
    bytes.fromhex("3021300906052B0E03021A05000414"): hashes.SHA1(),
    bytes.fromhex("3041300D060960864801650304020205000430"): hashes.SHA384(),
    bytes.fromhex("3051300D060960864801650304020305000440"): hashes.SHA512(),
}


def sw(value: int) -> bytes:
    return value.to_bytes(2, "big")


@dataclasses.dataclass
class PinFile:
    counter_key: str          # name in the state file
    max_tries: int
    secret: bytes
    lengths: range            # accepted lengths; others answer 6700 without touching the counter


class CounterStore:
    """The card's persistent counters: a small JSON file the mock owns, written atomically."""

    def __init__(self, path: Path, initial: dict[str, int]):
        self.path = path
        self.values = dict(initial)
        if path.exists():
            self.values.update(json.loads(path.read_text()))
        self.save()

    def __getitem__(self, key: str) -> int:
        return self.values[key]

    def __setitem__(self, key: str, value: int) -> None:
        self.values[key] = value
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(self.values, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


@functools.lru_cache(maxsize=1)     # the same bytes for every card; encoding takes ~12 ms
def holder_photo_jp2() -> bytes:
    """The chip photo: the bench holder's portrait as JPEG 2000 in a JP2 container, as on the card."""
    from PIL import Image
    out = io.BytesIO()
    Image.open(ASSETS / "holder.png").convert("RGB").save(out, "JPEG2000", quality_mode="rates",
                                                            quality_layers=[30], irreversible=True)
    return out.getvalue()


def _tiny_png(text: str) -> bytes:
    """Stand-ins for the name/address/security-code images (the reader never uses them)."""
    from PIL import Image
    out = io.BytesIO()
    Image.new("L", (8 * len(text), 12), 255).save(out, "PNG")
    return out.getvalue()


class VirtualCard:
    def __init__(self, profile: Profile | str, state_dir: Path, today: dt.date | None = None):
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        p = self.profile
        self.counters = CounterStore(state_dir / f"{p.name}.counters.json",
                                     {"pin": p.pin_tries, "sign": p.sign_tries, "code_b": p.code_b_tries})
        self.dates = card_dates(p, today or dt.date.today())
        pki = TestPki(state_dir / "pki")
        self.auth_key, self.sign_key = pki.holder_keys(p.name)
        auth_cert = pki.issue(p.name, self.auth_key, self.dates.issued, self.dates.cert_not_after, "auth")
        sign_cert = pki.issue(p.name, self.sign_key, self.dates.issued, self.dates.cert_not_after, "signature")
        token = p.token.encode().ljust(32, b" ") + bytes(128)
        auth_pin = (Applet.JPKI, JpkiFile.AUTH_PIN)
        sign_pin = (Applet.JPKI, JpkiFile.SIGN_PIN)
        self.pins: dict[tuple[Applet | None, int | None], PinFile] = {}
        if p.has_pin:
            self.pins[auth_pin] = PinFile("pin", p.pin_max, p.pin.encode(), range(4, 5))
        if p.has_signature:
            self.pins[sign_pin] = PinFile("sign", 5, p.sign_password.encode(), range(6, 17))
        # the certificate's gate: nothing (a card), the PIN (Android), the phone's unlock (iPhone: UNLOCKED)
        cert_gate = {GATE_NONE: None, GATE_PIN: auth_pin, GATE_UNLOCK: UNLOCKED}[p.gate]
        key_gate = UNLOCKED if p.gate == GATE_UNLOCK else auth_pin
        # readable EFs: (applet, fid) -> (content, which PIN must be verified or None)
        self.files: dict[tuple[Applet | None, int | None], tuple[bytes, tuple | None]] = {
            (Applet.JPKI, JpkiFile.TOKEN_INFO): (token, None),
            (Applet.JPKI, JpkiFile.AUTH_CERT): (auth_cert, cert_gate),
            (Applet.JPKI, JpkiFile.AUTH_CA_CERT): (pki.ca_der, None),
        }
        self.keys: dict[tuple[Applet | None, int | None], tuple] = {
            (Applet.JPKI, JpkiFile.AUTH_KEY): (self.auth_key, key_gate)}
        if p.has_signature:
            self.files[(Applet.JPKI, JpkiFile.SIGN_CERT)] = (sign_cert, sign_pin)
            self.files[(Applet.JPKI, JpkiFile.SIGN_CA_CERT)] = (pki.ca_der, None)
            self.keys[(Applet.JPKI, 0x001A)] = (self.sign_key, sign_pin)
        self.applets = {Applet.JPKI}
        if p.has_kenmen:
            self.applets.add(Applet.KENMEN)
            code_b = code_b_of(self.dates.birth, self.dates.card_expiry.year, p.security_code)
            self.code_b = code_b
            self.pins[(Applet.KENMEN, KenmenFile.CHECK_CODE_B)] = PinFile("code_b", 10, code_b.encode(),
                                                                          range(14, 15))
            self.files[(Applet.KENMEN, KenmenFile.CARD_FACE)] = (
                self._card_face(), (Applet.KENMEN, KenmenFile.CHECK_CODE_B))
        self.power_off()

    # -- the bench's view ------------------------------------------------------------------------
    @property
    def atr(self) -> bytes:
        return self.profile.atr

    def set_tries(self, n: int, which: str = "pin") -> None:
        self.counters[which] = n

    def tries(self, which: str = "pin") -> int:
        return self.counters[which]

    # the phone's own unlock (Face ID / Touch ID): kept with the counters, so it outlives taking the phone away
    # and holding it again, and ends by itself after ``seconds``
    def unlock(self, seconds: float = UNLOCK_SECONDS) -> None:
        self.counters["unlocked_until"] = int(time.time() + seconds)

    def lock(self) -> None:
        self.counters["unlocked_until"] = 0

    @property
    def unlocked(self) -> bool:
        return self.profile.gate == GATE_UNLOCK and time.time() < self.counters.values.get("unlocked_until", 0)

    def _open(self, gate: tuple | None) -> bool:
        return gate is None or gate in self.verified or (gate == UNLOCKED and self.unlocked)

    def power_off(self) -> None:
        self.applet: Applet | None = None
        self.ef: int | None = None
        self.verified: set[tuple] = set()
        self._pending = b""           # the rest of a chained answer, until GET RESPONSE or another command

    #: bench answers in T=0 style (slot commands ``chain N`` and ``exact-le on``), as some cards and readers give:
    #: ``chain`` > 0 hands out at most that many data bytes per answer, announcing the rest with 61xx for GET
    #: RESPONSE; ``exact_le`` answers a READ BINARY that asks past the end of the file with 6Cxx (the exact length)
    #: instead of the shorter data
    chain: int = 0
    exact_le: bool = False

    def _card_face(self) -> bytes:
        d = self.dates
        inner = b"".join([
            tlv.encode(0xDF21, bytes(8)), tlv.encode(TAG_BIRTH, d.birth.strftime("%Y%m%d").encode()),
            tlv.encode(0xDF23, b"2"), tlv.encode(0xDF24, bytes(16)), tlv.encode(0xDF25, _tiny_png("name")),
            tlv.encode(0xDF26, _tiny_png("address")), tlv.encode(TAG_PHOTO, holder_photo_jp2()),
            tlv.encode(0xDF28, bytes(256)), tlv.encode(TAG_EXPIRY, d.card_expiry.strftime("%Y%m%d").encode()),
            tlv.encode(0xDF2A, _tiny_png("code"))])
        return tlv.encode(TAG_CARD_FACE, inner)

    # -- ISO 7816 ----------------------------------------------------------------------------------
    def process(self, apdu: bytes) -> bytes:
        if len(apdu) >= 4 and apdu[1] == 0xC0:
            return self._get_response(apdu)
        self._pending = b""
        return self._chain(self._process(apdu))

    def _more(self) -> bytes:
        """61xx: how many bytes the next GET RESPONSE should ask for (at most ``chain``, 256 as 00)."""
        return bytes([0x61, min(len(self._pending) - 2, self.chain or 256, 256) & 0xFF])

    def _chain(self, resp: bytes) -> bytes:
        if not self.chain or len(resp) - 2 <= self.chain:
            return resp
        self._pending = resp[self.chain:]          # the rest of the data and the final status word
        return resp[:self.chain] + self._more()

    def _get_response(self, apdu: bytes) -> bytes:
        if apdu[0] != 0x00 or apdu[2:4] != b"\x00\x00":
            self._pending = b""
            return sw(0x6A86)
        if not self._pending:
            return sw(0x6985)                       # nothing waits: conditions of use not satisfied
        want = (apdu[4] if len(apdu) == 5 else 0) or 256
        piece = self._pending[:min(want, len(self._pending) - 2)]
        self._pending = self._pending[len(piece):]
        if len(self._pending) > 2:
            return piece + self._more()
        status, self._pending = self._pending, b""
        return piece + status

    def _process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return sw(0x6700)
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if cla not in (0x00, 0x80):
            return sw(0x6E00)
        handler = {0xA4: self._select, 0xB0: self._read_binary, 0x20: self._verify,
                   0x2A: self._sign}.get(ins)
        if handler is None or (ins == 0x2A and cla != 0x80):
            return sw(0x6D00)
        return handler(p1, p2, body)

    @staticmethod
    def _lc_data(body: bytes) -> bytes | None:
        if not body:
            return b""
        lc = body[0]
        if len(body) < 1 + lc:
            return None
        return body[1:1 + lc]

    def _select(self, p1: int, p2: int, body: bytes) -> bytes:
        data = self._lc_data(body)
        if data is None:
            return sw(0x6700)
        if p1 == 0x04:
            self.ef = None
            for applet in self.applets:
                if data == applet.value:
                    self.applet = applet
                    return SW_OK
            return sw(0x6A82)
        if p1 in (0x00, 0x02) and len(data) == 2 and self.applet is not None:
            fid = int.from_bytes(data, "big")
            key = (self.applet, fid)
            if key in self.files or key in self.pins or key in self.keys:
                self.ef = fid
                return SW_OK
        return sw(0x6A82)

    def _read_binary(self, p1: int, p2: int, body: bytes) -> bytes:
        fid: int | None
        if p1 & 0x80:  # short file identifier
            if self.applet is None:
                return sw(0x6A82)
            fid, offset = p1 & 0x1F, p2
            if (self.applet, fid) not in self.files:
                return sw(0x6A82)
            self.ef = fid
        else:
            fid, offset = self.ef, (p1 << 8) | p2
        entry = self.files.get((self.applet, fid)) if fid is not None else None
        if entry is None:
            return sw(0x6986 if fid is not None else 0x6A82)  # a PIN or key EF is not readable
        content, needs = entry
        if not self._open(needs):
            return sw(0x6982)
        le = body[0] if len(body) == 1 else 0
        want = le or 256
        if offset >= len(content):
            return sw(0x6B00)
        if self.exact_le and offset + want > len(content):
            return sw(0x6C00 | (len(content) - offset))
        return content[offset:offset + want] + SW_OK

    def _verify(self, p1: int, p2: int, body: bytes) -> bytes:
        if p1 != 0x00:
            return sw(0x6A86)
        if p2 == 0x80:
            fid = self.ef
        elif p2 & 0x80 and p2 & 0x1F:
            fid = p2 & 0x1F
        else:
            return sw(0x6A86)
        key = (self.applet, fid)
        pin = self.pins.get(key)
        if pin is None:
            return sw(0x6A82 if fid is None else 0x6986)
        data = self._lc_data(body)
        if data is None:
            return sw(0x6700)
        left = self.counters[pin.counter_key]
        if not data:  # the query: consumes nothing
            if key in self.verified:
                return SW_OK
            return sw(0x63C0 | left)
        if left == 0:
            return sw(0x6984)
        if len(data) not in pin.lengths:
            return sw(0x6700)
        if data == pin.secret:
            self.counters[pin.counter_key] = pin.max_tries
            self.verified.add(key)
            return SW_OK
        self.verified.discard(key)
        self.counters[pin.counter_key] = left - 1
        return sw(0x63C0 | (left - 1))

    def _sign(self, p1: int, p2: int, body: bytes) -> bytes:
        if (p1, p2) != (0x00, 0x80):
            return sw(0x6A86)
        entry = self.keys.get((self.applet, self.ef))
        if entry is None:
            return sw(0x6985)  # conditions of use: no key selected
        key, needs = entry
        if not self._open(needs):
            return sw(0x6982)
        data = self._lc_data(body)
        if not data:
            return sw(0x6700)
        for prefix, algorithm in _DIGEST_INFOS.items():
            if data.startswith(prefix) and len(data) == len(prefix) + algorithm.digest_size:
                signature = key.sign(data[len(prefix):], padding.PKCS1v15(), utils.Prehashed(algorithm))
                return signature + SW_OK
        return sw(0x6A80)
