"""The child walk-in clinical proforma (later-features §1b): a walk-in proforma of a child.

It is a ``clinical_proforma`` row with ``form='child'``; its child-only fields are in
``child_sections``, validated against the allow-list in ``spec.py``. The fields both forms have
(visit date, room, doctor, provisional diagnosis, ICD code, pharmacological treatment, referred
to) are the table's columns and are validated by ``emrs.clinical.service.clean``. Who may read,
open, amend and withdraw it are the adult proforma's rules (``auth/records.py``): versions are
kept in ``clinical_versions``, a withdrawal is never a delete, edits are checked against the
version the editor saw (409).

Which form for whom: a child proforma only for a patient of the child clinic (an adult -> 422);
the adult proforma refuses a child patient (422, emrs/clinical/service.py) — a child is seen on
the child form, and a child who moves to the adult clinic (``clinic='adult'``) gets adult forms.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from ..audit import service as audit
from ..auth import records
from ..auth.models import DOCTOR_ROLES, User
from ..clinical import service as clinical
from ..clinical.models import ClinicalProforma
from ..errors import DomainError, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..models_base import utcnow
from ..patients.models import Patient
from ..timeutil import today_ist
from ..versioning import clean_reason, keep_version, lock_for_edit
from . import spec

INVALID = "Invalid field value(s)"
CREATED = "Child clinical proforma saved successfully"
UPDATED = "Child clinical proforma updated successfully"
NOT_CHILD = ("This patient is registered in the adult clinic: use the walk-in clinical proforma. The child "
             "proforma is for patients of the child clinic.")
NOT_FOUND = "Child clinical proforma not found"
STALE = ("This proforma was changed by someone else after you opened it. Reload to see their changes; "
         "your unsaved values are kept.")
PHYSICAL_NEEDS_SPEC = "physical_illness_specification is required when has_physical_illness is true"
WALKIN_NEEDS_REASON = "disposal_reason is required when disposal_status is 'Managed in Walk-in only'"
MAX_TEXT = clinical.MAX_TEXT


class Unprocessable(DomainError):
    status = 422


# --------------------------------------------------------------------------- validation

def _err(name, msg, value=None):
    return clinical._err(name, msg, value)


def _clean_sections(data: dict) -> tuple[dict, list]:
    values, errors = {}, []
    for name, kind in spec.FIELDS.items():
        if name not in data:
            continue
        raw = data[name]
        k = kind[0]
        if k == "text":
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
                text = str(raw)
                if len(text) > MAX_TEXT or "\x00" in text:
                    errors.append(_err(name, f"{name} must be text of at most {MAX_TEXT} characters"))
                else:
                    values[name] = text
            else:
                errors.append(_err(name, f"{name} must be text", raw))
        elif k == "enum":
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, str) and raw in kind[1]:
                values[name] = raw
            else:
                errors.append(_err(name, f"{name} must be one of: {', '.join(kind[1])}", raw))
        elif k == "multi":
            if raw in (None, ""):
                values[name] = []
                continue
            items = raw if isinstance(raw, list) else ([s.strip() for s in raw.split(",")] if isinstance(raw, str)
                                                       else None)
            if items is None or not all(isinstance(i, str) for i in items):
                errors.append(_err(name, f"{name} must be a list of: {', '.join(kind[1])}"))
                continue
            items = [i.strip() for i in items if i.strip()]
            bad = [i for i in items if i not in kind[1]]
            if bad:
                errors.append(_err(name, f"{name} must be a list of: {', '.join(kind[1])}", bad[0]))
                continue
            values[name] = [o for o in kind[1] if o in items]  # the form's order, no repeats
        elif k == "bool":
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, bool):
                values[name] = raw
            elif isinstance(raw, str) and raw.lower() in ("true", "false", "yes", "no", "1", "0", "on"):
                values[name] = raw.lower() in ("true", "yes", "1", "on")
            else:
                errors.append(_err(name, f"{name} must be true or false", raw))
        elif k == "date":
            d = clinical._date(name, raw, errors)
            values[name] = d.isoformat() if d else None
        elif k == "age":
            if raw in (None, ""):
                values[name] = None
            elif (isinstance(raw, int) and not isinstance(raw, bool)) or (isinstance(raw, str)
                                                                          and raw.strip().isdecimal()
                                                                          and len(raw.strip()) < 4):
                age = int(raw)
                if 0 <= age <= 18:
                    values[name] = age
                else:
                    errors.append(_err(name, "age must be a whole number of years from 0 to 18", raw))
            else:
                errors.append(_err(name, "age must be a whole number of years from 0 to 18", raw))
    return values, errors


def _columns_input(data: dict) -> dict:
    out = {}
    for flat, column in spec.COLUMNS.items():
        if flat in data and not (flat == "date" and "visit_date" in data):
            out[column] = data[flat]
    return out


def _clean(data: dict, *, creating: bool) -> tuple[dict, dict, list]:
    """(column values, child_sections values, errors) from the flat fields."""
    sections, errors = _clean_sections(data)
    col_input = _columns_input(data)
    if creating and col_input.get("visit_date") in (None, ""):
        col_input["visit_date"] = today_ist().isoformat()  # the original defaults the date to today
    columns, col_errors = clinical.clean(col_input, creating=creating)
    # Name errors by the field the client sent (provisional_diagnosis, not diagnosis).
    back = {v: k for k, v in spec.COLUMNS.items() if k != "date"}
    for e in col_errors:
        if e.get("path") in back and back[e["path"]] in data:
            e["path"] = back[e["path"]]
    errors += col_errors
    clinical._check_doctor(columns, errors)
    return columns, sections, errors


def _conditional(sections: dict, errors: list) -> None:
    """The original's two rules (PUT and, in EMRS, POST too)."""
    if sections.get("has_physical_illness") is True and not (sections.get("physical_illness_specification") or
                                                             "").strip():
        errors.append(_err("physical_illness_specification", PHYSICAL_NEEDS_SPEC))
    if sections.get("disposal_status") == "Managed in Walk-in only" and not (sections.get("disposal_reason") or
                                                                             "").strip():
        errors.append(_err("disposal_reason", WALKIN_NEEDS_REASON))


