"""Visits: sending a patient to a doctor and room, completing the visit, a patient's
visit history (the day's queue is emrs/opd/queue.py)."""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from .. import facts
from ..audit import service as audit
from ..auth.models import User
from ..auth.users import doctor_to_assign
from ..errors import NotFound, ValidationError, field_error
from ..extensions import db
from ..timeutil import today_ist
from . import fields as F
from .models import OPEN_VISIT_STATUSES, Patient, PatientVisit


def _visit_dict(v: PatientVisit, doctor: User | None = None) -> dict:
    d = v.to_dict()
    if doctor is not None:
        d["doctor_name"], d["doctor_role"] = doctor.name, doctor.role
    return d


def parse_date(value, name="visit_date") -> dt.date:
    """A visit's date: today (IST) when not given; never a day after today."""
    if value in (None, ""):
        return today_ist()
    try:
        day = F.clean_value(F.Field(name, "Visit date", "date"), value)
    except ValueError:
        raise ValidationError("Validation failed", errors=[field_error(name, "visit_date must be a date (YYYY-MM-DD)",
                                                                       F._safe_echo(value))])
    try:
        return F.not_after_today(day)
    except ValueError as exc:
        message = f"Visit date {exc}"
        raise ValidationError(message, errors=[field_error(name, message, F._safe_echo(value))])


def assign(patient: Patient, actor: User, doctor_id, room_no=None, visit_date=None, notes=None,
           visit_type=None) -> PatientVisit:
    """Send the patient to a doctor and room: a `scheduled` visit for that day
    (first_visit when the patient has no earlier visit, else follow_up). A second
    assignment on the same day moves the open visit instead of adding another. A room names
    a real room (its id and that day's next token on the visit; opd.queue.room_of_assignment)."""
    errors = []
    try:
        doctor = doctor_to_assign(doctor_id)
    except ValidationError as exc:
        doctor, errors = None, exc.errors
    try:
        day = parse_date(visit_date)
    except ValidationError as exc:
        day, errors = None, errors + exc.errors
    if room_no not in (None, "") and (not isinstance(room_no, str) or len(room_no.strip()) > 20):
        errors.append(field_error("room_no", "Room must be text of at most 20 characters", F._safe_echo(room_no)))
    if notes not in (None, "") and (not isinstance(notes, str) or len(notes) > 1000):
        errors.append(field_error("notes", "Notes must be text of at most 1000 characters", None))
    if visit_type not in (None, "", "first_visit", "follow_up"):
        errors.append(field_error("visit_type", "visit_type must be first_visit or follow_up", F._safe_echo(visit_type)))
    room_row = None
    if not any(e["path"] == "room_no" for e in errors):
        from ..opd import rooms as opd_rooms  # a real room, and a token of that day in it
        try:
            room_row = opd_rooms.room_of_assignment(room_no)
        except ValidationError as exc:
            errors += exc.errors
    F.raise_if(errors)
    room = room_row.room_number if room_row is not None else ((room_no or "").strip() or None)
    open_visit = db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient.id, PatientVisit.visit_date == day,
        PatientVisit.visit_status.in_(OPEN_VISIT_STATUSES)).order_by(PatientVisit.id.desc()).limit(1)
    ).scalar_one_or_none()
    if open_visit is not None:
        visit = open_visit
        visit.assigned_doctor_id, visit.room_no = doctor.id, room or visit.room_no
        if notes:
            visit.notes = notes
        action = "visit_reassign"
    else:
        earlier = db.session.execute(select(func.count(PatientVisit.id)).where(
            PatientVisit.patient_id == patient.id)).scalar_one()
        visit = PatientVisit(patient_id=patient.id, visit_date=day, assigned_doctor_id=doctor.id, room_no=room,
                             visit_type=visit_type or ("follow_up" if earlier else "first_visit"),
                             visit_status="scheduled", notes=notes or None)
        db.session.add(visit)
        action = "visit_create"
    patient.assigned_doctor_id, patient.assigned_doctor_name = doctor.id, doctor.name
    if room:
        patient.assigned_room = room
    db.session.flush()
    if room_row is not None:
        patient.assigned_room_id = room_row.id
        if visit.room_id != room_row.id:
            opd_rooms.place(visit, room_row, day)  # the next token of that room on that day
    audit.record(action, "patient_visits", visit.id, patient_id=patient.id,
                 details={"doctor_id": doctor.id, "visit_date": day.isoformat(),
                          **({"room_id": room_row.id, "token_no": visit.token_no} if room_row is not None else {})})
    db.session.commit()
    return visit


