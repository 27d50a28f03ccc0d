"""Patients: the out-patient card and record, search, visits. The one place the
rules live; pages (patients/views.py) and the API (api/patients.py) call these."""
from __future__ import annotations

import datetime as dt
import functools
import json
import re

from sqlalchemy import and_, bindparam, case, exists, func, literal, literal_column, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..audit import service as audit
from ..auth.models import ADMIN, DOCTOR_ROLES, FACULTY, User
from ..errors import Conflict, DomainError, NotFound, ValidationError, field_error
from ..extensions import db
from ..intake.models import IntakeRecord
from ..clinical.models import ClinicalProforma
from ..numbering import service as numbering
from ..querying import date_filters
from ..prepared import Prepared
from ..serialize import row_shape
from ..timeutil import today_ist
from ..versioning import lock_for_edit
from . import fields as F
from .models import Patient, PatientVisit
from . import names as N
from .names import name_key, normalise_name

PAGE_MAX = 100
COUNT_CAP = 10_000


# --------------------------------------------------------------------------- reading

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
        column = {"cr": Patient.cr_no, "psy": Patient.psy_no, "adl": Patient.adl_no}[kind]
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


def has_intake_record(patient_id: int) -> bool:
    return db.session.execute(select(exists().where(IntakeRecord.patient_id == patient_id))).scalar()


INTERNAL_COLUMNS = ("name_key", "name_words")  # search keys: not part of the patient object


def _public(columns: dict) -> dict:
    """A patient row's columns as the API shows them: no search keys, the ABHA number
    as XX-XXXX-XXXX-XXXX, `version` last."""
    for name in INTERNAL_COLUMNS:
        columns.pop(name, None)
    columns["version"] = columns.pop("version")
    columns["abha_number"] = F.format_abha(columns.get("abha_number"))
    return columns


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
    shape = row_shape(Patient.__table__)
    n = len(shape.names)
    out = {}
    for row in _ROWS.rows({"ids": list(ids), "today": today}):
        d = _public(shape.dict(row))
        d.update(_extras(row[n:], today))
        out[d["id"]] = d
    return [out[i] for i in ids if i in out]


def read_patient(patient_id: int, *, audit_action: str = "patient_view") -> dict:
    """get_patient() + patient_dict() of an active patient in one statement; the read is
    audited in the same transaction. NotFound("Patient not found") otherwise."""
    found = patient_dicts([patient_id]) if isinstance(patient_id, int) else []
    if not found or not found[0]["is_active"]:
        raise NotFound("Patient not found")
    audit.record_now(audit_action, "registered_patient", patient_id, patient_id=patient_id)
    return found[0]


# --------------------------------------------------------------------------- writing

def _normalise_numbers(values: dict) -> None:
    for key in ("cr_no", "psy_no"):
        if values.get(key):
            values[key] = values[key].strip().upper().replace(" ", "")


def _input(data: dict) -> dict:
    data = dict(data)
    if "mobile_no" in data and "contact_number" not in data:
        data["contact_number"] = data.pop("mobile_no")  # alias accepted by the original
    return data


def _check_cr_free(cr_no: str | None, exclude_id: int | None = None) -> None:
    if not cr_no:
        return
    other = db.session.execute(select(Patient.id).where(func.upper(Patient.cr_no) == cr_no.upper())).scalar()
    if other is not None and other != exclude_id:
        raise Conflict("CR number is already registered",
                       errors=[field_error("cr_no", "CR number is already registered", cr_no)])


ABHA_TAKEN = "ABHA number is already registered to another patient"


def _check_abha_free(abha_number: str | None, exclude_id: int | None = None) -> None:
    if not abha_number:
        return
    other = db.session.execute(select(Patient.id).where(Patient.abha_number == abha_number)).scalar()
    if other is not None and other != exclude_id:
        raise Conflict(ABHA_TAKEN, errors=[field_error("abha_number", ABHA_TAKEN, F.format_abha(abha_number))])


def _unique_conflict(exc: IntegrityError) -> Conflict:
    """A unique index refused the row (two desks saving at once): say which number."""
    if "abha" in str(exc.orig).lower():
        return Conflict(ABHA_TAKEN, errors=[field_error("abha_number", ABHA_TAKEN)])
    return Conflict("CR number is already registered")


def _doctor(doctor_id) -> User:
    if isinstance(doctor_id, str) and doctor_id.strip().isdecimal() and len(doctor_id.strip()) < 10:
        doctor_id = int(doctor_id)
    if isinstance(doctor_id, bool) or not isinstance(doctor_id, int) or not 0 < doctor_id < 2**31:
        raise ValidationError("Validation failed", errors=[field_error("assigned_doctor_id",
                                                                       "Choose a doctor", doctor_id)])
    user = db.session.get(User, doctor_id)
    if user is None or not user.is_active or user.role not in DOCTOR_ROLES:
        raise ValidationError("Validation failed", errors=[field_error(
            "assigned_doctor_id", "The assigned doctor must be an active Faculty member or Resident", doctor_id)])
    return user