def _stub_guard(actor: User) -> None:
    if records.stub_only(actor):
        raise Forbidden("The child walk-in proforma is written by a doctor.")


def _child_patient(raw) -> Patient:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).isdecimal() or len(str(raw)) > 9 \
            or int(raw) < 1:
        raise ValidationError(INVALID, errors=[_err("child_patient_id", "child_patient_id must be a positive integer",
                                                     raw)])
    patient = db.session.get(Patient, int(raw))
    if patient is None or not patient.is_active:
        raise NotFound("Child patient not found")
    if patient.clinic != "child":
        raise Unprocessable(NOT_CHILD, errors=[_err("child_patient_id", NOT_CHILD, int(raw))])
    return patient


# --------------------------------------------------------------------------- reading

def get(proforma_id: int, reader, *, audit_read: bool = True, include_withdrawn: bool = False) -> ClinicalProforma:
    row = db.session.get(ClinicalProforma, proforma_id) if isinstance(proforma_id, int) else None
    if row is None or row.form != "child" or (not row.is_active and not include_withdrawn):
        raise NotFound(NOT_FOUND)
    records.check(reader, records.READ, records.PROFORMA, row.filled_by)
    if audit_read:
        audit.record_now("child_proforma_view", "clinical_proforma", row.id, patient_id=row.patient_id)
    return row


def flat(row: ClinicalProforma, extra: dict | None = None) -> dict:
    """The original's flat shape: columns under their child-form names, the sections inline."""
    sections = dict(row.child_sections or {})
    out = {"id": row.id, "child_patient_id": row.patient_id, "form": row.form, "filled_by": row.filled_by,
           "assigned_doctor": row.assigned_doctor, "visit_date": row.visit_date.isoformat(),
           "date": row.visit_date.isoformat(), "room_no": row.room_no, "provisional_diagnosis": row.diagnosis,
           "icd_code": row.icd_code, "icd_system": row.icd_system, "icd_title": row.icd_title,
           "icd_version": row.icd_version, "pharmacological_treatment": row.treatment_prescribed,
           "referred_to": row.referred_to, "is_active": row.is_active, "version": row.version,
           "amended_by": row.amended_by, "amended_at": row.amended_at.isoformat() if row.amended_at else None,
           "change_reason": row.change_reason,
           "created_at": row.created_at.isoformat() if row.created_at else None,
           "updated_at": row.updated_at.isoformat() if row.updated_at else None}
    for name, kind in spec.FIELDS.items():
        out[name] = sections.get(name, [] if kind[0] == "multi" else None)
    if out["status"] is None:
        out["status"] = "draft"
    out.update(extra or {})
    return out


