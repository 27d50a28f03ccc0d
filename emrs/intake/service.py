"""Out-patient intake record (ADL file): one per patient, collision-free ADL numbers,
typed work-up fields. The proforma's complex decision creates or links it here."""
from __future__ import annotations

import datetime as dt
import functools
import json

from sqlalchemy import Integer, Text, and_, bindparam, case, cast, literal_column, or_, select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..auth import records
from ..errors import ValidationError, field_error
from ..extensions import db
from ..numbering import service as numbering
from ..patients.models import Patient
from ..versioning import lock_for_edit
from .models import (BOOL_FIELDS, DATE_FIELDS, INT_FIELDS, JSON_ARRAY_FIELDS, TEXT_FIELDS, WORKUP_FIELDS,
                     WORKUP_SECTIONS, FileMovement, IntakeRecord)

WORKUP_SECTIONS_BY_KEY = WORKUP_SECTIONS

MAX_TEXT = 20_000
MAX_ROWS = 50


@functools.cache  # built once: the patient page runs it on every view
def _for_patient():
    return (select(IntakeRecord).where(IntakeRecord.patient_id == bindparam("patient_id"))
            .order_by(IntakeRecord.id.desc()).limit(1))


def for_patient(patient_id: int) -> IntakeRecord | None:
    """The patient's intake record (the newest, should the data ever hold two)."""
    return db.session.execute(_for_patient(), {"patient_id": patient_id}).scalar_one_or_none()


def coerce_workup(data: dict, location: str = "body") -> tuple[dict, list]:
    """Typed values of the work-up fields present in ``data`` (flat, as the API sends them)."""
    values, errors = {}, []
    for name in WORKUP_FIELDS:
        if name not in data:
            continue
        raw = data[name]
        try:
            values[name] = _coerce(name, raw)
        except ValueError as exc:
            errors.append(field_error(name, f"{name} {exc}", raw if isinstance(raw, (int, str)) and
                                      not isinstance(raw, bool) and len(str(raw)) < 100 else None, location))
    return values, errors


def _row_name(value: str) -> str:
    from ..safetext import clean_name
    try:
        return clean_name(value)
    except ValueError as exc:
        raise ValueError(f"row names {exc}")


def _coerce(name: str, raw):
    if name in JSON_ARRAY_FIELDS:
        if raw in (None, ""):
            return []
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise ValueError("must be a JSON array")
        if not isinstance(raw, list) or len(raw) > MAX_ROWS:
            raise ValueError(f"must be an array of at most {MAX_ROWS} rows")
        for item in raw:
            if not isinstance(item, (dict, str)):
                raise ValueError("rows must be objects")
            if isinstance(item, dict) and any(not isinstance(v, (str, int, float, type(None))) or
                                              (isinstance(v, str) and len(v) > 1000) for v in item.values()):
                raise ValueError("row values must be short text or numbers")
        # Informants, residents, in-laws: a person's name follows the rules of names (emrs/safetext.py).
        return [{**item, "name": _row_name(item["name"])} if isinstance(item, dict) and isinstance(item.get("name"), str)
                else item for item in raw]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return False if name in BOOL_FIELDS else None
    if name in DATE_FIELDS:
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw.strip()[:10])
            except ValueError:
                pass
        raise ValueError("must be a date (YYYY-MM-DD)")
    if name in INT_FIELDS:
        if isinstance(raw, bool) or not str(raw).strip().isdecimal() or len(str(raw).strip()) > 3 \
                or int(str(raw).strip()) > 150:
            raise ValueError("must be a whole number from 0 to 150")
        return int(str(raw).strip())
    if name in BOOL_FIELDS:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return raw.strip().lower() in ("true", "1", "yes", "on")
        raise ValueError("must be true or false")
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ValueError("must be text")
    text = str(raw)
    if len(text) > MAX_TEXT or "\x00" in text:
        raise ValueError(f"must be text of at most {MAX_TEXT} characters")
    return text


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years from ``birth`` to ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def birth_date_errors(birth: dt.date | None, age: int | None, registered_on: dt.date | None,
                      *, path: str = "personal_birth_date") -> list:
    """A date of birth must have happened and agree with the age on the patient's card: the
    age written on the registration date, or the age today (the card may have been corrected
    since), give or take a year."""
    from ..timeutil import today_ist
    if birth is None:
        return []
    today = today_ist()
    if birth > today:
        return [field_error(path, f"Date of birth cannot be after today ({today.strftime('%d %b %Y')}, India time)",
                            birth.isoformat())]
    if age is None:
        return []
    then = age_on(birth, registered_on) if registered_on and registered_on >= birth else None
    now = age_on(birth, today)
    if (then is not None and abs(then - age) <= 1) or abs(now - age) <= 1:
        return []
    return [field_error(path, f"Date of birth {birth.strftime('%d %b %Y')} makes the patient {now} years old, "
                              f"but the patient's card says age {age}. Correct the date of birth or the age.",
                        birth.isoformat())]


