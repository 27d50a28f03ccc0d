"""Turn a model row into the JSON shape of the API (keys = column names, snake_case)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import inspect


def json_value(value: Any) -> Any:
    """One column value as JSON: dates 'YYYY-MM-DD', timestamps ISO-8601 (UTC), Decimal -> float."""
    if isinstance(value, dt.datetime):  # before dt.date: datetime is a date subclass
        if value.tzinfo is None:
            # SQLite hands back naive datetimes even for DateTime(timezone=True);
            # everything is stored in UTC, so say so.
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def column_dict(obj: Any, exclude: Iterable[str] = ()) -> dict:
    """Every mapped column of ``obj`` as ``{column name: JSON value}``, in table order.

    The key is the database column name (which may differ from the Python attribute,
    e.g. ``Prescription.lines`` is the column ``prescriptions``); ``exclude`` takes
    column names too.
    """
    skip = set(exclude)
    mapper = inspect(obj).mapper
    out: dict = {}
    for column in mapper.local_table.columns:
        if column.name in skip:
            continue
        prop = mapper.get_property_by_column(column)
        out[column.name] = json_value(getattr(obj, prop.key))
    return out
