"""Referrals between doctors: one doctor asks another to see a patient.

A referral is open while ``pending`` (sent) or ``seen`` (the target has looked at it); it is
closed when the target (or an Admin) marks it ``completed`` or the referrer (or an Admin)
``revoked`` it. One open referral per patient and target doctor. A patient with an open
referral to a doctor is within that doctor's list scope (``referred_to``). Every act is
audited with the patient's id; the reason (free text) never goes into the audit row.
"""
from __future__ import annotations

import datetime as dt

from collections import namedtuple

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..auth.models import ADMIN, User
from ..errors import Conflict, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..patients.models import Patient
from ..serialize import json_value
from ..timeutil import ist_day_bounds_utc
from .models import OPEN_REFERRAL, REFERRAL_REASON_MAX, REFERRAL_STATUSES, PatientReferral

DIRECTIONS = ("to_me", "by_me", "all")
BULK_MAX = 200


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _is_admin(user: User) -> bool:
    return user.role == ADMIN


def _reason(raw) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValidationError("Validation failed", errors=[field_error("reason", "reason must be text", None)])
    text = raw.strip()
    if len(text) > REFERRAL_REASON_MAX:
        raise ValidationError("Validation failed", errors=[field_error(
            "reason", f"reason must be at most {REFERRAL_REASON_MAX} characters", None)])
    return text or None


def _target(to_doctor_id, actor: User) -> User:
    if isinstance(to_doctor_id, bool) or not str(to_doctor_id if to_doctor_id is not None else "").strip().isdecimal() \
            or len(str(to_doctor_id).strip()) > 9 or int(str(to_doctor_id).strip()) < 1:
        raise ValidationError("Validation failed", errors=[field_error(
            "to_doctor_id", "to_doctor_id must be a doctor's user id", to_doctor_id if isinstance(
                to_doctor_id, (int, str)) and len(str(to_doctor_id)) < 20 else None)])
    doctor = db.session.get(User, int(str(to_doctor_id).strip()))
    if doctor is None or not doctor.is_doctor:
        raise ValidationError("A patient is referred to a Faculty member or a Resident",
                              errors=[field_error("to_doctor_id", "Not a doctor", int(str(to_doctor_id).strip()))])
    if not doctor.is_active:
        raise ValidationError(f"{doctor.name}'s account is deactivated: refer to another doctor",
                              errors=[field_error("to_doctor_id", "Deactivated account", doctor.id)])
    if doctor.id == actor.id:
        raise ValidationError("You cannot refer a patient to yourself",
                              errors=[field_error("to_doctor_id", "Choose another doctor", doctor.id)])
    return doctor


def _patient(patient_id) -> Patient:
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None:
        raise NotFound("Patient not found")
    if not patient.is_active:
        raise ValidationError(f"Patient {patient.cr_no or patient.id} is archived and cannot be referred")
    return patient


def open_referral(patient_id: int, to_doctor_id: int) -> PatientReferral | None:
    return db.session.execute(select(PatientReferral).where(
        PatientReferral.patient_id == patient_id, PatientReferral.to_doctor_id == to_doctor_id,
        PatientReferral.status.in_(OPEN_REFERRAL))).scalar_one_or_none()


def _new(patient: Patient, doctor: User, reason: str | None, actor: User) -> PatientReferral:
    row = PatientReferral(patient_id=patient.id, from_doctor_id=actor.id, to_doctor_id=doctor.id, reason=reason,
                          status="pending")
    message = f"{patient.name} already has an open referral to {doctor.name}"
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:  # the same referral sent twice at once: the partial unique index
        db.session.rollback()
        raise Conflict(message)
    audit.record("referral_create", "patient_referrals", row.id, patient_id=patient.id, user_id=actor.id,
                 details={"to_doctor_id": doctor.id})
    return row


def refer(patient_id: int, to_doctor_id, reason, actor: User) -> PatientReferral:
    """Refer one patient to another active doctor (not oneself). 409 when the patient already
    has an open referral to that doctor."""
    patient = _patient(patient_id)
    doctor = _target(to_doctor_id, actor)
    text = _reason(reason)
    if open_referral(patient.id, doctor.id) is not None:
        raise Conflict(f"{patient.name} already has an open referral to {doctor.name}")
    row = _new(patient, doctor, text, actor)
    db.session.commit()
    return row