def _age_against_birth_date(patient: Patient, age: int, registered_on) -> list:
    """A new age must agree with the date of birth in the patient's intake record, if any."""
    from ..intake.service import birth_date_errors
    birth = db.session.execute(select(IntakeRecord.personal_birth_date).where(
        IntakeRecord.patient_id == patient.id)).scalar()
    errors = birth_date_errors(birth, age, registered_on, path="age")
    for e in errors:
        e["msg"], e["value"] = e["msg"].replace("Correct the date of birth or the age.",
                                                "Correct the age or the date of birth in the intake record."), age
    return errors


def register(data: dict, actor: User, *, step: str = "complete") -> Patient:
    """Register a new patient. step='card' takes the out-patient card fields only;
    'complete' takes card and record fields (POST /register-complete)."""
    data = _input(data)
    names = F.CARD_NAMES + (F.RECORD_NAMES if step == "complete" else ())
    values, errors = F.clean(data, names, partial=False)
    doctor = None
    if data.get("assigned_doctor_id") not in (None, ""):
        try:
            doctor = _doctor(data.get("assigned_doctor_id"))
        except ValidationError as exc:
            errors.extend(exc.errors)
    F.raise_if(errors)
    values = {k: v for k, v in values.items() if v is not None}
    _normalise_numbers(values)
    values["name"] = normalise_name(values["name"])
    _check_cr_free(values.get("cr_no"))
    _check_abha_free(values.get("abha_number"))
    today = today_ist()
    values.setdefault("date", today)
    values.setdefault("department", "Psychiatry")
    if not values.get("cr_no"):
        values["cr_no"] = numbering.next_cr_no(values["date"].year)
    if step == "complete" and "seen_in_walk_in_on" not in values:
        values["seen_in_walk_in_on"] = values["date"]
    patient = Patient(**values, name_key=name_key(values["name"]), filled_by=actor.id if actor else None)
    if doctor is not None:
        patient.assigned_doctor_id, patient.assigned_doctor_name = doctor.id, doctor.name
    db.session.add(patient)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise _unique_conflict(exc)
    audit.record("patient_create", "registered_patient", patient.id, patient_id=patient.id,
                 details={"step": step, "fields": sorted(values)})
    db.session.commit()
    return patient


def update(patient: Patient, data: dict, actor: User, *, names=None, expected_version=None,
           ignore_empty: bool = True) -> Patient:
    """Update card/record fields. API rule: fields sent as null/'' are ignored, except
    assigned doctor and room, which may be cleared; 400 if nothing remains. Pages send
    ignore_empty=False (a cleared box clears the field) and the version they showed."""
    data = _input(data)
    lock_for_edit(patient, expected_version, "This patient was changed by someone else while you were editing. "
                                             "Reload to see their changes; your values are kept in the form.")
    allow_doctor = names is None or "assigned_doctor_id" in names
    names = tuple(n for n in (names or (F.CARD_NAMES + F.RECORD_NAMES)) if n in F.ALL_FIELDS)
    present = {k: v for k, v in data.items() if k in names}
    values, errors = F.clean(present, names, partial=True)
    if ignore_empty:
        values = {k: v for k, v in values.items() if v is not None or k in F.CLEARABLE}
    doctor_change = None
    if not allow_doctor:
        pass
    elif "assigned_doctor_id" in data:
        raw = data.get("assigned_doctor_id")
        if raw in (None, ""):
            doctor_change = "clear"
        else:
            try:
                doctor_change = _doctor(raw)
            except ValidationError as exc:
                errors.extend(exc.errors)
    elif allow_doctor and "assigned_doctor_name" in data and data.get("assigned_doctor_name") in (None, ""):
        doctor_change = "clear"
    if values.get("age") is not None and values["age"] != patient.age:
        errors.extend(_age_against_birth_date(patient, values["age"], values.get("date") or patient.date))
    F.raise_if(errors)
    if "name" in values and values["name"] is None:
        values.pop("name")
    if not values and doctor_change is None:
        raise ValidationError("No valid fields to update. All provided values were null or empty.")
    _normalise_numbers(values)
    if values.get("cr_no"):
        _check_cr_free(values["cr_no"], exclude_id=patient.id)
    elif "cr_no" in values:
        values.pop("cr_no")  # the CR number is never cleared
    if values.get("abha_number"):
        _check_abha_free(values["abha_number"], exclude_id=patient.id)
    changed = []
    for k, v in values.items():
        if k == "name":
            v = normalise_name(v)
            patient.name_key = name_key(v)
        if getattr(patient, k) != v:
            setattr(patient, k, v)
            changed.append(k)
    if doctor_change == "clear":
        if patient.assigned_doctor_id is not None:
            changed.append("assigned_doctor_id")
        patient.assigned_doctor_id, patient.assigned_doctor_name = None, None
    elif isinstance(doctor_change, User):
        if patient.assigned_doctor_id != doctor_change.id:
            changed.append("assigned_doctor_id")
        patient.assigned_doctor_id, patient.assigned_doctor_name = doctor_change.id, doctor_change.name
    if changed:
        patient.version += 1
    audit.record("patient_update", "registered_patient", patient.id, patient_id=patient.id,
                 details={"fields": sorted(changed)})
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise _unique_conflict(exc)
    return patient


