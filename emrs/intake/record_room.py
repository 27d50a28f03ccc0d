"""The record room: moves of the physical intake file (roles-and-workflow.md §4.3).

    created ──store──▶ stored ──retrieve──▶ retrieved ──return──▶ stored ── … 
    any state except archived ──archive/delete──▶ archived (is_active = false)

Every move writes one ``file_movements`` row and one audit row carrying the patient
id, and commits. No Flask request objects here: the pages and the API call in.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from ..querying import date_filters, within_dates
from ..audit import service as audit
from ..auth import records as rules
from ..auth.models import User
from ..clinical.models import ClinicalProforma
from ..errors import NotFound, ValidationError, field_error
from ..extensions import db
from ..patients.models import OPEN_VISIT_STATUSES, Patient, PatientVisit
from ..timeutil import today_ist
from .models import INTAKE_FILE_STATUSES, WORKUP_FIELDS, FileMovement, IntakeRecord

RECORD_ROOM = "Record Room"
DOCTOR_OFFICE = "Doctor Office"
ARCHIVE_ROOM = "Archive Room"
MAX_LOCATION = 100
MAX_NOTE = 1000
MAX_BULK = 500
OPEN_VISIT = OPEN_VISIT_STATUSES

STATUS_LABELS = {"created": "Created (not yet in the record room)", "stored": "In the record room",
                 "retrieved": "Out of the record room", "active": "Active", "archived": "Archived"}


# --------------------------------------------------------------------------- moves

def _actor_id(actor) -> int | None:
    return getattr(actor, "id", None)


def _clean_note(note) -> str | None:
    if note in (None, ""):
        return None
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ValidationError("Validation failed",
                              errors=[field_error("notes", f"A note must be text of at most {MAX_NOTE} characters")])
    return note.strip() or None


def _move(record: IntakeRecord, actor, movement_type: str, from_location, to_location, note=None,
          *, commit: bool = True) -> FileMovement:
    row = FileMovement(adl_file_id=record.id, patient_id=record.patient_id, moved_by=_actor_id(actor),
                       movement_type=movement_type, from_location=from_location, to_location=to_location,
                       notes=note)
    db.session.add(row)
    audit.record(f"file_{movement_type}", "adl_files", record.id, patient_id=record.patient_id,
                 user_id=_actor_id(actor),
                 details={"from": from_location, "to": to_location, "status": record.file_status})
    if commit:
        db.session.commit()
    return row


def _touch(record: IntakeRecord, actor) -> None:
    record.last_accessed_date = today_ist()
    record.last_accessed_by = _actor_id(actor)


def store(record: IntakeRecord, actor, location=None, note=None, *, commit: bool = True) -> IntakeRecord:
    """created → stored: the new paper file is put away in the record room."""
    if record.file_status != "created":
        raise ValidationError(f"Only a newly created file can be put into storage. "
                              f"Current status: {record.file_status}")
    if location not in (None, "") and (not isinstance(location, str) or len(location.strip()) > MAX_LOCATION):
        raise ValidationError("Validation failed", errors=[field_error(
            "physical_file_location", f"physical_file_location must be at most {MAX_LOCATION} characters")])
    note = _clean_note(note)
    place = (location or "").strip() or None
    record.file_status = "stored"
    if place:
        record.physical_file_location = place
    _move(record, actor, "stored", None, place or record.physical_file_location or RECORD_ROOM, note,
          commit=commit)
    return record


def _destination(record: IntakeRecord) -> tuple[str, int | None]:
    """Where a retrieved file goes: the room and doctor of the patient's open visit today
    ("Room 7 · Dr Kaur"), else the doctors' office. Returns (place, doctor id or None)."""
    row = db.session.execute(
        select(PatientVisit.room_no, PatientVisit.assigned_doctor_id, User.name)
        .outerjoin(User, User.id == PatientVisit.assigned_doctor_id)
        .where(PatientVisit.patient_id == record.patient_id, PatientVisit.visit_date == today_ist(),
               PatientVisit.visit_status.in_(OPEN_VISIT))
        .order_by(PatientVisit.created_at.desc(), PatientVisit.id.desc()).limit(1)).first()
    if row is None or not (row.room_no or row.name):
        return DOCTOR_OFFICE, None
    place = " · ".join(x for x in (f"Room {row.room_no}" if row.room_no else None, row.name) if x)
    return place[:100], row.assigned_doctor_id


