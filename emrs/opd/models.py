"""Rooms and where each doctor sits today.

A room is a real row: visits, patients and doctors point to it by id, so renaming a room
orphans nothing, and a room with history is deactivated, never deleted. Each visit also keeps
``room_no``, the room's number as it was printed on that day's slip.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin, utcnow
from ..serialize import column_dict

MIN_CAPACITY, MAX_CAPACITY = 1, 5


class Room(TimestampMixin, db.Model):
    """An OPD consultation room; ``doctor_capacity`` doctors may sit in it on one day."""

    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_number: Mapped[str] = mapped_column(String(20), nullable=False)
    # The number trimmed and lower-cased: "7A" and "7a " are one room.
    number_key: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    doctor_capacity: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=db.true())

    __table_args__ = (
        db.CheckConstraint(f"doctor_capacity BETWEEN {MIN_CAPACITY} AND {MAX_CAPACITY}",
                           name="doctor_capacity_range"),
    )

    def to_dict(self) -> dict:
        return column_dict(self, exclude=("number_key",))


class DoctorRoom(db.Model):
    """A doctor's room for one IST calendar day. One row per doctor per day; a row of an
    earlier day means nothing today (the assignment expires at midnight IST)."""

    __tablename__ = "doctor_rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="RESTRICT"), nullable=False)
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("user_id", "day", name="uq_doctor_rooms_user_day"),
        Index("ix_doctor_rooms_day_room", "day", "room_id"),
    )




REFERRAL_STATUSES = ("pending", "seen", "completed", "revoked")
OPEN_REFERRAL = ("pending", "seen")
REFERRAL_REASON_MAX = 500


class PatientReferral(TimestampMixin, db.Model):
    """One doctor asks another to see a patient. Open while pending or seen; closed when the
    target completes it or the referrer (or an Admin) revokes it. One open referral per
    patient and target doctor (a partial unique index on PostgreSQL and SQLite)."""

    __tablename__ = "patient_referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    from_doctor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    to_doctor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    reason: Mapped[str | None] = mapped_column(String(REFERRAL_REASON_MAX))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending", server_default="pending")
    seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        db.CheckConstraint("status IN ('pending', 'seen', 'completed', 'revoked')", name="referral_status_allowed"),
        db.CheckConstraint("from_doctor_id <> to_doctor_id", name="referral_not_self"),
        Index("ix_patient_referrals_to_status", "to_doctor_id", "status"),
        Index("ix_patient_referrals_from_status", "from_doctor_id", "status"),
        Index("ix_patient_referrals_patient", "patient_id"),
        Index("uq_patient_referrals_open", "patient_id", "to_doctor_id", unique=True,
              postgresql_where=db.text("status IN ('pending', 'seen')"),
              sqlite_where=db.text("status IN ('pending', 'seen')")),
    )

    def to_dict(self) -> dict:
        return column_dict(self)


__all__ = ["Room", "DoctorRoom", "MIN_CAPACITY", "MAX_CAPACITY", "PatientReferral", "REFERRAL_STATUSES",
           "OPEN_REFERRAL", "REFERRAL_REASON_MAX"]