def dicts(rows: list[ClinicalProforma]) -> list[dict]:
    """Rows with child_patient_name, sex, cr_number, cgc_number, doctor_name, doctor_role."""
    if not rows:
        return []
    doctor = aliased(User)
    extra = {r[0]: r[1:] for r in db.session.execute(
        select(ClinicalProforma.id, Patient.name, Patient.sex, Patient.cr_no, Patient.cgc_number, doctor.name,
               doctor.role)
        .join(Patient, Patient.id == ClinicalProforma.patient_id)
        .outerjoin(doctor, doctor.id == ClinicalProforma.filled_by)
        .where(ClinicalProforma.id.in_([r.id for r in rows]))).all()}
    keys = ("child_patient_name", "sex", "cr_number", "cgc_number", "doctor_name", "doctor_role")
    out = []
    for r in rows:
        d = flat(r, dict(zip(keys, extra.get(r.id, (None,) * 6))))
        d["child_name"] = d["child_patient_name"]
        out.append(d)
    return out


def one(row: ClinicalProforma) -> dict:
    return dicts([row])[0]


def for_patient(patient: Patient, reader) -> list[ClinicalProforma]:
    """A child's proformas, newest visit first (only those the reader may read)."""
    q = select(ClinicalProforma).where(ClinicalProforma.patient_id == patient.id, ClinicalProforma.form == "child",
                                       ClinicalProforma.is_active.is_(True))
    if not records.reads_all(reader, records.PROFORMA):
        q = q.where(ClinicalProforma.filled_by == reader.id)
    rows = list(db.session.execute(q.order_by(ClinicalProforma.visit_date.desc(), ClinicalProforma.id.desc()))
                .scalars())
    audit.record_list_read("child_proforma_list_view", "clinical_proforma", [r.patient_id for r in rows] or
                           [patient.id])
    return rows


def today_for(patient_id: int) -> ClinicalProforma | None:
    """The child proforma of today's visit, if one was written (Today's Patients opens it)."""
    return db.session.execute(select(ClinicalProforma).where(
        ClinicalProforma.patient_id == patient_id, ClinicalProforma.form == "child",
        ClinicalProforma.is_active.is_(True), ClinicalProforma.visit_date == today_ist())
        .order_by(ClinicalProforma.id.desc()).limit(1)).scalar_one_or_none()


def parse_filters(args) -> tuple[dict, list]:
    out, errors = {}, []
    for key in ("child_patient_id", "filled_by"):
        v = (args.get(key) or "").strip()
        if v:
            if v.isdecimal() and len(v) < 10:
                out[key] = int(v)
            else:
                errors.append(field_error(key, f"{key} must be a positive integer", v[:20], "query"))
    v = (args.get("visit_date") or "").strip()
    if v:
        try:
            out["visit_date"] = dt.date.fromisoformat(v[:10]) if len(v) == 10 else None
        except ValueError:
            out["visit_date"] = None
        if out["visit_date"] is None:
            errors.append(field_error("visit_date", "visit_date must be a date (YYYY-MM-DD)", v[:20], "query"))
    v = (args.get("status") or "").strip()
    if v:
        if v in spec.STATUSES:
            out["status"] = v
        else:
            errors.append(field_error("status", f"status must be one of: {', '.join(spec.STATUSES)}", v[:20],
                                      "query"))
    return out, errors


def list_proformas(filters: dict, page: int, limit: int, reader):
    P = ClinicalProforma
    q = select(P).where(P.form == "child", P.is_active.is_(True))
    if not records.reads_all(reader, records.PROFORMA):
        q = q.where(P.filled_by == reader.id)
    if "child_patient_id" in filters:
        q = q.where(P.patient_id == filters["child_patient_id"])
    if "filled_by" in filters:
        q = q.where(P.filled_by == filters["filled_by"])
    if "visit_date" in filters:
        q = q.where(P.visit_date == filters["visit_date"])
    if "status" in filters:
        status = func.coalesce(P.child_sections["status"].as_string(), "draft")
        q = q.where(status == filters["status"])
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(P.visit_date.desc(), P.id.desc()).offset((page - 1) * limit)
                              .limit(limit)).scalars().all()
    audit.record_list_read("child_proforma_list_view", "clinical_proforma", [r.patient_id for r in rows])
    return list(rows), total