def refer_bulk(patient_ids, to_doctor_id, reason, actor: User) -> dict:
    """Refer several patients to one doctor. Every id must name an active patient (else
    nothing is referred); those already referred to the doctor are skipped and listed.
    Returns ``{"referrals": [PatientReferral], "skipped": [{"patient_id", "reason"}]}``."""
    if not isinstance(patient_ids, list) or not patient_ids:
        raise ValidationError("Validation failed", errors=[field_error(
            "patient_ids", "patient_ids must be a non-empty list of patient ids", None)])
    if len(patient_ids) > BULK_MAX:
        raise ValidationError(f"At most {BULK_MAX} patients at once",
                              errors=[field_error("patient_ids", f"At most {BULK_MAX}", len(patient_ids))])
    ids = []
    for raw in patient_ids:
        if isinstance(raw, bool) or not str(raw).isdecimal() or len(str(raw)) > 9 or int(raw) < 1:
            raise ValidationError("Validation failed", errors=[field_error(
                "patient_ids", "Every patient id must be a positive integer", raw if isinstance(raw, (int, str))
                and len(str(raw)) < 20 else None)])
        if int(raw) not in ids:
            ids.append(int(raw))
    doctor = _target(to_doctor_id, actor)
    text = _reason(reason)
    patients = {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}
    missing = [i for i in ids if i not in patients]
    if missing:
        raise NotFound(f"Patient(s) not found: {', '.join(map(str, missing[:20]))}")
    archived = [i for i in ids if not patients[i].is_active]
    if archived:
        raise ValidationError(f"Archived patient(s) cannot be referred: {', '.join(map(str, archived[:20]))}")
    already = set(db.session.execute(select(PatientReferral.patient_id).where(
        PatientReferral.patient_id.in_(ids), PatientReferral.to_doctor_id == doctor.id,
        PatientReferral.status.in_(OPEN_REFERRAL))).scalars())
    made, skipped = [], []
    for i in ids:
        if i in already:
            skipped.append({"patient_id": i, "reason": f"already has an open referral to {doctor.name}"})
            continue
        made.append(_new(patients[i], doctor, text, actor))
    db.session.commit()
    return {"referrals": made, "skipped": skipped}


def get(referral_id: int) -> PatientReferral:
    row = db.session.get(PatientReferral, referral_id)
    if row is None:
        raise NotFound("Referral not found")
    return row


def _act(referral_id: int, actor: User, act: str) -> PatientReferral:
    row = get(referral_id)
    if act in ("seen", "complete"):
        if row.to_doctor_id != actor.id and not _is_admin(actor):
            raise Forbidden("Only the doctor the patient was referred to (or an Admin) can mark this referral "
                            + ("seen" if act == "seen" else "completed"))
    elif row.from_doctor_id != actor.id and not _is_admin(actor):
        raise Forbidden("Only the doctor who referred the patient (or an Admin) can revoke this referral")
    if row.status not in OPEN_REFERRAL:
        raise Conflict(f"This referral is already {row.status}")
    now = _now()
    if act == "seen":
        if row.status == "pending":
            row.status, row.seen_at = "seen", now
    elif act == "complete":
        row.status, row.completed_at = "completed", now
        row.seen_at = row.seen_at or now
    else:
        row.status, row.revoked_at, row.revoked_by = "revoked", now, actor.id
    audit.record(f"referral_{act if act != 'complete' else 'completed'}", "patient_referrals", row.id,
                 patient_id=row.patient_id, user_id=actor.id, details={"status": row.status})
    db.session.commit()
    return row


def mark_seen(referral_id: int, actor: User) -> PatientReferral:
    return _act(referral_id, actor, "seen")


def complete(referral_id: int, actor: User) -> PatientReferral:
    return _act(referral_id, actor, "complete")


def revoke(referral_id: int, actor: User) -> PatientReferral:
    return _act(referral_id, actor, "revoke")


def sees_all(user: User) -> bool:
    """Admin and the welfare officers see every referral; a doctor sees those to or by them."""
    return not user.is_doctor


def parse_list_args(args, user: User) -> dict:
    """``direction`` (to_me | by_me | all) and ``status`` (a status or ``open``) from a query."""
    errors = []
    direction = (args.get("direction") or "").strip() or ("all" if sees_all(user) else "to_me")
    if direction not in DIRECTIONS or (direction == "all" and not sees_all(user)):
        allowed = DIRECTIONS if sees_all(user) else DIRECTIONS[:2]
        errors.append(field_error("direction", f"direction must be one of: {', '.join(allowed)}",
                                  direction[:20], "query"))
    status = (args.get("status") or "").strip()
    if status and status not in REFERRAL_STATUSES + ("open",):
        errors.append(field_error("status", "status must be pending, seen, completed, revoked or open",
                                  status[:20], "query"))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return {"direction": direction, "status": status or None}


def list_referrals(user: User, direction: str, status: str | None = None, page: int = 1,
                   limit: int = 20) -> tuple[list[PatientReferral], int]:
    """Newest first. ``status`` "open" means pending or seen."""
    q = select(PatientReferral)
    if direction == "to_me":
        q = q.where(PatientReferral.to_doctor_id == user.id)
    elif direction == "by_me":
        q = q.where(PatientReferral.from_doctor_id == user.id)
    elif not sees_all(user):
        raise Forbidden("A doctor lists the referrals to or by them")
    if status == "open":
        q = q.where(PatientReferral.status.in_(OPEN_REFERRAL))
    elif status:
        q = q.where(PatientReferral.status == status)
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(PatientReferral.created_at.desc(), PatientReferral.id.desc())
                              .offset((page - 1) * limit).limit(limit)).scalars().all()
    return list(rows), total


