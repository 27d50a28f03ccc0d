"""Time rules: store UTC, show and compute "today" in Asia/Kolkata."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


def today_ist() -> dt.date:
    return dt.datetime.now(IST).date()


def ist_day_bounds_utc(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of an IST calendar day, in UTC."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=IST)
    return start.astimezone(dt.timezone.utc), (start + dt.timedelta(days=1)).astimezone(dt.timezone.utc)


def as_utc(ts: dt.datetime) -> dt.datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive UTC values)."""
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


def ist_text(ts: dt.datetime, fmt: str = "%d %b %Y, %H:%M:%S") -> str:
    """A stored timestamp as IST text for pages."""
    return as_utc(ts).astimezone(IST).strftime(fmt)
