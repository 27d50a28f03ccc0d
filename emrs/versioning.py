"""Edits checked against the version the editor saw (design §5: concurrent edits never
silently overwrite each other).

Comparing the version of the row this request loaded is not enough: two saves based on
the same version both load it, both see their version match, and the later commit
replaces the earlier one (bench/faults.py conflict found this for every versioned
record). `lock_for_edit` first re-reads the row with SELECT ... FOR UPDATE: a concurrent
save of the same row waits there until the other transaction has ended and then reads
the committed row, so one save wins and the other gets the 409. SQLite has no row locks:
there a write that changes nothing takes the database's write lock first, which does the
same for every table.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .errors import Conflict, ValidationError, field_error
from .extensions import db
from .models_base import utcnow


def lock_for_edit(row, expected_version=None, message: str | None = None) -> None:
    """Lock ``row`` for the rest of the transaction and refresh it; with
    ``expected_version`` (the version the editor saw) a different current version is a
    Conflict (409, code STALE) and a value that is not a whole number a 400."""
    if db.session.get_bind().dialect.name == "sqlite":
        table = type(row).__table__.name  # a model's table name, never input
        db.session.execute(text(f'UPDATE "{table}" SET version = version WHERE id = :id'), {"id": row.id})
    db.session.refresh(row, with_for_update=True)
    if expected_version in (None, ""):
        return
    if isinstance(expected_version, bool) or not str(expected_version).strip().isdecimal() \
            or len(str(expected_version).strip()) > 9:
        raise ValidationError("Validation failed", errors=[field_error("version", "version must be an integer")])
    if int(str(expected_version).strip()) != row.version:
        raise Conflict(message or "This record was changed by someone else after you opened it. "
                                  "Reload to see their changes.", code="STALE")


# --------------------------------------------------------------------------- amended, not overwritten


class ClinicalVersion(db.Model):
    """One superseded version of a prescription, proforma or follow-up note: its content, who wrote it and
    why, who replaced it and when. The current version is the record's own row."""

    __tablename__ = "clinical_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20), nullable=False)
    record_id: Mapped[int] = mapped_column(Integer, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[dict] = mapped_column(db.JSON().with_variant(JSONB(), "postgresql"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    authored_at: Mapped[dt.datetime | None] = mapped_column(db.DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    superseded_at: Mapped[dt.datetime] = mapped_column(db.DateTime(timezone=True), nullable=False,
                                                        default=utcnow, server_default=db.func.now())

    __table_args__ = (
        db.UniqueConstraint("record_type", "record_id", "version", name="uq_clinical_versions_record_version"),
        db.CheckConstraint("record_type IN ('prescription', 'proforma', 'followup')", name="record_type_allowed"),
    )


MAX_REASON = 1000


def clean_reason(raw, *, required: bool, what: str = "change") -> str | None:
    """A reason for a change or a withdrawal: 5–1000 characters when required."""
    if raw in (None, "") and not required:
        return None
    if not isinstance(raw, str) or len(raw.strip()) < 5 or len(raw) > MAX_REASON or "\x00" in raw:
        raise ValidationError("Validation failed", errors=[field_error(
            "reason", f"Give the reason for the {what} (5 to {MAX_REASON} characters)")])
    return raw.strip()


def keep_version(record_type: str, row, data: dict, author_id, authored_at, reason, actor) -> None:
    """Store the version of ``row`` that is about to be replaced (caller's transaction)."""
    from .serialize import json_value
    db.session.add(ClinicalVersion(
        record_type=record_type, record_id=row.id, version=row.version,
        data={k: json_value(v) for k, v in data.items()}, author_id=author_id, authored_at=authored_at,
        reason=reason, superseded_by=getattr(actor, "id", None), superseded_at=utcnow()))


def versions_of(record_type: str, record_id: int) -> list[ClinicalVersion]:
    """Superseded versions, oldest first."""
    return list(db.session.execute(select(ClinicalVersion).where(
        ClinicalVersion.record_type == record_type, ClinicalVersion.record_id == record_id)
        .order_by(ClinicalVersion.version)).scalars())
