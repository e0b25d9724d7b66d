"""The My Number Card application on top of any transport: the reads and checks the reader makes.

It keeps track of the selected applet and EF so no APDU is sent twice, sizes every file from its header
(certificates ``30 82 LL LL``, the card face ``FF 20 82 LL LL``) and reads in 256-byte chunks.
Nothing here can reach the individual number: see :class:`~.apdu.PrivacyGuard`.
"""
from __future__ import annotations

import dataclasses
import hashlib

from . import apdu, tlv
from .apdu import Applet, JpkiFile, KenmenFile
from .cardface import CardFace, parse_card_face
from .certificate import CertificateInfo, parse_certificate
from .errors import CardStatusError, MalformedResponse, NotFound, SecurityNotSatisfied
from .pin import Pin
from .tokens import CARD_PIN_TRIES, NO_PIN_ANSWERS, TOKENS, TokenKind, Unlock, classify_token
from .transport import Transport

MAX_FILE = 0x7FFF  # offsets are 15 bits; a larger size in a header is a lie


PIN_MAX_TRIES = CARD_PIN_TRIES
KENMEN_B_MAX_TRIES = 10


class MyNumberCard:
    def __init__(self, transport: Transport):
        self.t = transport
        self._applet: Applet | None = None
        self._ef: int | None = None
        self._certs: dict[JpkiFile, CertificateInfo] = {}  # read once per card connection
        self.kind = TokenKind.UNKNOWN                         # what EF 0006 said on this connection

    def connect(self) -> bytes:
        self._applet = self._ef = None
        self.kind = TokenKind.UNKNOWN
        self._certs.clear()
        return self.t.connect()

    def disconnect(self) -> None:
        self._applet = self._ef = None
        self._certs.clear()
        self.t.disconnect()

    def _send(self, command: bytes, *, pin: bool = False) -> bytes:
        try:
            return apdu.check(self.t.transmit(command), pin=pin)
        except Exception:
            self._applet = self._ef = None  # after any failure we no longer know what is selected
            raise

    def _select(self, applet: Applet, fid: JpkiFile | KenmenFile | None = None) -> None:
        if self._applet != applet:
            self._send(apdu.select_applet(applet))
            self._applet, self._ef = applet, None
        if fid is not None and self._ef != int(fid):
            self._send(apdu.select_ef(fid))
            self._ef = int(fid)

    def _read_sized(self, applet: Applet, fid, size_of) -> bytes:
        """Read a whole EF whose size the first chunk's header tells; one READ BINARY per 256 bytes."""
        self._select(applet, fid)
        data = self._send(apdu.read_binary(0, apdu.READ_CHUNK))
        total = size_of(data)
        if not 0 < total <= MAX_FILE:
            raise MalformedResponse(f"EF {int(fid):04X} claims {total} bytes")
        while len(data) < total:
            chunk = self._send(apdu.read_binary(len(data), min(apdu.READ_CHUNK, total - len(data))))
            if not chunk:
                raise MalformedResponse(f"EF {int(fid):04X} ended at {len(data)} of {total} bytes")
            data += chunk
        return data[:total]

    # -- JPKI ------------------------------------------------------------------------------------
    def token(self) -> TokenKind:
        try:
            self._select(Applet.JPKI, JpkiFile.TOKEN_INFO)
        except NotFound:
            self.kind = TokenKind.UNKNOWN
            return self.kind
        self.kind = classify_token(self._send(apdu.read_binary(0, 32)))
        return self.kind

    def _certificate(self, fid: JpkiFile) -> CertificateInfo:
        if fid not in self._certs:
            self._certs[fid] = parse_certificate(self._read_sized(Applet.JPKI, fid, tlv.der_total_length))
        return self._certs[fid]

    def auth_certificate(self) -> CertificateInfo:
        return self._certificate(JpkiFile.AUTH_CERT)

    def auth_ca_certificate(self) -> CertificateInfo:
        return self._certificate(JpkiFile.AUTH_CA_CERT)

    def pin_tries(self) -> int:
        """Tries left on the user-authentication PIN; consumes none (VERIFY with no data). A ``9000`` (verified
        in this session) means the full count: a card's 3; a phone, whose limit is unknown, is not guessed."""
        full = TOKENS[self.kind].pin_max if self.kind is not TokenKind.UNKNOWN else PIN_MAX_TRIES
        self._select(Applet.JPKI, JpkiFile.AUTH_PIN)
        resp = self.t.transmit(apdu.verify_query())
        if full is None and resp[-2:] == b"\x90\x00":
            raise MalformedResponse("the phone says its PIN is verified already; hold it to the reader again")
        return apdu.tries_from_query(resp, full or 0)

    def verify_pin(self, pin: Pin) -> None:
        """One VERIFY of the user-authentication PIN. Raises WrongPin(tries_left) or PinBlocked.

        Callers query :meth:`pin_tries` first and decide (policy lives in the daemon); this sends exactly once.
        """
        self._select(Applet.JPKI, JpkiFile.AUTH_PIN)
        self._send(apdu.verify(pin.bytes_for_apdu()), pin=True)

    def sign_digest(self, digest: bytes) -> bytes:
        """PKCS#1 v1.5 signature of a SHA-256 digest with the user-auth key (needs a verified PIN)."""
        self._select(Applet.JPKI, JpkiFile.AUTH_KEY)
        return self._send(apdu.compute_signature(apdu.sha256_digest_info(digest)))

    def sign(self, message: bytes) -> bytes:
        return self.sign_digest(hashlib.sha256(message).digest())

    # -- 券面事項確認AP ----------------------------------------------------------------------------
    def code_b_tries(self) -> int:
        """Tries left on 照合番号B; consumes none."""
        self._select(Applet.KENMEN, KenmenFile.CHECK_CODE_B)
        return apdu.tries_from_query(self.t.transmit(apdu.verify_query()), KENMEN_B_MAX_TRIES)

    def verify_code_b(self, code: Pin) -> None:
        """One VERIFY of 照合番号B (14 digits). Raises WrongPin(tries_left) or PinBlocked."""
        self._select(Applet.KENMEN, KenmenFile.CHECK_CODE_B)
        self._send(apdu.verify(code.bytes_for_apdu()), pin=True)

    def read_card_face(self) -> CardFace:
        """Birth date, expiry and the face photo (needs 照合番号B verified)."""
        raw = self._read_sized(Applet.KENMEN, KenmenFile.CARD_FACE, _tlv_total_length)
        return parse_card_face(raw)


