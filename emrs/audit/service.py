"""The one audit hook. Every domain calls record() on each read or write of a
patient's data; auth calls it for logins, failures, OTP failures and lockouts.

record() only adds the row to the current transaction: the caller's commit
writes the clinical change and its audit row together, or neither.
"""
from __future__ import annotations

import functools

from flask import g, has_request_context, request
from sqlalchemy import bindparam, func, select

from ..extensions import db
from ..models_base import utcnow
from .models import AuditLog


def _request_facts() -> dict:
    if not has_request_context():
        return {}
    ua = request.headers.get("User-Agent", "")[:255] or None
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


def _values(action: str, entity: str, entity_id=None, patient_id: int | None = None,
            user_id: int | None = None, details: dict | None = None) -> dict:
    return dict(
        user_id=user_id if user_id is not None else current_actor_id(),
        action=action[:40],
        entity=entity[:50],
        entity_id=None if entity_id is None else str(entity_id)[:64],
        patient_id=patient_id,
        details=details,
        **_request_facts(),
    )


def record(action: str, entity: str, entity_id=None, patient_id: int | None = None,
           user_id: int | None = None, details: dict | None = None) -> AuditLog:
    """Add an audit row to the current transaction.

    ``details`` must never carry passwords, codes, tokens or clinical free text:
    field names and ids only.
    """
    row = AuditLog(**_values(action, entity, entity_id, patient_id, user_id, details))
    db.session.add(row)
    return row


def record_now(*args, **kwargs) -> None:
    """Record and commit at once (a read, or an event with no other write such as a failed
    login). The row is inserted straight away in the current transaction (a plain INSERT
    costs a fraction of the ORM's flush), then everything is committed together."""
    values = _values(*args, **kwargs)
    values["created_at"] = utcnow()
    db.session.connection().execute(_insert(), values)
    db.session.commit()


@functools.cache
def _insert():
    return AuditLog.__table__.insert()


@functools.cache  # built once: the patient page runs it on every view (Admin)
def _recent_for_patient():
    return (select(AuditLog).where(AuditLog.patient_id == bindparam("patient_id"))
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(bindparam("limit")))


def recent_for_patient(patient_id: int, limit: int = 20) -> list[AuditLog]:
    return list(db.session.execute(_recent_for_patient(), {"patient_id": patient_id, "limit": limit}).scalars())


def count(action: str | None = None, user_id: int | None = None) -> int:
    q = select(func.count(AuditLog.id))
    if action:
        q = q.where(AuditLog.action == action)
    if user_id is not None:
        q = q.where(AuditLog.user_id == user_id)
    return db.session.execute(q).scalar_one()
