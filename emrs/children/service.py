"""Child patients: registering, reading, editing, queueing, documents, archiving and the
move to the adult clinic, over the patient registry's services (patients.registration,
patients.reading, patients.files, opd.queue). A child is a patient with clinic='child'; a
request that names an adult as a child (or a child as an adult where a child is wanted)
finds no child (404). No Flask request objects here."""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, select

from ..audit import service as audit
from ..audit.models import AuditLog
from ..auth.models import ADMIN, FACULTY, User
from ..errors import DomainError, NotFound, ValidationError, field_error, positive_id
from ..extensions import db
from ..patients import fields as F
from ..patients import reading, registration
from ..patients.models import Patient
from ..timeutil import today_ist

NOT_FOUND = "Child patient not found"
MOVED_ACTION = "patient_to_adult_clinic"
MOVERS = (ADMIN, FACULTY)  # clinicians who may move a child to the adult clinic


_positive_id = positive_id


def get_child(child_id, *, audit_action: str | None = "child_patient_view") -> Patient:
    """The active child patient with this id, else NotFound (an adult's id is no child's)."""
    pid = _positive_id(child_id)
    patient = db.session.get(Patient, pid) if pid else None
    if patient is None or not patient.is_active or patient.clinic != "child":
        raise NotFound(NOT_FOUND)
    if audit_action:
        audit.record_now(audit_action, "registered_patient", patient.id, patient_id=patient.id)
    return patient


def child_id_for(raw, field: str = "child_patient_id") -> int:
    """A child_patient_id sent to a shared route (follow-ups): the patient id of that child."""
    if raw in (None, ""):
        raise ValidationError(f"{field} is required", errors=[field_error(field, f"{field} is required")])
    if _positive_id(raw) is None:
        raise ValidationError("Validation failed", errors=[field_error(field, f"{field} must be a positive integer",
                                                                       raw if isinstance(raw, (int, str)) else None)])
    return get_child(raw, audit_action=None).id


def by_cr(cr_number: str) -> Patient:
    found = [p for p in reading.patients_by_number("cr", cr_number, limit=5) if p.clinic == "child"]
    if not found:
        raise NotFound(NOT_FOUND)
    patient = found[0]
    audit.record_now("child_patient_lookup", "registered_patient", patient.id, patient_id=patient.id,
                     details={"by": "cr"})
    return patient


def register(data: dict, actor: User, room=None) -> Patient:
    """A new child: the child card's rules (patients.fields.CHILD_FIELDS), a CGC number made
    when none is typed, and with a room, today's visit in that room's queue (one commit)."""
    if room in (None, "") and isinstance(data.get("assigned_room"), str):
        room = data.get("assigned_room") or None
    data = {k: v for k, v in data.items() if k != "assigned_room"}
    return registration.register(data, actor, step="child", room=room)


def update(child: Patient, data: dict, actor: User, *, expected_version=None, ignore_empty: bool = True) -> Patient:
    """The missing edit of the original (PUT /api/child-patient/:id)."""
    return registration.update(child, data, actor, expected_version=expected_version, ignore_empty=ignore_empty)


def add_to_today(child: Patient, actor: User, room=None):
    """Today's visit of the child in a room's queue (opd.queue): the room given, else the
    doctor's own room today, else the child's last room. No fake follow-up note is written."""
    from ..opd import queue
    room_obj = queue.requeue_room(child, actor, room)
    return queue.queue(child, room_obj, actor)


def archive(child: Patient, actor: User) -> dict:
    """Exactly as an adult is archived (patients.registration.archive): the child's own row
    only; nothing of any other patient is touched, nothing is deleted."""
    return registration.archive(child, actor)


# ------------------------------------------------------------------ turning 18

def age_now(patient: Patient, today: dt.date | None = None) -> int | None:
    """The patient's age today: from the date of birth when known, else the registered age
    plus the whole years since registration."""
    today = today or today_ist()
    if patient.date_of_birth is not None:
        born = patient.date_of_birth
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if patient.age is None:
        return None
    registered = patient.date or (patient.created_at.date() if patient.created_at else today)
    years = today.year - registered.year - ((today.month, today.day) < (registered.month, registered.day))
    return patient.age + max(years, 0)


