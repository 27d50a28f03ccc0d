"""Reading patients: one patient by id or by number, and the patient object of the API and
the pages (every column plus the joined names, last and today's visit, derived complexity),
read with statements prepared once per connection (emrs/prepared.py). Reads are audited."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import aliased

from ..audit import service as audit
from ..auth.models import User
from ..clinical.models import ClinicalProforma
from ..errors import NotFound
from ..extensions import db
from ..intake.models import IntakeRecord
from ..prepared import Prepared
from ..serialize import row_shape
from ..timeutil import today_ist
from . import fields as F
from .models import Patient, PatientVisit


def get_patient(patient_id: int, *, audit_action: str | None = "patient_view",
                include_archived: bool = False) -> Patient:
    """The patient, or NotFound("Patient not found"). Audits the read unless audit_action is None."""
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None or (not patient.is_active and not include_archived):
        raise NotFound("Patient not found")
    if audit_action:
        audit.record_now(audit_action, "registered_patient", patient.id, patient_id=patient.id)
    return patient


def patients_by_number(kind: str, number: str, limit: int = 20) -> list[Patient]:
    """Active patients whose CR, PSY, ADL number (case-insensitive), ABHA number (any
    spacing) or ABHA address equals ``number``. Not audited: the caller audits what it shows."""
    value = (number or "").strip().upper()
    if not value or len(value) > 64:
        return []
    active = Patient.is_active.is_(True)
    if kind == "abha":
        try:
            digits = F.abha_digits(value)
        except ValueError:
            return []
        q = select(Patient).where(Patient.abha_number == digits, active)
    elif kind == "abha_address":
        q = select(Patient).where(Patient.abha_address == value.lower(), active)
    else:
        column = {"cr": Patient.cr_no, "psy": Patient.psy_no, "adl": Patient.adl_no, "cgc": Patient.cgc_number}[kind]
        q = select(Patient).where(func.upper(column) == value, active)
    found = list(db.session.execute(q.order_by(Patient.id).limit(limit)).scalars())
    if not found and kind == "adl":
        found = list(db.session.execute(select(Patient).join(IntakeRecord, IntakeRecord.patient_id == Patient.id)
                                        .where(func.upper(IntakeRecord.adl_no) == value, active)
                                        .order_by(Patient.id).limit(limit)).scalars())
    return found


def find_by_number(kind: str, number: str) -> Patient:
    found = patients_by_number(kind, number, limit=1)
    if not found:
        raise NotFound("Patient not found")
    patient = found[0]
    audit.record_now("patient_lookup", "registered_patient", patient.id, patient_id=patient.id, details={"by": kind})
    return patient



INTERNAL_COLUMNS = ("name_key", "name_words")  # search keys: not part of the patient object


def _public(columns: dict) -> dict:
    """A patient row's columns as the API shows them: no search keys, the ABHA number
    as XX-XXXX-XXXX-XXXX, `version` last."""
    for name in INTERNAL_COLUMNS:
        columns.pop(name, None)
    columns["version"] = columns.pop("version")
    columns["abha_number"] = F.format_abha(columns.get("abha_number"))
    columns["patient_type"] = columns.get("clinic") or "adult"  # 'child': the Child Guidance Clinic
    return columns


def patients_by_id(ids) -> dict[int, Patient]:
    """The patients with these ids, archived ones too, by id. Not audited: the caller
    shows a list (identifiers) and audits what it opens."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}


def patient_dict(patient: Patient, extras: dict | None = None) -> dict:
    """The API's patient object: every column plus the joined names (contract §5)."""
    out = _public(patient.to_dict())
    if extras is None:
        extras = _extras_for([patient.id]).get(patient.id, {})
    out.update(extras)
    return out


def _patients_statement(columns: str, postgresql: bool):
    """The joined names, last visit, today's visit and derived complexity of a set of
    patients (`:ids`), after the patient's id ("extras", for patients already loaded) or after
    all the patient's columns ("rows", plain rows for patient_dicts())."""
    today = bindparam("today")
    filler, doctor = aliased(User), aliased(User)
    last_visit = (select(PatientVisit.visit_date).where(PatientVisit.patient_id == Patient.id)
                  .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1).scalar_subquery())
    last_doctor = (select(PatientVisit.assigned_doctor_id).where(PatientVisit.patient_id == Patient.id,
                                                                 PatientVisit.assigned_doctor_id.is_not(None))
                   .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1).scalar_subquery())
    today_status = (select(PatientVisit.visit_status).where(PatientVisit.patient_id == Patient.id,
                                                            PatientVisit.visit_date == today)
                    .order_by(PatientVisit.id.desc()).limit(1).scalar_subquery())
    has_adl = exists().where(IntakeRecord.patient_id == Patient.id)
    intake_no = select(IntakeRecord.adl_no).where(IntakeRecord.patient_id == Patient.id).limit(1).scalar_subquery()
    proforma_today = exists().where(ClinicalProforma.patient_id == Patient.id, ClinicalProforma.visit_date == today)
    doctor_id = func.coalesce(Patient.assigned_doctor_id, last_doctor)
    head = (Patient.id,) if columns == "extras" else tuple(Patient.__table__.c)
    ids = Patient.id == func.any(bindparam("ids")) if postgresql else Patient.id.in_(bindparam("ids", expanding=True))
    return (select(*head, filler.name, filler.role, doctor.id, doctor.name, doctor.role, last_visit, today_status,
                   has_adl, proforma_today, func.coalesce(Patient.adl_no, intake_no))
            .select_from(Patient)
            .outerjoin(filler, filler.id == Patient.filled_by)
            .outerjoin(doctor, doctor.id == doctor_id)
            .where(ids))


