"""Prescriptions: one row per proforma, or per follow-up note, holding its medication lines
(entities.md §8). A prescription written from a follow-up (``followup_id``) follows exactly the
same rules as one written from a proforma: the same writers, versions and drug-safety checks.

The one place the rules live: lines normalised (`when`/`qty` aliases, lines without a
medicine dropped), drug-safety warnings checked on every save (a save over a high or
moderate warning needs an override reason, stored and audited), optimistic locking,
"repeat last", templates, and the differences between consecutive prescriptions.
"""
from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import Text, bindparam, case, cast, func, or_, select

from ..audit import service as audit
from ..auth import records
from ..errors import Conflict, DomainError, NotFound, ValidationError, field_error
from ..extensions import db
from ..followups.models import FollowUp
from ..models_base import utcnow
from ..serialize import json_value
from ..versioning import clean_reason, keep_version, lock_for_edit, versions_of
from .models import Prescription, PrescriptionTemplate

# Keys of a stored line (after "id"). The original's keys, then what EMRS adds: strength, form
# and the duration as a number + unit (lines saved before have none of these: readers use .get).
LINE_KEYS = ("medicine", "strength", "form", "dosage", "when_to_take", "frequency", "duration",
             "duration_value", "duration_unit", "quantity", "details", "notes")
TEXT_KEYS = tuple(k for k in LINE_KEYS if k != "duration_value")
# What one prescription may hold: what a real one needs (a psychiatry OPD prescription has
# rarely more than ten lines), so that the largest allowed one renders in well under 2 s
# (bench/pdf.py --largest; bench/README.md "The largest prescription").
MAX_LINES = 25
MAX_FIELD = 500         # details, notes and the other text of a line
MAX_MEDICINE = 200      # an off-formulary medicine's name
MAX_ADVICE = 2000
LIMITS = {"lines": MAX_LINES, "field": MAX_FIELD, "medicine": MAX_MEDICINE, "advice": MAX_ADVICE}
OVERRIDE_REQUIRED = "OVERRIDE_REQUIRED"


def _raw_text(line: dict, key: str, i: int, errors: list) -> str:
    value = line.get(key)
    if value is None and key == "when_to_take":
        value = line.get("when")
    if value is None and key == "quantity":
        value = line.get("qty")
    if value is None:
        value = ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    cap = MAX_MEDICINE if key == "medicine" else MAX_FIELD
    if not isinstance(value, str) or len(value) > cap or "\x00" in value:
        errors.append(field_error(f"prescription[{i}].{key}",
                                  f"{key} must be text of at most {cap} characters"))
        return ""
    return value.strip()


def _structured(raw: dict, item: dict, i: int, errors: list) -> dict | None:
    """The line's structured fields checked (lines.py). Additive for the original's clients: a
    line sent without the ``strength`` key keeps its medicine text as sent ("Licab 300mg"; the
    editor, which always sends the key, has "Licab 300mg" split into medicine and strength), and
    timings, frequencies and a duration sent as text keep the sender's spelling once understood."""
    from . import lines as L
    from .formulary import resolve
    medicine, strength = item["medicine"], item["strength"]
    before = len(errors)
    if "strength" in raw:
        name, tail = L.split_medicine(medicine)
        if tail and (not strength or L.format_strength(strength).lower() == tail.lower()):
            medicine, strength = name, tail
        elif tail:
            errors.append(field_error(f"prescription[{i}].medicine", f"{name}: the medicine says {tail} and Strength "
                                                                    f"says {L.format_strength(strength)}; write the "
                                                                    f"strength only in the Strength field"))
            return None
    known = resolve(medicine)
    out = {"medicine": medicine}
    name = " ".join(medicine.split())[:60]
    steps = (("strength", lambda: L.clean_strength(strength, name, known)),
             ("form", lambda: L.clean_form(item["form"])),
             ("dosage", lambda: L.clean_dosage(item["dosage"])),
             ("when_to_take", lambda: L.clean_when(item["when_to_take"])),
             ("frequency", lambda: L.clean_frequency(item["frequency"])))
    for key, step in steps:
        try:
            value = step()
            out[key] = item[key] if key in ("when_to_take", "frequency") else value
        except L.LineError as exc:
            errors.append(field_error(f"prescription[{i}].{exc.key}", f"{name}: {exc.message}"))
    try:
        text, out["duration_value"], out["duration_unit"] = L.clean_duration(
            item["duration"], raw.get("duration_value"), item["duration_unit"])
        by_parts = raw.get("duration_value") not in (None, "") or (item["duration_unit"] and text and not item["duration"])
        out["duration"] = text if by_parts or not item["duration"] else item["duration"]
    except L.LineError as exc:
        errors.append(field_error(f"prescription[{i}].{exc.key}", f"{name}: {exc.message}"))
    if len(errors) > before:
        return None
    out["details"], out["notes"] = item["details"], item["notes"]
    out["quantity"] = item["quantity"] or L.compute_quantity(out)
    return out


