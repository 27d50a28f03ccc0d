"""Walk-in clinical proforma: the one place its rules live (pages and /api call these).

- complex is final: a complex case never goes back to simple (400);
- a complex decision creates the patient's intake record in the same transaction,
  or links the existing one (one per patient);
- the day's visit gets the proforma and its visit type;
- edits are checked against the version the editor saw (409, never a silent overwrite);
- who may read, open, amend and withdraw a proforma is decided in auth/records.py: a welfare
  officer opens a visit stub (header fields only) and reads only their own stubs; amending or
  withdrawing someone else's proforma follows seniority; every amendment keeps the version it
  replaces (clinical_versions) and names who made it and why; nothing is hard-deleted.
"""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from .. import facts
from ..audit import service as audit
from ..auth import records
from ..auth.models import DOCTOR_ROLES, User
from ..errors import DomainError, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..intake import service as intake_service
from ..intake.models import IntakeRecord
from ..patients import visits
from ..patients.models import Patient, PatientVisit
from ..prescriptions import service as rx_service
from ..querying import date_filters, within_dates
from ..timeutil import today_ist
from ..models_base import utcnow
from ..versioning import clean_reason, keep_version, lock_for_edit, versions_of
from . import icd
from .models import (CASE_SEVERITIES, DOCTOR_DECISIONS, ICD_SYSTEMS, MULTI_SELECT_FIELDS, VISIT_TYPES,
                     ClinicalProforma)

NATURE = ("Reliable", "Unreliable", "Adequate", "Inadequate")
ONSET = ("<1_week", "1w_1m", ">1_month", "not_known")
COURSE = ("Continuous", "Episodic", "Fluctuating", "Deteriorating", "Improving")
ONSET_LABELS = {"<1_week": "< 1 week", "1w_1m": "1 week – 1 month", ">1_month": "> 1 month", "not_known": "Not known"}
MULTI = MULTI_SELECT_FIELDS + ("mse_thought",)
TEXT = ("precipitating_factor", "illness_duration", "current_episode_since", "past_history", "family_history",
        "mse_delusions", "gpe", "diagnosis", "icd_title", "disposal", "referred_to", "treatment_prescribed",
        "adl_reasoning")
CHOICES = {"visit_type": VISIT_TYPES, "doctor_decision": DOCTOR_DECISIONS, "case_severity": CASE_SEVERITIES,
           "nature_of_information": NATURE, "onset_duration": ONSET, "course": COURSE}
FIELDS = ("visit_date", "visit_type", "room_no", "assigned_doctor", "informant_present") + tuple(CHOICES) + \
    MULTI + TEXT + ("icd_code", "icd_system", "workup_appointment")
IMMUTABLE = ("id", "patient_id", "filled_by", "created_at", "updated_at", "adl_file_id", "requires_adl_file")
MAX_TEXT = 10_000

SIMPLE_CREATED = "Simple Walk-in Clinical Proforma saved successfully"
COMPLEX_CREATED = "Complex case with ADL file saved successfully"
COMPLEX_IS_FINAL = "A complex case cannot be changed back to a simple case"

# A completed ("final") proforma says why the patient came, what they have, or what was done:
# at least one presenting complaint, a diagnosis, or a disposal. See ``_check_complete``.
COMPLAINT_FIELDS = ("mood", "behaviour", "speech", "thought", "perception", "somatic", "bio_functions",
                    "adjustment", "cognitive_function", "fits", "sexual_problem", "substance_use")
DIAGNOSIS_FIELDS = ("diagnosis", "icd_code")
DISPOSAL_FIELDS = ("disposal", "referred_to")
CONTENT_FIELDS = COMPLAINT_FIELDS + DIAGNOSIS_FIELDS + DISPOSAL_FIELDS
CHILD_PATIENT = ("This patient is registered in the child clinic: use the child walk-in proforma "
                 "(/api/child-clinical-proformas, or Proforma on Today's Patients).")
CHILD_FORM = ("This is a child walk-in proforma: amend it with the child form "
              "(PUT /api/child-clinical-proformas/<id>).")