def archive(patient: Patient, actor: User) -> dict:
    """Patients are archived, never hard-deleted: the record and its history stay."""
    if actor.role != ADMIN:
        raise DomainError("Only an administrator can archive a patient", status=403)
    patient.is_active = False
    patient.version += 1
    proformas = db.session.execute(select(func.count(ClinicalProforma.id)).where(
        ClinicalProforma.patient_id == patient.id)).scalar_one()
    intake = db.session.execute(select(func.count(IntakeRecord.id)).where(
        IntakeRecord.patient_id == patient.id)).scalar_one()
    audit.record("patient_archive", "registered_patient", patient.id, patient_id=patient.id)
    db.session.commit()
    return {"clinicalProformas": proformas, "adlFiles": intake}


# --------------------------------------------------------------------------- duplicates

def likely_duplicates(*, name=None, sex=None, age=None, mobile=None, cr_no=None, exclude_id=None,
                      limit: int = 5) -> list[Patient]:
    """Same CR or mobile; or a similar name with the same sex and an age within 3 years."""
    conds = []
    if cr_no and isinstance(cr_no, str) and cr_no.strip():
        conds.append(func.upper(Patient.cr_no) == cr_no.strip().upper())
    if mobile and isinstance(mobile, str) and len(re.sub(r"\D", "", mobile)) >= 10:
        conds.append(Patient.contact_number == mobile.strip())
    if name and isinstance(name, str) and len(name.strip()) >= 3:
        key = name_key(name)
        if len(set(key.split())) >= 2:
            # Every word key of the typed name (same name or same key included), any script.
            name_cond = _has_word_keys(key.split())
        else:
            name_cond = or_(func.lower(Patient.name) == normalise_name(name).lower(), Patient.name_key == key)
        extra = []
        if sex in ("M", "F", "Other"):
            extra.append(Patient.sex == sex)
        try:
            a = int(age)
            if 0 <= a <= 150:  # a typed age; anything else would overflow the column's type
                extra.append(Patient.age.between(a - 3, a + 3))
        except (TypeError, ValueError):
            pass
        conds.append(and_(name_cond, *extra))
    if not conds:
        return []
    q = select(Patient).where(Patient.is_active.is_(True), or_(*conds))
    if exclude_id:
        q = q.where(Patient.id != exclude_id)
    return list(db.session.execute(q.order_by(Patient.id.desc()).limit(limit)).scalars())


def _has_word_keys(keys: list[str]):
    """Names that have every one of these word keys (2 or more), in any order and script:
    "Harjeet Dhillon" is a likely duplicate of "ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ" and of "Harjit Singh Dhillon"."""
    keys = list(dict.fromkeys(k for k in keys if k))
    if len(keys) < 2:
        return literal(False)
    if _is_pg():
        # All keys in one GIN containment (with a common key the planner then walks the newest
        # rows instead of reading the rare key's whole posting list: 6 vs 32 ms for "Gurpreet Kaur").
        from sqlalchemy.dialects.postgresql import array
        return Patient.name_words.op("@>")(array(["~" + k for k in keys]))
    padded = literal(" ").concat(Patient.name_key).concat(" ")
    return and_(*(padded.like(f"% {k} %") for k in keys))


# --------------------------------------------------------------------------- search & lists

AGE_BANDS = {"0-17": (0, 17), "18-25": (18, 25), "26-35": (26, 35), "36-45": (36, 45), "46-55": (46, 55),
             "56-65": (56, 65), "65+": (66, 150)}
FILTER_KEYS = ("sex", "age_band", "date_from", "date_to", "doctor_id", "complexity", "has_adl_file",
               "file_status", "room", "assigned_room")


