"""Follow-up notes: the one place their rules live (the pages and /api/follow-ups call these).

- a follow-up is for a returning patient: an active patient who has been seen before (a walk-in
  proforma, an earlier follow-up, or a visit on an earlier day); a first visit gets the walk-in
  proforma instead;
- the clinical assessment is required (1 to 10,000 characters); the visit date is an IST date
  decided on the server (today by default), never after today;
- the day's visit: when the patient has no visit row that day, one is written (typed
  ``follow_up``) in the same transaction as the note; nothing is swallowed — if the visit
  cannot be written, the note is not saved either;
- who may read, write, amend and withdraw follow-ups is decided in auth/records.py (kind
  ``follow-up``): clinicians (Admin, Faculty, Resident) read and write them; a welfare officer
  neither reads nor writes the note (it is clinical text, as a proforma is to them). Amending
  or withdrawing someone else's note follows the proforma's seniority rule (the author; Faculty
  over Residents; never a Resident over another doctor's note; an Admin withdraws any but
  amends only their own). Every amendment needs a reason, keeps the version it replaces
  (clinical_versions, record_type ``followup``) with who wrote it, who replaced it and why;
- a withdrawn note stays (is_active false, who, when, why); nothing is hard-deleted;
- ``visit_number`` is the note's ordinal among the patient's active follow-ups ordered by
  visit date then id; ``total_visits`` is their count.
"""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, exists, func, or_, select

from .. import facts
from ..audit import service as audit
from ..auth import records
from ..auth.models import DOCTOR_ROLES, User
from ..clinical.models import ClinicalProforma
from ..errors import NotFound, ValidationError, field_error, positive_id
from ..extensions import db
from ..models_base import utcnow
from ..opd.models import Room
from ..patients import visits
from ..patients.models import Patient, PatientFile, PatientVisit
from ..serialize import json_value
from ..timeutil import today_ist
from ..versioning import MAX_REASON, clean_reason, keep_version, lock_for_edit, versions_of
from .models import MAX_ASSESSMENT, MAX_ROOM, FollowUp

RECORD_TYPE = "followup"
FIELDS = ("visit_date", "clinical_assessment", "assigned_doctor_id", "room_no")
SNAPSHOT = FIELDS + ("change_reason",)

CREATED = "Follow-up visit saved successfully"
NOT_FOUND = "Follow-up visit not found"
NOT_RETURNING = ("A follow-up is for a returning patient: {name} has no walk-in proforma, earlier follow-up or "
                 "earlier visit. Fill the walk-in clinical proforma for a first visit.")
NOTHING_CHANGED = "Nothing to change: the values sent are the ones the note already has"


def _echo(value):
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) and len(str(value)) <= 100 else None


def _err(name, msg, value=None):
    return field_error(name, msg, _echo(value))


_positive_id = positive_id


# --------------------------------------------------------------------------- validation

def clean(data: dict, *, creating: bool) -> tuple[dict, list]:
    """The fields sent, checked: (values, field errors). Keys not sent are left out."""
    values, errors = {}, []
    if "visit_date" in data:
        raw = data["visit_date"]
        if raw in (None, ""):
            if not creating:
                errors.append(_err("visit_date", "visit_date cannot be emptied", raw))
        else:
            day = None
            if isinstance(raw, str):
                try:
                    day = dt.date.fromisoformat(raw.strip()[:10]) if len(raw.strip()) == 10 else None
                except ValueError:
                    day = None
            if day is None or day.year < 1900:
                errors.append(_err("visit_date", "visit_date must be a date (YYYY-MM-DD)", raw))
            elif day > today_ist():
                errors.append(_err("visit_date", f"visit_date cannot be after today ({today_ist():%d %b %Y}, "
                                                 f"India time): a follow-up records a visit that has happened", raw))
            else:
                values["visit_date"] = day
    if "clinical_assessment" in data or creating:
        raw = data.get("clinical_assessment")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            errors.append(_err("clinical_assessment", "Clinical assessment is required"))
        elif not isinstance(raw, str):
            errors.append(_err("clinical_assessment", "clinical_assessment must be text"))
        elif len(raw) > MAX_ASSESSMENT or "\x00" in raw:
            errors.append(_err("clinical_assessment",
                               f"Clinical assessment must be at most {MAX_ASSESSMENT:,} characters"))
        else:
            values["clinical_assessment"] = raw.strip()
    if "assigned_doctor_id" in data:
        raw = data["assigned_doctor_id"]
        if raw in (None, ""):
            values["assigned_doctor_id"] = None
        else:
            uid = _positive_id(raw)
            user = db.session.get(User, uid) if uid else None
            if user is None or not user.is_active or user.role not in DOCTOR_ROLES:
                errors.append(_err("assigned_doctor_id",
                                   "The assigned doctor must be an active Faculty member or Resident", raw))
            else:
                values["assigned_doctor_id"] = user.id
    if "room_no" in data:
        raw = data["room_no"]
        if raw in (None, ""):
            values["room_no"] = None
        elif not isinstance(raw, (str, int)) or isinstance(raw, bool) or len(str(raw).strip()) > MAX_ROOM:
            errors.append(_err("room_no", f"room_no must be a room number of at most {MAX_ROOM} characters", raw))
        else:
            from ..opd import rooms
            room = rooms.room_by_number(str(raw))
            if room is None:
                errors.append(_err("room_no", f"Room {str(raw).strip()} is not one of the OPD's rooms", raw))
            else:
                values["room_no"] = room
    return values, errors