EMPTY_FINAL = ("A completed proforma needs at least one of: a presenting complaint, a diagnosis or a disposal. "
               "Fill in one of them; an unfinished proforma stays a draft.")


# --------------------------------------------------------------------------- validation

def _err(name, msg, value=None):
    return field_error(name, msg, value if isinstance(value, (int, str)) and not isinstance(value, bool)
                       and len(str(value)) <= 100 else None)


def _date(name, raw, errors):
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        try:
            d = dt.date.fromisoformat(raw.strip()[:10])
            if dt.date(1900, 1, 1) <= d <= dt.date(2100, 12, 31):
                return d
        except ValueError:
            pass
    errors.append(_err(name, f"{name} must be a date (YYYY-MM-DD)", raw))
    return None


def join_labels(value) -> str | None:
    """Multi-select groups are stored as labels joined by ', ' (lists accepted too)."""
    if value is None:
        return None
    if isinstance(value, list):
        labels = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        if len(labels) != len([v for v in value if not (isinstance(v, str) and not v.strip())]):
            raise ValueError("must be a list of labels")
        return ", ".join(dict.fromkeys(labels)) or None
    if isinstance(value, str):
        labels = [v.strip() for v in value.split(",") if v.strip()]
        return ", ".join(dict.fromkeys(labels)) or None
    raise ValueError("must be labels joined by commas or a list of labels")


def split_labels(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def clean(data: dict, *, creating: bool) -> tuple[dict, list]:
    values, errors = {}, []
    for name in FIELDS:
        if name not in data:
            continue
        raw = data[name]
        if name in ("visit_date", "workup_appointment"):
            values[name] = _date(name, raw, errors)
            if name == "visit_date" and values[name] is not None and values[name] > today_ist():
                errors.append(_err(name, f"visit_date cannot be after today ({today_ist().strftime('%d %b %Y')}, "
                                         f"India time): a proforma records a visit that has happened", raw))
                values[name] = None
        elif name in CHOICES:
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, str) and raw in CHOICES[name]:
                values[name] = raw
            else:
                errors.append(_err(name, f"{name} must be one of: {', '.join(CHOICES[name])}", raw))
        elif name == "informant_present":
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, bool):
                values[name] = raw
            elif isinstance(raw, str) and raw.lower() in ("true", "false", "present", "absent", "1", "0"):
                values[name] = raw.lower() in ("true", "present", "1")
            else:
                errors.append(_err(name, "informant_present must be true or false", raw))
        elif name == "assigned_doctor":
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, int) and not isinstance(raw, bool) or (isinstance(raw, str) and raw.isdecimal()
                                                                        and len(raw) < 10):
                values[name] = int(raw)
            else:
                errors.append(_err(name, "assigned_doctor must be a user id", raw))
        elif name == "room_no":
            if raw in (None, ""):
                values[name] = None
            elif isinstance(raw, (str, int)) and not isinstance(raw, bool) and len(str(raw)) <= 10:
                values[name] = str(raw).strip()
            else:
                errors.append(_err(name, "room_no must be at most 10 characters", raw))
        elif name in MULTI:
            try:
                joined = join_labels(raw)
            except ValueError as exc:
                errors.append(_err(name, f"{name} {exc}", raw))
                continue
            if joined and len(joined) > MAX_TEXT:
                errors.append(_err(name, f"{name} is too long"))
                continue
            values[name] = joined
        elif name in ("icd_code", "icd_system"):
            values[name] = raw.strip().upper() if isinstance(raw, str) and raw.strip() else None
            if raw not in (None, "") and not isinstance(raw, str):
                errors.append(_err(name, f"{name} must be text", raw))
        else:  # free text
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
    if "icd_code" in values and values["icd_code"]:
        coded = icd.resolve(values["icd_code"])
        if coded is None:
            errors.append(_err("icd_code", "icd_code must be an ICD-10 (F32.1) or ICD-11 (6A70.1) code",
                               values["icd_code"]))
        else:
            # The classification names the code: its title and the release it was taken from.
            # A well-formed ICD-11 code the loaded release lacks keeps the title typed with it.
            values["icd_code"], values["icd_system"], values["icd_version"] = coded.code, coded.system, coded.version
            if coded.title:
                values["icd_title"] = coded.title
    elif "icd_code" in values:
        values["icd_system"] = None
        values["icd_version"] = None
        values.setdefault("icd_title", None)
    if values.get("icd_system") not in (None,) + ICD_SYSTEMS:
        errors.append(_err("icd_system", f"icd_system must be one of: {', '.join(ICD_SYSTEMS)}", values["icd_system"]))
    if creating:
        if values.get("visit_date") is None and not any(e["path"] == "visit_date" for e in errors):
            errors.append(_err("visit_date", "visit_date is required"))
    return values, errors