def retrieve(record: IntakeRecord, actor, note=None, *, commit: bool = True) -> IntakeRecord:
    """stored → retrieved: taken from the record room to the clinic — to the room and doctor of
    the patient's visit today when there is one. The file is then *with that doctor* (the
    movement still names the clerk who moved it)."""
    if record.file_status != "stored":
        raise ValidationError(f"File is not available for retrieval. Current status: {record.file_status}")
    note = _clean_note(note)
    place, doctor_id = _destination(record)
    record.file_status = "retrieved"
    _touch(record, actor)
    if doctor_id is not None:
        record.last_accessed_by = doctor_id
    _move(record, actor, "retrieved", RECORD_ROOM, place, note, commit=commit)
    return record


def _last_place(record: IntakeRecord) -> str:
    """Where a retrieved file was taken (its last retrieval's destination)."""
    return db.session.execute(select(FileMovement.to_location).where(
        FileMovement.adl_file_id == record.id, FileMovement.movement_type == "retrieved")
        .order_by(FileMovement.id.desc()).limit(1)).scalar() or DOCTOR_OFFICE


def return_file(record: IntakeRecord, actor, note=None, *, commit: bool = True) -> IntakeRecord:
    """retrieved → stored: back in the record room."""
    if record.file_status != "retrieved":
        raise ValidationError(f"File is not checked out. Current status: {record.file_status}")
    note = _clean_note(note)
    record.file_status = "stored"
    _touch(record, actor)
    _move(record, actor, "returned", _last_place(record), RECORD_ROOM, note, commit=commit)
    return record


def archive(record: IntakeRecord, actor, note=None, *, commit: bool = True) -> IntakeRecord:
    """any state except archived → archived; the record leaves the active lists."""
    if record.file_status == "archived":
        raise ValidationError("File is already archived")
    note = _clean_note(note)
    came_from = _last_place(record) if record.file_status == "retrieved" else RECORD_ROOM
    record.file_status = "archived"
    record.is_active = False
    _touch(record, actor)
    _move(record, actor, "archived", came_from, ARCHIVE_ROOM, note, commit=commit)
    return record


def delete(record: IntakeRecord, actor) -> IntakeRecord:
    """DELETE = withdraw the work-up: archive, and the notes say so (nothing is removed).
    A clinician's act (auth/records.py), unlike moving the paper file."""
    rules.check(actor, rules.WITHDRAW, rules.WORKUP, record.created_by)
    archive(record, actor, note="Deleted", commit=False)
    record.notes = (record.notes or "") + " [DELETED]"
    db.session.commit()
    return record


def _bulk(ids, actor, move, error_text: str, eligible_status: str):
    if not isinstance(ids, list) or not ids:
        raise ValidationError("File IDs array is required")
    if len(ids) > MAX_BULK:
        raise ValidationError(f"At most {MAX_BULK} files at a time")
    done, errors, seen = [], [], set()
    for raw in ids:
        label = str(raw)[:20]
        if isinstance(raw, bool) or not str(raw).strip().isdecimal() or len(str(raw).strip()) > 9 \
                or int(str(raw).strip()) < 1:
            errors.append(f"File {label}: Not a valid file id")
            continue
        file_id = int(str(raw).strip())
        if file_id in seen:
            continue
        seen.add(file_id)
        record = db.session.get(IntakeRecord, file_id)
        if record is None or not record.is_active or record.file_status != eligible_status:
            errors.append(f"File {file_id}: {error_text}")
            continue
        try:
            with db.session.begin_nested():
                move(record, actor, commit=False)
        except Exception as exc:  # one bad file never stops the others
            db.session.expire(record)
            errors.append(f"File {file_id}: {getattr(exc, 'message', None) or 'could not be moved'}")
            continue
        done.append(record)
    db.session.commit()
    return done, errors