def _reason(data: dict) -> str:
    raw = data.get("amend_reason", data.get("change_reason", data.get("reason")))
    try:
        return clean_reason(raw, required=True, what="amendment")
    except ValidationError:
        raise ValidationError("Give the reason for the amendment", errors=[field_error(
            "amend_reason", f"Give the reason for the amendment (5 to {MAX_REASON} characters)")]) from None


# --------------------------------------------------------------------------- the patient

def _seen_before_expr(patient, day, exclude_id):
    proforma = exists().where(ClinicalProforma.patient_id == patient, ClinicalProforma.is_active.is_(True),
                              ClinicalProforma.visit_date <= day)
    followup = exists().where(FollowUp.patient_id == patient, FollowUp.is_active.is_(True),
                              FollowUp.visit_date <= day, FollowUp.id != exclude_id)
    earlier_visit = exists().where(PatientVisit.patient_id == patient, PatientVisit.visit_date < day,
                                   PatientVisit.visit_status != "cancelled")
    return or_(proforma, followup, earlier_visit)


@functools.cache  # built once
def _seen_before():
    return select(_seen_before_expr(bindparam("patient_id"), bindparam("day", type_=db.Date), bindparam("exclude_id")))


def seen_before(patient_id: int, day: dt.date, exclude_id: int | None = None) -> bool:
    """Has the patient been seen before ``day`` (or on it, by a proforma)? A walk-in proforma,
    an active follow-up (other than ``exclude_id``), or a visit on an earlier day."""
    return bool(db.session.execute(_seen_before(), {"patient_id": patient_id, "day": day,
                                                    "exclude_id": exclude_id or 0}).scalar())


# The patient page's facts (emrs/facts.py): seen before today, so the page offers a follow-up note.
facts.register("seen_before", lambda patient, day: _seen_before_expr(patient, day, 0), uses_day=True)


def _patient(raw) -> Patient:
    if raw in (None, ""):
        raise ValidationError("patient_id is required", errors=[_err("patient_id", "patient_id is required")])
    pid = _positive_id(raw)
    if pid is None:
        raise ValidationError("Validation failed", errors=[_err("patient_id", "patient_id must be a positive integer",
                                                                raw)])
    patient = db.session.get(Patient, pid)
    if patient is None or not patient.is_active:
        raise NotFound("Patient not found")
    return patient


def _visit_for(followup: FollowUp, actor: User) -> PatientVisit:
    """The patient's visit of the follow-up's day, written (typed follow_up) when there is none."""
    visit = visits.visit_on(followup.patient_id, followup.visit_date)
    if visit is not None:
        return visit
    visit = PatientVisit(patient_id=followup.patient_id, visit_date=followup.visit_date, visit_type="follow_up",
                         visit_status="in_progress" if followup.visit_date == today_ist() else "completed",
                         assigned_doctor_id=followup.assigned_doctor_id, room_id=followup.room_id,
                         room_no=followup.room_no, notes="Follow-up visit")
    db.session.add(visit)
    db.session.flush()
    audit.record("visit_create", "patient_visits", visit.id, patient_id=followup.patient_id,
                 details={"visit_date": followup.visit_date.isoformat(), "visit_type": "follow_up",
                          "source": "follow-up"})
    return visit


def _set_room(row: FollowUp, room: Room | None) -> None:
    row.room_id = room.id if room is not None else None
    row.room_no = room.room_number if room is not None else None