def _check_birth_date(values: dict, patient: Patient | None, errors: list) -> None:
    if patient is not None and "personal_birth_date" in values:
        errors.extend(birth_date_errors(values["personal_birth_date"], patient.age, patient.date))


def _new_adl_no(year: int) -> str:
    for _ in range(10):
        candidate = numbering.random_adl_no(year)
        taken = db.session.execute(select(IntakeRecord.id).where(IntakeRecord.adl_no == candidate)).first()
        if not taken:
            return candidate
    raise RuntimeError("could not find a free ADL number")  # 36^8 values: never in practice


def _checked_adl_no(value) -> str:
    """A typed ADL number, upper-cased, in the record-number character set (emrs/safetext.py);
    "" when none was given (one is then generated)."""
    from ..safetext import identifier_problem
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        raise ValidationError("Validation failed", errors=[field_error("adl_no", "ADL number must be text")])
    number = value.strip().upper()
    problem = identifier_problem(number)
    if problem:
        raise ValidationError("Validation failed", errors=[field_error("adl_no", f"ADL number {problem}",
                                                                       number[:60])])
    return number


def ensure_for_complex_case(patient: Patient, proforma, actor, workup: dict | None = None,
                            adl_no: str | None = None) -> tuple[IntakeRecord, bool]:
    """The patient's intake record for a complex decision: the existing one is linked
    and updated, never duplicated; otherwise a new one (status `created`). Runs in the
    caller's transaction. Returns (record, created)."""
    bad_birth: list = []
    _check_birth_date(workup or {}, patient, bad_birth)
    if bad_birth:
        raise ValidationError(bad_birth[0]["msg"], errors=bad_birth)
    record = for_patient(patient.id)
    created = record is None
    if created:
        number = _checked_adl_no(adl_no) or _new_adl_no(proforma.visit_date.year)
        if db.session.execute(select(IntakeRecord.id).where(IntakeRecord.adl_no == number)).first():
            raise ValidationError("Validation failed", errors=[field_error("adl_no", "ADL number already in use",
                                                                           number)])
        record = IntakeRecord(patient_id=patient.id, adl_no=number, created_by=actor.id if actor else None,
                              clinical_proforma_id=proforma.id, file_status="created",
                              file_created_date=proforma.visit_date, total_visits=1, is_active=True)
        db.session.add(record)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            # Another request created this patient's record a moment ago: link that one.
            record = for_patient(patient.id)
            created = False
        if created:
            db.session.add(FileMovement(adl_file_id=record.id, patient_id=patient.id,
                                        moved_by=actor.id if actor else None, movement_type="created",
                                        to_location="Record Room", notes="Created from a complex-case proforma"))
    if workup and not created:
        lock_for_edit(record)  # the version counts every change, also two at once
    for k, v in (workup or {}).items():
        setattr(record, k, v)
    if workup and not created:
        record.version += 1
    patient.has_adl_file = True
    patient.case_complexity = "complex"
    if not patient.adl_no:
        patient.adl_no = record.adl_no
    audit.record("intake_create" if created else "intake_link", "adl_files", record.id, patient_id=patient.id,
                 details={"proforma_id": proforma.id, "fields": sorted(workup or {})})
    return record, created


IMMUTABLE = ("id", "patient_id", "clinical_proforma_id", "adl_no", "created_by", "created_at", "updated_at")
FILE_FIELDS = ("physical_file_location", "notes", "total_visits")


def get(record_id: int, *, audit_read: bool = True, include_archived: bool = True) -> IntakeRecord:
    """The intake record or NotFound("ADL file not found"); the read is audited."""
    from ..errors import NotFound
    record = db.session.get(IntakeRecord, record_id) if isinstance(record_id, int) else None
    if record is None or (not include_archived and not record.is_active):
        raise NotFound("ADL file not found")
    if audit_read:
        audit.record_now("intake_view", "adl_files", record.id, patient_id=record.patient_id)
    return record