# --------------------------------------------------------------------------- reading

def get(proforma_id: int, reader, *, audit_read: bool = True, include_withdrawn: bool = False) -> ClinicalProforma:
    """The proforma if ``reader`` may read it (403 otherwise); a withdrawn one only with
    ``include_withdrawn`` (restore and history)."""
    row = db.session.get(ClinicalProforma, proforma_id) if isinstance(proforma_id, int) else None
    if row is None or (not row.is_active and not include_withdrawn):
        raise NotFound("Clinical proforma not found")
    records.check(reader, records.READ, records.PROFORMA, row.filled_by)
    if audit_read:
        audit.record_now("proforma_view", "clinical_proforma", row.id, patient_id=row.patient_id)
    return row


def proforma_dicts(rows: list[ClinicalProforma]) -> list[dict]:
    """Rows with patient_name, cr_no, psy_no, doctor_name, doctor_role (contract §8)."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    doctor = aliased(User)
    extra = {pid: (name, cr, psy, dname, drole) for pid, name, cr, psy, dname, drole in db.session.execute(
        select(ClinicalProforma.id, Patient.name, Patient.cr_no, Patient.psy_no, doctor.name, doctor.role)
        .join(Patient, Patient.id == ClinicalProforma.patient_id)
        .outerjoin(doctor, doctor.id == ClinicalProforma.filled_by)
        .where(ClinicalProforma.id.in_(ids))).all()}
    out = []
    for r in rows:
        d = r.to_dict()
        name, cr, psy, dname, drole = extra.get(r.id, (None,) * 5)
        d.update({"patient_name": name, "cr_no": cr, "psy_no": psy, "doctor_name": dname, "doctor_role": drole})
        out.append(d)
    return out


def proforma_dict(row: ClinicalProforma) -> dict:
    return proforma_dicts([row])[0]


def last_for_patient(patient_id: int, before_id: int | None = None) -> ClinicalProforma | None:
    q = select(ClinicalProforma).where(ClinicalProforma.patient_id == patient_id,
                                       ClinicalProforma.is_active.is_(True))
    if before_id:
        q = q.where(ClinicalProforma.id != before_id)
    return db.session.execute(q.order_by(ClinicalProforma.visit_date.desc(), ClinicalProforma.id.desc())
                              .limit(1)).scalar_one_or_none()


PREFILL = tuple(n for n in FIELDS if n not in ("visit_date", "visit_type", "room_no", "assigned_doctor",
                                                 "doctor_decision", "workup_appointment", "adl_reasoning"))


def prefill_from(previous: ClinicalProforma) -> dict:
    """A follow-up starts from the last proforma's history, MSE and diagnosis."""
    return {n: getattr(previous, n) for n in PREFILL if getattr(previous, n) not in (None, "")}


# --------------------------------------------------------------------------- writing

def may_edit(row: ClinicalProforma, actor: User) -> bool:
    return records.may(actor, records.AMEND, records.PROFORMA, row.author_id)


def _stub_check(actor: User, data: dict, values: dict, workup: dict, lines) -> None:
    """A welfare officer's proforma is the visit stub: header fields only."""
    if not records.stub_only(actor):
        return
    clinical = sorted(k for k, v in values.items() if k not in records.STUB_FIELDS and v not in (None, ""))
    if values.get("doctor_decision") == "complex_case":
        clinical.append("doctor_decision")
    if workup:
        clinical.append("work-up fields")
    if lines:
        clinical.append("prescription")
    if clinical:
        raise Forbidden("A welfare officer opens the visit's proforma; its clinical content, the decision and "
                        "prescriptions are written by a doctor. Not allowed here: " + ", ".join(clinical))


