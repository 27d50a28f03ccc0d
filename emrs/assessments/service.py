"""Rating scales at the visit: the one place their rules live (pages, htmx fragments, the JSON
API, FHIR, reports and the kiosk call these).

- an assessment scores one instrument (emrs/assessments/instruments.py) for one active patient
  on an IST day decided on the server; the answers are checked against the definition (unknown
  item, a value that is not an option, a missing required item: 422 with one error per problem)
  and the score is stored with the answers, so a later definition change never rewrites it;
- who: clinicians (Admin, Faculty, Resident) score any instrument; a welfare officer enters
  self-report instruments only (the patient's own answers), and so does the kiosk; those wait for
  a clinician's confirmation. Scores are clinical: read by clinicians only (auth/records.py);
- the visit: ``visit_id`` (the patient's), else the proforma's or follow-up note's day visit,
  else the patient's visit of that day when there is one;
- a positive risk item (PHQ-9 item 9, …) leaves the assessment ``risk_status = 'open'``; the
  banner on the patient page and Today's Patients stays until a clinician records an
  acknowledgement with the action taken (audited);
- withdrawn (wrong patient, entered twice), never deleted: the author, Faculty over Residents'
  and welfare officers' entries, an Admin (auth/records.py);
- every write and every read of scores is audited (ids, instrument, total; never answers text).
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections import defaultdict

from flask import current_app
from sqlalchemy import Text, bindparam, case, cast, func, select

from .. import facts
from ..audit import service as audit
from ..auth import records
from ..auth.models import PWO, User
from ..errors import Forbidden, NotFound, ValidationError, field_error, positive_id
from ..extensions import db
from ..models_base import utcnow
from ..patients import visits
from ..patients.models import Patient
from ..timeutil import as_utc, today_ist
from ..versioning import clean_reason
from . import instruments as catalogue
from . import trends as charts
from .models import MAX_ACTION, Assessment, KioskSession

CREATED = "Assessment saved successfully"
NOT_FOUND = "Assessment not found"
KIOSK_MINUTES = 30  # the default of the KIOSK_SESSION_SECONDS setting (emrs/config.py)

SOURCE_LABEL = {"clinician": "clinician", "staff": "entered by the welfare officer", "kiosk": "patient, on the tablet"}


def _err(name, msg, value=None):
    return field_error(name, msg, value if isinstance(value, (int, str)) and len(str(value)) <= 100 else None)


_positive_id = positive_id


def patient_for(raw) -> Patient:
    pid = _positive_id(raw)
    patient = db.session.get(Patient, pid) if pid else None
    if patient is None or not patient.is_active:
        raise NotFound("Patient not found")
    return patient


# --------------------------------------------------------------------------- instruments

def instrument(code) -> catalogue.Instrument:
    """The instrument named by ``code`` or a 422 naming the known ones."""
    found = catalogue.get(code) if isinstance(code, str) else None
    if found is None:
        known = ", ".join(i.code for i in catalogue.all_instruments())
        raise ValidationError("Unknown instrument", errors=[_err("instrument", f"instrument must be one of: {known}",
                                                                 code)])
    return found


def instruments_for(actor) -> tuple[catalogue.Instrument, ...]:
    """The instruments ``actor`` may fill: all for clinicians, self-report ones for a welfare officer."""
    every = catalogue.all_instruments()
    if getattr(actor, "role", None) == PWO:
        return tuple(i for i in every if i.respondent == "self")
    return every


def _ages(inst: catalogue.Instrument) -> str:
    low, high = inst.age_range
    if low is not None and high is not None:
        return f"ages {low}–{high}"
    if low is not None:
        return f"ages {low}+"
    return f"up to age {high}" if high is not None else "all ages"


def picker(actor, age) -> list[dict]:
    """The instruments ``actor`` may fill, ordered and hinted by the patient's age (years, or
    None): ``[{"inst", "suggested", "hint"}]``. Instruments made for the patient's age group
    (PHQ-A for 11–17, the adult scales for 18+) come first and are marked suggested; those for
    every age (CGI) next; those made for another age group last, with their ages as a hint.
    Ordering and hints only: nothing is refused by age (docs/assessments.md). ``terms_unconfirmed``:
    see terms_unconfirmed()."""
    every = instruments_for(actor)
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        return [{"inst": i, "suggested": False, "hint": None, "terms_unconfirmed": terms_unconfirmed(i)}
                for i in every]

    def fits(inst) -> bool:
        low, high = inst.age_range
        return (low is None or age >= low) and (high is None or age <= high)

    def tier(inst) -> int:
        if inst.population == "all" and inst.age_range == (None, None):
            return 1
        return 0 if fits(inst) else 2
    out = []
    for inst in sorted(every, key=tier):  # stable: the display order within a tier
        t = tier(inst)
        hint = (f"suggested for age {age} ({_ages(inst)})" if t == 0
                else f"made for {_ages(inst)}" if t == 2 else None)
        out.append({"inst": inst, "suggested": t == 0, "hint": hint, "terms_unconfirmed": terms_unconfirmed(inst)})
    return out


def terms_unconfirmed(inst: catalogue.Instrument) -> bool:
    """Whether the instrument's terms of use in an electronic record are not established
    (``licence.electronic_record`` false: PHQ-A, YMRS). Such an instrument is offered, marked
    "terms to be confirmed by the hospital" in the picker and on its form (docs/instruments.md)."""
    return not (inst.licence or {}).get("electronic_record")


def may_fill(actor, inst: catalogue.Instrument) -> bool:
    return getattr(actor, "role", None) in records.CLINICIANS or (
        getattr(actor, "role", None) == PWO and inst.respondent == "self")


def preview(code, answers) -> catalogue.Score:
    """The live score while a form is being filled (missing answers allowed)."""
    inst = instrument(code)
    if not isinstance(answers, dict):
        raise ValidationError("Validation failed", errors=[_err("answers", "answers must be an object of item id "
                                                                           "to the chosen value")])
    try:
        return inst.score(answers, partial=True)
    except catalogue.AnswerError as exc:
        raise _answer_errors(exc) from None


def answer_errors(exc: catalogue.AnswerError) -> list[dict]:
    """The definition's answer problems as the API's field errors (path ``answers.<item>``)."""
    return [_err(e.get("field") or "answers", e.get("message") or "Not allowed") for e in exc.errors]


def _answer_errors(exc: catalogue.AnswerError) -> ValidationError:
    return ValidationError("Some answers are missing or not allowed", errors=answer_errors(exc))


# --------------------------------------------------------------------------- writing

def _link(patient: Patient, data: dict, day: dt.date) -> dict:
    """visit_id / proforma_id / followup_id as sent, each checked to be this patient's."""
    from ..clinical.models import ClinicalProforma
    from ..followups.models import FollowUp
    links, errors = {}, []
    for key, model in (("proforma_id", ClinicalProforma), ("followup_id", FollowUp)):
        raw = data.get(key)
        if raw in (None, ""):
            continue
        rid = _positive_id(raw)
        row = db.session.get(model, rid) if rid else None
        if row is None or row.patient_id != patient.id or not getattr(row, "is_active", True):
            errors.append(_err(key, f"{key} must name an active record of this patient", raw))
        else:
            links[key] = row
    raw = data.get("visit_id")
    if raw not in (None, ""):
        vid = _positive_id(raw)
        visit = visits.visit_of(patient.id, vid) if vid else None
        if visit is None:
            errors.append(_err("visit_id", "visit_id must name a visit of this patient", raw))
        else:
            links["visit_id"] = visit.id
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    out = {"proforma_id": getattr(links.get("proforma_id"), "id", None),
           "followup_id": getattr(links.get("followup_id"), "id", None), "visit_id": links.get("visit_id")}
    if out["visit_id"] is None:
        followup = links.get("followup_id")
        if followup is not None and followup.visit_id:
            out["visit_id"] = followup.visit_id
        else:
            proforma = links.get("proforma_id")
            visit = visits.visit_on(patient.id, proforma.visit_date if proforma is not None else day)
            out["visit_id"] = visit.id if visit is not None else None
    return out


