"""Where a user-authentication certificate stands on a given day. Pure: the caller passes the clock.

- ``valid``: more than ``renewal_months`` before expiry.
- ``renewal_due``: from ``renewal_months`` before expiry until expiry: tell the patient to renew.
- ``grace``: expired, but less than ``grace_months`` ago: qualification only, no medical-information consent.
  Sources differ on whether the grace period runs from the expiry date or from the end of its month
  (reference/reception.md); the end of the month is the default.
- ``expired``: beyond grace.
"""
from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import enum


class CertificateState(str, enum.Enum):
    VALID = "valid"
    RENEWAL_DUE = "renewal_due"
    GRACE = "grace"
    EXPIRED = "expired"


@dataclasses.dataclass(frozen=True)
class CertificatePolicy:
    renewal_months: int = 3
    grace_months: int = 3
    grace_from_month_end: bool = True


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar month arithmetic, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def grace_end(not_after: dt.date, policy: CertificatePolicy) -> dt.date:
    """The last day the certificate is accepted in grace."""
    start = not_after
    if policy.grace_from_month_end:
        start = not_after.replace(day=calendar.monthrange(not_after.year, not_after.month)[1])
    return add_months(start, policy.grace_months)


def certificate_state(not_after: dt.datetime | dt.date, today: dt.date,
                      policy: CertificatePolicy = CertificatePolicy()) -> CertificateState:
    """Classify on the calendar day ``today`` (Japan time is the caller's business)."""
    expiry = not_after.date() if isinstance(not_after, dt.datetime) else not_after
    if today > expiry:
        return CertificateState.GRACE if today <= grace_end(expiry, policy) else CertificateState.EXPIRED
    if today >= add_months(expiry, -policy.renewal_months):
        return CertificateState.RENEWAL_DUE
    return CertificateState.VALID
