"""Autosaved form drafts: one per user, patient and form."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import TimestampMixin
from ..serialize import column_dict

# `from .models import *` (emrs/models.py) exports only the models.
__all__ = ["Draft"]

JSON_TYPE = db.JSON().with_variant(JSONB(), "postgresql")


class Draft(TimestampMixin, db.Model):
    """The unsaved state of one form, e.g. form_key 'proforma', 'proforma:12',
    'intake:3:history'."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False)
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("registered_patient.id", ondelete="CASCADE"), index=True)
    form_key: Mapped[str] = mapped_column(String(80), nullable=False)
    data: Mapped[dict] = mapped_column(JSON_TYPE, nullable=False, default=dict,
                                       server_default=sa.text("'{}'"))

    __table_args__ = (
        db.UniqueConstraint("user_id", "patient_id", "form_key"),
        # NULLs are distinct in a unique constraint: cover drafts without a patient too.
        Index("uq_drafts_user_id_form_key_no_patient", "user_id", "form_key", unique=True,
              postgresql_where=sa.text("patient_id IS NULL"),
              sqlite_where=sa.text("patient_id IS NULL")),
    )

    def to_dict(self) -> dict:
        return column_dict(self)