# --------------------------------------------------------------------------- writing

def create(data: dict, actor: User, files=None) -> tuple[FollowUp, int, int]:
    """A new follow-up note: (row, visit_number, total_visits). With ``files`` (uploaded
    FileStorage objects) they are stored as the note's attachments in the same transaction:
    a bad file leaves neither note nor files."""
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    records.check(actor, records.CREATE, records.FOLLOWUP)
    patient_raw = data.get("patient_id")
    values, errors = clean(data, creating=True)
    try:
        patient = _patient(patient_raw)
    except ValidationError as exc:
        raise ValidationError(exc.message if not errors else "Validation failed",
                              errors=(exc.errors or []) + errors) from None
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    day = values.get("visit_date") or today_ist()
    if not seen_before(patient.id, day):
        message = NOT_RETURNING.format(name=patient.name)
        raise ValidationError(message, errors=[_err("patient_id", message, patient.id)])
    row = FollowUp(patient_id=patient.id, visit_date=day, clinical_assessment=values["clinical_assessment"],
                   filled_by=actor.id)
    todays = visits.visit_on(patient.id, day)
    if "assigned_doctor_id" in values:
        row.assigned_doctor_id = values["assigned_doctor_id"]
    elif actor.role in DOCTOR_ROLES:
        row.assigned_doctor_id = actor.id
    else:
        row.assigned_doctor_id = (todays.assigned_doctor_id if todays is not None else None) \
            or patient.assigned_doctor_id
    if "room_no" in values:
        _set_room(row, values["room_no"])
    else:
        _set_room(row, _default_room(actor, todays, day))
    db.session.add(row)
    db.session.flush()
    row.visit_id = _visit_for(row, actor).id
    audit.record("followup_create", "followup_visits", row.id, patient_id=patient.id,
                 details={"visit_date": day.isoformat(), "visit_id": row.visit_id})
    if files:
        from ..patients import files as patient_files
        try:
            patient_files.upload(patient, files, actor, followup_id=row.id)  # commits the note with the files
        except BaseException:
            db.session.rollback()  # a refused file: neither the note nor its visit is kept
            raise
    else:
        db.session.commit()
    number, total = numbers_for(row)
    return row, number, total


def _default_room(actor: User, todays: PatientVisit | None, day: dt.date) -> Room | None:
    """The room of the day's visit, else the doctor's room that day."""
    if todays is not None and todays.room_id is not None:
        return db.session.get(Room, todays.room_id)
    from ..opd import rooms
    return rooms.room_of(actor.id, day)


def may_amend(row: FollowUp, actor) -> bool:
    return records.may(actor, records.AMEND, records.FOLLOWUP, row.author_id)


def may_withdraw(row: FollowUp, actor) -> bool:
    return records.may(actor, records.WITHDRAW, records.FOLLOWUP, row.author_id)


def snapshot(row: FollowUp) -> dict:
    return {k: getattr(row, k) for k in SNAPSHOT}


def amend(row: FollowUp, data: dict, actor: User, expected_version=None) -> FollowUp:
    """A new version of the note (PUT): the fields sent replace the current ones; the version
    replaced is kept with its author, and this one names who changed it and why."""
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    records.check(actor, records.AMEND, records.FOLLOWUP, row.author_id)
    if not row.is_active:
        raise NotFound(NOT_FOUND)
    if expected_version is None and "version" in data:
        expected_version = data.get("version")
    lock_for_edit(row, expected_version, "This follow-up note was changed by someone else after you opened it. "
                                         "Reload to see their changes; your text is kept.")
    values, errors = clean({k: v for k, v in data.items() if k in FIELDS}, creating=False)
    why = None
    try:
        why = _reason(data)
    except ValidationError as exc:
        if not errors:
            raise
        errors += exc.errors
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    changes = {}
    for key, value in values.items():
        if key == "room_no":
            if (value.id if value is not None else None) != row.room_id:
                changes[key] = value
        elif value != getattr(row, key):
            changes[key] = value
    if not changes:
        raise ValidationError(NOTHING_CHANGED, errors=[_err("clinical_assessment", NOTHING_CHANGED)])
    if "visit_date" in changes and not seen_before(row.patient_id, changes["visit_date"], exclude_id=row.id):
        message = "A follow-up cannot be dated before the patient's first visit"
        raise ValidationError(message, errors=[_err("visit_date", message, changes["visit_date"].isoformat())])
    keep_version(RECORD_TYPE, row, snapshot(row), row.author_id, row.amended_at or row.created_at,
                 row.change_reason, actor)
    for key, value in changes.items():
        if key == "room_no":
            _set_room(row, value)
        else:
            setattr(row, key, value)
    if "visit_date" in changes:
        row.visit_id = _visit_for(row, actor).id
    row.version += 1
    row.amended_by, row.amended_at, row.change_reason = actor.id, utcnow(), why
    audit.record("followup_update", "followup_visits", row.id, patient_id=row.patient_id,
                 details={"fields": sorted(changes), "version": row.version})
    db.session.commit()
    return row