def by_adl_no(adl_no: str) -> IntakeRecord:
    from ..errors import NotFound
    value = (adl_no or "").strip().upper()
    record = db.session.execute(select(IntakeRecord).where(IntakeRecord.adl_no == value)).scalar_one_or_none() \
        if value and len(value) <= 50 else None
    if record is None:
        raise NotFound("ADL file not found")
    audit.record_now("intake_view", "adl_files", record.id, patient_id=record.patient_id)
    return record


def _file_values(data: dict, errors: list) -> dict:
    out = {}
    if "physical_file_location" in data:
        v = data["physical_file_location"]
        if v not in (None, "") and (not isinstance(v, str) or len(v) > 100):
            errors.append(field_error("physical_file_location", "physical_file_location must be at most 100 characters"))
        else:
            out["physical_file_location"] = (v or "").strip() or None
    if "notes" in data:
        v = data["notes"]
        if v not in (None, "") and (not isinstance(v, str) or len(v) > MAX_TEXT):
            errors.append(field_error("notes", "notes must be text"))
        else:
            out["notes"] = v or None
    if "total_visits" in data:
        v = data["total_visits"]
        if isinstance(v, bool) or not str(v).isdecimal() or len(str(v)) > 5 or int(v) > 10000:
            errors.append(field_error("total_visits", "total_visits must be a whole number"))
        else:
            out["total_visits"] = int(v)
    return out


def update_workup(record: IntakeRecord, data: dict, actor, expected_version=None, *,
                  section: str | None = None) -> IntakeRecord:
    """Save work-up fields (all, or one section's) — immutable keys are ignored, a stale
    version is a 409, no valid field is a 400. File status moves go through the record
    room functions (intake/record_room.py), not here."""
    if expected_version is None and "version" in data:
        expected_version = data.get("version")
    lock_for_edit(record, expected_version, "This intake record was changed by someone else after you opened it. "
                                            "Reload to see their changes; your unsaved values are kept.")
    data = {k: v for k, v in data.items() if k not in IMMUTABLE}
    if section is not None:
        allowed = dict((s, f) for s, _t, f in WORKUP_SECTIONS_BY_KEY).get(section)
        if allowed is None:
            raise ValidationError("Unknown section")
        data = {k: v for k, v in data.items() if k in allowed}
    values, errors = coerce_workup(data)
    if values and record.form == "cap":  # a child's CAP work-up keeps its fields in cap_sections (emrs/cap)
        raise ValidationError("This intake record is a child's CAP work-up: amend it through "
                              "/api/child-cap-workup or its pages.")
    _check_birth_date(values, db.session.get(Patient, record.patient_id), errors)
    file_values = _file_values(data, errors) if section is None else {}
    if values:  # the clinical sections; where the paper file is (file_values) is the record room's
        records.check(actor, records.AMEND, records.WORKUP, record.created_by)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    if not values and not file_values:
        raise ValidationError("No valid fields to update")
    changed = []
    for k, v in {**values, **file_values}.items():
        if getattr(record, k) != v:
            setattr(record, k, v)
            changed.append(k)
    if changed:
        record.version += 1
    audit.record("intake_update", "adl_files", record.id, patient_id=record.patient_id,
                 details={"fields": sorted(changed), "section": section})
    db.session.commit()
    return record