# --------------------------------------------------------------------------- writing

def may_edit(row: ClinicalProforma, actor: User) -> bool:
    return clinical.may_edit(row, actor)


def create(data: dict, actor: User) -> ClinicalProforma:
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    records.check(actor, records.CREATE, records.PROFORMA)
    _stub_guard(actor)
    if data.get("child_patient_id") in (None, ""):
        raise ValidationError(INVALID, errors=[_err("child_patient_id", "child_patient_id is required")])
    patient = _child_patient(data.get("child_patient_id"))
    columns, sections, errors = _clean(data, creating=True)
    _conditional(sections, errors)
    if errors:
        raise ValidationError(INVALID, errors=errors)
    # Age: what the form sent, else the registered age (the original crashed here); none anywhere: blank.
    if sections.get("age") is None:
        sections["age"] = patient.age if patient.age is not None and 0 <= patient.age <= 18 else None
    sections.setdefault("status", "draft")
    if sections["status"] is None:
        sections["status"] = "draft"
    columns = {k: v for k, v in columns.items() if v is not None}
    if "assigned_doctor" not in columns and actor.role in DOCTOR_ROLES:
        columns["assigned_doctor"] = actor.id
    columns.setdefault("visit_type", clinical._visit_type_for(patient.id, columns["visit_date"]))
    row = ClinicalProforma(patient_id=patient.id, filled_by=actor.id, form="child", doctor_decision="simple_case",
                           child_sections=_store(sections), **columns)
    db.session.add(row)
    db.session.flush()
    clinical._link_visit(row)
    audit.record("child_proforma_create", "clinical_proforma", row.id, patient_id=patient.id,
                 details={"fields": sorted(set(columns) | {k for k, v in sections.items() if v not in (None, [])})})
    db.session.commit()
    return row


def _store(sections: dict) -> dict:
    return {k: v for k, v in sections.items() if v not in (None, "", [])}


SNAPSHOT = ("visit_date", "room_no", "assigned_doctor", "diagnosis", "icd_code", "icd_system", "icd_title",
            "treatment_prescribed", "referred_to", "change_reason")


def snapshot(row: ClinicalProforma) -> dict:
    out = {k: getattr(row, k) for k in SNAPSHOT}
    out["child_sections"] = dict(row.child_sections or {})
    return out


def update(row: ClinicalProforma, data: dict, actor: User, expected_version=None) -> ClinicalProforma:
    """Partial update (PUT): only the fields sent change. Amending follows the adult rules."""
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    records.check(actor, records.AMEND, records.PROFORMA, row.author_id)
    _stub_guard(actor)
    if expected_version is None and "version" in data:
        expected_version = data.get("version")
    lock_for_edit(row, expected_version, STALE)
    columns, sections, errors = _clean(data, creating=False)
    merged = {**(row.child_sections or {}), **sections}
    _conditional(merged, errors)
    if errors:
        raise ValidationError(INVALID, errors=errors)
    clinical._keep_coding(row, columns)
    why = clean_reason(data.get("change_reason", data.get("reason")),
                       required=records.reason_required(actor, row.author_id))
    if "visit_date" in columns and columns["visit_date"] is None:
        columns.pop("visit_date")
    keep_version("proforma", row, snapshot(row), row.author_id, row.amended_at or row.created_at,
                 row.change_reason, actor)
    for k, v in columns.items():
        setattr(row, k, v)
    row.child_sections = _store(merged)
    row.version += 1
    row.amended_by, row.amended_at = actor.id, utcnow()
    row.change_reason = why
    clinical._link_visit(row)
    audit.record("child_proforma_update", "clinical_proforma", row.id, patient_id=row.patient_id,
                 details={"fields": sorted(set(columns) | set(sections))})
    db.session.commit()
    return row


def withdraw(row: ClinicalProforma, actor: User, reason=None) -> None:
    """DELETE: withdrawn with the adult proforma's rules (the original hard-deleted, no owner check)."""
    clinical.withdraw(row, actor, reason)