def withdraw(row: FollowUp, actor: User, reason) -> FollowUp:
    """The note is withdrawn (kept, marked, with who, when and why), never removed."""
    records.check(actor, records.WITHDRAW, records.FOLLOWUP, row.author_id)
    if not row.is_active:
        raise NotFound(NOT_FOUND)
    try:
        why = clean_reason(reason, required=True, what="withdrawal")
    except ValidationError:
        raise ValidationError("Give the reason for the withdrawal", errors=[field_error(
            "reason", f"Give the reason for the withdrawal (5 to {MAX_REASON} characters)")]) from None
    lock_for_edit(row)
    row.is_active = False
    row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason = utcnow(), actor.id, why
    row.version += 1
    audit.record("followup_withdraw", "followup_visits", row.id, patient_id=row.patient_id)
    db.session.commit()
    return row


def restore(row: FollowUp, actor: User) -> FollowUp:
    """Admin (the withdrawn-records page): undo a withdrawal."""
    records.check(actor, records.RESTORE, records.FOLLOWUP)
    lock_for_edit(row)
    if not row.is_active:
        row.is_active = True
        row.withdrawn_at = row.withdrawn_by = row.withdrawal_reason = None
        row.version += 1
        audit.record("followup_restore", "followup_visits", row.id, patient_id=row.patient_id)
    db.session.commit()
    return row


def withdrawn(limit: int = 200) -> list[FollowUp]:
    """Withdrawn follow-up notes, newest withdrawal first (the Admin's withdrawn-records page)."""
    return list(db.session.execute(select(FollowUp).where(FollowUp.is_active.is_(False))
                                   .order_by(FollowUp.withdrawn_at.desc().nulls_last(), FollowUp.id.desc())
                                   .limit(limit)).scalars())


# --------------------------------------------------------------------------- reading

def get(followup_id, reader, *, audit_read: bool = True, include_withdrawn: bool = False) -> FollowUp:
    """The note if ``reader`` may read follow-ups (403 otherwise); a withdrawn one only with
    ``include_withdrawn``."""
    records.check(reader, records.READ, records.FOLLOWUP)
    row = db.session.get(FollowUp, followup_id) if isinstance(followup_id, int) and 0 < followup_id < 2**31 \
        else None
    if row is None or (not row.is_active and not include_withdrawn):
        raise NotFound(NOT_FOUND)
    if audit_read:
        audit.record_now("followup_view", "followup_visits", row.id, patient_id=row.patient_id)
    return row


def _ordered(patient_id: int):
    return (select(FollowUp.id).where(FollowUp.patient_id == patient_id, FollowUp.is_active.is_(True))
            .order_by(FollowUp.visit_date, FollowUp.id))


def numbers_for(row: FollowUp) -> tuple[int, int]:
    """(visit_number, total_visits) of an active note; (0, total) for a withdrawn one."""
    ids = list(db.session.execute(_ordered(row.patient_id)).scalars())
    return (ids.index(row.id) + 1 if row.id in ids else 0), len(ids)


def numbering(patient_id: int) -> dict[int, int]:
    """follow-up id -> visit number, for the patient's active notes."""
    return {fid: n for n, fid in enumerate(db.session.execute(_ordered(patient_id)).scalars(), start=1)}


def total_visits(patient_id: int) -> int:
    return db.session.execute(select(func.count(FollowUp.id)).where(
        FollowUp.patient_id == patient_id, FollowUp.is_active.is_(True))).scalar_one()


