"""Growth measurements of a child (migration 0024). The CAP work-up itself is an
``adl_files`` row with ``form = 'cap'`` (emrs/intake/models.py)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import utcnow
from ..serialize import column_dict

__all__ = ["GrowthMeasurement"]

GROWTH_SOURCES = ("cap_workup", "manual")


class GrowthMeasurement(db.Model):
    """Height (or length), weight and head circumference measured on one day."""

    __tablename__ = "growth_measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    measured_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    height_cm: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    head_circumference_cm: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20), nullable=False, default="cap_workup",
                                        server_default="cap_workup")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow,
                                                    server_default=sa.func.now())

    __table_args__ = (
        db.CheckConstraint("source IN ('cap_workup', 'manual')", name="growth_source_allowed"),
        db.UniqueConstraint("patient_id", "measured_on", "source", name="uq_growth_patient_day_source"),
        Index("ix_growth_measurements_patient_id_measured_on", "patient_id", "measured_on"),
    )

    def to_dict(self) -> dict:
        return column_dict(self)