def _assessed_on(raw) -> dt.date:
    if raw in (None, ""):
        return today_ist()
    day = None
    if isinstance(raw, str) and len(raw.strip()) == 10:
        try:
            day = dt.date.fromisoformat(raw.strip())
        except ValueError:
            day = None
    if day is None or day.year < 1900:
        raise ValidationError("Validation failed", errors=[_err("assessed_on", "assessed_on must be a date (YYYY-MM-DD)",
                                                                raw)])
    if day > today_ist():
        raise ValidationError("Validation failed", errors=[_err(
            "assessed_on", f"assessed_on cannot be after today ({today_ist():%d %b %Y}, India time)", raw)])
    return day


def create(patient_id, data: dict, actor: User, *, source: str | None = None) -> Assessment:
    """Score and store an assessment: ``data`` = {instrument, answers, visit_id?, proforma_id?,
    followup_id?, assessed_on?}."""
    if not isinstance(data, dict):
        raise ValidationError("Request body must be a JSON object")
    records.check(actor, records.CREATE, records.ASSESSMENT)
    patient = patient_for(patient_id)
    inst = instrument(data.get("instrument"))
    if not may_fill(actor, inst):
        raise Forbidden(f"{inst.short_name} is rated by a clinician; a welfare officer enters self-report scales "
                        f"only ({', '.join(i.short_name for i in instruments_for(actor))}).")
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise ValidationError("Validation failed", errors=[_err("answers", "answers must be an object of item id "
                                                                           "to the chosen value")])
    try:
        score = inst.score(answers)
    except catalogue.AnswerError as exc:
        raise _answer_errors(exc) from None
    day = _assessed_on(data.get("assessed_on"))
    links = _link(patient, data, day)
    source = source or ("staff" if actor.role == PWO else "clinician")
    row = Assessment(patient_id=patient.id, instrument=inst.code, instrument_version=inst.version, assessed_on=day,
                     answers=score.answers, total=score.total, subscales=score.subscales,
                     severity=score.band.label if score.band else None,
                     severity_level=score.band.severity if score.band else None,
                     flags=[{"item": f.item, "value": f.value, "message": f.message} for f in score.flags],
                     source=source, entered_by=actor.id, risk_status="open" if score.flags else "none", **links)
    if source == "clinician":
        row.confirmed_by, row.confirmed_at = actor.id, utcnow()
    db.session.add(row)
    db.session.flush()
    audit.record("assessment_create", "assessments", row.id, patient_id=patient.id,
                 details={"instrument": inst.code, "total": row.total, "flags": len(row.flags), "source": source,
                          "visit_id": row.visit_id})
    db.session.commit()
    return row