def followup_dicts(rows: list[FollowUp]) -> list[dict]:
    """Rows with patient_name, cr_no, doctor_name (who wrote it), assigned_doctor_name and visit_number."""
    if not rows:
        return []
    user_ids = {r.filled_by for r in rows} | {r.assigned_doctor_id for r in rows} | {r.amended_by for r in rows}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids - {None} or {0}))).all())
    patients = {p.id: p for p in db.session.execute(select(Patient).where(
        Patient.id.in_({r.patient_id for r in rows}))).scalars()}
    numbers = {}
    for pid in {r.patient_id for r in rows}:
        numbers.update(numbering(pid))
    out = []
    for r in rows:
        d = r.to_dict()
        p = patients.get(r.patient_id)
        d.update({"patient_name": p.name if p else None, "cr_no": p.cr_no if p else None,
                  "doctor_name": names.get(r.filled_by), "assigned_doctor_name": names.get(r.assigned_doctor_id),
                  "amended_by_name": names.get(r.amended_by), "visit_number": numbers.get(r.id)})
        out.append(d)
    return out


def followup_dict(row: FollowUp) -> dict:
    return followup_dicts([row])[0]


def list_for_patient(patient_id, page: int, limit: int, reader) -> tuple[list[FollowUp], int]:
    """A page of the patient's active follow-ups, newest first; the read is audited."""
    records.check(reader, records.READ, records.FOLLOWUP)
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None:
        raise NotFound("Patient not found")
    q = select(FollowUp).where(FollowUp.patient_id == patient.id, FollowUp.is_active.is_(True))
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = list(db.session.execute(q.order_by(FollowUp.visit_date.desc(), FollowUp.id.desc())
                                   .offset((page - 1) * limit).limit(limit)).scalars())
    audit.record_now("followup_list_view", "followup_visits", None, patient_id=patient.id,
                     details={"count": len(rows)})
    return rows, total


@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The patient's newest active follow-ups with their visit numbers (emrs/timeline.py
    slots): id, at = created_at, day = visit_date, text1 = the assessment's first 121
    characters, num1 = the visit number (as numbering() counts), num2 = how many there are."""
    numbered = (select(FollowUp.id, FollowUp.created_at, FollowUp.visit_date,
                       func.substr(FollowUp.clinical_assessment, 1, 121).label("excerpt"),
                       func.row_number().over(order_by=(FollowUp.visit_date, FollowUp.id)).label("number"),
                       func.count().over().label("total"))
                .where(FollowUp.patient_id == bindparam("patient_id"), FollowUp.is_active.is_(True))
                .subquery("numbered"))
    return (select(numbered.c.id, numbered.c.created_at.label("at"), numbered.c.visit_date.label("day"),
                   numbered.c.excerpt.label("text1"), numbered.c.number.label("num1"),
                   numbered.c.total.label("num2"))
            .order_by(numbered.c.visit_date.desc(), numbered.c.id.desc()).limit(bindparam("limit")))


def for_patient(patient_id: int) -> list[FollowUp]:
    """The patient's active follow-ups, newest first (timeline; the caller checks reading)."""
    return list(db.session.execute(select(FollowUp).where(
        FollowUp.patient_id == patient_id, FollowUp.is_active.is_(True))
        .order_by(FollowUp.visit_date.desc(), FollowUp.id.desc())).scalars())


def files_of(row: FollowUp) -> list[PatientFile]:
    """The files attached to the note (not deleted), oldest first."""
    return list(db.session.execute(select(PatientFile).where(
        PatientFile.followup_id == row.id, PatientFile.is_deleted.is_(False))
        .order_by(PatientFile.id)).scalars())


def version_history(row: FollowUp) -> list[dict]:
    """Every version, oldest first (the current one last): its fields, author, when, why."""
    kept = versions_of(RECORD_TYPE, row.id)
    ids = {v.author_id for v in kept} | {v.superseded_by for v in kept} | {row.author_id}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids - {None} or {0}))).all())
    out = [{"version": v.version, "fields": v.data, "author_id": v.author_id, "author_name": names.get(v.author_id),
            "authored_at": json_value(v.authored_at), "change_reason": v.data.get("change_reason"),
            "superseded_by": v.superseded_by, "superseded_by_name": names.get(v.superseded_by),
            "superseded_at": json_value(v.superseded_at), "current": False} for v in kept]
    out.append({"version": row.version, "fields": {k: json_value(v) for k, v in snapshot(row).items()},
                "author_id": row.author_id, "author_name": names.get(row.author_id),
                "authored_at": json_value(row.amended_at or row.created_at), "change_reason": row.change_reason,
                "superseded_by": None, "superseded_by_name": None, "superseded_at": None, "current": True})
    return out


def returning(patient_id: int) -> bool:
    """Whether a follow-up note may be written for the patient today."""
    return seen_before(patient_id, today_ist())
