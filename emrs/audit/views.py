"""Admin: the audit trail, filterable by user, patient and action."""
from __future__ import annotations


from flask import render_template, request
from sqlalchemy import func, select

from ..auth.models import User
from ..extensions import db
from . import bp
from .models import AuditLog

PAGE = 50


def _int(name):
    raw = request.args.get(name, "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@bp.get("/")
def index():
    user_id, patient_id = _int("user_id"), _int("patient_id")
    action = (request.args.get("action") or "").strip()[:40] or None
    page = _int("page") or 1
    q = select(AuditLog, User.name).outerjoin(User, User.id == AuditLog.user_id)
    cq = select(func.count(AuditLog.id))
    for cond in ([AuditLog.user_id == user_id] if user_id else []) + \
                ([AuditLog.patient_id == patient_id] if patient_id else []) + \
                ([AuditLog.action == action] if action else []):
        q, cq = q.where(cond), cq.where(cond)
    total = db.session.execute(cq).scalar_one()
    rows = db.session.execute(q.order_by(AuditLog.id.desc()).offset((page - 1) * PAGE).limit(PAGE)).all()
    actions = [a for (a,) in db.session.execute(select(AuditLog.action).distinct().order_by(AuditLog.action))]
    return render_template("audit/index.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // PAGE)), user_id=user_id, patient_id=patient_id,
                           action=action, actions=actions)
