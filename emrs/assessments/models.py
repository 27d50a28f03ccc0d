"""Scored rating scales of a patient (issue 19) and the kiosk sessions that let a patient fill a
self-report scale on a tablet handed over at the counter.

An assessment stores what was answered (item id -> value) with the score computed by the
instrument's definition at the time (total, subscales, severity band, risk flags), so a later
change of a definition never rewrites a past score. A positive risk item leaves the assessment
``risk_status = 'open'`` until a clinician records an acknowledgement and the action taken.
Self-reports entered by a welfare officer or on the kiosk wait for a clinician's confirmation.
Withdrawn, never deleted.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin, utcnow
from . import instruments

__all__ = ["Assessment", "KioskSession"]

JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")
MAX_ACTION = 2_000   # characters of the acknowledgement's action taken
SOURCES = ("clinician", "staff", "kiosk")  # who entered the answers: a clinician, a PWO, the patient
RISK_STATES = ("none", "open", "acknowledged")


class Assessment(TimestampMixin, db.Model):
    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("patient_visits.id", ondelete="SET NULL"), index=True)
    proforma_id: Mapped[int | None] = mapped_column(ForeignKey("clinical_proforma.id", ondelete="SET NULL"))
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followup_visits.id", ondelete="SET NULL"))
    instrument: Mapped[str] = mapped_column(String(20), nullable=False)
    instrument_version: Mapped[str] = mapped_column(String(10), nullable=False)
    assessed_on: Mapped[dt.date] = mapped_column(Date, nullable=False)  # IST day, decided on the server
    answers: Mapped[dict] = mapped_column(JSON_TYPE, nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False)
    subscales: Mapped[dict] = mapped_column(JSON_TYPE, nullable=False, default=dict)
    severity: Mapped[str | None] = mapped_column(String(60))
    severity_level: Mapped[int | None] = mapped_column(Integer)
    flags: Mapped[list] = mapped_column(JSON_TYPE, nullable=False, default=list)
    source: Mapped[str] = mapped_column(String(10), nullable=False, default="clinician")
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    risk_status: Mapped[str] = mapped_column(String(12), nullable=False, default="none")
    risk_ack_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    risk_ack_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    risk_action: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=db.true())
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        db.CheckConstraint("source IN ('clinician', 'staff', 'kiosk')", name="assessment_source_allowed"),
        db.CheckConstraint("risk_status IN ('none', 'open', 'acknowledged')", name="assessment_risk_status_allowed"),
        Index("ix_assessments_patient_instrument", "patient_id", "instrument", "assessed_on", "id"),
        Index("ix_assessments_open_risk", "patient_id", postgresql_where=db.text("risk_status = 'open' AND is_active"),
              sqlite_where=db.text("risk_status = 'open' AND is_active")),
    )

    @property
    def author_id(self) -> int | None:
        return self.entered_by

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def instrument_name(self) -> str:
        found = instruments.get(self.instrument)
        return found.short_name if found is not None else self.instrument


class KioskSession(db.Model):
    """A tablet handed to one patient for one self-report instrument. The browser holds a random
    token (only its SHA-256 is stored); it opens nothing but that form, and ends on submission,
    on "hand back", or after ``expires_at``."""
    __tablename__ = "kiosk_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("registered_patient.id", ondelete="CASCADE"), nullable=False)
    instrument: Mapped[str] = mapped_column(String(20), nullable=False)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("patient_visits.id", ondelete="SET NULL"))
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))  # submitted | handed_back | expired
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id", ondelete="SET NULL"))