def bulk_retrieve(ids, actor) -> tuple[list[IntakeRecord], list[str]]:
    return _bulk(ids, actor, retrieve, "Not found or not available for retrieval", "stored")


def bulk_return(ids, actor) -> tuple[list[IntakeRecord], list[str]]:
    return _bulk(ids, actor, return_file, "Not found or not checked out", "retrieved")


# --------------------------------------------------------------------------- reading

def _users_by_id(ids) -> dict[int, User]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()}


def record_api_dicts(rows: list[IntakeRecord], reader=None) -> list[dict]:
    """The contract's ADL object for each record: columns + patient, creator, last
    accessor and the linked proforma's doctor and decision — one query for all rows.
    A reader who may not read the work-up (a welfare officer) gets the record room's view:
    the file's number, status and place, without the clinical sections."""
    if not rows:
        return []
    return for_reader(_record_api_dicts(rows), reader)


def for_reader(dicts: list[dict], reader) -> list[dict]:
    """Record objects as ``reader`` may see them: without the work-up's clinical sections
    for whoever may not read them (auth/records.py)."""
    if reader is None or rules.reads_all(reader, rules.WORKUP):
        return dicts
    hidden = set(WORKUP_FIELDS)
    return [{k: v for k, v in d.items() if k not in hidden} for d in dicts]


def _record_api_dicts(records: list[IntakeRecord]) -> list[dict]:
    creator, accessor, doctor = aliased(User), aliased(User), aliased(User)
    ids = [r.id for r in records]
    rows = db.session.execute(
        select(IntakeRecord.id, Patient.name, Patient.cr_no, Patient.psy_no,
               creator.name, creator.role, accessor.name,
               ClinicalProforma.assigned_doctor, ClinicalProforma.filled_by, doctor.name, doctor.role,
               ClinicalProforma.visit_date, ClinicalProforma.doctor_decision)
        .join(Patient, Patient.id == IntakeRecord.patient_id)
        .outerjoin(creator, creator.id == IntakeRecord.created_by)
        .outerjoin(accessor, accessor.id == IntakeRecord.last_accessed_by)
        .outerjoin(ClinicalProforma, ClinicalProforma.id == IntakeRecord.clinical_proforma_id)
        .outerjoin(doctor, doctor.id == func.coalesce(ClinicalProforma.assigned_doctor, ClinicalProforma.filled_by))
        .where(IntakeRecord.id.in_(ids))).all()
    extras = {}
    for (rid, pname, cr, psy, cname, crole, aname, assigned, filled_by, dname, drole, vdate, decision) in rows:
        extras[rid] = {"patient_name": pname, "cr_no": cr, "psy_no": psy, "created_by_name": cname,
                       "created_by_role": crole, "last_accessed_by_name": aname,
                       "assigned_doctor": assigned if assigned is not None else filled_by,
                       "assigned_doctor_name": dname, "assigned_doctor_role": drole,
                       "proforma_visit_date": vdate.isoformat() if vdate else None,
                       "doctor_decision": decision}
    return [{**r.to_dict(), **extras.get(r.id, {})} for r in records]


def record_api_dict(record: IntakeRecord, reader=None) -> dict:
    return record_api_dicts([record], reader)[0]


def movement_history(record: IntakeRecord) -> list[dict]:
    """Every move of the file, newest first, with who moved it."""
    mover = aliased(User)
    rows = db.session.execute(
        select(FileMovement, mover.name, mover.role).outerjoin(mover, mover.id == FileMovement.moved_by)
        .where(FileMovement.adl_file_id == record.id)
        .order_by(FileMovement.movement_date.desc(), FileMovement.id.desc())).all()
    return [{**m.to_dict(), "moved_by_name": name, "moved_by_role": role} for m, name, role in rows]


