"""Turn a model row into the JSON shape of the API (keys = column names, snake_case)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Table, inspect


def json_value(value: Any) -> Any:
    """One column value as JSON: dates 'YYYY-MM-DD', timestamps ISO-8601 (UTC), Decimal -> float."""
    if isinstance(value, dt.datetime):  # before dt.date: datetime is a date subclass
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        # SQLite hands back naive datetimes even for DateTime(timezone=True);
        # everything is stored in UTC, so say so.
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.isoformat()


def _date(value: Any) -> Any:
    return _timestamp(value) if isinstance(value, dt.datetime) else value.isoformat()


def _converter(column) -> Callable[[Any], Any] | None:
    """What json_value() would do to this column's values, decided once from its type;
    None when its values are JSON already (text, numbers, booleans, arrays, JSON)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return json_value
    if issubclass(kind, dt.datetime):
        return _timestamp
    if issubclass(kind, dt.date):
        return _date
    if issubclass(kind, Decimal):
        return json_value  # a Numeric may also hand back float or int
    if kind in (str, int, bool, float, list, dict):
        return None
    return json_value


class RowShape:
    """The columns of a table as JSON, worked out once per table (the mapping does not change
    while the process runs): `names` in table order and the few columns whose values need
    converting (dates, timestamps, Decimal)."""

    def __init__(self, table: Table):
        # Plain strings: a quoted column name ("date") is a str subclass, which orjson refuses as a key.
        self.names = tuple(str(c.name) for c in table.columns)
        self.convert = tuple((i, str(c.name), f) for i, c in enumerate(table.columns) if (f := _converter(c)))

    def dict(self, values: Sequence) -> dict:
        """``{column name: JSON value}`` from values in table order (a Core row)."""
        out = dict(zip(self.names, values))
        for i, name, f in self.convert:
            if values[i] is not None:
                out[name] = f(values[i])
        return out


_SHAPES: dict[Table, RowShape] = {}


def row_shape(table: Table) -> RowShape:
    shape = _SHAPES.get(table)
    if shape is None:
        shape = _SHAPES[table] = RowShape(table)
    return shape


_PLANS: dict[type, tuple[tuple[str, ...], RowShape]] = {}


def column_dict(obj: Any, exclude: Iterable[str] = ()) -> dict:
    """Every mapped column of ``obj`` as ``{column name: JSON value}``, in table order.

    The key is the database column name (which may differ from the Python attribute,
    e.g. ``Prescription.lines`` is the column ``prescriptions``); ``exclude`` takes
    column names too.
    """
    cls = type(obj)
    plan = _PLANS.get(cls)
    if plan is None:
        mapper = inspect(cls)
        plan = _PLANS[cls] = (tuple(mapper.get_property_by_column(c).key for c in mapper.local_table.columns),
                              row_shape(mapper.local_table))
    keys, shape = plan
    loaded = obj.__dict__  # loaded attributes; anything else (expired, deferred) through getattr
    if not exclude:
        return shape.dict([loaded[k] if k in loaded else getattr(obj, k) for k in keys])
    skip = set(exclude)
    out = shape.dict([None if name in skip else loaded[k] if k in loaded else getattr(obj, k)
                      for name, k in zip(shape.names, keys)])
    for name in skip:
        del out[name]
    return out