def _tlv_total_length(head: bytes) -> int:
    _tag, length, start = tlv.parse_header(head)
    return start + length


# -- the recipes: one per token kind ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CardInfo:
    """What the reader needs from a token before anything is verified: the service's first read and
    ``mynareader card info`` both come from :func:`read_card_info`."""

    token: TokenKind
    certificate: CertificateInfo | None     # user-authentication certificate; None: an unknown token, an Android
                                            # phone before its PIN, an iPhone still locked
    pin_tries: int | None                   # None: the token has no PIN at the reader (iPhone, PIN-less card)
    code_b_tries: int | None                # None: no usable 券面事項確認AP (住基カード, a smartphone)
    locked: bool = False                    # the phone refused the certificate: the holder must unlock it


def read_card_info(card: MyNumberCard) -> CardInfo:
    """The first read of a token, by the recipe its kind needs (tokens.TOKENS). Consumes no try, ever.

    - a card: certificate, PIN tries (an answer in NO_PIN_ANSWERS: the PIN-less card), 照合番号B tries;
    - Android: PIN tries only: the certificate is refused until VERIFY (read later, :func:`read_certificate`);
    - iPhone: the certificate, no PIN query; a refusal means the phone is locked (``locked``);
    - an unknown token: nothing more is asked of it.
    A card that answers the 照合番号B query with any status error has no usable card-face applet (None). Device
    faults and every other status error propagate: a clear fault for the session, never a guess.
    """
    kind = card.token()
    token = TOKENS[kind]
    if kind is TokenKind.UNKNOWN:
        return CardInfo(kind, None, None, None)
    if token.phone:
        return _read_phone(card, kind)
    cert = card.auth_certificate()
    pin: int | None
    try:
        pin = card.pin_tries()
    except CardStatusError as exc:
        if exc.sw not in NO_PIN_ANSWERS or kind is not TokenKind.MYNUMBER:
            raise
        kind, pin = TokenKind.PINLESS, None
    try:
        code_b: int | None = card.code_b_tries()
    except CardStatusError:
        code_b = None
    return CardInfo(kind, cert, pin, code_b)


def _read_phone(card: MyNumberCard, kind: TokenKind) -> CardInfo:
    token = TOKENS[kind]
    if token.unlock is Unlock.PIN:                      # Android: tries first; the certificate after VERIFY
        return CardInfo(kind, None, card.pin_tries(), None)
    try:                                                # iPhone: no PIN; the certificate once the phone is unlocked
        return CardInfo(kind, card.auth_certificate(), None, None)
    except CardStatusError:
        return CardInfo(kind, None, None, None, locked=True)


def read_certificate(card: MyNumberCard) -> CertificateInfo:
    """The user-authentication certificate of a token that gates it (Android after VERIFY, iPhone once
    unlocked). A refusal is :class:`SecurityNotSatisfied` whatever status the token gave: no try is at stake."""
    try:
        return card.auth_certificate()
    except CardStatusError as exc:
        raise SecurityNotSatisfied(exc.sw) from None