def to_retrieve(day: dt.date | None = None) -> list[dict]:
    """Files to fetch for a clinic day: stored & active files of patients with an open
    visit that day, with the visit's doctor and room."""
    day = day or today_ist()
    doctor = aliased(User)
    rows = db.session.execute(
        select(IntakeRecord, PatientVisit, doctor.name)
        .join(PatientVisit, and_(PatientVisit.patient_id == IntakeRecord.patient_id,
                                 PatientVisit.visit_date == day, PatientVisit.visit_status.in_(OPEN_VISIT)))
        .join(Patient, and_(Patient.id == IntakeRecord.patient_id, Patient.is_active.is_(True)))
        .outerjoin(doctor, doctor.id == PatientVisit.assigned_doctor_id)
        .where(IntakeRecord.file_status == "stored", IntakeRecord.is_active.is_(True))
        .order_by(PatientVisit.created_at, PatientVisit.id)).all()
    seen, records, visits = set(), [], {}
    for record, visit, doctor_name in rows:
        if record.id in seen:
            continue
        seen.add(record.id)
        records.append(record)
        visits[record.id] = {"visit_id": visit.id, "visit_room": visit.room_no, "visit_doctor_name": doctor_name,
                             "visit_type": visit.visit_type}
    return [{**d, **visits[d["id"]]} for d in record_api_dicts(records)]


def all_to_retrieve() -> list[dict]:
    """The contract's to-retrieve: every stored & active file."""
    records = db.session.execute(select(IntakeRecord).where(
        IntakeRecord.file_status == "stored", IntakeRecord.is_active.is_(True))
        .order_by(IntakeRecord.created_at.desc(), IntakeRecord.id.desc())).scalars().all()
    return record_api_dicts(list(records))


def _since(record_ids: list[int], movement_type: str) -> dict[int, dt.datetime]:
    if not record_ids:
        return {}
    rows = db.session.execute(
        select(FileMovement.adl_file_id, func.max(FileMovement.movement_date))
        .where(FileMovement.adl_file_id.in_(record_ids), FileMovement.movement_type == movement_type)
        .group_by(FileMovement.adl_file_id)).all()
    out = {}
    for rid, when in rows:
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        out[rid] = when
    return out


def active_files() -> list[dict]:
    """Files out of the record room (retrieved & active): with whom, since when."""
    records = list(db.session.execute(select(IntakeRecord).where(
        IntakeRecord.file_status == "retrieved", IntakeRecord.is_active.is_(True))
        .order_by(IntakeRecord.last_accessed_date, IntakeRecord.id)).scalars())
    since = _since([r.id for r in records], "retrieved")
    out = []
    for d in record_api_dicts(records):
        when = since.get(d["id"])
        out.append({**d, "with_whom": d["last_accessed_by_name"], "retrieved_at": when.isoformat() if when else None})
    return out


def created_files(limit: int = 100) -> list[dict]:
    """New paper files not yet put away (status created, active)."""
    records = list(db.session.execute(select(IntakeRecord).where(
        IntakeRecord.file_status == "created", IntakeRecord.is_active.is_(True))
        .order_by(IntakeRecord.created_at.desc(), IntakeRecord.id.desc()).limit(limit)).scalars())
    return record_api_dicts(records)


def recent_movements(limit: int = 15) -> list[dict]:
    mover = aliased(User)
    rows = db.session.execute(
        select(FileMovement, mover.name, IntakeRecord.adl_no, Patient.name, Patient.id)
        .join(IntakeRecord, IntakeRecord.id == FileMovement.adl_file_id)
        .join(Patient, Patient.id == FileMovement.patient_id)
        .outerjoin(mover, mover.id == FileMovement.moved_by)
        .order_by(FileMovement.movement_date.desc(), FileMovement.id.desc()).limit(limit)).all()
    return [{**m.to_dict(), "moved_by_name": name, "adl_no": adl_no, "patient_name": pname, "patient_id": pid}
            for m, name, adl_no, pname, pid in rows]


# --------------------------------------------------------------------------- lists and statistics

def _bool_arg(value, name, errors):
    if value in (None, ""):
        return None
    v = str(value).strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    errors.append(field_error(name, f"{name} must be true or false", str(value)[:20], "query"))
    return None