def _has_content(get) -> bool:
    return any(get(name) not in (None, "") for name in CONTENT_FIELDS)


def _check_complete(actor: User, data: dict, proforma: ClinicalProforma | None, values: dict) -> None:
    """Refuse a completed proforma with none of presenting complaint, diagnosis or disposal.

    Completed ("final") means a doctor states the case decision: ``doctor_decision`` is in the
    request (the page's form always sends it; an integrator sends it when the doctor has seen the
    patient) and the writer is not a welfare officer. A visit stub (header fields only, no
    decision) stays allowed, as the original contract's clients create them; unfinished work on
    the page lives in the drafts table, which may be empty. A proforma that already had content
    is never emptied by an amendment either."""
    if records.stub_only(actor):
        return
    final = data.get("doctor_decision") not in (None, "")
    had_content = proforma is not None and _has_content(lambda n: getattr(proforma, n))
    if not (final or had_content):
        return

    def after(name):
        if name in values:
            return values[name]
        return getattr(proforma, name) if proforma is not None else None
    if _has_content(after):
        return
    raise ValidationError(EMPTY_FINAL, errors=[_err(n, EMPTY_FINAL) for n in ("diagnosis", "disposal")])


def _link_visit(proforma: ClinicalProforma) -> None:
    visit = visits.visit_on(proforma.patient_id, proforma.visit_date)
    if visit is not None:
        visit.clinical_proforma_id = proforma.id
        visit.visit_type = proforma.visit_type


def _check_doctor(values: dict, errors: list) -> None:
    if values.get("assigned_doctor"):
        user = db.session.get(User, values["assigned_doctor"])
        if user is None or user.role not in DOCTOR_ROLES:
            errors.append(_err("assigned_doctor", "assigned_doctor must be a Faculty member or Resident",
                               values["assigned_doctor"]))


def _extras(data: dict, errors: list):
    """Optional flat intake-record fields and prescription lines of the same request."""
    workup, wu_errors = intake_service.coerce_workup(data)
    errors.extend(wu_errors)
    if workup.get("onset_duration") in ONSET_LABELS:  # the same key on both forms: the work-up keeps words
        workup["onset_duration"] = ONSET_LABELS[workup["onset_duration"]]
    lines = None
    raw = data.get("prescriptions", data.get("prescription"))
    if raw is not None:
        try:
            lines = rx_service.normalise_lines(raw)
        except ValidationError as exc:
            errors.extend(exc.errors or [])
    adl_no = data.get("adl_no")
    if adl_no is not None and not isinstance(adl_no, str):
        errors.append(_err("adl_no", "adl_no must be text"))
        adl_no = None
    return workup, lines, adl_no


