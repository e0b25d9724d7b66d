"""The JPKI token kinds a patient may present, and what each one is known to do: the one table that decides.

A My Number Card, the PIN-less 顔認証マイナンバーカード, an Android phone and an iPhone all answer SELECT of the
JPKI-AP; EF 0006 names the token (``classify_token``). What differs is how the holder unlocks the key, whether
the user-authentication certificate can be read before that, and what else the token offers (a card face to
match, a photo staff can compare, a grace period after expiry). Those facts are :data:`TOKENS`, one row per
kind; ``read_card_info`` (card.py) follows the row's recipe and the reception flow reads the same row, so a
real device that behaves otherwise changes one row here (and :data:`NO_PIN_ANSWERS`), nowhere else.

Each fact carries its evidence: ``confirmed`` (code that has read real devices, or an official page) or
``assumed`` (the safe guess until a ``spy+pcsc://`` log settles it; docs/card.md lists the logs to take).
Pure data: no I/O.
"""
from __future__ import annotations

import dataclasses
import enum


class TokenKind(str, enum.Enum):
    MYNUMBER = "mynumber"
    PINLESS = "pinless"    # 顔認証マイナンバーカード: no PINs; face or 目視 only
    JUKI = "juki"          # the old 住基カード
    ANDROID = "android"
    IPHONE = "iphone"
    UNKNOWN = "unknown"


_TOKEN_LABELS = {"JPKIAPICCTOKEN2": TokenKind.MYNUMBER, "JPKIAPICCTOKEN": TokenKind.JUKI,
                 "JPKIAPGPSETOKEN": TokenKind.ANDROID, "JPKIAPIOSTOKEN": TokenKind.IPHONE}


def classify_token(info: bytes) -> TokenKind:
    """The kind EF 0006's label names. A PIN-less card carries the card's label: its PIN answer tells it apart."""
    label = info[:32].split(b"\x00", 1)[0].decode("ascii", "replace").strip()
    return _TOKEN_LABELS.get(label, TokenKind.UNKNOWN)


# The answers to SELECT EF 0018 / VERIFY-without-data that mean "this card has no PIN" (a PIN-less card).
# [assumed] How its chip shows "no PIN" is not public; 6A82 (no such EF) is the answer a card without the PIN file
# gives. Any other unexpected answer ends the read as a card fault (no try is spent either way), and a card that
# answers 63C0 is taken for a blocked PIN: face and 目視 stay open, registration does not. THE spot to change
# once a spy+pcsc:// log of a real PIN-less card is in.
NO_PIN_ANSWERS = frozenset({0x6A82, 0x6A88})


CARD_PIN_TRIES = 3          # a card's user-authentication PIN [confirmed: OpenSC, jpki/myna]


class Unlock(str, enum.Enum):
    """How the holder opens the user-authentication key."""
    PIN = "pin"                        # a 4-digit PIN typed at the reader, VERIFY on EF 0018
    DEVICE = "device_unlock"           # Face ID / Touch ID on the phone; the reader never asks for a PIN
    NONE = "none"                      # no PIN at all: identity by face or 目視 only, no signature


@dataclasses.dataclass(frozen=True)
class Token:
    kind: TokenKind
    accepted: bool                     # a reception may go on with it
    phone: bool                        # a smartphone (スマホ用電子証明書)
    unlock: Unlock
    cert_after_unlock: bool            # EF 000A answers 6982 until the PIN is verified (or the phone unlocked)
    pin_max: int | None                # the PIN counter's full value; None: unknown, always read from the token
    card_face: bool                    # 券面事項確認AP: 照合番号B and the chip photo, so face matching
    visual: bool                       # staff can compare a printed photo with the patient (目視確認)
    grace: bool                        # the 3-month grace after the certificate expires applies
    registration: tuple[str, ...]      # methods that may confirm 保険証利用登録 at the reader
    evidence: tuple[tuple[str, str], ...] = ()    # (behaviour, "confirmed: source" | "assumed: why")

    @property
    def methods(self) -> tuple[str, ...]:
        """Identity methods this token allows at a reception (before policy and lockouts narrow them)."""
        out = []
        if self.card_face:
            out.append("face")
        if self.unlock is Unlock.PIN:
            out.append("pin")
        if self.visual:
            out.append("staff")
        return tuple(out)


TOKENS: dict[TokenKind, Token] = {t.kind: t for t in [
    Token(TokenKind.MYNUMBER, True, False, Unlock.PIN, False, CARD_PIN_TRIES, True, True, True, ("pin",), (
        ("token label JPKIAPICCTOKEN2", "confirmed: OpenSC jpki, jpki/myna"),
        ("certificate readable before the PIN", "confirmed: OpenSC pkcs15-jpki, a run against Debian's opensc"),
        ("PIN: 4 digits, 3 tries", "confirmed: OpenSC, jpki/myna"),
        ("registration by PIN only", "confirmed: MHLW leaflets (reference/reception.md)"))),
    Token(TokenKind.PINLESS, True, False, Unlock.NONE, False, None, True, True, True, ("face", "staff"), (
        ("no PINs, no signature certificate; identity by face or 目視", "confirmed: municipal pages"),
        ("registration by face or 目視 at the reader", "confirmed: municipal pages"),
        ("same token label as the card; EF 0018 answers 6A82", "assumed: the chip's answer is not public"))),
    Token(TokenKind.ANDROID, True, True, Unlock.PIN, True, None, False, False, False, (), (
        ("token label JPKIAPGPSETOKEN", "confirmed: jpki/myna reads real phones"),
        ("tries by VERIFY without data, then PIN, then certificate", "confirmed: jpki/myna GetPinStatus"),
        ("certificate refused (6982) before VERIFY", "confirmed: jpki/myna reads it only after VERIFY"),
        ("tries limit", "assumed: unknown; always read from the phone, never taken as 3"),
        ("no face photo, no 目視, no grace", "confirmed: jpki/myna, portal"),
        ("registration at the reader", "assumed: not offered (done in the phone's own app)"))),
    Token(TokenKind.IPHONE, True, True, Unlock.DEVICE, True, None, False, False, False, (), (
        ("token label JPKIAPIOSTOKEN", "assumed: named in soltia48/myna-card only"),
        ("Face ID / Touch ID replaces the PIN; the reader never asks", "confirmed: official and press"),
        ("certificate and signature without VERIFY once unlocked", "assumed: the APDU answers are not public"),
        ("a locked phone answers 6982 (or any status) to the certificate read",
         "assumed: any refusal is taken as 'unlock the phone'"),
        ("no face photo, no 目視, no grace", "confirmed: official (the photo is a separate ISO 18013-5 record)"),
        ("registration at the reader", "assumed: not offered (done in the phone's own app)"))),
    Token(TokenKind.JUKI, False, False, Unlock.PIN, False, CARD_PIN_TRIES, False, False, False, (), (
        ("token label JPKIAPICCTOKEN, not for insurance use", "confirmed: OpenSC jpki"),)),
    Token(TokenKind.UNKNOWN, False, False, Unlock.NONE, False, None, False, False, False, (), ()),
]}
