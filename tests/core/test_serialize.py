"""emrs/serialize.py: the JSON shape of a row, including the fallback for a column type
that cannot name its Python type (SQLAlchemy raises NotImplementedError for those)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Numeric, String, Table
from sqlalchemy.types import NullType

from emrs.serialize import RowShape


def test_a_column_without_a_python_type_is_converted_value_by_value():
    table = Table("shape_probe", MetaData(),
                  Column("id", Integer), Column("name", String), Column("born", Date),
                  Column("seen_at", DateTime(timezone=True)), Column("dose", Numeric),
                  Column("anything", NullType()))
    shape = RowShape(table)
    # Text and integers pass through untouched; the others are converted.
    assert [name for _, name, _ in shape.convert] == ["born", "seen_at", "dose", "anything"]
    naive = dt.datetime(2026, 11, 27, 9, 30)
    row = shape.dict([7, "Harpreet", dt.date(1990, 5, 1), naive, Decimal("2.5"), naive])
    assert row == {"id": 7, "name": "Harpreet", "born": "1990-05-01",
                   "seen_at": "2026-11-27T09:30:00+00:00", "dose": 2.5,
                   "anything": "2026-11-27T09:30:00+00:00"}  # the untyped column: json_value per value
    assert shape.dict([7, "x", None, None, None, "plain text"])["anything"] == "plain text"
    assert shape.dict([7, "x", None, None, None, None])["born"] is None