def referred_to_query(user_id: int):
    """The statement selecting the ids of patients with an open referral to this doctor."""
    return select(PatientReferral.patient_id).where(PatientReferral.to_doctor_id == user_id,
                                                    PatientReferral.status.in_(OPEN_REFERRAL))


def has_open_referral():
    """The condition on Patient: the patient has an open (pending or seen) referral to anyone
    (the dashboard's ``referred`` filter; open as in the referral cards' counts)."""
    return select(PatientReferral.id).where(PatientReferral.patient_id == Patient.id,
                                            PatientReferral.status.in_(OPEN_REFERRAL)).exists()


def referred_to(user_id: int) -> set[int]:
    """Ids of the patients with an open referral to this doctor (part of their list scope)."""
    return set(db.session.execute(referred_to_query(user_id)).scalars())


RowReferral = namedtuple("RowReferral", "id status to_doctor_id to_doctor_name")


def row_states(patient_ids, day: dt.date) -> dict[int, RowReferral]:
    """The referral Today's Patients shows on each patient's row, for many patients in one
    query: the newest open referral (pending, seen); without one, the newest closed on ``day``
    (completed, revoked: IST day, by ``updated_at``). Patients with neither are absent."""
    ids = list(patient_ids)
    if not ids:
        return {}
    start, _end = ist_day_bounds_utc(day)
    q = (select(PatientReferral.id, PatientReferral.patient_id, PatientReferral.status,
                PatientReferral.to_doctor_id, User.name)
         .join(User, User.id == PatientReferral.to_doctor_id)
         .where(PatientReferral.patient_id.in_(ids),
                or_(PatientReferral.status.in_(OPEN_REFERRAL), PatientReferral.updated_at >= start))
         .order_by(PatientReferral.id))
    out: dict[int, RowReferral] = {}
    for rid, patient_id, status, to_id, to_name in db.session.execute(q):
        shown = out.get(patient_id)
        if shown is None or status in OPEN_REFERRAL or shown.status not in OPEN_REFERRAL:
            out[patient_id] = RowReferral(rid, status, to_id, to_name)  # the newest open wins
    return out


def open_count(to_user_id: int | None = None) -> int:
    """Open referrals (pending or seen), to one doctor or to anyone."""
    q = select(func.count(PatientReferral.id)).where(PatientReferral.status.in_(OPEN_REFERRAL))
    if to_user_id is not None:
        q = q.where(PatientReferral.to_doctor_id == to_user_id)
    return db.session.execute(q).scalar_one()


def for_patient(patient_id: int) -> list[PatientReferral]:
    return list(db.session.execute(select(PatientReferral).where(PatientReferral.patient_id == patient_id)
                                   .order_by(PatientReferral.id.desc())).scalars())


def doctors_to_refer_to(actor: User) -> list[User]:
    """Active Faculty and Residents other than the actor, by name."""
    from ..auth.models import DOCTOR_ROLES
    return list(db.session.execute(select(User).where(User.role.in_(tuple(DOCTOR_ROLES)), User.is_active.is_(True),
                                                      User.id != actor.id).order_by(User.name, User.id)).scalars())


def people(rows) -> dict[int, User]:
    """The users named by these referrals, by id."""
    ids = {i for r in rows for i in (r.from_doctor_id, r.to_doctor_id, r.revoked_by) if i}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}


def patients_of(rows) -> dict[int, Patient]:
    ids = {r.patient_id for r in rows}
    if not ids:
        return {}
    return {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}


def referral_json(row: PatientReferral, users: dict[int, User] | None = None,
                  patients: dict[int, Patient] | None = None) -> dict:
    users = users if users is not None else people([row])
    patients = patients if patients is not None else patients_of([row])
    p = patients.get(row.patient_id)
    body = row.to_dict()
    body.update({
        "patient_name": p.name if p else None, "cr_no": p.cr_no if p else None,
        "from_doctor_name": users[row.from_doctor_id].name if row.from_doctor_id in users else None,
        "to_doctor_name": users[row.to_doctor_id].name if row.to_doctor_id in users else None,
        "created_at": json_value(row.created_at),
    })
    return body



def may_mark(row: PatientReferral, user: User) -> bool:
    return row.status in OPEN_REFERRAL and (row.to_doctor_id == user.id or _is_admin(user))


def may_revoke(row: PatientReferral, user: User) -> bool:
    return row.status in OPEN_REFERRAL and (row.from_doctor_id == user.id or _is_admin(user))


ACTS = {"seen": mark_seen, "complete": complete, "revoke": revoke}


def act(referral_id: int, action: str, actor: User) -> PatientReferral:
    """One of the page's buttons: seen, complete or revoke."""
    fn = ACTS.get(action)
    if fn is None:
        raise ValidationError("Say what to do with the referral: seen, complete or revoke")
    return fn(referral_id, actor)