def move_to_adult(child: Patient, actor: User) -> Patient:
    """The child moves to the adult clinic: the same row, CR number and history;
    clinic='adult', adult_since = today (IST), audited. Refused under 18."""
    if actor.role not in MOVERS:
        raise DomainError("Only a consultant (Faculty) or an administrator can move a child to the adult clinic",
                          status=403)
    age = age_now(child)
    if age is None or age < F.CHILD_AGE_MAX:
        shown = "unknown" if age is None else str(age)
        raise ValidationError(f"{child.name} is {shown} years old: a child moves to the adult clinic at 18 or more",
                              errors=[field_error("age", "A child moves to the adult clinic at 18 years or more", age)])
    child.clinic = "adult"
    child.adult_since = today_ist()
    if child.age is None or child.age < age:
        child.age = age
    child.version += 1
    audit.record(MOVED_ACTION, "registered_patient", child.id, patient_id=child.id,
                 details={"from": "child", "to": "adult", "age": age})
    db.session.commit()
    return child


@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The patient's moves to the adult clinic, newest first (emrs/timeline.py slots): id, at."""
    return (select(AuditLog.id, AuditLog.created_at.label("at"))
            .where(AuditLog.patient_id == bindparam("patient_id"), AuditLog.action == MOVED_ACTION)
            .order_by(AuditLog.id.desc()).limit(bindparam("limit")))


# ------------------------------------------------------------------ the original's shape

def _iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def child_dict(child: Patient, extras: dict | None = None) -> dict:
    """`childPatient`: the original's field names (child_name, cr_number, cgc_number,
    mobile_no, seen_as_walk_in_on, head_monthly_income, …) plus patient_type 'child',
    filled_by_name/role, documents, and id = the patient id."""
    from ..patients import files
    if extras is None:
        extras = reading.patient_dict(child)
    docs = [files.api_path(r) for r in files.current_files(child)]
    return {
        "id": child.id, "patient_id": child.id, "patient_type": "child", "clinic": child.clinic,
        "child_name": child.name, "cr_number": child.cr_no, "cgc_number": child.cgc_number,
        "seen_as_walk_in_on": _iso(child.seen_in_walk_in_on), "mobile_no": child.contact_number,
        "sex": F.CHILD_SEX_LABEL.get(child.sex, child.sex), "age": child.age, "age_group": child.age_group,
        "date_of_birth": _iso(child.date_of_birth),
        "educational_status": child.education, "occupational_status": child.occupation, "religion": child.religion,
        "head_name": child.head_name, "head_relationship": child.head_relationship, "head_age": child.head_age,
        "head_education": child.head_education, "head_occupation": child.head_occupation,
        "head_monthly_income": child.head_income_band, "locality": child.locality,
        "distance_travelled": child.distance_from_hospital, "source_of_referral": child.referred_by,
        "address_line": child.address_line, "city_town_village": child.city, "district": child.district,
        "state": child.state, "country": child.country, "pincode": child.pin_code,
        "present_address_line": child.present_address_line_1,
        "present_city_town_village": child.present_city_town_village, "present_district": child.present_district,
        "present_state": child.present_state, "present_country": child.present_country,
        "present_pincode": child.present_pin_code,
        "permanent_address_line": child.permanent_address_line_1,
        "permanent_city_town_village": child.permanent_city_town_village,
        "permanent_district": child.permanent_district, "permanent_state": child.permanent_state,
        "permanent_country": child.permanent_country, "permanent_pincode": child.permanent_pin_code,
        "local_address_line": child.local_address, "allergies": child.allergies,
        "assigned_room": child.assigned_room, "adult_since": _iso(child.adult_since),
        "documents": docs, "filled_by": child.filled_by,
        "filled_by_name": extras.get("filled_by_name"), "filled_by_role": extras.get("filled_by_role"),
        "visit_status": extras.get("visit_status"), "has_visit_today": extras.get("has_visit_today"),
        "version": child.version, "created_at": _iso(child.created_at), "updated_at": _iso(child.updated_at),
    }
