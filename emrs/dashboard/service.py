"""Figures for the dashboard, counted from the database (zero is a real figure)."""
from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..intake.models import IntakeRecord
from ..patients.models import Patient, PatientVisit
from ..timeutil import ist_day_bounds_utc, today_ist


def figures(user=None) -> dict:
    today = today_ist()
    start, end = ist_day_bounds_utc(today)
    registered = db.session.execute(
        select(func.count(Patient.id)).where(Patient.created_at >= start, Patient.created_at < end)
    ).scalar_one()
    waiting_q = select(func.count(PatientVisit.id)).where(
        PatientVisit.visit_date == today, PatientVisit.visit_status.in_(("scheduled", "in_progress")))
    waiting = db.session.execute(waiting_q).scalar_one()
    mine = None
    if user is not None and user.is_doctor:
        mine = db.session.execute(waiting_q.where(PatientVisit.assigned_doctor_id == user.id)).scalar_one()
    files_out = db.session.execute(
        select(func.count(IntakeRecord.id)).where(IntakeRecord.file_status == "retrieved",
                                                  IntakeRecord.is_active.is_(True))
    ).scalar_one()
    return {"date": today, "registered_today": registered, "visits_waiting": waiting,
            "my_visits_waiting": mine, "files_out": files_out}