def create(data: dict, actor: User):
    """Returns (proforma, intake record or None, prescription or None)."""
    if not isinstance(data.get("patient_id"), (int, str)) or data.get("patient_id") in ("", None) \
            or data.get("visit_date") in (None, ""):
        missing = [k for k in ("patient_id", "visit_date") if data.get(k) in (None, "")]
        if missing:
            raise ValidationError("Missing required fields", errors=[_err(k, f"{k} is required") for k in missing])
    raw_pid = data.get("patient_id")
    if isinstance(raw_pid, bool) or not str(raw_pid).isdecimal() or len(str(raw_pid)) > 9 or int(raw_pid) < 1:
        raise ValidationError("Validation failed", errors=[_err("patient_id", "patient_id must be a positive integer",
                                                                raw_pid)])
    records.check(actor, records.CREATE, records.PROFORMA)
    values, errors = clean(data, creating=True)
    _check_doctor(values, errors)
    workup, lines, adl_no = _extras(data, errors)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    _stub_check(actor, data, values, workup, lines)
    _check_complete(actor, data, None, values)
    patient = db.session.get(Patient, int(raw_pid))
    if patient is None or not patient.is_active:
        raise NotFound("Patient not found")
    if patient.clinic == "child":
        raise DomainError(CHILD_PATIENT, status=422, errors=[_err("patient_id", CHILD_PATIENT, patient.id)])
    values = {k: v for k, v in values.items() if v is not None}
    values.setdefault("doctor_decision", "simple_case")
    values.setdefault("visit_type", _visit_type_for(patient.id, values["visit_date"]))
    proforma = ClinicalProforma(patient_id=patient.id, filled_by=actor.id, **values)
    proforma.requires_adl_file = proforma.doctor_decision == "complex_case"
    db.session.add(proforma)
    db.session.flush()
    record = None
    if proforma.doctor_decision == "complex_case":
        record, _created = intake_service.ensure_for_complex_case(patient, proforma, actor, workup, adl_no)
        proforma.adl_file_id = record.id
    _link_visit(proforma)
    rx = rx_service.replace_for_proforma(proforma, lines, actor, override=data.get("override_reason")) \
        if lines else None
    audit.record("proforma_create", "clinical_proforma", proforma.id, patient_id=patient.id,
                 details={"decision": proforma.doctor_decision, "fields": sorted(values)})
    db.session.commit()
    _prerender(rx)
    return proforma, record, rx


def _prerender(rx) -> None:
    if rx is not None:
        from ..prescriptions.printing import prerender
        prerender(rx)


def _visit_type_for(patient_id: int, visit_date: dt.date) -> str:
    visit = db.session.execute(select(PatientVisit.visit_type).where(
        PatientVisit.patient_id == patient_id, PatientVisit.visit_date == visit_date)
        .order_by(PatientVisit.id.desc()).limit(1)).scalar()
    if visit:
        return visit
    earlier = db.session.execute(select(func.count(ClinicalProforma.id)).where(
        ClinicalProforma.patient_id == patient_id, ClinicalProforma.is_active.is_(True))).scalar_one()
    return "follow_up" if earlier else "first_visit"


def _keep_coding(proforma: ClinicalProforma, values: dict) -> None:
    """An amendment that sends the stored code again keeps the title and release it was coded
    with (a newer ICD-11 release loaded since does not silently recode the record); a code
    stored without a version is looked up again."""
    if values.get("icd_code") and values["icd_code"] == proforma.icd_code and proforma.icd_version \
            and values.get("icd_system") == proforma.icd_system:
        values["icd_title"], values["icd_version"] = proforma.icd_title, proforma.icd_version


def update(proforma: ClinicalProforma, data: dict, actor: User, expected_version=None):
    """Returns (proforma, intake record or None, prescription or None)."""
    records.check(actor, records.AMEND, records.PROFORMA, proforma.author_id)
    if proforma.form == "child":
        raise DomainError(CHILD_FORM, status=422, errors=[_err("id", CHILD_FORM, proforma.id)])
    if expected_version is None and "version" in data:
        expected_version = data.get("version")
    lock_for_edit(proforma, expected_version, "This proforma was changed by someone else after you opened it. "
                                              "Reload to see their changes; your unsaved values are kept.")
    data = {k: v for k, v in data.items() if k not in IMMUTABLE}
    values, errors = clean(data, creating=False)
    _keep_coding(proforma, values)
    _check_doctor(values, errors)
    workup, lines, adl_no = _extras(data, errors)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    _stub_check(actor, data, values, workup, lines)
    _check_complete(actor, data, proforma, values)
    why = clean_reason(data.get("change_reason", data.get("reason")),
                       required=records.reason_required(actor, proforma.author_id))
    if "visit_date" in values and values["visit_date"] is None:
        values.pop("visit_date")
    if proforma.doctor_decision == "complex_case" and values.get("doctor_decision") == "simple_case":
        raise ValidationError(COMPLEX_IS_FINAL, errors=[_err("doctor_decision", COMPLEX_IS_FINAL, "simple_case")])
    if "doctor_decision" in values and values["doctor_decision"] is None:
        values.pop("doctor_decision")
    keep_version("proforma", proforma, snapshot(proforma), proforma.author_id,
                 proforma.amended_at or proforma.created_at, proforma.change_reason, actor)
    for k, v in values.items():
        setattr(proforma, k, v)
    record = None
    patient = db.session.get(Patient, proforma.patient_id)
    if proforma.doctor_decision == "complex_case":
        proforma.requires_adl_file = True
        if proforma.adl_file_id is None or workup:
            record, _ = intake_service.ensure_for_complex_case(patient, proforma, actor, workup, adl_no)
            proforma.adl_file_id = record.id
        else:
            record = db.session.get(IntakeRecord, proforma.adl_file_id)
    rx = rx_service.replace_for_proforma(proforma, lines, actor, override=data.get("override_reason"),
                                         reason=data.get("change_reason", data.get("reason"))) \
        if lines is not None else None
    proforma.version += 1
    proforma.amended_by, proforma.amended_at = actor.id, utcnow()
    proforma.change_reason = why
    _link_visit(proforma)
    audit.record("proforma_update", "clinical_proforma", proforma.id, patient_id=proforma.patient_id,
                 details={"fields": sorted(values), "decision": proforma.doctor_decision})
    db.session.commit()
    _prerender(rx)
    return proforma, record, rx


