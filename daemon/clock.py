"""The reader's notion of time: events carry an aware UTC instant; certificate rules count calendar days in Japan."""
from __future__ import annotations

import datetime as dt

JST = dt.timezone(dt.timedelta(hours=9), "JST")


def now() -> dt.datetime:
    """The instant an event happened, as the flow receives it (the flow itself never reads the clock)."""
    return dt.datetime.now(dt.timezone.utc)


def today_jst(at: dt.datetime | None = None) -> dt.date:
    return (at or now()).astimezone(JST).date()
