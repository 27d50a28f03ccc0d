"""Prescriptions (one row per proforma, JSON array of medication lines), the medicine
formulary and doctors' prescription templates (entities.md §8, §13)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin
from ..serialize import column_dict

# `from .models import *` (emrs/models.py) exports only the models.
__all__ = ["Prescription", "Medicine", "PrescriptionTemplate"]

JSON_TYPE = db.JSON().with_variant(JSONB(), "postgresql")

# Keys of one medication line (element of Prescription.lines / PrescriptionTemplate.lines).
# strength, form, duration_value and duration_unit since 0014 (older lines lack them).
LINE_KEYS = ("id", "medicine", "strength", "form", "dosage", "when_to_take", "frequency", "duration",
             "duration_value", "duration_unit", "quantity", "details", "notes")


def _json_array():
    return mapped_column(JSON_TYPE, nullable=False, default=list, server_default=sa.text("'[]'"))


class Prescription(TimestampMixin, db.Model):
    """The medication lines written on one proforma or one follow-up (at most one row per
    proforma or follow-up; exactly one of the two is set)."""

    __tablename__ = "prescriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False, index=True)
    clinical_proforma_id: Mapped[int | None] = mapped_column(
        ForeignKey("clinical_proforma.id", ondelete="CASCADE"), unique=True)
    # Written from a follow-up note (migration 0019) instead of a proforma.
    followup_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_visits.id", ondelete="CASCADE"), unique=True)
    # Column "prescriptions" as in the original; the JSON key is "prescription".
    lines: Mapped[list] = mapped_column("prescriptions", JSON_TYPE, nullable=False,
                                        default=list, server_default=sa.text("'[]'"))
    follow_up_date: Mapped[dt.date | None] = mapped_column(Date)
    advice: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Drug-safety warnings shown when it was saved, and the reason the doctor gave to go on.
    warnings: Mapped[list] = mapped_column(JSON_TYPE, nullable=False, default=list, server_default=sa.text("'[]'"))
    override_reason: Mapped[str | None] = mapped_column(Text)
    # Optimistic locking: the service checks and increments it. Also the version number:
    # earlier versions are kept in clinical_versions (a signed prescription is never edited in place).
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    # The signer of this version (printed on the PDF), when, and why this version was made.
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    signed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    change_reason: Mapped[str | None] = mapped_column(Text)
    # Withdrawn, never deleted: the row stays, marked; an Admin can restore it.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        db.CheckConstraint("(clinical_proforma_id IS NULL) <> (followup_id IS NULL)", name="one_source"),
    )

    @property
    def signer_id(self) -> int | None:
        return self.signed_by or self.created_by

    def to_dict(self) -> dict:
        """api-contract.md §8 shape: the lines under the key ``prescription``."""
        data = column_dict(self, exclude=("prescriptions",))
        data["prescription"] = list(self.lines or [])
        return data


class Medicine(TimestampMixin, db.Model):
    """Formulary entry (seeded from emrs/data/*.json)."""

    __tablename__ = "medicines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generic_name: Mapped[str] = mapped_column(String(200), nullable=False)
    drug_class: Mapped[str | None] = mapped_column(String(120), index=True)
    brand_names: Mapped[list] = _json_array()
    strengths: Mapped[list] = _json_array()
    # The forms it comes in (tablet, capsule, syrup, injection …), the usual one first.
    forms: Mapped[list] = _json_array()
    # Other generic names of the same medicine (merged duplicates: "Lithium" of "Lithium Carbonate").
    aliases: Mapped[list] = _json_array()
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=db.true())

    def to_dict(self) -> dict:
        return column_dict(self)


# One formulary entry per generic name, whatever its case.
Index("uq_medicines_generic_name_ci", func.lower(Medicine.generic_name), unique=True)


class PrescriptionTemplate(TimestampMixin, db.Model):
    """A doctor's named, reusable set of medication lines."""

    __tablename__ = "prescription_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                            nullable=False)
    lines: Mapped[list] = _json_array()
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                            server_default=db.true())

    __table_args__ = (db.UniqueConstraint("created_by", "name"),)

    def to_dict(self) -> dict:
        """Columns, with the lines under ``prescription`` as in the LATER API."""
        data = column_dict(self, exclude=("lines",))
        data["prescription"] = list(self.lines or [])
        return data
