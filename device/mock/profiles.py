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


PROFILES = {p.name: p for p in [
    Profile("fresh", "a valid card, all counters full", 3 * 365 + 40),
    Profile("last-try", "a valid card with 1 PIN try left", 3 * 365 + 40, pin_tries=1),
    Profile("blocked", "a valid card whose PIN is blocked", 3 * 365 + 40, pin_tries=0),
    Profile("renewal", "certificate expires in about 6 weeks (renewal due)", 45),
    Profile("grace", "certificate expired about 3 weeks ago (grace: qualification only)", -20),
    Profile("expired", "certificate expired about 2 years ago", -2 * 365),
    Profile("juki", "an old 住基カード (JPKIAPICCTOKEN), no card-face applet", 300, token=TOKEN_JUKI,
            has_kenmen=False, atr=ATR_CONTACT),
    Profile("android", "a smartphone JPKI token (Android)", 3 * 365 + 40, token=TOKEN_ANDROID, has_kenmen=False),
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