SNAPSHOT = FIELDS + ("change_reason",)


def snapshot(proforma: ClinicalProforma) -> dict:
    return {k: getattr(proforma, k) for k in SNAPSHOT}


def withdraw(proforma: ClinicalProforma, actor: User, reason=None) -> None:
    """DELETE: the proforma is withdrawn, never removed (its intake record is archived,
    entities.md §5); an Admin can restore it."""
    records.check(actor, records.WITHDRAW, records.PROFORMA, proforma.author_id)
    why = clean_reason(reason, required=False, what="withdrawal")
    lock_for_edit(proforma)
    proforma.is_active = False
    proforma.withdrawn_at, proforma.withdrawn_by, proforma.withdrawal_reason = utcnow(), actor.id, why
    proforma.version += 1
    if proforma.adl_file_id:
        record = db.session.get(IntakeRecord, proforma.adl_file_id)
        if record is not None and record.file_status != "archived":
            record.file_status, record.is_active = "archived", False
            record.notes = ((record.notes or "") + " [DELETED]").strip()
    audit.record("proforma_withdraw", "clinical_proforma", proforma.id, patient_id=proforma.patient_id)
    db.session.commit()


def restore(proforma: ClinicalProforma, actor: User) -> ClinicalProforma:
    records.check(actor, records.RESTORE, records.PROFORMA)
    lock_for_edit(proforma)
    if not proforma.is_active:
        proforma.is_active = True
        proforma.withdrawn_at = proforma.withdrawn_by = proforma.withdrawal_reason = None
        proforma.version += 1
        audit.record("proforma_restore", "clinical_proforma", proforma.id, patient_id=proforma.patient_id)
    db.session.commit()
    return proforma


def withdrawn(limit: int = 200) -> list[ClinicalProforma]:
    """Withdrawn proformas, newest withdrawal first (the Admin's withdrawn-records page)."""
    return list(db.session.execute(select(ClinicalProforma).where(ClinicalProforma.is_active.is_(False))
                                   .order_by(ClinicalProforma.withdrawn_at.desc().nulls_last(),
                                             ClinicalProforma.id.desc()).limit(limit)).scalars())


def withdrawn_records() -> dict:
    """What the Admin's withdrawn-records page shows: withdrawn proformas, prescriptions and
    follow-up notes, deleted (not yet purged) files, their patients and who withdrew them."""
    from ..followups import service as followups
    from ..patients import files as patient_files
    proformas, prescriptions, files = withdrawn(), rx_service.withdrawn(), patient_files.withdrawn()
    notes = followups.withdrawn()
    patient_ids = {r.patient_id for r in (*proformas, *prescriptions, *files, *notes)} or {0}
    user_ids = ({r.withdrawn_by for r in (*proformas, *prescriptions, *notes)} | {f.deleted_by for f in files}) - {None}
    return {
        "proformas": proformas, "prescriptions": prescriptions, "files": files, "followups": notes,
        "patients": {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(patient_ids)))
                     .scalars()},
        "names": dict(db.session.execute(select(User.id, User.name).where(User.id.in_(user_ids or {0}))).all()),
    }