def normalise_lines(lines) -> list[dict]:
    """Accept the original's shapes (`when`/`qty` aliases, lines without a medicine dropped,
    ids 1-based by position) and check each line's structured fields (prescriptions/lines.py:
    strength from the formulary, form, a dosage pattern, known timings and frequencies, a
    duration of at most a year); the quantity is computed when not given. Bad input is a
    400 naming every wrong field, never a 500."""
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise ValidationError("Validation failed", errors=[field_error("prescription", "must be a list of lines")])
    if len(lines) > MAX_LINES:
        raise ValidationError("Validation failed",
                              errors=[field_error("prescription", f"at most {MAX_LINES} medication lines")])
    out, errors = [], []
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise ValidationError("Validation failed",
                                  errors=[field_error(f"prescription[{i}]", "each line must be an object")])
        before = len(errors)
        item = {key: _raw_text(line, key, i, errors) for key in TEXT_KEYS}
        if len(errors) > before or not item["medicine"]:
            continue
        checked = _structured(line, item, i, errors)
        if checked is not None:
            out.append(checked)
    if errors:
        first = errors[0]["msg"]
        raise ValidationError(first if len(errors) == 1 else f"{first} (and {len(errors) - 1} more)",
                              errors=errors)
    return [{"id": n, **{k: it[k] for k in LINE_KEYS}} for n, it in enumerate(out, start=1)]


# --------------------------------------------------------------------------- reading

WITHDRAWN = "This prescription was withdrawn. An administrator can restore it."


def get(rx_id: int, reader, *, audit_read: bool = True, include_withdrawn: bool = False) -> Prescription:
    """The prescription, if ``reader`` may read prescriptions (403 otherwise); a withdrawn
    one only with ``include_withdrawn`` (the restore and history doors)."""
    records.check(reader, records.READ, records.PRESCRIPTION)
    row = db.session.get(Prescription, rx_id) if isinstance(rx_id, int) else None
    if row is None or (row.withdrawn_at is not None and not include_withdrawn):
        raise NotFound("Prescription not found")
    if audit_read:
        audit.record_now("prescription_view", "prescriptions", row.id, patient_id=row.patient_id)
    return row


PRINT_ACTION = "prescription_print"  # the audit row of each PDF handed out (page or API)


def printed(row: Prescription) -> None:
    """Record that the prescription's PDF was handed out (the read's audit row, committed):
    Today's Patients then shows the visit as "prescription printed"."""
    audit.record_now(PRINT_ACTION, "prescriptions", row.id, patient_id=row.patient_id)


def printed_among(patient_ids, rx_ids) -> set[int]:
    """Which of these prescriptions (of these patients) were ever printed."""
    return {int(v) for v in audit.entities_with_action(PRINT_ACTION, patient_ids, rx_ids) if v.isdecimal()}


def for_proforma(proforma_id: int, *, include_withdrawn: bool = False) -> Prescription | None:
    row = db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == proforma_id)
                             ).scalar_one_or_none()
    if row is not None and row.withdrawn_at is not None and not include_withdrawn:
        return None
    return row


def for_followup(followup_id: int, *, include_withdrawn: bool = False) -> Prescription | None:
    row = db.session.execute(select(Prescription).where(Prescription.followup_id == followup_id)
                             ).scalar_one_or_none()
    if row is not None and row.withdrawn_at is not None and not include_withdrawn:
        return None
    return row


def for_source(source, *, include_withdrawn: bool = False) -> Prescription | None:
    """The prescription written from this proforma or follow-up note."""
    if isinstance(source, FollowUp):
        return for_followup(source.id, include_withdrawn=include_withdrawn)
    return for_proforma(source.id, include_withdrawn=include_withdrawn)


