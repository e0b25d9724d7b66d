"""The My Number Card's applets, files and APDUs, as pure data and functions (no I/O).

Only the applets and files the reader needs are named here. The 券面事項入力補助AP and the 共通AP hold the
individual number (個人番号); they have no entry in :class:`Applet`, and :func:`check_privacy` refuses any APDU
that would select them or a file inside them, whoever builds it.
"""
from __future__ import annotations

import enum

from .errors import (MalformedResponse, NotFound, PinBlocked, PrivacyViolation, SecurityNotSatisfied,
                     UnexpectedStatus, WrongPin)


class Applet(bytes, enum.Enum):
    JPKI = bytes.fromhex("D392F000260100000001")      # 公的個人認証AP: certificates, keys, PINs
    KENMEN = bytes.fromhex("D3921000310001010402")    # 券面事項確認AP: card face and photo


# AIDs the reader must never select: they hold the individual number.
FORBIDDEN_AIDS = {
    bytes.fromhex("D3921000310001010408"): "券面事項入力補助AP",
    bytes.fromhex("D3921000310001010100"): "共通AP",
}


class JpkiFile(int, enum.Enum):
    SIGN_CERT = 0x0001          # needs the signature password; never read by the reader
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    AUTH_CERT = 0x000A
    AUTH_CA_CERT = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_PIN = 0x001B


class KenmenFile(int, enum.Enum):
    CARD_FACE = 0x0002
    CHECK_CODE_B = 0x0012       # 照合番号B key reference (a PIN-like EF)


SHA256_DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420")
READ_CHUNK = 256

# -- builders ---------------------------------------------------------------------------------------


def select_applet(applet: Applet) -> bytes:
    aid = Applet(applet).value
    return bytes([0x00, 0xA4, 0x04, 0x0C, len(aid)]) + aid


def select_ef(fid: JpkiFile | KenmenFile) -> bytes:
    return bytes([0x00, 0xA4, 0x02, 0x0C, 0x02, (int(fid) >> 8) & 0xFF, int(fid) & 0xFF])


def read_binary(offset: int, length: int) -> bytes:
    """READ BINARY at ``offset``; ``length`` 1..256 (256 is sent as Le=00)."""
    if not (0 <= offset <= 0x7FFF) or not (1 <= length <= 256):
        raise ValueError("offset 0..32767 and length 1..256")
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, length & 0xFF])


def verify_query() -> bytes:
    """VERIFY with no data: the card answers 63Cx with the tries left and consumes none."""
    return bytes([0x00, 0x20, 0x00, 0x80])


def verify(secret: bytes) -> bytes:
    if not 1 <= len(secret) <= 16:
        raise ValueError("secret length")
    return bytes([0x00, 0x20, 0x00, 0x80, len(secret)]) + secret


def compute_signature(digest_info: bytes) -> bytes:
    return bytes([0x80, 0x2A, 0x00, 0x80, len(digest_info)]) + digest_info + b"\x00"


def sha256_digest_info(digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGEST_INFO + digest


def get_response(le: int) -> bytes:
    """GET RESPONSE for the ``le`` bytes a ``61xx`` announced (00 = 256)."""
    return bytes([0x00, 0xC0, 0x00, 0x00, le & 0xFF])


def with_le(command: bytes, le: int) -> bytes:
    """A command without data sent again with the Le a ``6Cxx`` asked for."""
    if len(command) > 5:
        raise ValueError("only a command without data is resent with a new Le")
    return bytes(command[:4]) + bytes([le & 0xFF])


def is_verify(apdu: bytes) -> bool:
    return len(apdu) >= 4 and apdu[1] == 0x20


def redact(apdu: bytes) -> str:
    """Hex of an APDU for logs, with any VERIFY data replaced."""
    if is_verify(apdu) and len(apdu) > 5:
        return apdu[:5].hex(" ").upper() + " <redacted>"
    return apdu.hex(" ").upper()

# -- privacy guard -----------------------------------------------------------------------------------


class PrivacyGuard:
    """Tracks the selected applet from the APDUs themselves and refuses any that could reach 個人番号.

    Every transport passes outgoing APDUs through one of these, so no command path (ours, a bench script's, a
    future one's) can select the forbidden applets or read their EF 0001, even by SFI.
    """

    def __init__(self) -> None:
        self.applet: bytes | None = None

    def check(self, apdu: bytes) -> None:
        if len(apdu) < 4:
            return
        cla, ins, p1, p2 = apdu[:4]
        if ins == 0xA4 and p1 == 0x04:  # SELECT by DF name
            aid = bytes(apdu[5:5 + apdu[4]]) if len(apdu) > 5 else b""
            for forbidden, name in FORBIDDEN_AIDS.items():
                if aid and forbidden.startswith(aid):
                    raise PrivacyViolation(f"refused to select {name}: it holds the individual number")
            self.applet = aid
            return
        if self.applet == Applet.JPKI.value:
            return  # JPKI's EF 0001 is the signature certificate, not the individual number
        if ins == 0xA4 and p1 in (0x00, 0x02) and len(apdu) >= 7 and apdu[5:7] == b"\x00\x01":
            raise PrivacyViolation("refused to select EF 0001 outside the JPKI applet")
        if ins in (0xB0, 0xB1) and p1 & 0x80 and (p1 & 0x1F) == 0x01:
            raise PrivacyViolation("refused to read EF 0001 by short file identifier")

# -- status words ------------------------------------------------------------------------------------


def split_response(resp: bytes) -> tuple[bytes, int]:
    if len(resp) < 2:
        raise MalformedResponse(f"response of {len(resp)} bytes has no status word")
    return bytes(resp[:-2]), (resp[-2] << 8) | resp[-1]


def check(resp: bytes, *, pin: bool = False) -> bytes:
    """Return the data of a successful response or raise the typed error for its status word.

    With ``pin=True`` (a VERIFY), ``63Cx`` is :class:`WrongPin` and ``6984``/``6983`` are :class:`PinBlocked`.
    ``61xx`` never reaches here from a transport (it chains the answer, :func:`..transport.chained`); if it does,
    the answer is incomplete and is refused as :class:`UnexpectedStatus`.
    """
    data, sw = split_response(resp)
    if sw == 0x9000:
        return data
    if sw == 0x6A82 or sw == 0x6A88:
        raise NotFound(sw)
    if sw == 0x6982:
        raise SecurityNotSatisfied(sw)
    if pin and sw in (0x6983, 0x6984):
        raise PinBlocked(sw)
    if pin and (sw & 0xFFF0) == 0x63C0:
        raise WrongPin(sw, sw & 0x0F)
    raise UnexpectedStatus(sw)


def tries_from_query(resp: bytes, max_tries: int) -> int:
    """Interpret the answer to :func:`verify_query`: the number of tries left (0 = blocked).

    ``9000`` means the PIN is already verified in this card session, so the counter is full.
    """
    data, sw = split_response(resp)
    if (sw & 0xFFF0) == 0x63C0:
        return sw & 0x0F
    if sw in (0x6983, 0x6984):
        return 0
    if sw == 0x9000:
        return max_tries
    if sw == 0x6A82:
        raise NotFound(sw)
    raise UnexpectedStatus(sw)