def upsert(data: dict, actor) -> tuple[IntakeRecord, bool]:
    """POST /api/adl-files: create the patient's record, or update the existing one
    (one per patient). Returns (record, created)."""
    from ..errors import NotFound
    raw = data.get("patient_id")
    if raw in (None, ""):
        raise ValidationError("Patient ID is required")
    if isinstance(raw, bool) or not str(raw).isdecimal() or len(str(raw)) > 9 or int(raw) < 1:
        raise ValidationError("Validation failed", errors=[field_error("patient_id", "patient_id must be a positive integer")])
    patient = db.session.get(Patient, int(raw))
    if patient is None or not patient.is_active:
        raise NotFound("Patient not found")
    existing = for_patient(patient.id)
    if existing is None:  # opening an intake record makes the patient a complex case: a clinician's act
        records.check(actor, records.CREATE, records.WORKUP)
    if existing is not None:
        body = {k: v for k, v in data.items() if k not in IMMUTABLE and k != "file_status"}
        try:
            return update_workup(existing, body, actor), False
        except ValidationError as exc:
            if exc.message == "No valid fields to update":
                # Nothing to change: the caller is shown (or sent to) the existing record.
                audit.record_now("intake_view", "adl_files", existing.id, patient_id=existing.patient_id)
                return existing, False
            raise
    values, errors = coerce_workup(data)
    _check_birth_date(values, patient, errors)
    file_values = _file_values(data, errors)
    created_date = data.get("file_created_date")
    if created_date not in (None, ""):
        try:
            created_date = dt.date.fromisoformat(str(created_date)[:10])
        except ValueError:
            errors.append(field_error("file_created_date", "file_created_date must be a date (YYYY-MM-DD)"))
    proforma_id = data.get("clinical_proforma_id")
    if proforma_id not in (None, "") and (isinstance(proforma_id, bool) or not str(proforma_id).isdecimal()
                                          or len(str(proforma_id)) > 9):
        errors.append(field_error("clinical_proforma_id", "clinical_proforma_id must be a positive integer"))
    status = data.get("file_status") or "created"
    if status not in ("created", "stored"):
        errors.append(field_error("file_status", "A new file starts as created or stored"))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    from ..timeutil import today_ist
    number = _checked_adl_no(data.get("adl_no"))
    year = (created_date or today_ist()).year
    record = IntakeRecord(patient_id=patient.id, adl_no=number or _new_adl_no(year),
                          created_by=actor.id if actor else None,
                          clinical_proforma_id=int(proforma_id) if proforma_id not in (None, "") else None,
                          file_status=status, file_created_date=created_date or today_ist(), is_active=True,
                          **values, **file_values)
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("Validation failed", errors=[field_error("adl_no", "ADL number already in use")])
    db.session.add(FileMovement(adl_file_id=record.id, patient_id=patient.id, moved_by=actor.id if actor else None,
                                movement_type="created", to_location="Record Room"))
    patient.has_adl_file, patient.case_complexity = True, "complex"
    if not patient.adl_no:
        patient.adl_no = record.adl_no
    audit.record("intake_create", "adl_files", record.id, patient_id=patient.id, details={"fields": sorted(values)})
    db.session.commit()
    return record, True


def _filled_sql(name: str):
    """SQL for "the field has something in it", as section_filled() decides in Python (None, "",
    [], False — and so 0 — are empty)."""
    col = getattr(IntakeRecord, name)
    if name in JSON_ARRAY_FIELDS:
        as_text = cast(col, Text)
        return and_(col.is_not(None), *(as_text != empty for empty in ("[]", "null", '""', "false")))
    if name in BOOL_FIELDS:
        return col.is_(True)
    if name in INT_FIELDS:
        return and_(col.is_not(None), col != 0)
    if name in DATE_FIELDS:
        return col.is_not(None)
    return and_(col.is_not(None), col != "")


def sections_filled_sql():
    """How many work-up sections have anything in them, counted by the database."""
    total = None
    for _key, _title, fields in WORKUP_SECTIONS_BY_KEY:
        one = case((or_(*(_filled_sql(f) for f in fields)), 1), else_=0)
        total = one if total is None else total + one
    return total


@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The patient's work-up (the newest intake record, adult or CAP) for the timeline
    (emrs/timeline.py slots): id, at = updated_at, text1 = ADL no., text2 = file status,
    text3 = form ('cap' for a child's), text4 = the CAP sections as JSON text, num1 = how many
    adult work-up sections are filled, num2 = how many there are."""
    return (select(IntakeRecord.id, IntakeRecord.updated_at.label("at"), IntakeRecord.adl_no.label("text1"),
                   IntakeRecord.file_status.label("text2"), IntakeRecord.form.label("text3"),
                   cast(IntakeRecord.cap_sections, Text).label("text4"),
                   sections_filled_sql().label("num1"),
                   literal_column(str(len(WORKUP_SECTIONS_BY_KEY)), Integer).label("num2"))
            .where(IntakeRecord.patient_id == bindparam("patient_id"))
            .order_by(IntakeRecord.id.desc()).limit(1))


def section_filled(record: IntakeRecord) -> dict[str, bool]:
    """Which work-up sections have anything in them (for the section index)."""
    out = {}
    for key, _title, fields in WORKUP_SECTIONS_BY_KEY:
        out[key] = any(getattr(record, f) not in (None, "", [], False) for f in fields)
    return out


def record_dict(record: IntakeRecord) -> dict:
    return record.to_dict()


__all__ = ["for_patient", "coerce_workup", "ensure_for_complex_case", "record_dict", "get", "by_adl_no",
           "update_workup", "upsert", "section_filled", "TEXT_FIELDS"]