@functools.cache  # built once: the patient page runs it on every view
def _for_patient():
    from ..clinical.models import ClinicalProforma
    return (select(Prescription)
            .outerjoin(ClinicalProforma, ClinicalProforma.id == Prescription.clinical_proforma_id)
            .outerjoin(FollowUp, FollowUp.id == Prescription.followup_id)
            .where(Prescription.patient_id == bindparam("patient_id"), Prescription.withdrawn_at.is_(None),
                   or_(ClinicalProforma.is_active.is_(True), FollowUp.is_active.is_(True)))
            .order_by(func.coalesce(ClinicalProforma.visit_date, FollowUp.visit_date).desc(),
                      Prescription.id.desc()))


@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The patient's newest prescriptions as for_patient() orders them (emrs/timeline.py slots):
    id, at = created_at, text1 = the lines as JSON text, num1 = 1 when an interaction warning
    was overridden."""
    from ..clinical.models import ClinicalProforma
    return (select(Prescription.id, Prescription.created_at.label("at"),
                   cast(Prescription.lines, Text).label("text1"),
                   case((Prescription.override_reason.is_(None), 0), (Prescription.override_reason == "", 0),
                        else_=1).label("num1"))
            .outerjoin(ClinicalProforma, ClinicalProforma.id == Prescription.clinical_proforma_id)
            .outerjoin(FollowUp, FollowUp.id == Prescription.followup_id)
            .where(Prescription.patient_id == bindparam("patient_id"), Prescription.withdrawn_at.is_(None),
                   or_(ClinicalProforma.is_active.is_(True), FollowUp.is_active.is_(True)))
            .order_by(func.coalesce(ClinicalProforma.visit_date, FollowUp.visit_date).desc(),
                      Prescription.id.desc())
            .limit(bindparam("limit")))


def for_patient(patient_id: int) -> list[Prescription]:
    """A patient's prescriptions, newest first (by the visit date of the proforma or follow-up
    they were written from); those of a withdrawn proforma or follow-up are left out."""
    return list(db.session.execute(_for_patient(), {"patient_id": patient_id}).scalars())


def last_for_patient(patient_id: int, exclude_proforma_id: int | None = None,
                     exclude_followup_id: int | None = None) -> Prescription | None:
    rows = [r for r in for_patient(patient_id) if r.lines
            and (exclude_proforma_id is None or r.clinical_proforma_id != exclude_proforma_id)
            and (exclude_followup_id is None or r.followup_id != exclude_followup_id)]
    return rows[0] if rows else None


from .basis import Basis, basis, latest_diagnosed_proforma  # noqa: E402,F401  (pages and the PDF)


def list_prescriptions(filters: dict, page: int, limit: int, reader):
    """A page of prescriptions (clinicians only); the read is audited, one row naming the
    patients on the page."""
    from ..clinical.models import ClinicalProforma
    records.check(reader, records.READ, records.PRESCRIPTION)
    q = select(Prescription).where(Prescription.withdrawn_at.is_(None))
    if "patient_id" in filters:
        q = q.where(Prescription.patient_id == filters["patient_id"])
    if "clinical_proforma_id" in filters:
        q = q.where(Prescription.clinical_proforma_id == filters["clinical_proforma_id"])
    if "followup_id" in filters:
        q = q.where(Prescription.followup_id == filters["followup_id"])
    if "doctor_decision" in filters:
        q = q.join(ClinicalProforma, ClinicalProforma.id == Prescription.clinical_proforma_id).where(
            ClinicalProforma.doctor_decision == filters["doctor_decision"])
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = list(db.session.execute(q.order_by(Prescription.id.desc()).offset((page - 1) * limit).limit(limit))
                .scalars())
    audit.record_list_read("prescription_list_view", "prescriptions", [r.patient_id for r in rows])
    return rows, total


def prescription_dict(row: Prescription) -> dict:
    return row.to_dict()


# --------------------------------------------------------------------------- safety

def warnings_for(lines: list[dict], patient) -> list[dict]:
    """Drug-safety warnings from the local rule table (prescriptions/safety.py), with the
    formulary resolving brand names to generics and classes."""
    from . import safety
    resolve = None
    try:
        from .formulary import class_of
        resolve = class_of
    except ImportError:  # pragma: no cover - the formulary module is part of the product
        resolve = None
    return safety.check(lines, patient, resolve=resolve) if lines else []


def _check_override(warnings: list[dict], reason) -> str | None:
    from . import safety
    if not safety.requires_override(warnings):
        return None
    if not isinstance(reason, str) or len(reason.strip()) < 5 or len(reason) > 1000:
        raise DomainError("Drug-safety warnings need an override reason (at least 5 characters) to save",
                          status=400, code=OVERRIDE_REQUIRED,
                          errors=[field_error("override_reason", "Give the reason for going on despite the warnings")])
    return reason.strip()


# --------------------------------------------------------------------------- writing

def _parse_id(raw, name: str) -> int:
    if raw in (None, ""):
        raise ValidationError(f"{name} is required")
    if isinstance(raw, bool) or not str(raw).isdecimal() or len(str(raw)) > 9 or int(raw) < 1:
        raise ValidationError(f"{name} must be a valid integer")
    return int(raw)


def _extras(data: dict) -> dict:
    out, errors = {}, []
    if "follow_up_date" in data:
        raw = data["follow_up_date"]
        if raw in (None, ""):
            out["follow_up_date"] = None
        else:
            try:
                out["follow_up_date"] = dt.date.fromisoformat(str(raw)[:10])
            except ValueError:
                errors.append(field_error("follow_up_date", "follow_up_date must be a date (YYYY-MM-DD)"))
            else:
                errors.extend(_follow_up_errors(out["follow_up_date"], data))
    if "advice" in data:
        raw = data["advice"]
        if raw not in (None, "") and (not isinstance(raw, str) or len(raw) > MAX_ADVICE):
            errors.append(field_error("advice", f"advice must be text of at most {MAX_ADVICE} characters"))
        else:
            out["advice"] = raw or None
    if data.get("require_medicine") is True:
        raw_lines = data.get("prescription")
        try:
            named = normalise_lines(raw_lines if raw_lines is not None else data.get("prescriptions"))
        except ValidationError:
            named = [None]  # a bad shape is reported by the caller's own check
        if not named:
            errors.append(field_error("prescription", NO_MEDICINE))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return out


NO_MEDICINE = "Add at least one medicine: a prescription without any medicine is not saved or printed."


def _follow_up_errors(follow_up: dt.date, data: dict) -> list:
    """The follow-up is on or after the visit the prescription belongs to."""
    from ..clinical.models import ClinicalProforma
    source_id, model = data.get("clinical_proforma_id"), ClinicalProforma
    if source_id in (None, ""):
        source_id, model = data.get("followup_id"), FollowUp
    if isinstance(source_id, bool) or not str(source_id).isdecimal() or len(str(source_id)) > 9:
        return []
    source = db.session.get(model, int(source_id))
    if source is None or source.visit_date is None or follow_up >= source.visit_date:
        return []
    return [field_error("follow_up_date", f"The follow-up date ({follow_up.strftime('%d %b %Y')}) cannot be before "
                                          f"the visit ({source.visit_date.strftime('%d %b %Y')})",
                        follow_up.isoformat())]


def _source(data: dict):
    """The proforma (``clinical_proforma_id``) or follow-up note (``followup_id``) the
    prescription is written from: exactly one of them, active."""
    from ..clinical.models import ClinicalProforma
    followup_raw = data.get("followup_id")
    if followup_raw not in (None, ""):
        if data.get("clinical_proforma_id") not in (None, ""):
            raise ValidationError("Send clinical_proforma_id or followup_id, not both", errors=[field_error(
                "followup_id", "A prescription is written from one proforma or one follow-up, not both")])
        followup = db.session.get(FollowUp, _parse_id(followup_raw, "followup_id"))
        if followup is None or not followup.is_active:
            raise NotFound("Follow-up visit not found")
        return followup
    proforma = db.session.get(ClinicalProforma, _parse_id(data.get("clinical_proforma_id"), "clinical_proforma_id"))
    if proforma is None or not proforma.is_active:
        raise NotFound("Clinical proforma not found")
    return proforma


def save_for_proforma(data: dict, actor) -> tuple[Prescription, list[dict]]:
    """POST /api/prescriptions and the editor: one prescription per proforma (or per follow-up
    note, with ``followup_id``). The first save creates it; a later save makes a new version
    (the old one is kept, see ``_write``). Returns (row, warnings)."""
    if data.get("followup_id") in (None, ""):
        _parse_id(data.get("clinical_proforma_id"), "clinical_proforma_id")  # the original's first check
    raw_patient = data.get("patient_id")
    patient_id = _parse_id(raw_patient, "patient_id") if raw_patient not in (None, "") else None
    raw_lines = data.get("prescription")
    lines = normalise_lines(raw_lines if raw_lines is not None else data.get("prescriptions"))
    extras = _extras(data)
    source = _source(data)
    if patient_id is not None and patient_id != source.patient_id:
        raise ValidationError("patient_id does not match the " + (
            "follow-up's patient" if isinstance(source, FollowUp) else "proforma's patient"))
    row = _write(source, lines, extras, actor, override=data.get("override_reason"),
                 reason=data.get("change_reason", data.get("reason")), version=data.get("version"))
    db.session.commit()
    from .printing import prerender
    prerender(row)  # the new version's PDF, rendered once in a print worker before the first print
    return row, list(row.warnings or [])


def _write(source, lines: list[dict], extras: dict, actor, *, override, reason, version=None) -> Prescription:
    """Every door that writes prescription lines comes here (the prescription API and page,
    and lines sent inside a proforma request), for a proforma or a follow-up note (``source``):
    who may write (auth/records.py), the drug-safety override, and amendment as a new
    version. The caller commits."""
    from ..patients.models import Patient
    row = for_source(source, include_withdrawn=True)
    if row is None:
        records.check(actor, records.CREATE, records.PRESCRIPTION)
    else:
        records.check(actor, records.AMEND, records.PRESCRIPTION, row.signer_id)
        lock_for_edit(row, version, "This prescription was changed by someone else after you opened "
                                    "it. Reload to see their changes; your lines are kept.")
        if row.withdrawn_at is not None:
            raise Conflict(WITHDRAWN)
    warnings = warnings_for(lines, db.session.get(Patient, source.patient_id))
    override_reason = _check_override(warnings, override)
    now = utcnow()
    if row is None:
        from_followup = isinstance(source, FollowUp)
        row = Prescription(patient_id=source.patient_id, lines=lines,
                           clinical_proforma_id=None if from_followup else source.id,
                           followup_id=source.id if from_followup else None,
                           created_by=actor.id, signed_by=actor.id, signed_at=now)
        db.session.add(row)
        action = "prescription_create"
    else:
        why = clean_reason(reason, required=records.reason_required(actor, row.signer_id))
        keep_version("prescription", row, snapshot(row), row.signer_id, row.signed_at or row.updated_at,
                     row.change_reason, actor)
        row.lines = list(lines)
        row.version += 1
        row.signed_by, row.signed_at = actor.id, now
        row.change_reason = why or "Corrected by the author"
        action = "prescription_update"
    for k, v in extras.items():
        setattr(row, k, v)
    row.warnings = warnings
    row.override_reason = override_reason
    db.session.flush()
    audit.record(action, "prescriptions", row.id, patient_id=row.patient_id,
                 details={"lines": len(lines), "version": row.version})
    if override_reason:
        audit.record("prescription_override", "prescriptions", row.id, patient_id=row.patient_id,
                     details={"rules": sorted({w["rule"] for w in warnings})})
    return row


SNAPSHOT = ("lines", "follow_up_date", "advice", "warnings", "override_reason", "change_reason")


def snapshot(row: Prescription) -> dict:
    return {k: getattr(row, k) for k in SNAPSHOT}


def update(row: Prescription, data: dict, actor) -> tuple[Prescription, list[dict]]:
    """PUT /api/prescriptions/:id — a new version with the lines sent (full replacement)."""
    body = dict(data)
    body["clinical_proforma_id"], body["followup_id"] = row.clinical_proforma_id, row.followup_id
    if body.get("patient_id") in (None, ""):
        body["patient_id"] = row.patient_id
    if body.get("prescription") is None and body.get("prescriptions") is None:
        raise ValidationError("prescription lines are required")
    return save_for_proforma(body, actor)


def withdraw(row: Prescription, actor, reason=None) -> Prescription:
    """DELETE: the prescription is withdrawn, never removed; it stays readable in its history
    and an Admin can restore it."""
    records.check(actor, records.WITHDRAW, records.PRESCRIPTION, row.signer_id)
    lock_for_edit(row)
    if row.withdrawn_at is None:
        row.withdrawn_at, row.withdrawn_by = utcnow(), actor.id
        row.withdrawal_reason = clean_reason(reason, required=False, what="withdrawal")
        audit.record("prescription_withdraw", "prescriptions", row.id, patient_id=row.patient_id)
    db.session.commit()
    return row


def restore(row: Prescription, actor) -> Prescription:
    records.check(actor, records.RESTORE, records.PRESCRIPTION)
    lock_for_edit(row)
    if row.withdrawn_at is not None:
        row.withdrawn_at = row.withdrawn_by = row.withdrawal_reason = None
        audit.record("prescription_restore", "prescriptions", row.id, patient_id=row.patient_id)
    db.session.commit()
    return row


def withdrawn(limit: int = 200) -> list[Prescription]:
    """Withdrawn prescriptions, newest withdrawal first (the Admin's withdrawn-records page)."""
    return list(db.session.execute(select(Prescription).where(Prescription.withdrawn_at.is_not(None))
                                   .order_by(Prescription.withdrawn_at.desc(), Prescription.id.desc())
                                   .limit(limit)).scalars())


def replace_for_proforma(proforma, lines: list[dict], actor, override=None, reason=None) -> Prescription:
    """Lines sent inside a proforma request (contract §8): the same rules as the prescription
    API (prescribers only, the drug-safety override, versions). Caller's transaction."""
    return _write(proforma, lines, {}, actor, override=override, reason=reason)


def version_history(row: Prescription) -> list[dict]:
    """Every version, oldest first: number, lines, signer, when, why; the current one last."""
    from ..auth.models import User
    kept = versions_of("prescription", row.id)
    ids = {v.author_id for v in kept} | {row.signer_id}
    names = {u.id: u.name for u in db.session.execute(select(User).where(User.id.in_(ids - {None}))).scalars()}
    out = [{"version": v.version, "prescription": v.data.get("lines") or [], "follow_up_date": v.data.get("follow_up_date"),
            "advice": v.data.get("advice"), "signed_by": v.author_id, "signed_by_name": names.get(v.author_id),
            "signed_at": json_value(v.authored_at), "change_reason": v.data.get("change_reason"),
            "superseded_at": json_value(v.superseded_at), "current": False} for v in kept]
    out.append({"version": row.version, "prescription": list(row.lines or []),
                "follow_up_date": json_value(row.follow_up_date), "advice": row.advice,
                "signed_by": row.signer_id, "signed_by_name": names.get(row.signer_id),
                "signed_at": json_value(row.signed_at or row.updated_at), "change_reason": row.change_reason,
                "superseded_at": None, "current": True})
    return out


# --------------------------------------------------------------------------- history and templates

def _parts(line: dict) -> tuple[str, str]:
    """(medicine, strength) of a line; an older line's "Olanzapine 5 mg" is split the same way."""
    from .lines import format_strength, split_medicine
    medicine, strength = str(line.get("medicine") or ""), str(line.get("strength") or "")
    if not strength.strip():
        return split_medicine(medicine)
    return " ".join(medicine.split()), format_strength(strength)


def _key(line: dict) -> str:
    return _parts(line)[0].lower()


def _dose(line: dict) -> tuple:
    return (_parts(line)[1].lower(), str(line.get("form") or "").lower(), line.get("dosage", ""),
            line.get("when_to_take", "") or line.get("when", ""), line.get("frequency", ""))


def differences(previous: list[dict], current: list[dict]) -> dict:
    """What changed between two prescriptions: added, stopped, dose changed (strength, form,
    dosage, timing or frequency), same. Medicines compared ignoring case, with an older
    line's "Olanzapine 5 mg" read as Olanzapine at 5 mg."""
    prev = {_key(l): l for l in previous or []}
    cur = {_key(l): l for l in current or []}
    return {
        "added": [cur[k] for k in cur if k not in prev],
        "stopped": [prev[k] for k in prev if k not in cur],
        "changed": [{"before": prev[k], "after": cur[k]} for k in cur if k in prev and _dose(prev[k]) != _dose(cur[k])],
        "same": [cur[k] for k in cur if k in prev and _dose(prev[k]) == _dose(cur[k])],
    }


def change_text(change: dict) -> str:
    """"Olanzapine 5 mg: 0-0-1 → 0-0-2", or "Olanzapine: 5 mg 0-0-1 → 10 mg 0-0-1" when the strength changed."""
    (name, before), (_n, after) = _parts(change["before"]), _parts(change["after"])
    b, a = change["before"].get("dosage") or "—", change["after"].get("dosage") or "—"
    if before.lower() == after.lower():
        return f"{line_name({'medicine': name, 'strength': after})}: {b} → {a}"
    return f"{name}: {before or '—'} {b} → {after or '—'} {a}"


def history(patient_id: int) -> list[dict]:
    """Each prescription with its differences from the one before it (oldest is compared with nothing)."""
    rows = for_patient(patient_id)
    out = []
    for i, row in enumerate(rows):
        before = rows[i + 1].lines if i + 1 < len(rows) else []
        out.append({"row": row, "diff": differences(before, row.lines or []), "first": i + 1 == len(rows)})
    return out


def templates_for(user) -> list[PrescriptionTemplate]:
    return list(db.session.execute(select(PrescriptionTemplate).where(
        PrescriptionTemplate.created_by == user.id, PrescriptionTemplate.is_active.is_(True))
        .order_by(PrescriptionTemplate.name)).scalars())


def save_template(user, name, lines) -> PrescriptionTemplate:
    if not isinstance(name, str) or not 2 <= len(name.strip()) <= 120:
        raise ValidationError("Template name must be 2 to 120 characters")
    lines = normalise_lines(lines)
    if not lines:
        raise ValidationError("A template needs at least one medicine")
    row = db.session.execute(select(PrescriptionTemplate).where(
        PrescriptionTemplate.created_by == user.id,
        func.lower(PrescriptionTemplate.name) == name.strip().lower())).scalar_one_or_none()
    if row is None:
        row = PrescriptionTemplate(name=name.strip(), created_by=user.id, lines=lines)
        db.session.add(row)
    else:
        row.lines, row.is_active = lines, True
    db.session.commit()
    return row


def template_for(user, template_id) -> PrescriptionTemplate:
    row = db.session.get(PrescriptionTemplate, template_id) \
        if isinstance(template_id, int) and 0 < template_id < 2**31 else None
    if row is None or row.created_by != user.id or not row.is_active:
        raise NotFound("Template not found")
    return row


# --------------------------------------------------------------------------- the editor

def line_name(line: dict) -> str:
    """"Escitalopram 10 mg": the medicine with its strength (older lines: the medicine as written)."""
    return " ".join(p for p in (str(line.get("medicine") or "").strip(), str(line.get("strength") or "").strip())
                    if p)


def editor_lines(lines: list[dict]) -> list[dict]:
    """Lines as the editor shows them: an older line's "Licab 300mg" split into medicine and
    strength, its duration text as number + unit, and each line's strengths and forms from the
    formulary (the strength box offers them)."""
    from . import lines as L
    from .formulary import resolve
    out = []
    for raw in lines or []:
        line = {k: ("" if raw.get(k) is None else str(raw.get(k))) for k in TEXT_KEYS}
        line["when_to_take"] = line["when_to_take"] or str(raw.get("when") or "")
        line["quantity"] = line["quantity"] or str(raw.get("qty") or "")
        if not line["strength"]:
            line["medicine"], line["strength"] = L.split_medicine(line["medicine"])
        value, unit = L.duration_parts(raw)
        line["duration_value"], line["duration_unit"] = value, unit
        line["duration_text"] = "" if (value or unit) else line["duration"]
        known = resolve(line["medicine"]) if line["medicine"] else None
        line["strength_options"] = [L.format_strength(x) for x in (known or {}).get("strengths") or []]
        line["form_options"] = list((known or {}).get("forms") or [])
        out.append(line)
    return out


def preview_lines(raw_lines: list[dict]) -> list[dict | None]:
    """For the editor's live check: each line checked on its own -> None (no medicine yet) or
    {"line": the saved shape or None, "errors": [...], "say": {en, hi, pa}}."""
    from . import instructions
    out = []
    for raw in raw_lines:
        if not isinstance(raw, dict) or not str(raw.get("medicine") or "").strip():
            out.append(None)
            continue
        try:
            line = normalise_lines([raw])[0]
        except ValidationError as exc:
            out.append({"line": None, "errors": [e["msg"] for e in exc.errors] or [exc.message], "say": {}})
            continue
        out.append({"line": line, "errors": [], "say": instructions.describe(line)})
    return out