def version_history(proforma: ClinicalProforma) -> list[dict]:
    """Every version, oldest first (the current one last): its fields, author, when, why."""
    from ..serialize import json_value
    kept = versions_of("proforma", proforma.id)
    ids = {v.author_id for v in kept} | {proforma.author_id}
    names = {u.id: u.name for u in db.session.execute(select(User).where(User.id.in_(ids - {None}))).scalars()}
    out = [{"version": v.version, "fields": v.data, "author_id": v.author_id, "author_name": names.get(v.author_id),
            "authored_at": json_value(v.authored_at), "change_reason": v.data.get("change_reason"),
            "superseded_at": json_value(v.superseded_at), "current": False} for v in kept]
    out.append({"version": proforma.version, "fields": {k: json_value(v) for k, v in snapshot(proforma).items()},
                "author_id": proforma.author_id, "author_name": names.get(proforma.author_id),
                "authored_at": json_value(proforma.amended_at or proforma.created_at),
                "change_reason": proforma.change_reason, "superseded_at": None, "current": True})
    return out


# --------------------------------------------------------------------------- lists and statistics

LIST_FILTERS = ("visit_type", "doctor_decision", "requires_adl_file", "filled_by", "room_no", "date_from",
                "date_to", "patient_id")


def parse_filters(args) -> tuple[dict, list]:
    out, errors = {}, []
    for key in ("visit_type", "doctor_decision"):
        v = (args.get(key) or "").strip()
        if v:
            if v in CHOICES[key]:
                out[key] = v
            else:
                errors.append(field_error(key, f"{key} must be one of: {', '.join(CHOICES[key])}", v[:50], "query"))
    v = (args.get("requires_adl_file") or "").strip().lower()
    if v:
        if v in ("true", "false"):
            out["requires_adl_file"] = v == "true"
        else:
            errors.append(field_error("requires_adl_file", "requires_adl_file must be true or false", v[:20], "query"))
    for key in ("filled_by", "patient_id"):
        v = (args.get(key) or "").strip()
        if v:
            if v.isdecimal() and len(v) < 10:
                out[key] = int(v)
            else:
                errors.append(field_error(key, f"{key} must be a positive integer", v[:20], "query"))
    v = (args.get("room_no") or "").strip()
    if v:
        out["room_no"] = v[:10]
    date_filters(args, out, errors)
    return out, errors


def list_proformas(filters: dict, page: int, limit: int, reader):
    """A page of proformas in the reader's scope (a welfare officer: their own stubs); the read
    is audited, one row naming the patients on the page."""
    q = select(ClinicalProforma).where(ClinicalProforma.is_active.is_(True))
    if not records.reads_all(reader, records.PROFORMA):
        q = q.where(ClinicalProforma.filled_by == reader.id)
    for key in ("visit_type", "doctor_decision", "requires_adl_file", "filled_by", "room_no", "patient_id"):
        if key in filters:
            q = q.where(getattr(ClinicalProforma, key) == filters[key])
    q = within_dates(q, ClinicalProforma.visit_date, filters)
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(ClinicalProforma.visit_date.desc(), ClinicalProforma.id.desc())
                              .offset((page - 1) * limit).limit(limit)).scalars().all()
    audit.record_list_read("proforma_list_view", "clinical_proforma", [r.patient_id for r in rows])
    return list(rows), total


@functools.cache  # built once (with its cache key)
def _for_patient():
    return _newest_first(select(ClinicalProforma), bindparam("patient_id"))


def _newest_first(query, patient):
    """The patient's active proformas, newest (by visit date) first."""
    return (query.where(ClinicalProforma.patient_id == patient, ClinicalProforma.is_active.is_(True))
            .order_by(ClinicalProforma.visit_date.desc(), ClinicalProforma.id.desc()))