def parse_filters(args) -> tuple[dict, list]:
    """Filters from a query string (pages and API). Returns (filters, errors)."""
    out, errors = {}, []

    def bad(name, msg):
        errors.append(field_error(name, msg, (args.get(name) or "")[:50], "query"))

    sex = (args.get("sex") or "").strip()
    if sex:
        if sex in ("M", "F", "Other"):
            out["sex"] = sex
        else:
            bad("sex", "sex must be M, F or Other")
    band = (args.get("age_band") or "").strip()
    if band:
        if band in AGE_BANDS:
            out["age_band"] = band
        else:
            bad("age_band", "Unknown age band")
    date_filters(args, out, errors)
    raw = (args.get("doctor_id") or args.get("assigned_doctor_id") or "").strip()
    if raw:
        if raw.isdecimal() and len(raw) < 10:
            out["doctor_id"] = int(raw)
        else:
            bad("doctor_id", "doctor_id must be a positive integer")
    complexity = (args.get("complexity") or args.get("case_complexity") or "").strip()
    if complexity:
        if complexity in ("simple", "complex"):
            out["complexity"] = complexity
        else:
            bad("complexity", "complexity must be simple or complex")
    has_adl = (args.get("has_adl_file") or "").strip().lower()
    if has_adl:
        if has_adl in ("true", "false"):
            out["complexity"] = "complex" if has_adl == "true" else "simple"
        else:
            bad("has_adl_file", "has_adl_file must be true or false")
    status = (args.get("file_status") or "").strip()
    if status:
        if status in ("none", "created", "stored", "retrieved", "active", "archived"):
            out["file_status"] = status
        else:
            bad("file_status", "Unknown file status")
    room = (args.get("room") or args.get("assigned_room") or "").strip()
    if room:
        if len(room) <= 20:
            out["room"] = room
        else:
            bad("room", "room must be at most 20 characters")
    return out, errors


def _apply_filters(q, filters: dict):
    if "sex" in filters:
        q = q.where(Patient.sex == filters["sex"])
    if "age_band" in filters:
        lo, hi = AGE_BANDS[filters["age_band"]]
        q = q.where(Patient.age.between(lo, hi))
    if "date_from" in filters:
        q = q.where(Patient.date >= filters["date_from"])
    if "date_to" in filters:
        q = q.where(Patient.date <= filters["date_to"])
    if "doctor_id" in filters:
        q = q.where(Patient.assigned_doctor_id == filters["doctor_id"])
    if "complexity" in filters:
        has = exists().where(IntakeRecord.patient_id == Patient.id)
        q = q.where(has if filters["complexity"] == "complex" else ~has)
    if "file_status" in filters:
        q = q.where(exists().where(IntakeRecord.patient_id == Patient.id,
                                   IntakeRecord.file_status == filters["file_status"]))
    if "room" in filters:
        q = q.where(Patient.assigned_room == filters["room"])
    return q


def _is_pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def count(q) -> tuple[int, bool]:
    """Exact count up to COUNT_CAP rows; beyond that the planner's estimate (flagged),
    so a list page never counts a million rows."""
    # Only the id is carried out of the capped subquery: the database need not form whole rows.
    capped = db.session.execute(select(func.count()).select_from(
        q.with_only_columns(Patient.id).limit(COUNT_CAP + 1).subquery())).scalar_one()
    if capped <= COUNT_CAP:
        return capped, False
    if _is_pg():
        # The statement with its parameters bound by the driver (no user text is ever
        # rendered into the SQL).
        compiled = q.compile(dialect=db.session.get_bind().dialect)
        plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                                       dict(compiled.params)).scalar()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return max(int(plan[0]["Plan"]["Plan Rows"]), capped), True
    whole = select(func.count()).select_from(q.with_only_columns(Patient.id).subquery())
    return db.session.execute(whole).scalar_one(), False


IDENT = re.compile(r"^[A-Za-z]{0,4}[-/ ]?\d[\w\-/]*$")


