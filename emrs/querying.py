"""Query-string filters shared by the domain lists (patients, proformas, intake records): parsed
here, applied to a list's query with within_dates()."""
from __future__ import annotations

import datetime as dt

from .errors import field_error


def within_dates(q, column, filters: dict):
    """``q`` limited to rows whose ``column`` lies within the filters' date_from and date_to
    (both inclusive; either may be missing)."""
    if "date_from" in filters:
        q = q.where(column >= filters["date_from"])
    if "date_to" in filters:
        q = q.where(column <= filters["date_to"])
    return q


def date_filters(args, out: dict, errors: list, keys=("date_from", "date_to")) -> None:
    """Put the ISO dates of ``keys`` into ``out``; a bad one becomes a query error."""
    for key in keys:
        raw = (args.get(key) or "").strip()
        if not raw:
            continue
        try:
            out[key] = dt.date.fromisoformat(raw[:10])
        except ValueError:
            errors.append(field_error(key, f"{key} must be a date (YYYY-MM-DD)", raw[:20], "query"))
