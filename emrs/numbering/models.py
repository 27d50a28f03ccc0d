"""Per-year counters for collision-free generated numbers (CR, PSY, ...)."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin
from ..serialize import column_dict

# `from .models import *` (emrs/models.py) exports only the models.
__all__ = ["NumberSequence"]


class NumberSequence(TimestampMixin, db.Model):
    """Last value handed out for (name, year), e.g. ('CR', 2025) -> 123 gives CR2025000123."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                            server_default="0")

    def to_dict(self) -> dict:
        return column_dict(self)