def search(term: str, page: int = 1, limit: int = 20, filters: dict | None = None):
    """Ranked search: exact/prefix on CR, PSY, ADL numbers and mobile; names by substring,
    typo and transliteration variants (trigrams on PostgreSQL, substring on SQLite).
    Returns (patients, total, estimated)."""
    term = (term or "").strip()
    if len(term) < 2:
        raise ValidationError("Search term must be at least 2 characters long")
    term = term[:100]
    compact = re.sub(r"[\s\-/]", "", term).upper()
    conds, rank = [], []
    if IDENT.match(term) or compact.isdecimal():
        prefix = compact + "%"
        id_cols = [Patient.cr_no, Patient.psy_no, Patient.adl_no]
        exact = or_(*(func.upper(c) == compact for c in id_cols), Patient.contact_number == compact)
        by_number = [*(func.upper(c).like(prefix) for c in id_cols), func.upper(Patient.contact_number).like(prefix)]
        if len(compact) == 14 and compact.isascii() and compact.isdecimal():  # an ABHA number, with or without hyphens
            exact = or_(exact, Patient.abha_number == compact)
            by_number.append(Patient.abha_number == compact)
        if compact.isalnum() and compact.isascii() and re.search(r"\d", compact):
            # A CR/PSY/ADL number by its body (the number without its letters in front:
            # "2025000123" for CR2025000123) or by any 4+ trailing characters ("0123").
            for c in id_cols:
                body_equal, body_ends = _number_body_match(c, compact)
                exact = or_(exact, body_equal)
                by_number.append(body_ends if len(compact) >= 4 else body_equal)
        conds.append(or_(*by_number))
        rank.append(case((exact, 2), else_=1))
    lowered = normalise_name(term).lower()
    # Names have no digits: a term with a digit is a CR/PSY/ADL number or a mobile.
    has_name = N.has_letters(term) and not (conds and re.search(r"\d", term))
    if has_name:
        key = name_key(term)
        if _is_pg():
            name_l = func.lower(Patient.name)
            conds.append(or_(name_l.like(f"%{_escape_like(lowered)}%"),
                             literal(lowered).op("<%")(name_l),
                             literal(key).op("<%")(Patient.name_key) if key else literal(False)))
            score = func.greatest(func.word_similarity(lowered, name_l),
                                  func.word_similarity(key, Patient.name_key) if key else 0)
            rank.append(case((name_l == lowered, 2.0), else_=score))
        else:
            words_l = lowered.split()
            keys = key.split()
            by_words = and_(*(func.lower(Patient.name).like(f"%{_escape_like(w)}%", escape="\\") for w in words_l))
            by_keys = and_(*(Patient.name_key.like(f"%{k}%") for k in keys)) if keys else literal(False)
            conds.append(or_(by_words, by_keys))
            rank.append(case((func.lower(Patient.name) == lowered, 2),
                             (func.lower(Patient.name).like(f"{_escape_like(lowered)}%", escape="\\"), 1.5),
                             (by_words, 1), else_=0.5))
    if not conds:  # e.g. "@@" or "12-": nothing a patient can be found by
        return [], 0, False
    order = [r.desc() for r in rank] + [Patient.id.desc()]
    if has_name and _is_pg() and not filters and page * limit <= 200:
        found = _word_search(lowered, limit * page)
        if len(found) >= limit * page or (found and not _looks_partial(lowered)):
            return _word_page(found, page, limit, lowered)
    q = select(Patient).where(Patient.is_active.is_(True), or_(*conds))
    q = _apply_filters(q, filters or {})
    if has_name and _is_pg():
        # A common name matches hundreds of thousands of rows: rank the first CANDIDATES
        # matches the trigram indexes return instead of scoring (and counting) them all.
        # With a LIMIT the planner likes a sequential scan that evaluates the similarity
        # operators row by row (seconds at 1M rows); the trigram index is always better.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        pool = q.with_only_columns(Patient.id).limit(CANDIDATES).subquery()
        ranked = select(Patient).where(Patient.id.in_(select(pool.c.id)))
        total = db.session.execute(select(func.count()).select_from(pool)).scalar_one()
        rows = list(db.session.execute(ranked.order_by(*order).offset((page - 1) * limit).limit(limit)).scalars())
        return rows, total, total >= CANDIDATES
    total, estimated = count(q)
    rows = list(db.session.execute(q.order_by(*order).offset((page - 1) * limit).limit(limit)).scalars())
    return rows, total, estimated


def _looks_partial(lowered: str) -> bool:
    """A last word of 1–3 letters is still being typed: let the trigram search add more."""
    last = lowered.split()[-1] if lowered.split() else ""
    return len(last) <= 3