def parse_filters(args) -> tuple[dict, list]:
    """List filters from a query string: (filters, errors in the contract's shape)."""
    filters, errors = {}, []
    status = (args.get("file_status") or "").strip()
    if status:
        if status not in INTAKE_FILE_STATUSES:
            errors.append(field_error("file_status", "file_status must be one of " + ", ".join(INTAKE_FILE_STATUSES),
                                      status[:20], "query"))
        else:
            filters["file_status"] = status
    active = _bool_arg(args.get("is_active"), "is_active", errors)
    if active is not None:
        filters["is_active"] = active
    for name in ("created_by", "last_accessed_by"):
        raw = (args.get(name) or "").strip()
        if raw:
            if not raw.isdecimal() or len(raw) > 9:
                errors.append(field_error(name, f"{name} must be a positive integer", raw[:20], "query"))
            else:
                filters[name] = int(raw)
    date_filters(args, filters, errors)
    return filters, errors


def list_records(filters: dict, page: int = 1, limit: int = 10, include_all: bool = False, reader=None
                 ) -> tuple[list[IntakeRecord], int]:
    """The intake records list of the page and the API: newest file first (the file's
    created date, the date shown and filtered on; then the newest record). Without
    include_all only records linked to a complex-case proforma (the API's default).
    With ``reader`` the read is audited: one row per page naming the patients returned."""
    q = select(IntakeRecord)
    if not include_all:
        q = q.join(ClinicalProforma, ClinicalProforma.id == IntakeRecord.clinical_proforma_id).where(
            ClinicalProforma.doctor_decision == "complex_case")
    if "file_status" in filters:
        q = q.where(IntakeRecord.file_status == filters["file_status"])
    if "is_active" in filters:
        q = q.where(IntakeRecord.is_active.is_(filters["is_active"]))
    if "created_by" in filters:
        q = q.where(IntakeRecord.created_by == filters["created_by"])
    if "last_accessed_by" in filters:
        q = q.where(IntakeRecord.last_accessed_by == filters["last_accessed_by"])
    q = within_dates(q, IntakeRecord.file_created_date, filters)
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(IntakeRecord.file_created_date.desc(), IntakeRecord.id.desc())
                              .limit(limit).offset((page - 1) * limit)).scalars().all()
    if reader is not None:
        audit.record_list_read("intake_list_view", "adl_files", [r.patient_id for r in rows])
    return list(rows), total


def status_stats() -> list[dict]:
    rows = dict(db.session.execute(select(IntakeRecord.file_status, func.count(IntakeRecord.id))
                                   .group_by(IntakeRecord.file_status)).all())
    return [{"file_status": s, "count": int(rows[s])} for s in INTAKE_FILE_STATUSES if rows.get(s)]


def stats() -> dict:
    status = {d["file_status"]: d["count"] for d in status_stats()}
    total, active, avg = db.session.execute(select(
        func.count(IntakeRecord.id),
        func.count(IntakeRecord.id).filter(IntakeRecord.is_active.is_(True)),
        func.avg(IntakeRecord.total_visits))).one()
    return {"total_files": int(total or 0), "created_files": status.get("created", 0),
            "stored_files": status.get("stored", 0), "retrieved_files": status.get("retrieved", 0),
            "archived_files": status.get("archived", 0), "active_files": int(active or 0),
            "inactive_files": int(total or 0) - int(active or 0),
            "avg_visits_per_file": round(float(avg), 2) if avg is not None else 0}


def get_for_move(record_id: int) -> IntakeRecord:
    """The record for a move (no read audit: the move itself is audited)."""
    record = db.session.get(IntakeRecord, record_id) if isinstance(record_id, int) else None
    if record is None:
        raise NotFound("ADL file not found")
    return record


__all__ = ["store", "retrieve", "return_file", "archive", "delete", "bulk_retrieve", "bulk_return",
           "to_retrieve", "all_to_retrieve", "active_files", "created_files", "recent_movements",
           "movement_history", "list_records", "parse_filters", "stats", "status_stats",
           "record_api_dict", "record_api_dicts", "for_reader", "get_for_move", "STATUS_LABELS"]