# The patient page's facts (emrs/facts.py): the proforma "Prescribe" starts from.
facts.register("latest_proforma",
               lambda patient, _day: _newest_first(select(ClinicalProforma.id), patient).limit(1).scalar_subquery())


@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The patient's newest active proformas (emrs/timeline.py slots): id, at = created_at,
    day = visit_date, text1 = ICD code, text2 = the diagnosis's first 80 characters,
    text3 = the doctor's decision."""
    P = ClinicalProforma
    return (select(P.id, P.created_at.label("at"), P.visit_date.label("day"), P.icd_code.label("text1"),
                   func.substr(P.diagnosis, 1, 80).label("text2"), P.doctor_decision.label("text3"))
            .where(P.patient_id == bindparam("patient_id"), P.is_active.is_(True))
            .order_by(P.visit_date.desc(), P.id.desc()).limit(bindparam("limit")))


def for_patient(patient_id: int, reader=None) -> list[ClinicalProforma]:
    """A patient's proformas, newest first; with ``reader``, only those they may read."""
    rows = list(db.session.execute(_for_patient(), {"patient_id": patient_id}).scalars())
    if reader is not None and not records.reads_all(reader, records.PROFORMA):
        rows = [r for r in rows if r.filled_by == reader.id]
    return rows


def stats() -> dict:
    P = ClinicalProforma
    row = db.session.execute(select(
        func.count(P.id),
        func.count(P.id).filter(P.visit_type == "first_visit"),
        func.count(P.id).filter(P.visit_type == "follow_up"),
        func.count(P.id).filter(P.doctor_decision == "simple_case"),
        func.count(P.id).filter(P.doctor_decision == "complex_case"),
        func.count(P.id).filter(P.requires_adl_file.is_(True)),
    ).where(P.is_active.is_(True))).one()
    keys = ("total_proformas", "first_visits", "follow_ups", "simple_cases", "complex_cases", "cases_requiring_adl")
    return dict(zip(keys, row))


def decision_stats(user_id: int | None = None) -> list[dict]:
    q = select(ClinicalProforma.doctor_decision, func.count(ClinicalProforma.id)).where(
        ClinicalProforma.is_active.is_(True))
    if user_id:
        q = q.where(ClinicalProforma.filled_by == user_id)
    rows = dict(db.session.execute(q.group_by(ClinicalProforma.doctor_decision)).all())
    return [{"doctor_decision": d, "count": rows.get(d, 0)} for d in DOCTOR_DECISIONS]


PERIODS = {"day": 7, "week": 7, "month": 12}


def visit_trends(period: str = "week", user_id: int | None = None, today: dt.date | None = None) -> list[dict]:
    """day = last 7 days, week = last 7 weeks (Monday starts), month = last 12 months;
    zero buckets included, oldest first."""
    if period not in PERIODS:
        raise ValidationError("Invalid period. Use day, week or month")
    today = today or today_ist()
    n = PERIODS[period]
    if period == "day":
        starts = [today - dt.timedelta(days=i) for i in range(n - 1, -1, -1)]
        key = "date"
    elif period == "week":
        monday = today - dt.timedelta(days=today.weekday())
        starts = [monday - dt.timedelta(weeks=i) for i in range(n - 1, -1, -1)]
        key = "week_start"
    else:
        first = today.replace(day=1)
        starts = []
        y, m = first.year, first.month
        for _ in range(n):
            starts.append(dt.date(y, m, 1))
            y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        starts.reverse()
        key = "month_start"
    q = select(ClinicalProforma.visit_date).where(ClinicalProforma.is_active.is_(True),
                                                  ClinicalProforma.visit_date >= starts[0],
                                                  ClinicalProforma.visit_date <= today)
    if user_id:
        q = q.where(ClinicalProforma.filled_by == user_id)
    dates = db.session.execute(q).scalars().all()
    counts = {s: 0 for s in starts}
    for d in dates:
        if period == "day":
            b = d
        elif period == "week":
            b = d - dt.timedelta(days=d.weekday())
        else:
            b = d.replace(day=1)
        if b in counts:
            counts[b] += 1
    return [{key: s.isoformat(), "count": counts[s]} for s in starts]