def _word_search(lowered: str, want: int) -> list[int]:
    """Ids from the word index (migration 0004), newest first: first the names whose
    words start with every typed word, then names whose word keys match (spelling and
    transliteration variants). Each query stops at `want` rows."""
    from sqlalchemy.dialects.postgresql import array
    ws = N.words(lowered)
    if not ws:
        return []
    base = select(Patient.id).where(Patient.is_active.is_(True))
    # The column is JSON on SQLite, text[] on PostgreSQL: use the array operators by name.
    exact = base.where(Patient.name_words.op("@>")(array(ws))).order_by(Patient.id.desc()).limit(want)
    ids = list(db.session.execute(exact).scalars())
    if len(ids) < want:
        from .names import word_key
        keys = [word_key(w) for w in ws]
        rare = [k not in COMMON_WORD_KEYS for k in keys]
        conds = []
        for w, k, is_rare in zip(ws, keys, rare):
            words = Patient.name_words
            if not is_rare and any(rare):
                # Checked on the rows the rarer words find, not through the index: the
                # posting list of "Singh" or "Kaur" holds a quarter of all patients and
                # intersecting it cost 3 ms at 1M rows (1.4 ms without it).
                words = words.op("||")(text("'{}'::text[]"))
            conds.append(words.op("&&")(array([w, "~" + k])))
        fuzzy = base.where(*conds)
        if ids:
            fuzzy = fuzzy.where(Patient.id.not_in(ids))
        ids += list(db.session.execute(fuzzy.order_by(Patient.id.desc()).limit(want - len(ids))).scalars())
    return ids


def _word_page(ids: list[int], page: int, limit: int, lowered: str):
    chosen = ids[(page - 1) * limit: page * limit]
    by_id = {p.id: p for p in db.session.execute(select(Patient).where(Patient.id.in_(chosen))).scalars()} \
        if chosen else {}
    rows = [by_id[i] for i in chosen if i in by_id]
    full = len(ids) >= page * limit
    return rows, len(ids) if not full else max(len(ids), page * limit + 1), full


CANDIDATES = 2000
# Word keys (names.word_key) that a large share of patients carry: Singh, Kaur/Kour,
# Kumar/Kumari (in the 1M bench: 30 %, 25 %, 9 % of rows). _word_search leaves them out of
# the index scan when the term has a rarer word.
COMMON_WORD_KEYS = frozenset({"sng", "kr", "kmr"})


NUMBER_BODY = "^[A-Z]+|[^0-9A-Z]"  # what is not the body of a CR/PSY/ADL number (migration 0015)


def number_body(value: str | None) -> str | None:
    """CR2025000123 -> 2025000123, ADL/2025/0042 -> 20250042: upper-case, without the letters
    in front and without separators. SQLite calls it as emrs_number_body() (emrs/__init__.py)."""
    return None if value is None else re.sub(NUMBER_BODY, "", value.upper())


def _number_body_match(column, compact: str):
    """(body equals the term, body ends with the term). PostgreSQL: the expressions of the
    reversed-body indexes of migration 0015 (equality and a LIKE prefix on the reversed body,
    both served by the b-tree); SQLite: the same rule in Python."""
    if _is_pg():
        body = func.regexp_replace(func.upper(column), literal_column(f"'{NUMBER_BODY}'"),
                                   literal_column("''"), literal_column("'g'"))
        rev, term = func.reverse(body), compact[::-1]
        return rev == term, rev.like(term + "%")
    body = func.emrs_number_body(column)
    return body == compact, body.like("%" + compact)


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_patients(page: int = 1, limit: int = 20, filters: dict | None = None, search_term: str | None = None,
                  doctor_only: User | None = None):
    """The patients list, newest first (or ranked when searching)."""
    if search_term:
        return search(search_term, page, limit, filters)
    q, total, estimated = _register(filters, doctor_only)
    rows = list(db.session.execute(q.order_by(Patient.created_at.desc(), Patient.id.desc())
                                   .offset((page - 1) * limit).limit(limit)).scalars())
    return rows, total, estimated


def list_patient_dicts(page: int = 1, limit: int = 20, filters: dict | None = None,
                       search_term: str | None = None):
    """list_patients() as patient_dict()s: the page's ids, then patient_dicts()."""
    if search_term:
        rows, total, estimated = search(search_term, page, limit, filters)
        return with_extras(rows), total, estimated
    q, total, estimated = _register(filters, None)
    ids = list(db.session.execute(q.with_only_columns(Patient.id)
                                  .order_by(Patient.created_at.desc(), Patient.id.desc())
                                  .offset((page - 1) * limit).limit(limit)).scalars())
    return patient_dicts(ids), total, estimated


