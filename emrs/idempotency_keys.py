"""The stored idempotency keys: the ``Idempotency-Key`` of JSON API POSTs
(emrs/api/idempotency.py) and the one-time submission tokens of page forms
(emrs/submission.py) are rows of one table. Here are the row and its look-ups; the two
doors decide what a key means for a request."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .models_base import utcnow

TTL = timedelta(hours=24)  # a key older than this is new again
SWEEP_BATCH = 100  # other users' expired keys deleted per claim, oldest first


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


_TABLE = IdempotencyKey.__table__


def find(user_id: int, key: str) -> IdempotencyKey | None:
    """The user's row for this key, expired or not."""
    return db.session.execute(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                           IdempotencyKey.key == key)).scalar_one_or_none()


def delete_expired(user_id: int, cutoff) -> None:
    """Keys older than ``cutoff``: all of this user's (the (user_id, created_at) index; the key
    being claimed again may be one of them), and the oldest SWEEP_BATCH of anybody's (the
    created_at index), so stored answers, which hold patient data, do not outlive 24 h by
    much while anyone sends keys. On PostgreSQL rows another request is deleting at the same
    moment are skipped, so two claims never wait on each other here."""
    mine = select(_TABLE.c.id).where(_TABLE.c.user_id == user_id, _TABLE.c.created_at < cutoff)
    oldest = (select(_TABLE.c.id).where(_TABLE.c.created_at < cutoff)
              .order_by(_TABLE.c.created_at).limit(SWEEP_BATCH))
    if db.session.get_bind().dialect.name == "postgresql":
        mine, oldest = mine.with_for_update(skip_locked=True), oldest.with_for_update(skip_locked=True)
    for old in (mine, oldest):
        db.session.execute(_TABLE.delete().where(_TABLE.c.id.in_(old)))


def save_answer(claim_id: int, status_code: int, body: bytes | None, content_type: str | None) -> None:
    """Keep the answer on a committed claim, in a commit of its own: whatever the view left
    uncommitted after its last commit would be rolled back at the end of the request anyway."""
    db.session.rollback()
    db.session.execute(_TABLE.update().where(_TABLE.c.id == claim_id)
                       .values(status_code=status_code, response_body=body, content_type=content_type))
    db.session.commit()