def new_visit_for_existing(patient: Patient, actor: User) -> PatientVisit:
    """Existing patient at the counter: a new visit with the same doctor and room."""
    doctor_id = patient.assigned_doctor_id
    if doctor_id is None:
        last = db.session.execute(select(PatientVisit.assigned_doctor_id).where(
            PatientVisit.patient_id == patient.id, PatientVisit.assigned_doctor_id.is_not(None))
            .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1)).scalar()
        doctor_id = last
    if doctor_id is None:
        raise ValidationError("This patient has no assigned doctor yet: assign a doctor and room",
                              errors=[field_error("assigned_doctor_id", "Choose a doctor", None)])
    return assign(patient, actor, doctor_id, room_no=patient.assigned_room)


def complete_visit(patient: Patient, actor: User, visit_date=None) -> PatientVisit:
    day = parse_date(visit_date)
    visits = db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient.id, PatientVisit.visit_date == day).order_by(PatientVisit.id.desc())
    ).scalars().all()
    if not visits:
        raise NotFound("No visit record found for today. Please assign the patient first."
                       if day == today_ist() else f"No visit record found for {day.isoformat()}.")
    open_visits = [v for v in visits if v.visit_status in OPEN_VISIT_STATUSES]
    if not open_visits:
        raise NotFound("Visit for today is already marked as completed" if day == today_ist()
                       else f"Visit for {day.isoformat()} is already marked as completed")
    visit = open_visits[0]
    visit.visit_status = "completed"
    audit.record("visit_complete", "patient_visits", visit.id, patient_id=patient.id)
    db.session.commit()
    return visit


def visit_history(patient: Patient) -> list[dict]:
    doctor = aliased(User)
    rows = db.session.execute(select(PatientVisit, doctor).outerjoin(doctor, doctor.id == PatientVisit.assigned_doctor_id)
                              .where(PatientVisit.patient_id == patient.id)
                              .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc())).all()
    return [_visit_dict(v, d) if d is not None else {**_visit_dict(v), "doctor_name": None, "doctor_role": None}
            for v, d in rows]


VISIT_SUMMARY_KEYS = ("id", "visit_date", "visit_type", "visit_status", "assigned_doctor_id", "room_no", "notes",
                      "created_at")


# Statements of the patient page, built once (functools.cache) with bound parameters:
# building a statement and its cache key costs more than running these small queries.

@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The newest visits for the timeline (emrs/timeline.py slots): id, at = created_at,
    day = visit_date, text1 = visit_type, text2 = visit_status, text3 = room_no, text4 = the
    doctor's name."""
    return (select(PatientVisit.id, PatientVisit.created_at.label("at"), PatientVisit.visit_date.label("day"),
                   PatientVisit.visit_type.label("text1"), PatientVisit.visit_status.label("text2"),
                   PatientVisit.room_no.label("text3"), User.name.label("text4"))
            .outerjoin(User, User.id == PatientVisit.assigned_doctor_id)
            .where(PatientVisit.patient_id == bindparam("patient_id"))
            .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(bindparam("limit")))


def _open_visits(patient, column):
    """The patient's newest scheduled or in-progress visit's ``column``."""
    return (select(column).where(PatientVisit.patient_id == patient, PatientVisit.visit_status.in_(OPEN_VISIT_STATUSES))
            .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1).scalar_subquery())


# The patient page's facts (emrs/facts.py): the open visit it offers to complete.
facts.register("open_visit_id", lambda patient, _day: _open_visits(patient, PatientVisit.id))
facts.register("open_visit_date", lambda patient, _day: _open_visits(patient, PatientVisit.visit_date))


def visit_on(patient_id: int, day: dt.date) -> PatientVisit | None:
    """The patient's newest visit of that day, whatever its status."""
    return db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient_id, PatientVisit.visit_date == day)
        .order_by(PatientVisit.id.desc()).limit(1)).scalar_one_or_none()


def visit_of(patient_id: int, visit_id: int) -> PatientVisit | None:
    """The visit, if it is one of this patient's."""
    visit = db.session.get(PatientVisit, visit_id)
    return visit if visit is not None and visit.patient_id == patient_id else None


def visits_count(patient: Patient) -> dict:
    visits = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == patient.id)
                                .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc())).scalars().all()
    return {"visit_count": len(visits), "visits": [{k: v.to_dict()[k] for k in VISIT_SUMMARY_KEYS} for v in visits],
            "next_visit_number": len(visits) + 1}