def _register(filters: dict | None, doctor_only: User | None):
    """The list's query (without order and page) and its total."""
    q = select(Patient).where(Patient.is_active.is_(True))
    q = _apply_filters(q, filters or {})
    if doctor_only is not None:
        q = q.where(Patient.assigned_doctor_id == doctor_only.id)
    total, estimated = None, False
    if not filters and doctor_only is None and _is_pg():
        # The whole register: the table's row estimate (kept by ANALYZE/autovacuum) once
        # it is large; small tables are counted exactly.
        rows_estimate = db.session.execute(text(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = 'registered_patient'::regclass")).scalar()
        if rows_estimate is not None and rows_estimate > COUNT_CAP:
            total, estimated = int(rows_estimate), True
    if total is None:
        total, estimated = count(q)
    return q, total, estimated


def with_extras(patients: list[Patient]) -> list[dict]:
    extras = _extras_for([p.id for p in patients])
    return [patient_dict(p, extras.get(p.id, {})) for p in patients]


# --------------------------------------------------------------------------- visits

def _visit_dict(v: PatientVisit, doctor: User | None = None) -> dict:
    d = v.to_dict()
    if doctor is not None:
        d["doctor_name"], d["doctor_role"] = doctor.name, doctor.role
    return d


def _parse_date(value, name="visit_date") -> dt.date:
    """A visit's date: today (IST) when not given; never a day after today."""
    if value in (None, ""):
        return today_ist()
    try:
        day = F.clean_value(F.Field(name, "Visit date", "date"), value)
    except ValueError:
        raise ValidationError("Validation failed", errors=[field_error(name, "visit_date must be a date (YYYY-MM-DD)",
                                                                       F._safe_echo(value))])
    try:
        return F.not_after_today(day)
    except ValueError as exc:
        message = f"Visit date {exc}"
        raise ValidationError(message, errors=[field_error(name, message, F._safe_echo(value))])


def assign(patient: Patient, actor: User, doctor_id, room_no=None, visit_date=None, notes=None,
           visit_type=None) -> PatientVisit:
    """Send the patient to a doctor and room: a `scheduled` visit for that day
    (first_visit when the patient has no earlier visit, else follow_up). A second
    assignment on the same day moves the open visit instead of adding another."""
    errors = []
    try:
        doctor = _doctor(doctor_id)
    except ValidationError as exc:
        doctor, errors = None, exc.errors
    try:
        day = _parse_date(visit_date)
    except ValidationError as exc:
        day, errors = None, errors + exc.errors
    if room_no not in (None, "") and (not isinstance(room_no, str) or len(room_no.strip()) > 20):
        errors.append(field_error("room_no", "Room must be text of at most 20 characters", F._safe_echo(room_no)))
    if notes not in (None, "") and (not isinstance(notes, str) or len(notes) > 1000):
        errors.append(field_error("notes", "Notes must be text of at most 1000 characters", None))
    if visit_type not in (None, "", "first_visit", "follow_up"):
        errors.append(field_error("visit_type", "visit_type must be first_visit or follow_up", F._safe_echo(visit_type)))
    F.raise_if(errors)
    room = (room_no or "").strip() or None
    open_visit = db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient.id, PatientVisit.visit_date == day,
        PatientVisit.visit_status.in_(("scheduled", "in_progress"))).order_by(PatientVisit.id.desc()).limit(1)
    ).scalar_one_or_none()
    if open_visit is not None:
        visit = open_visit
        visit.assigned_doctor_id, visit.room_no = doctor.id, room or visit.room_no
        if notes:
            visit.notes = notes
        action = "visit_reassign"
    else:
        earlier = db.session.execute(select(func.count(PatientVisit.id)).where(
            PatientVisit.patient_id == patient.id)).scalar_one()
        visit = PatientVisit(patient_id=patient.id, visit_date=day, assigned_doctor_id=doctor.id, room_no=room,
                             visit_type=visit_type or ("follow_up" if earlier else "first_visit"),
                             visit_status="scheduled", notes=notes or None)
        db.session.add(visit)
        action = "visit_create"
    patient.assigned_doctor_id, patient.assigned_doctor_name = doctor.id, doctor.name
    if room:
        patient.assigned_room = room
    db.session.flush()
    audit.record(action, "patient_visits", visit.id, patient_id=patient.id,
                 details={"doctor_id": doctor.id, "visit_date": day.isoformat()})
    db.session.commit()
    return visit


def new_visit_for_existing(patient: Patient, actor: User) -> PatientVisit:
    """Existing patient at the counter: a new visit with the same doctor and room."""
    doctor_id = patient.assigned_doctor_id
    if doctor_id is None:
        last = db.session.execute(select(PatientVisit.assigned_doctor_id).where(
            PatientVisit.patient_id == patient.id, PatientVisit.assigned_doctor_id.is_not(None))
            .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1)).scalar()
        doctor_id = last
    if doctor_id is None:
        raise ValidationError("This patient has no assigned doctor yet: assign a doctor and room",
                              errors=[field_error("assigned_doctor_id", "Choose a doctor", None)])
    return assign(patient, actor, doctor_id, room_no=patient.assigned_room)


