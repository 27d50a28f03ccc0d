"""The CAP detailed work-up: the child's intake record. One per child, stored as the
child's ``adl_files`` row with ``form = 'cap'`` (so the ADL number, versions, the record-room
file and its movements, ``has_adl_file``/``file_status`` work exactly as for an adult's intake
record); its fields live in ``cap_sections``, checked against the allow-list in spec.py.

Growth: the physical examination's height, weight and head circumference are written to
``growth_measurements`` (one row per child, day and source), and BMI and z-scores are computed.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..auth import records
from ..errors import Conflict, NotFound, ValidationError, field_error
from ..extensions import db
from ..intake import record_room
from ..intake import service as intake
from ..intake.models import FileMovement, IntakeRecord
from ..patients.models import Patient
from ..timeutil import today_ist
from ..versioning import lock_for_edit
from . import growth, spec
from .models import GrowthMeasurement

# Keys of a request body that are not work-up fields.
RESERVED = {"child_patient_id", "version", "id"} | set(spec.FROM_REGISTRATION) | {
    "adl_no", "file_status", "form", "created_by", "created_at", "updated_at", "patient_id",
    "cap_no", "gpe_bmi"}


def _parse_id(raw, name: str) -> int:
    if isinstance(raw, bool) or raw in (None, "") or not str(raw).strip().isdecimal() or len(str(raw).strip()) > 9 \
            or int(str(raw).strip()) < 1:
        raise ValidationError("Validation failed", errors=[field_error(name, f"{name} must be a positive integer")])
    return int(str(raw).strip())


def child(patient_id: int, *, include_archived: bool = False) -> Patient:
    """A child-clinic patient or NotFound."""
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None or (not patient.is_active and not include_archived) or patient.clinic != "child":
        raise NotFound("Child patient not found")
    return patient


def coerce_fields(data: dict, *, section: str | None = None) -> dict:
    """The typed §1c values in ``data``; unknown keys and bad values are a 400 naming them."""
    unknown = sorted(k for k in data if k not in spec.FIELDS and k not in RESERVED)
    errors = [field_error(str(k)[:60], f"Unknown field: {str(k)[:60]}") for k in unknown]
    values = {}
    for name, raw in data.items():
        if name not in spec.FIELDS:
            continue
        if section is not None and spec.SECTION_OF[name] != section:
            errors.append(field_error(name, f"{name} is not in the section {section}"))
            continue
        try:
            values[name] = spec.coerce(name, raw)
        except ValueError as exc:
            shown = raw if isinstance(raw, (int, str)) and not isinstance(raw, bool) and len(str(raw)) < 100 else None
            errors.append(field_error(name, f"{name} {exc}", shown))
    if errors:
        message = ("Unknown field(s): " + ", ".join(str(k)[:60] for k in unknown)) if unknown else \
            "Invalid field value(s)"
        raise ValidationError(message, errors=errors)
    return values


def for_child(patient_id: int) -> IntakeRecord | None:
    record = intake.for_patient(patient_id)
    return record if record is not None and record.form == "cap" else None


def get(record_id: int, *, audit_read: bool = True) -> IntakeRecord:
    record = db.session.get(IntakeRecord, record_id) if isinstance(record_id, int) else None
    if record is None or record.form != "cap":
        raise NotFound("CAP work-up not found")
    if audit_read:
        audit.record_now("cap_workup_view", "adl_files", record.id, patient_id=record.patient_id)
    return record


def list_for_child(patient_id: int) -> list[IntakeRecord]:
    """The child's CAP work-ups, newest first (there is at most one; archived ones included)."""
    child(patient_id, include_archived=True)
    rows = list(db.session.execute(select(IntakeRecord).where(
        IntakeRecord.patient_id == patient_id, IntakeRecord.form == "cap").order_by(IntakeRecord.id.desc())).scalars())
    audit.record_now("cap_workup_list_view", "adl_files", None, patient_id=patient_id)
    return rows


