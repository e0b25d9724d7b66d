"""Profiles of the virtual My Number Card: who holds it and in what state it is. Data, plus date arithmetic.

Dates are computed from the day the card is made, so a ``grace`` card stays in grace whenever the tests run.
The user-authentication certificate expires on the holder's 5th birthday after issue (reference/card.md).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

TOKEN_MYNUMBER = "JPKIAPICCTOKEN2"
TOKEN_JUKI = "JPKIAPICCTOKEN"
TOKEN_ANDROID = "JPKIAPGPSETOKEN"
TOKEN_IPHONE = "JPKIAPIOSTOKEN"

ATR_CONTACTLESS = bytes.fromhex("3B888001000005E0B381A1007F")  # PC/SC-synthesised from ATQB; OpenSC probes it
ATR_CONTACT = bytes.fromhex("3BE000FF8131FE4514")
ATR_TYPE_A = bytes.fromhex("3B80800101")  # PC/SC's ATR for an ISO 14443-4 Type A target without historical bytes

# how the token gates its user-authentication certificate and key (device/tokens.py says what is known)
GATE_NONE, GATE_PIN, GATE_UNLOCK = "none", "pin", "unlock"
UNLOCK_SECONDS = 30     # [assumed] how long an iPhone stays unlocked after Face ID: not public


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    description: str
    cert_expiry_offset_days: int        # user-auth certificate notAfter relative to today
    pin_tries: int = 3                  # initial counters (a fresh state file starts from these)
    sign_tries: int = 5
    code_b_tries: int = 10
    token: str = TOKEN_MYNUMBER
    has_kenmen: bool = True             # the old 住基カード has no card-face applet
    atr: bytes = ATR_CONTACTLESS
    birth_year: int = 1980
    security_code: str = "2285"
    pin: str = "1234"                   # test secrets of a virtual card, printed in the bench docs
    sign_password: str = "ABC123"
    pin_max: int = 3                    # the PIN counter's full value
    has_pin: bool = True                # the PIN-less card and the iPhone have no PIN EF (0018 answers 6A82)
    has_signature: bool = True          # the signature certificate, key and password (0001, 001A, 001B)
    gate: str = GATE_NONE               # what EF 000A needs: nothing (a card), the PIN (Android), an unlock (iPhone)
    rf_type: str = "B"                  # ISO 14443 type the PN532 emulator answers on (the card is B)


PROFILES = {p.name: p for p in [
    Profile("fresh", "a valid card, all counters full", 3 * 365 + 40),
    Profile("last-try", "a valid card with 1 PIN try left", 3 * 365 + 40, pin_tries=1),
    Profile("blocked", "a valid card whose PIN is blocked", 3 * 365 + 40, pin_tries=0),
    Profile("renewal", "certificate expires in about 6 weeks (renewal due)", 45),
    Profile("grace", "certificate expired about 3 weeks ago (grace: qualification only)", -20),
    Profile("expired", "certificate expired about 2 years ago", -2 * 365),
    Profile("juki", "an old 住基カード (JPKIAPICCTOKEN), no card-face applet", 300, token=TOKEN_JUKI,
            has_kenmen=False, atr=ATR_CONTACT),
    # the phones: [assumed] Type A and 5 PIN tries (both unknown: a reader that takes 3 for granted fails here)
    Profile("android", "an Android phone (JPKIAPGPSETOKEN): PIN tries, then VERIFY, then the certificate",
            3 * 365 + 40, pin_tries=5, pin_max=5, token=TOKEN_ANDROID, has_kenmen=False, has_signature=False,
            gate=GATE_PIN, atr=ATR_TYPE_A, rf_type="A"),
    Profile("iphone", "an iPhone (JPKIAPIOSTOKEN): no PIN; certificate and signature only while unlocked "
            "(bench: unlock [SECONDS], lock)", 3 * 365 + 40, token=TOKEN_IPHONE, has_kenmen=False,
            has_pin=False, has_signature=False, gate=GATE_UNLOCK, atr=ATR_TYPE_A, rf_type="A"),
    Profile("pinless", "a 顔認証マイナンバーカード: no PINs, no signature certificate; face or 目視 only",
            3 * 365 + 40, pin_tries=0, sign_tries=0, has_pin=False, has_signature=False),
]}


@dataclasses.dataclass(frozen=True)
class CardDates:
    birth: dt.date
    issued: dt.date
    cert_not_after: dt.date
    card_expiry: dt.date


def _birthday(year: int, birth: dt.date) -> dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 Feb in a common year
        return dt.date(year, 3, 1)


def card_dates(profile: Profile, today: dt.date) -> CardDates:
    """Birth date, issue date and expiries consistent with the JPKI rules and the profile's expiry offset."""
    not_after = today + dt.timedelta(days=profile.cert_expiry_offset_days)
    birth = _birthday(profile.birth_year, not_after)
    # issued a month after the birthday five years before expiry, so notAfter is the 5th birthday after issue
    issued = _birthday(not_after.year - 5, birth) + dt.timedelta(days=30)
    card_expiry = _birthday(issued.year + 10, birth)  # the card itself: 10th birthday after issue
    return CardDates(birth, issued, not_after, card_expiry)