def complete_visit(patient: Patient, actor: User, visit_date=None) -> PatientVisit:
    day = _parse_date(visit_date)
    visits = db.session.execute(select(PatientVisit).where(
        PatientVisit.patient_id == patient.id, PatientVisit.visit_date == day).order_by(PatientVisit.id.desc())
    ).scalars().all()
    if not visits:
        raise NotFound("No visit record found for today. Please assign the patient first."
                       if day == today_ist() else f"No visit record found for {day.isoformat()}.")
    open_visits = [v for v in visits if v.visit_status in ("scheduled", "in_progress")]
    if not open_visits:
        raise NotFound("Visit for today is already marked as completed" if day == today_ist()
                       else f"Visit for {day.isoformat()} is already marked as completed")
    visit = open_visits[0]
    visit.visit_status = "completed"
    audit.record("visit_complete", "patient_visits", visit.id, patient_id=patient.id)
    db.session.commit()
    return visit


def visit_history(patient: Patient) -> list[dict]:
    doctor = aliased(User)
    rows = db.session.execute(select(PatientVisit, doctor).outerjoin(doctor, doctor.id == PatientVisit.assigned_doctor_id)
                              .where(PatientVisit.patient_id == patient.id)
                              .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc())).all()
    return [_visit_dict(v, d) if d is not None else {**_visit_dict(v), "doctor_name": None, "doctor_role": None}
            for v, d in rows]


VISIT_SUMMARY_KEYS = ("id", "visit_date", "visit_type", "visit_status", "assigned_doctor_id", "room_no", "notes",
                      "created_at")


# Statements of the patient page, built once (functools.cache) with bound parameters:
# building a statement and its cache key costs more than running these small queries.

@functools.cache
def _recent_visits():
    return (select(PatientVisit.id, PatientVisit.visit_date, PatientVisit.visit_type, PatientVisit.visit_status,
                   PatientVisit.room_no, PatientVisit.created_at, User.name.label("doctor_name"))
            .outerjoin(User, User.id == PatientVisit.assigned_doctor_id)
            .where(PatientVisit.patient_id == bindparam("patient_id"))
            .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(bindparam("limit")))


def recent_visits(patient_id: int, limit: int) -> list:
    """The newest visits as plain rows (id, visit_date, visit_type, visit_status, room_no,
    created_at, doctor_name), for the timeline."""
    return db.session.connection().execute(_recent_visits(), {"patient_id": patient_id, "limit": limit}).all()


@functools.cache
def _open_visit():
    return (select(PatientVisit).where(PatientVisit.patient_id == bindparam("patient_id"),
                                       PatientVisit.visit_status.in_(("scheduled", "in_progress")))
            .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1))


def open_visit(patient_id: int) -> PatientVisit | None:
    """The patient's newest scheduled or in-progress visit."""
    return db.session.execute(_open_visit(), {"patient_id": patient_id}).scalar_one_or_none()


@functools.cache
def _active_doctors():
    return select(User).where(User.role.in_(DOCTOR_ROLES), User.is_active.is_(True)).order_by(User.name)


def active_doctors() -> list[User]:
    """Who a patient can be sent to: active Faculty and Residents, by name."""
    return list(db.session.execute(_active_doctors()).scalars())


def visits_count(patient: Patient) -> dict:
    visits = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == patient.id)
                                .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc())).scalars().all()
    return {"visit_count": len(visits), "visits": [{k: v.to_dict()[k] for k in VISIT_SUMMARY_KEYS} for v in visits],
            "next_visit_number": len(visits) + 1}


def todays_patients(user: User, show_all: bool = False, day: dt.date | None = None) -> list[dict]:
    """Open visits of the day (IST): a doctor's own, or all for Faculty/Admin when asked."""
    day = day or today_ist()
    doctor = aliased(User)
    q = (select(PatientVisit, Patient, doctor)
         .join(Patient, Patient.id == PatientVisit.patient_id)
         .outerjoin(doctor, doctor.id == PatientVisit.assigned_doctor_id)
         .where(PatientVisit.visit_date == day, PatientVisit.visit_status.in_(("scheduled", "in_progress")),
                Patient.is_active.is_(True)))
    if not (show_all and may_see_all_today(user)):
        q = q.where(PatientVisit.assigned_doctor_id == user.id)
    rows = db.session.execute(q.order_by(PatientVisit.created_at, PatientVisit.id)).all()
    proformas = dict(db.session.execute(select(ClinicalProforma.patient_id, func.max(ClinicalProforma.id)).where(
        ClinicalProforma.patient_id.in_([p.id for _, p, _ in rows] or [0]), ClinicalProforma.visit_date == day,
        ClinicalProforma.is_active.is_(True)).group_by(ClinicalProforma.patient_id)).all())
    return [{"visit": v, "patient": p, "doctor": d, "proforma_id": proformas.get(p.id)} for v, p, d in rows]


def may_see_all_today(user: User) -> bool:
    return user.role in (ADMIN, FACULTY)
