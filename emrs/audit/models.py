"""Append-only audit trail. Nothing in the application updates or deletes these rows;
the migration adds triggers that refuse UPDATE and DELETE at the database too."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import utcnow


class AuditLog(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No ON DELETE action: an audited user is never hard-deleted (deactivated instead).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    entity: Mapped[str] = mapped_column(String(50), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer)  # no FK: survives archive/erasure
    ip_address: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 default=utcnow)

    __table_args__ = (
        Index("ix_audit_log_patient_time", "patient_id", "created_at"),
        Index("ix_audit_log_user_time", "user_id", "created_at"),
        Index("ix_audit_log_created_at", "created_at"),
    )

    def to_dict(self) -> dict:
        return {
            "id": self.id, "user_id": self.user_id, "action": self.action,
            "entity": self.entity, "entity_id": self.entity_id, "patient_id": self.patient_id,
            "ip_address": self.ip_address, "request_id": self.request_id,
            "details": self.details,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }
