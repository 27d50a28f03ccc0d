"""Rows the JSON API keeps for itself (not domain data): the idempotency keys of
POST requests (emrs/api/idempotency.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models_base import utcnow


class IdempotencyKey(db.Model):
    """One ``Idempotency-Key`` a user sent with a POST. The row is claimed (added and
    flushed) before the view runs, in the request's transaction: it commits with the
    view's write or disappears with its rollback. ``status_code`` is NULL until the
    answer is stored; ``response_body`` stays NULL when the answer was over 1 MB.
    Kept 24 hours: every claim deletes the user's older rows and the oldest 100 of anybody's."""
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(128), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)  # sha-256 hex of the request
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow,
                                                 server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),
        Index("ix_idempotency_keys_user_created", "user_id", "created_at"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )
