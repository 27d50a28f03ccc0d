"""Append-only audit trail. Nothing in the application updates or deletes these rows:
a session that tries (a changed or deleted AuditLog at flush, or a bulk UPDATE/DELETE
statement on it) raises AuditAppendOnly, and the database refuses UPDATE, DELETE and,
on PostgreSQL, TRUNCATE with triggers (migrations 0001 and 0007)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, event
from sqlalchemy import text as sa_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

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
        Index("ix_audit_log_patient_time", "patient_id", "created_at", "id"),  # newest first, ties by id
        Index("ix_audit_log_user_time", "user_id", "created_at"),
        Index("ix_audit_log_created_at", "created_at"),
        # A child's moves to the adult clinic are audit rows (children.service.MOVED_ACTION) that
        # the patient's timeline shows: found without reading every audit row of the patient.
        Index("ix_audit_log_clinic_moves", "patient_id", "id",
              postgresql_where=sa_text("action = 'patient_to_adult_clinic'"),
              sqlite_where=sa_text("action = 'patient_to_adult_clinic'")),
    )

    def to_dict(self) -> dict:
        return {
            "id": self.id, "user_id": self.user_id, "action": self.action,
            "entity": self.entity, "entity_id": self.entity_id, "patient_id": self.patient_id,
            "ip_address": self.ip_address, "request_id": self.request_id,
            "details": self.details,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


class AuditAppendOnly(RuntimeError):
    """A code path tried to change or delete an audit row."""


@event.listens_for(Session, "before_flush")
def _refuse_changed_audit_rows(session, _flush_context, _instances):
    for obj in session.deleted:
        if isinstance(obj, AuditLog):
            raise AuditAppendOnly(f"audit_log is append-only: audit row {obj.id} cannot be deleted")
    for obj in session.dirty:
        if isinstance(obj, AuditLog) and session.is_modified(obj):
            raise AuditAppendOnly(f"audit_log is append-only: audit row {obj.id} cannot be changed")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_statements(state):
    if (state.is_update or state.is_delete) and any(m.class_ is AuditLog for m in state.all_mappers):
        raise AuditAppendOnly("audit_log is append-only: bulk UPDATE/DELETE of audit rows is refused")