# Planned once per database connection (emrs/prepared.py): planning these costs PostgreSQL
# several times what running them does.
_PARAMS = (("ids", "int[]"), ("today", "date"))
_EXTRAS = Prepared("emrs_patient_extras", lambda pg: _patients_statement("extras", pg), _PARAMS)
_ROWS = Prepared("emrs_patient_rows", lambda pg: _patients_statement("rows", pg), _PARAMS)


def _read_statement(postgresql: bool):
    """The patient rows of `:ids` and, in the same statement, the audit row of reading each
    active one (PostgreSQL only: SQLite has no INSERT inside WITH)."""
    rows = _patients_statement("rows", postgresql).cte("patient_row")
    return select(rows).add_cte(audit.insert_for_each(rows, rows.c.is_active))


_READ = Prepared("emrs_patient_read", _read_statement, _PARAMS + audit.ROW_PARAMETER_TYPES)


def _extras(values, today: dt.date) -> dict:
    """The extras of one patient from the statement's last ten values."""
    f_name, f_role, d_id, d_name, d_role, last, t_status, adl, pro, adl_no = values
    return {
        "adl_no": adl_no,
        "filled_by_name": f_name, "filled_by_role": f_role,
        "assigned_doctor_id": d_id, "assigned_doctor_name": d_name, "assigned_doctor_role": d_role,
        "last_assigned_date": last.isoformat() if last else None,
        "has_adl_file": bool(adl), "case_complexity": "complex" if adl else "simple",
        "visit_date": today.isoformat() if t_status else (last.isoformat() if last else None),
        "visit_status": t_status, "has_visit_today": t_status is not None,
        "has_proforma_today": bool(pro),
    }


def _extras_for(ids: list[int]) -> dict[int, dict]:
    """filled_by/doctor names and roles, last visit date, derived complexity, today's visit."""
    if not ids:
        return {}
    today = today_ist()
    rows = _EXTRAS.rows({"ids": list(ids), "today": today})
    return {row[0]: _extras(row[1:], today) for row in rows}


def patient_dicts(ids: list[int]) -> list[dict]:
    """patient_dict() of each patient, in the order of `ids` (missing ids are left out): the
    columns and the extras in one statement, as plain rows (no ORM objects to build)."""
    if not ids:
        return []
    today = today_ist()
    out = _dicts(_ROWS.rows({"ids": list(ids), "today": today}), today)
    return [out[i] for i in ids if i in out]


def _dicts(rows, today: dt.date) -> dict[int, dict]:
    shape = row_shape(Patient.__table__)
    n = len(shape.names)
    out = {}
    for row in rows:
        d = _public(shape.dict(row))
        d.update(_extras(row[n:], today))
        out[d["id"]] = d
    return out


def read_patient(patient_id: int, *, audit_action: str = "patient_view", commit: bool = True) -> dict:
    """get_patient() + patient_dict() of an active patient in one statement; the read is
    audited in the same transaction (on PostgreSQL by the same statement: the row, its audit
    row and the commit are two round trips). NotFound("Patient not found") otherwise.
    ``commit=False``: the caller reads more in the same transaction and commits it (the audit
    row with it) before anything of the record leaves the server (the patient page)."""
    if not isinstance(patient_id, int):
        raise NotFound("Patient not found")
    if db.session.connection().dialect.name == "postgresql":
        today = today_ist()
        found = _dicts(_READ.rows({"ids": [patient_id], "today": today,
                                   **audit.row_parameters(audit_action, "registered_patient", patient_id,
                                                          patient_id=patient_id)}), today).get(patient_id)
        if found is None or not found["is_active"]:  # then the statement inserted no audit row
            raise NotFound("Patient not found")
        if commit:
            db.session.commit()
        return found
    found = patient_dicts([patient_id])
    if not found or not found[0]["is_active"]:
        raise NotFound("Patient not found")
    (audit.record_now if commit else audit.insert_now)(audit_action, "registered_patient", patient_id,
                                                         patient_id=patient_id)
    return found[0]


def with_extras(patients: list[Patient]) -> list[dict]:
    """patient_dict() of patients already loaded: their extras in one statement."""
    extras = _extras_for([p.id for p in patients])
    return [patient_dict(p, extras.get(p.id, {})) for p in patients]


# The patient's records of the other domains, as the reader may see them (auth/records.py);
# imported when called: those services import the patients models.

def clinical_records(patient_id: int, reader) -> list[dict]:
    """The patient's proformas ``reader`` may read, with the doctor's name."""
    from ..clinical import service as proformas
    return proformas.proforma_dicts(proformas.for_patient(patient_id, reader))


def intake_records(patient_id: int, reader) -> list[dict]:
    """The patient's intake record (none or one) as ``reader`` may see it: without the
    work-up for whoever may not read it (a welfare officer)."""
    from ..intake import record_room, service as intake
    record = intake.for_patient(patient_id)
    return record_room.record_api_dicts([record] if record is not None else [], reader)