def _apply(record: IntakeRecord, values: dict) -> list[str]:
    sections = dict(record.cap_sections or {})
    changed = []
    for k, v in values.items():
        if sections.get(k) != v:
            if v in (None, [], False) and k not in sections:
                continue
            sections[k] = v
            changed.append(k)
    if changed:
        record.cap_sections = sections  # a new dict: the JSON column sees the change
    return changed


def _workup_day(record: IntakeRecord) -> dt.date:
    raw = (record.cap_sections or {}).get("workup_date")
    try:
        return dt.date.fromisoformat(raw) if raw else record.file_created_date
    except ValueError:
        return record.file_created_date


def _sync_growth(record: IntakeRecord, actor) -> None:
    """The physical examination's measurements, as the child's growth row for the work-up day."""
    s = record.cap_sections or {}
    h, w, hc = (s.get(k) for k in spec.GROWTH_FIELDS)
    day = _workup_day(record)
    row = db.session.execute(select(GrowthMeasurement).where(
        GrowthMeasurement.patient_id == record.patient_id, GrowthMeasurement.source == "cap_workup",
        GrowthMeasurement.measured_on == day)).scalar_one_or_none()
    if h is None and w is None and hc is None:
        if row is not None:
            db.session.delete(row)
        return
    if row is None:
        row = GrowthMeasurement(patient_id=record.patient_id, measured_on=day, source="cap_workup")
        db.session.add(row)
    row.height_cm = Decimal(str(h)) if h is not None else None
    row.weight_kg = Decimal(str(w)) if w is not None else None
    row.head_circumference_cm = Decimal(str(hc)) if hc is not None else None
    row.recorded_by = actor.id if actor else None


def create(data: dict, actor) -> IntakeRecord:
    """POST: the child's CAP work-up; a second one is a 409 naming the existing record."""
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    patient = child(_parse_id(data.get("child_patient_id"), "child_patient_id"))
    records.check(actor, records.CREATE, records.WORKUP)
    values = coerce_fields(data)
    existing = intake.for_patient(patient.id)
    if existing is not None:
        what = "CAP work-up" if existing.form == "cap" else "intake record"
        raise Conflict(f"This child already has a {what} (id {existing.id}): amend it instead.",
                       errors=[field_error("id", f"Existing {what}", existing.id)])
    values.setdefault("workup_date", today_ist().isoformat())
    record = IntakeRecord(patient_id=patient.id, adl_no=intake._new_adl_no(today_ist().year), form="cap",
                          cap_sections={}, created_by=actor.id if actor else None, file_status="created",
                          file_created_date=today_ist(), total_visits=1, is_active=True)
    _apply(record, values)
    db.session.add(record)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        db.session.rollback()
        existing = intake.for_patient(patient.id)
        raise Conflict(f"This child already has a CAP work-up (id {existing.id if existing else '?'}).",
                       errors=[field_error("id", "Existing CAP work-up", existing.id if existing else None)])
    db.session.add(FileMovement(adl_file_id=record.id, patient_id=patient.id, moved_by=actor.id if actor else None,
                                movement_type="created", to_location="Record Room", notes="CAP work-up opened"))
    patient.has_adl_file = True
    if not patient.adl_no:
        patient.adl_no = record.adl_no
    _sync_growth(record, actor)
    audit.record("cap_workup_create", "adl_files", record.id, patient_id=patient.id,
                 details={"fields": sorted(values)})
    db.session.commit()
    return record


def update(record: IntakeRecord, data: dict, actor, *, section: str | None = None,
           expected_version=None) -> IntakeRecord:
    """PUT or a section's save: only the fields sent change; the version counts every change
    and a stale one is a 409."""
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    if section is not None and section not in spec.SECTION_KEYS:
        raise NotFound("Unknown section")
    if expected_version is None:
        expected_version = data.get("version")
    lock_for_edit(record, expected_version, "This CAP work-up was changed by someone else after you opened it. "
                                            "Reload to see their changes; your unsaved values are kept.")
    values = coerce_fields(data, section=section)
    records.check(actor, records.AMEND, records.WORKUP, record.created_by)
    if not values:
        raise ValidationError("No valid fields to update")
    changed = _apply(record, values)
    if changed:
        record.version += 1
        if set(changed) & set(spec.GROWTH_FIELDS + ("workup_date",)):
            _sync_growth(record, actor)
    audit.record("cap_workup_update", "adl_files", record.id, patient_id=record.patient_id,
                 details={"fields": sorted(changed), "section": section})
    db.session.commit()
    return record


