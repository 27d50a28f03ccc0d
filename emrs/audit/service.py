"""The one audit hook. Every domain calls record() on each read or write of a
patient's data; auth calls it for logins, failures, OTP failures and lockouts.

record() only adds the row to the current transaction: the caller's commit
writes the clinical change and its audit row together, or neither.
"""
from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy import func, select

from ..extensions import db
from ..web import user_agent
from .models import AuditLog


def _request_facts() -> dict:
    if not has_request_context():
        return {}
    ua = user_agent() or None
    return {
        "ip_address": (request.remote_addr or "")[:45] or None,
        "request_id": getattr(g, "request_id", None),
        "user_agent": ua,
    }


def current_actor_id() -> int | None:
    """Id of the authenticated principal of this request (page or API), if any."""
    if not has_request_context():
        return None
    user = getattr(g, "principal", None)
    return user.id if user is not None else None


def record(action: str, entity: str, entity_id=None, patient_id: int | None = None,
           user_id: int | None = None, details: dict | None = None) -> AuditLog:
    """Add an audit row to the current transaction.

    ``details`` must never carry passwords, codes, tokens or clinical free text:
    field names and ids only.
    """
    row = AuditLog(
        user_id=user_id if user_id is not None else current_actor_id(),
        action=action[:40],
        entity=entity[:50],
        entity_id=None if entity_id is None else str(entity_id)[:64],
        patient_id=patient_id,
        details=details,
        **_request_facts(),
    )
    db.session.add(row)
    return row


def record_now(*args, **kwargs) -> AuditLog:
    """Record and commit at once (for events with no other write, such as a failed login)."""
    row = record(*args, **kwargs)
    db.session.commit()
    return row


def recent_for_patient(patient_id: int, limit: int = 20) -> list[AuditLog]:
    return list(db.session.execute(
        select(AuditLog).where(AuditLog.patient_id == patient_id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
    ).scalars())


def count(action: str | None = None, user_id: int | None = None) -> int:
    q = select(func.count(AuditLog.id))
    if action:
        q = q.where(AuditLog.action == action)
    if user_id is not None:
        q = q.where(AuditLog.user_id == user_id)
    return db.session.execute(q).scalar_one()
