"""Adult follow-up visits (later-features.md §2): a lightweight consultation note for a
returning patient — one free-text clinical assessment, optional attachments, no structured
fields, no diagnosis — stored apart from the walk-in proforma and counted as the patient's
visits.

A child is a patient (``registered_patient`` with ``clinic='child'``, docs/children.md), so a
child's follow-up note is a row like any other, keyed by ``patient_id``; the API's
``child_patient_id`` is only an alias of it (emrs/api/followups.py).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin
from ..serialize import column_dict
from ..timeutil import today_ist

__all__ = ["FollowUp"]

MAX_ASSESSMENT = 10_000  # characters of the clinical assessment (as the proforma's free text)
MAX_ROOM = 20            # rooms.room_number


class FollowUp(TimestampMixin, db.Model):
    __tablename__ = "followup_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    # The day's OPD visit the follow-up belongs to (written with the follow-up when missing).
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("patient_visits.id", ondelete="SET NULL"), index=True)
    # The IST day of the consultation, decided on the server; never after today.
    visit_date: Mapped[dt.date] = mapped_column(Date, nullable=False, default=today_ist)
    clinical_assessment: Mapped[str] = mapped_column(Text, nullable=False)
    filled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    assigned_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"))
    room_no: Mapped[str | None] = mapped_column(String(MAX_ROOM))  # the room's number as it was that day
    # Amended, not overwritten (earlier versions in clinical_versions, record_type 'followup');
    # withdrawn, never deleted.
    amended_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    amended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    change_reason: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=db.true())
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __table_args__ = (
        db.CheckConstraint(f"length(clinical_assessment) BETWEEN 1 AND {MAX_ASSESSMENT}",
                           name="clinical_assessment_length"),
        Index("ix_followup_visits_patient_id_visit_date", "patient_id", "visit_date", "id"),
    )

    @property
    def author_id(self) -> int | None:
        """Who wrote the current version: the last amender, else who wrote the note."""
        return self.amended_by or self.filled_by

    def to_dict(self) -> dict:
        return column_dict(self)