def withdraw(record: IntakeRecord, actor) -> IntakeRecord:
    """DELETE: like the adult intake record, withdrawn (archived, inactive), never destroyed."""
    return record_room.delete(record, actor)


def registration_facts(patient: Patient) -> dict:
    """The work-up's identification fields, live from the registration."""
    return {"cap_no": patient.cgc_number, "patient_name": patient.name, "age": patient.age,
            "gender": patient.sex, "education": patient.education, "referred_by": patient.referred_by,
            "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None}


def section_filled(record: IntakeRecord) -> dict[str, bool]:
    return sections_filled(record.cap_sections or {})


def sections_filled(s: dict) -> dict[str, bool]:
    """Which CAP sections of a work-up's ``cap_sections`` have anything in them."""
    return {key: any(s.get(f.name) not in (None, "", [], False) for f in fields)
            for key, _t, fields in spec.SECTIONS}


def record_dict(record: IntakeRecord, patient: Patient | None = None) -> dict:
    """The API's record: flat §1c fields (as the original), the registration's fields, the
    file's facts and the computed BMI."""
    patient = patient or db.session.get(Patient, record.patient_id)
    s = record.cap_sections or {}
    out = {"id": record.id, "child_patient_id": record.patient_id, "adl_no": record.adl_no,
           "file_status": record.file_status, "is_active": record.is_active, "version": record.version,
           "filled_by": record.created_by,
           "created_at": record.created_at.isoformat() if record.created_at else None,
           "updated_at": record.updated_at.isoformat() if record.updated_at else None}
    out.update(registration_facts(patient))
    for name, f in spec.FIELDS.items():
        out[name] = s.get(name, [] if f.kind == "rows" else (False if f.kind == "bool" else None))
    out["gpe_bmi"] = growth.bmi(s.get("gpe_height_length_cm"), s.get("gpe_weight_kg"))
    return out


# ------------------------------------------------------------------ growth

def measurements(patient_id: int) -> list[GrowthMeasurement]:
    return list(db.session.execute(select(GrowthMeasurement).where(GrowthMeasurement.patient_id == patient_id)
                                   .order_by(GrowthMeasurement.measured_on, GrowthMeasurement.id)).scalars())


def growth_view(patient: Patient) -> dict:
    """Measurements with z-scores, and the charts (SVG), for a page or the API."""
    rows = measurements(patient.id)
    birth = patient.date_of_birth
    items = []
    for m in rows:
        items.append({"id": m.id, "measured_on": m.measured_on.isoformat(), "source": m.source,
                      "height_cm": float(m.height_cm) if m.height_cm is not None else None,
                      "weight_kg": float(m.weight_kg) if m.weight_kg is not None else None,
                      "head_circumference_cm": float(m.head_circumference_cm)
                      if m.head_circumference_cm is not None else None,
                      "bmi": growth.bmi(m.height_cm, m.weight_kg),
                      "age_days": (m.measured_on - birth).days if birth else None,
                      "scores": growth.measurement_scores(m, patient.sex, birth)})
    problem = growth.reference_problem(patient.sex, birth, rows[-1].measured_on if rows else today_ist())
    return {"measurements": items, "charts": growth.charts_for(rows, patient.sex, birth) if rows else [],
            "message": problem, "reference": growth.REFERENCES,
            "package": f"{growth.PACKAGE} {growth.PACKAGE_VERSION}"}


def growth_for_patient(patient_id: int) -> dict:
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None:
        raise NotFound("Patient not found")
    audit.record_now("growth_view", "growth_measurements", None, patient_id=patient.id)
    return growth_view(patient)


def patient_panel(patient_id: int) -> dict:
    """The child's work-up (or None) and growth charts, for the patient page."""
    patient = child(patient_id, include_archived=True)
    return {"record": for_child(patient.id), "growth": growth_view(patient)}
