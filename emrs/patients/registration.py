"""Registering and changing patients: the out-patient card and record, one commit and one
audit row per write; archiving (never deleting) a patient."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..auth.models import ADMIN, User
from ..auth.users import doctor_to_assign
from ..clinical.models import ClinicalProforma
from ..errors import Conflict, DomainError, ValidationError, field_error
from ..extensions import db
from ..intake.models import IntakeRecord
from ..numbering import service as numbering
from ..timeutil import today_ist
from ..versioning import lock_for_edit
from . import fields as F
from .models import Patient
from .names import name_key, normalise_name


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
    if "cgc" in str(exc.orig).lower():
        return Conflict(CGC_TAKEN, errors=[field_error("cgc_number", CGC_TAKEN)])
    if "abha" in str(exc.orig).lower():
        return Conflict(ABHA_TAKEN, errors=[field_error("abha_number", ABHA_TAKEN)])
    return Conflict("CR number is already registered")


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


# The registration counter's quick card (POST /api/patients): the card's identity fields
# with the room and PSY number when given; no doctor (the counter assigns one with a visit).
QUICK_NAMES = ("name", "sex", "age", "cr_no", "contact_number", "abha_number", "abha_address", "psy_no",
               "assigned_room")
STEP_NAMES = {"card": F.CARD_NAMES, "complete": F.CARD_NAMES + F.RECORD_NAMES, "quick": QUICK_NAMES,
              "child": F.CHILD_NAMES}

CGC_TAKEN = "CGC number is already registered to another child"


def _check_cgc_free(cgc: str | None, exclude_id: int | None = None) -> None:
    if not cgc:
        return
    other = db.session.execute(select(Patient.id).where(func.upper(Patient.cgc_number) == cgc.upper())).scalar()
    if other is not None and other != exclude_id:
        raise Conflict(CGC_TAKEN, errors=[field_error("cgc_number", CGC_TAKEN, cgc)])


def _years_between(born, on) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


_AGE_PATHS = ("age", "date_of_birth", "age_group", "date")


def _child_rules(values: dict, *, on, current: Patient | None = None) -> list:
    """A child's age (0–18 on the registration day), date of birth and age group agree. The
    age comes from the date of birth when only that is given; the group from the age when
    not given (docs/children.md)."""
    errors = []
    born = values["date_of_birth"] if "date_of_birth" in values else (current.date_of_birth if current else None)
    age_sent = values.get("age") is not None
    if born is not None:
        actual = _years_between(born, on)
        if not age_sent and "date_of_birth" in values:
            if actual > F.CHILD_AGE_MAX:
                errors.append(field_error("date_of_birth", f"The date of birth gives an age of {actual}: the child "
                                                           f"clinic registers children aged 0 to {F.CHILD_AGE_MAX}",
                                          born.isoformat()))
            else:
                values["age"] = actual
        elif age_sent and actual != values["age"]:
            errors.append(field_error("age", f"Age {values['age']} does not match the date of birth "
                                             f"({born.strftime('%d %b %Y')}: {actual} years on "
                                             f"{on.strftime('%d %b %Y')})", values["age"]))
    if current is None and values.get("age") is None and not any(e["path"] in ("age", "date_of_birth") for e in errors):
        errors.append(field_error("age", f"Age is required (0 to {F.CHILD_AGE_MAX} years), or the date of birth", None))
    if "age" in values or "age_group" in values:
        age = values.get("age", current.age if current else None)
        expected = F.child_age_group(age)
        group = values.get("age_group")
        if group is None:
            if expected is not None:
                values["age_group"] = expected
        elif expected is not None and group != expected:
            errors.append(field_error("age_group", f"Age group “{group}” does not match age {age} "
                                                   f"(expected “{expected}”)", group))
    return errors


def register(data: dict, actor: User, *, step: str = "complete", room=None) -> Patient:
    """Register a new patient: one commit, one audit row. step='card' takes the out-patient
    card fields only; 'complete' card and record fields (POST /register-complete); 'quick'
    the counter's QUICK_NAMES (POST /api/patients).

    ``room`` (a room number or id; for step 'quick' also ``assigned_room`` in the data) puts
    the new patient straight into today's queue of that room (opd.queue.queue), in the same
    commit; an unknown or inactive room refuses the whole registration."""
    from ..opd import queue as opd_queue
    child = step == "child"
    data = F.child_input(data) if child else _input(data)
    names = STEP_NAMES[step]
    values, errors = F.clean(data, names, partial=False, table=F.CHILD_FIELDS if child else None)
    if child and not any(e["path"] in _AGE_PATHS for e in errors):
        errors.extend(_child_rules(values, on=values.get("date") or today_ist()))
    typed = values.get("assigned_room")  # as cleaned (a number sent for the room is its text)
    if room in (None, "") and step == "quick" and isinstance(typed, str) and typed.strip() \
            and not any(e.get("path") == "assigned_room" for e in errors):
        room = typed
    queue_room = None
    if room not in (None, ""):
        try:
            queue_room = opd_queue.room_for(room)
        except ValidationError as exc:
            if not errors:
                raise  # its own message: "There is no room 12", "Room 7 is not in use"
            errors.extend(exc.errors)
    doctor = None
    if step != "quick" and data.get("assigned_doctor_id") not in (None, ""):
        try:
            doctor = doctor_to_assign(data.get("assigned_doctor_id"))
        except ValidationError as exc:
            errors.extend(exc.errors)
    F.raise_if(errors)
    values = {k: v for k, v in values.items() if v is not None}
    _normalise_numbers(values)
    values["name"] = normalise_name(values["name"])
    _check_cr_free(values.get("cr_no"))
    _check_abha_free(values.get("abha_number"))
    today = today_ist()
    if child:
        values["clinic"] = "child"
        if values.get("cgc_number"):
            values["cgc_number"] = values["cgc_number"].strip().upper().replace(" ", "")
            _check_cgc_free(values["cgc_number"])
        else:
            values["cgc_number"] = numbering.next_cgc_no((values.get("date") or today).year)
    values.setdefault("date", today)
    values.setdefault("department", "Psychiatry")
    if not values.get("cr_no"):
        values["cr_no"] = numbering.next_cr_no(values["date"].year)
    if step in ("complete", "child") and "seen_in_walk_in_on" not in values:
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
    if queue_room is not None:
        opd_queue.queue(patient, queue_room, actor, commit=False)
    db.session.commit()
    return patient


def update(patient: Patient, data: dict, actor: User, *, names=None, expected_version=None,
           ignore_empty: bool = True) -> Patient:
    """Update card/record fields. API rule: fields sent as null/'' are ignored, except
    assigned doctor and room, which may be cleared; 400 if nothing remains. Pages send
    ignore_empty=False (a cleared box clears the field) and the version they showed."""
    child = patient.clinic == "child"
    table = F.CHILD_FIELDS if child else F.ALL_FIELDS
    data = F.child_input(data) if child else _input(data)
    lock_for_edit(patient, expected_version, "This patient was changed by someone else while you were editing. "
                                             "Reload to see their changes; your values are kept in the form.")
    allow_doctor = names is None or "assigned_doctor_id" in names
    default_names = F.CHILD_NAMES + ("assigned_room",) if child else F.CARD_NAMES + F.RECORD_NAMES
    if child:
        table = {**table, "assigned_room": F.ALL_FIELDS["assigned_room"]}
    names = tuple(n for n in (names or default_names) if n in table)
    present = {k: v for k, v in data.items() if k in names}
    values, errors = F.clean(present, names, partial=True, table=table)
    if ignore_empty:
        values = {k: v for k, v in values.items() if v is not None or k in F.CLEARABLE}
    if child:
        for required in ("name", "contact_number"):
            if required in values and values[required] is None:
                errors.append(field_error(required, f"{table[required].label} is required", None))
        if not any(e["path"] in _AGE_PATHS for e in errors):
            errors.extend(_child_rules(values, on=values.get("date") or patient.date or today_ist(), current=patient))
        if "age" in values and values["age"] is None:
            errors.append(field_error("age", f"Age is required (0 to {F.CHILD_AGE_MAX} years), or the date of birth"))
        if values.get("cgc_number"):
            values["cgc_number"] = values["cgc_number"].strip().upper().replace(" ", "")
            _check_cgc_free(values["cgc_number"], exclude_id=patient.id)
        elif "cgc_number" in values:
            values.pop("cgc_number")  # the CGC number is never cleared
    doctor_change = None
    if not allow_doctor:
        pass
    elif "assigned_doctor_id" in data:
        raw = data.get("assigned_doctor_id")
        if raw in (None, ""):
            doctor_change = "clear"
        else:
            try:
                doctor_change = doctor_to_assign(raw)
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