# --------------------------------------------------------------------------- reading

def get(assessment_id, actor, *, audit_read: bool = True, include_withdrawn: bool = False) -> Assessment:
    aid = _positive_id(assessment_id)
    row = db.session.get(Assessment, aid) if aid else None
    if row is None or (not row.is_active and not include_withdrawn):
        raise NotFound(NOT_FOUND)
    records.check(actor, records.READ, records.ASSESSMENT, row.entered_by)
    if audit_read:
        audit.record_now("assessment_read", "assessments", row.id, patient_id=row.patient_id)
    return row


def for_patient(patient_id, actor, instrument_code=None, *, audit_read: bool = True) -> list[Assessment]:
    """A patient's active assessments, oldest first (optionally one instrument)."""
    records.check(actor, records.READ, records.ASSESSMENT)
    patient = patient_for(patient_id)
    query = select(Assessment).where(Assessment.patient_id == patient.id, Assessment.is_active.is_(True))
    if instrument_code not in (None, ""):
        query = query.where(Assessment.instrument == instrument(instrument_code).code)
    rows = list(db.session.scalars(query.order_by(Assessment.assessed_on, Assessment.id)))
    if audit_read:
        audit.record_now("assessment_list", "assessments", None, patient_id=patient.id,
                         details={"count": len(rows), "instrument": instrument_code or None})
    return rows


