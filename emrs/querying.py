"""Query-string filters shared by the domain lists (patients, proformas, intake records)."""
from __future__ import annotations

import datetime as dt

from .errors import field_error


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
