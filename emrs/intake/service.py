"""Out-patient intake record (ADL file): one per patient, collision-free ADL numbers,
typed work-up fields. The proforma's complex decision creates or links it here."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..errors import ValidationError, field_error
from ..extensions import db
from ..numbering import service as numbering
from ..patients.models import Patient
from .models import (BOOL_FIELDS, DATE_FIELDS, INT_FIELDS, JSON_ARRAY_FIELDS, TEXT_FIELDS, WORKUP_FIELDS,
                     FileMovement, IntakeRecord)

MAX_TEXT = 20_000
MAX_ROWS = 50


def for_patient(patient_id: int) -> IntakeRecord | None:
    """The patient's intake record (the newest, should the data ever hold two)."""
    return db.session.execute(select(IntakeRecord).where(IntakeRecord.patient_id == patient_id)
                              .order_by(IntakeRecord.id.desc()).limit(1)).scalar_one_or_none()


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
        return raw
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
        if isinstance(raw, bool) or not str(raw).strip().isdigit() or int(str(raw).strip()) > 150:
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


def _new_adl_no(year: int) -> str:
    for _ in range(10):
        candidate = numbering.random_adl_no(year)
        taken = db.session.execute(select(IntakeRecord.id).where(IntakeRecord.adl_no == candidate)).first()
        if not taken:
            return candidate
    raise RuntimeError("could not find a free ADL number")  # 36^8 values: never in practice


def ensure_for_complex_case(patient: Patient, proforma, actor, workup: dict | None = None,
                            adl_no: str | None = None) -> tuple[IntakeRecord, bool]:
    """The patient's intake record for a complex decision: the existing one is linked
    and updated, never duplicated; otherwise a new one (status `created`). Runs in the
    caller's transaction. Returns (record, created)."""
    record = for_patient(patient.id)
    created = record is None
    if created:
        number = (adl_no or "").strip().upper() or _new_adl_no(proforma.visit_date.year)
        if len(number) > 50:
            raise ValidationError("Validation failed", errors=[field_error("adl_no", "adl_no is too long", None)])
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


def record_dict(record: IntakeRecord) -> dict:
    return record.to_dict()


__all__ = ["for_patient", "coerce_workup", "ensure_for_complex_case", "record_dict", "TEXT_FIELDS"]