@functools.cache  # built once: the patient page's timeline runs it on every view
def timeline_rows():
    """The patient's latest active assessments (emrs/timeline.py slots): id, at = created_at,
    day = assessed_on, text1 = instrument, text2 = severity, text3 = flags as JSON text,
    num1 = total, num2 = 1 once confirmed."""
    A = Assessment
    return (select(A.id, A.created_at.label("at"), A.assessed_on.label("day"), A.instrument.label("text1"),
                   A.severity.label("text2"), cast(A.flags, Text).label("text3"), A.total.label("num1"),
                   case((A.confirmed_at.is_(None), 0), else_=1).label("num2"))
            .where(A.patient_id == bindparam("patient_id"), A.is_active.is_(True))
            .order_by(A.created_at.desc(), A.id.desc()).limit(bindparam("limit")))


def linked_to(actor, *, proforma_id: int | None = None, followup_id: int | None = None) -> list[Assessment]:
    """The active assessments scored from one proforma or follow-up note (empty for a reader who
    may not see scores)."""
    if not records.may(actor, records.READ, records.ASSESSMENT):
        return []
    column, value = ((Assessment.proforma_id, proforma_id) if proforma_id is not None
                     else (Assessment.followup_id, followup_id))
    return list(db.session.scalars(select(Assessment).where(column == value, Assessment.is_active.is_(True))
                                   .order_by(Assessment.id)))


def active_for_patient(patient_id: int) -> list[Assessment]:
    """The patient's active assessments, oldest first (FHIR, reports; the caller checks who reads)."""
    return list(db.session.scalars(select(Assessment).where(
        Assessment.patient_id == patient_id, Assessment.is_active.is_(True))
        .order_by(Assessment.assessed_on, Assessment.id)))


def open_risks(patient_ids) -> dict[int, list[Assessment]]:
    """Patients with a positive risk item nobody has acknowledged yet (for the banners)."""
    ids = sorted({int(p) for p in patient_ids if p is not None})
    if not ids:
        return {}
    found: dict[int, list[Assessment]] = defaultdict(list)
    rows = db.session.scalars(select(Assessment).where(
        Assessment.patient_id.in_(ids), Assessment.risk_status == "open", Assessment.is_active.is_(True))
        .order_by(Assessment.assessed_on, Assessment.id))
    for row in rows:
        found[row.patient_id].append(row)
    return dict(found)


def open_risk_count(patient_id_column):
    """The number of the patient's open risk items (active assessments with a positive risk item
    nobody has acknowledged) as a correlated subquery, to be one more column of a list's own query
    (Today's Patients): no query per row. Served by the partial index ix_assessments_open_risk."""
    return (select(func.count(Assessment.id))
            .where(Assessment.patient_id == patient_id_column, Assessment.risk_status == "open",
                   Assessment.is_active.is_(True))
            .correlate_except(Assessment).scalar_subquery())


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def to_dict(row: Assessment, names: dict[int, str] | None = None) -> dict:
    inst = catalogue.get(row.instrument)
    names = names if names is not None else _names((row.entered_by, row.confirmed_by, row.risk_ack_by))
    return {
        "id": row.id, "patient_id": row.patient_id, "visit_id": row.visit_id, "proforma_id": row.proforma_id,
        "followup_id": row.followup_id, "instrument": row.instrument,
        "instrument_name": inst.short_name if inst else row.instrument, "instrument_version": row.instrument_version,
        "assessed_on": row.assessed_on.isoformat(), "answers": dict(row.answers or {}), "total": row.total,
        "total_max": inst.total_max if inst else None, "subscales": dict(row.subscales or {}),
        "severity": row.severity, "severity_level": row.severity_level, "flags": list(row.flags or []),
        "source": row.source, "entered_by": row.entered_by, "entered_by_name": names.get(row.entered_by),
        "confirmed": row.confirmed_at is not None, "confirmed_by": row.confirmed_by,
        "confirmed_by_name": names.get(row.confirmed_by),
        "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
        "risk_status": row.risk_status, "risk_ack_by": row.risk_ack_by, "risk_ack_by_name": names.get(row.risk_ack_by),
        "risk_ack_at": row.risk_ack_at.isoformat() if row.risk_ack_at else None, "risk_action": row.risk_action,
        "is_active": row.is_active, "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def to_dicts(rows) -> list[dict]:
    names = _names({i for r in rows for i in (r.entered_by, r.confirmed_by, r.risk_ack_by)})
    return [to_dict(r, names) for r in rows]


# --------------------------------------------------------------------------- risk and confirmation

def acknowledge(row: Assessment, actor: User, action) -> Assessment:
    """A clinician records that they saw the positive risk item and what they did."""
    if getattr(actor, "role", None) not in records.CLINICIANS:
        raise Forbidden("A risk item is acknowledged by a clinician (Admin, Faculty, Resident).")
    if row.risk_status != "open":
        raise ValidationError("Nothing to acknowledge: this assessment has no open risk item" if row.risk_status == "none"
                              else "This risk item was already acknowledged")
    if not isinstance(action, str) or not action.strip():
        raise ValidationError("Validation failed", errors=[_err("action", "Write the action taken (for example: "
                                                                          "safety plan made, seen by consultant)")])
    if len(action) > MAX_ACTION or "\x00" in action:
        raise ValidationError("Validation failed", errors=[_err("action", f"The action taken must be at most "
                                                                          f"{MAX_ACTION:,} characters")])
    row.risk_status, row.risk_ack_by, row.risk_ack_at, row.risk_action = "acknowledged", actor.id, utcnow(), action.strip()
    audit.record("assessment_risk_acknowledge", "assessments", row.id, patient_id=row.patient_id,
                 details={"instrument": row.instrument, "items": [f.get("item") for f in row.flags or []]})
    db.session.commit()
    return row


def confirm(row: Assessment, actor: User) -> Assessment:
    """A clinician confirms a self-report entered by a welfare officer or on the kiosk."""
    if getattr(actor, "role", None) not in records.CLINICIANS:
        raise Forbidden("A self-report is confirmed by a clinician (Admin, Faculty, Resident).")
    if row.confirmed_at is not None:
        raise ValidationError("This assessment is already confirmed")
    row.confirmed_by, row.confirmed_at = actor.id, utcnow()
    audit.record("assessment_confirm", "assessments", row.id, patient_id=row.patient_id,
                 details={"instrument": row.instrument})
    db.session.commit()
    return row


def withdraw(row: Assessment, actor: User, reason) -> Assessment:
    records.check(actor, records.WITHDRAW, records.ASSESSMENT, row.entered_by)
    if not row.is_active:
        raise ValidationError("This assessment is already withdrawn")
    text = clean_reason(reason, required=True, what="withdrawal")
    row.is_active, row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason = False, utcnow(), actor.id, text
    audit.record("assessment_withdraw", "assessments", row.id, patient_id=row.patient_id,
                 details={"instrument": row.instrument})
    db.session.commit()
    return row


# --------------------------------------------------------------------------- trends

def medication_history(patient_id: int) -> list[tuple[dt.date, list[tuple[str, str]]]]:
    """The patient's active prescriptions in date order: (IST day, [(medicine, strength)])."""
    from ..prescriptions.models import Prescription
    rows = db.session.execute(select(Prescription.created_at, Prescription.lines).where(
        Prescription.patient_id == patient_id, Prescription.withdrawn_at.is_(None)).order_by(Prescription.created_at))
    out = []
    for created, lines in rows:
        day = (as_utc(created) + dt.timedelta(hours=5, minutes=30)).date()
        out.append((day, [(str(line.get("medicine") or "").strip(), str(line.get("strength") or "").strip())
                          for line in lines or [] if isinstance(line, dict) and line.get("medicine")]))
    return out


def _by_instrument(rows) -> list[tuple[catalogue.Instrument, list[Assessment]]]:
    by_code: dict[str, list[Assessment]] = defaultdict(list)
    for row in rows:
        by_code[row.instrument].append(row)
    return [(inst, by_code[inst.code]) for inst in catalogue.all_instruments() if by_code.get(inst.code)]


def _change(inst: catalogue.Instrument, series: list[Assessment]) -> dict | None:
    """The change since the first score (None with one score, and for CGI-I, which is itself a change)."""
    if len(series) < 2 or inst.direction != "higher_worse":
        return None
    return charts.change_summary(series[0].total, series[-1].total, response_reduction=inst.response_reduction,
                                 floor=inst.total_min)


def trend_summaries(rows: list[Assessment]) -> list[dict]:
    """Per instrument: first and latest totals and the change (the API's ``trends``)."""
    out = []
    for inst, series in _by_instrument(rows):
        first, latest, change = series[0], series[-1], _change(inst, series)
        out.append({"instrument": inst.code, "instrument_name": inst.short_name, "count": len(series),
                    "first_total": first.total, "first_on": first.assessed_on.isoformat(),
                    "latest_total": latest.total, "latest_on": latest.assessed_on.isoformat(),
                    "latest_severity": latest.severity, "change": latest.total - first.total,
                    "percent": change["percent"] if change else None,
                    "response": change["response"] if change else None, "text": change["text"] if change else None})
    return out


def trends(rows: list[Assessment], med_history=None) -> list[dict]:
    """Per instrument (in the catalogue's order): its points, the change since the first score and
    the SVG chart with bands and medication changes."""
    changes = charts.medication_changes(med_history) if med_history else []
    out = []
    for inst, series in _by_instrument(rows):
        points = [charts.Point(on=r.assessed_on, total=r.total, confirmed=r.confirmed_at is not None,
                               flagged=bool(r.flags), label=r.severity) for r in series]
        worse = inst.direction == "higher_worse"
        summary = _change(inst, series)
        chart = charts.trend_chart(points, title=f"{inst.short_name} total", total_min=inst.total_min,
                                   total_max=inst.total_max,
                                   bands=[charts.Band(b.min, b.max, b.label, b.severity) for b in inst.bands],
                                   med_changes=changes, higher_is_worse=worse, chart_id=f"trend-{inst.code}")
        out.append({"instrument": inst, "rows": series, "latest": series[-1], "first": series[0],
                    "summary": summary, "chart": chart})
    return out


# --------------------------------------------------------------------------- dashboard figures

FIGURES = {
    "scored_month": ("Patients scored this month", "Patients with a rating-scale assessment dated this month "
                     "(India time)"),
    "improved": ("Improved", "Patients whose latest score of a scale (2 or more scores) fell from their first "
                 "by at least the scale's response threshold"),
    "open_risk": ("Risk items open", "Patients with a positive risk item no clinician has acknowledged yet"),
}


def _month_start(today: dt.date) -> dt.date:
    return today.replace(day=1)


def _scored_month_query(among):
    today = today_ist()
    q = select(Assessment.patient_id).where(Assessment.is_active.is_(True),
                                            Assessment.assessed_on >= _month_start(today),
                                            Assessment.assessed_on <= today)
    return q.where(Assessment.patient_id.in_(among)) if among is not None else q


def _open_risk_query(among):
    q = select(Assessment.patient_id).where(Assessment.risk_status == "open", Assessment.is_active.is_(True))
    return q.where(Assessment.patient_id.in_(among)) if among is not None else q


def improved_patients(among=None) -> dict[int, list[dict]]:
    """{patient id: [trend summary of each instrument that reached a response]}: instruments where
    a higher score is worse, with 2 or more active scores, whose latest total fell from the first
    by at least the instrument's response threshold (trend_summaries' ``response is True``).
    One query over the totals of those instruments (``among``: a select of patient ids, or None)."""
    codes = [i.code for i in catalogue.all_instruments()
             if i.direction == "higher_worse" and i.response_reduction is not None]
    if not codes:
        return {}
    q = select(Assessment.patient_id, Assessment.instrument, Assessment.assessed_on, Assessment.total).where(
        Assessment.is_active.is_(True), Assessment.instrument.in_(codes))
    if among is not None:
        q = q.where(Assessment.patient_id.in_(among))
    series: dict[tuple[int, str], list] = defaultdict(list)
    for row in db.session.execute(q.order_by(Assessment.patient_id, Assessment.assessed_on, Assessment.id)):
        series[(row.patient_id, row.instrument)].append(row)
    out: dict[int, list[dict]] = defaultdict(list)
    for (pid, code), rows in series.items():
        inst = catalogue.get(code)
        change = _change(inst, rows)
        if change and change["response"] is True:
            out[pid].append({"instrument": inst.short_name, "first_total": rows[0].total,
                             "latest_total": rows[-1].total, "latest_on": rows[-1].assessed_on,
                             "text": change["text"]})
    return dict(out)


def figure_counts(among=None) -> dict[str, int]:
    """The dashboard's rating-scale figures over the patients ``among`` (a select of patient ids;
    None: every patient): one query each."""
    def count(q) -> int:
        return db.session.execute(select(func.count()).select_from(q.distinct().subquery())).scalar_one()

    return {"scored_month": count(_scored_month_query(among)), "improved": len(improved_patients(among)),
            "open_risk": count(_open_risk_query(among))}


def figure_patients(figure: str, among=None, limit: int = 500) -> list[dict]:
    """The patients a figure counts, with what put them there (the list behind a dashboard card):
    ``[{id, name, cr_no, detail, day}]``, latest first; at most ``limit``. Audited."""
    if figure not in FIGURES:
        raise ValidationError("figure must be one of: " + ", ".join(FIGURES), errors=[field_error(
            "figure", "figure must be one of: " + ", ".join(FIGURES), figure if isinstance(figure, str)
            and len(figure) <= 40 else None, "query")])
    if figure == "improved":
        found = improved_patients(among)
        detail = {pid: "; ".join(f"{t['instrument']} {t['first_total']} → {t['latest_total']}" for t in items)
                  for pid, items in found.items()}
        day = {pid: max(t["latest_on"] for t in items) for pid, items in found.items()}
    else:
        base = _scored_month_query(among) if figure == "scored_month" else _open_risk_query(among)
        rows = db.session.execute(base.with_only_columns(Assessment.patient_id, Assessment.instrument,
                                                         Assessment.assessed_on)
                                  .order_by(Assessment.assessed_on, Assessment.id)).all()
        names: dict[int, list[str]] = defaultdict(list)
        day = {}
        for pid, code, on in rows:
            inst = catalogue.get(code)
            label = inst.short_name if inst else code
            if label not in names[pid]:
                names[pid].append(label)
            day[pid] = on
        detail = {pid: ", ".join(v) for pid, v in names.items()}
    ids = sorted(day, key=lambda pid: (day[pid], pid), reverse=True)[:limit]
    patients = dict((r.id, r) for r in db.session.execute(
        select(Patient.id, Patient.name, Patient.cr_no).where(Patient.id.in_(ids)))) if ids else {}
    shown = [{"id": pid, "name": patients[pid].name, "cr_no": patients[pid].cr_no, "detail": detail.get(pid, ""),
              "day": day[pid]} for pid in ids if pid in patients]
    # A read of scores across patients: one audit row naming the patients shown.
    audit.record_list_read("assessment_figure_list", "assessments", [r["id"] for r in shown])
    return shown


def _active_of(patient):
    return (Assessment.patient_id == patient, Assessment.is_active.is_(True))


# The patient page's facts (emrs/facts.py): how many scores the patient has (none: no panel query).
facts.register("scored", lambda patient, _day: select(func.count(Assessment.id)).where(*_active_of(patient))
               .scalar_subquery())


def patient_panel(patient_id: int, actor, scored: int | None = None) -> dict | None:
    """The patient page's "Rating scales" panel for a clinician: open risk items, self-reports to
    confirm, and each instrument's trend (None for a reader who may not see scores). ``scored``:
    the patient's number of active scores when the page has read it already (its facts)."""
    if not records.may(actor, records.READ, records.ASSESSMENT):
        return None
    rows = [] if scored == 0 else list(db.session.scalars(select(Assessment).where(*_active_of(patient_id))
                                                           .order_by(Assessment.assessed_on, Assessment.id)))
    return {"open_risks": [r for r in rows if r.risk_status == "open"],
            "unconfirmed": [r for r in rows if r.confirmed_at is None], "count": len(rows),
            "trends": trends(rows, medication_history(patient_id)) if rows else []}


# --------------------------------------------------------------------------- kiosk

def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start_kiosk(patient_id, code, actor: User, visit_id=None) -> str:
    """Hand the tablet to the patient: a kiosk session for one patient and one self-report
    instrument. Returns the raw token for the browser (only its hash is stored)."""
    records.check(actor, records.CREATE, records.ASSESSMENT)
    patient = patient_for(patient_id)
    inst = instrument(code)
    if inst.respondent != "self":
        raise ValidationError("Validation failed", errors=[_err(
            "instrument", f"{inst.short_name} is rated by a clinician; the tablet takes self-report scales only", code)])
    links = _link(patient, {"visit_id": visit_id}, today_ist())
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = KioskSession(token_hash=_hash(raw), patient_id=patient.id, instrument=inst.code, visit_id=links["visit_id"],
                       started_by=actor.id, created_at=now, expires_at=now + dt.timedelta(seconds=kiosk_seconds()))
    db.session.add(row)
    db.session.flush()
    audit.record("kiosk_start", "kiosk_sessions", row.id, patient_id=patient.id, details={"instrument": inst.code})
    db.session.commit()
    return raw


def kiosk_seconds() -> int:
    """How long a tablet handed to a patient stays open (setting KIOSK_SESSION_SECONDS, 30 min)."""
    try:
        seconds = int(current_app.config.get("KIOSK_SESSION_SECONDS") or KIOSK_MINUTES * 60)
    except (TypeError, ValueError):
        seconds = KIOSK_MINUTES * 60
    return max(seconds, 1)


def kiosk_seconds_left(row: KioskSession) -> int:
    """Whole seconds until the kiosk session expires, rounded up (the page's timer fires after
    the server has ended it, never before)."""
    left = (as_utc(row.expires_at) - utcnow()).total_seconds()
    return max(int(left) + (1 if left > int(left) else 0), 0)


def kiosk_for(raw) -> KioskSession | None:
    """The live kiosk session of this token (None when unknown, ended or expired — an expired one
    is ended on the way)."""
    if not isinstance(raw, str) or not raw or len(raw) > 100:
        return None
    row = db.session.scalar(select(KioskSession).where(KioskSession.token_hash == _hash(raw)))
    if row is None or row.ended_at is not None:
        return None
    if as_utc(row.expires_at) <= utcnow():
        end_kiosk(row, "expired")
        return None
    return row


def end_kiosk(row: KioskSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason
        audit.record("kiosk_end", "kiosk_sessions", row.id, patient_id=row.patient_id, user_id=row.started_by,
                     details={"reason": reason})
        db.session.commit()


def kiosk_submit(row: KioskSession, answers) -> Assessment:
    """The patient's answers from the tablet: stored unconfirmed (source 'kiosk', entered in the
    name of whoever handed the tablet over), and the kiosk session ends."""
    starter = db.session.get(User, row.started_by) if row.started_by else None
    if starter is None or not starter.is_active:
        end_kiosk(row, "expired")
        raise Forbidden("This tablet session has ended. Please hand the tablet back to the staff.")
    assessment = create(row.patient_id, {"instrument": row.instrument, "answers": answers, "visit_id": row.visit_id},
                        starter, source="kiosk")
    row.assessment_id = assessment.id
    end_kiosk(row, "submitted")
    return assessment


def kiosk_patient_label(row: KioskSession) -> str:
    """What the tablet shows of the patient: the first name only."""
    patient = db.session.get(Patient, row.patient_id)
    return (patient.name or "").split()[0] if patient is not None and patient.name else ""
