"""The patient report: one patient (PDF or Excel) or many registered in a date range (Excel).

The report is a list of SECTIONS. Each section says which kind of record it shows (the reader
must be allowed to read that kind: ``auth/records.py``, the rule of the patient page), loads
its rows for many patients at once, and describes its Excel sheet and its card in the PDF
(``templates/reports/_<key>.html``). To add a section (follow-up notes, say) append a
``Section`` to SECTIONS and add its card template: the PDF, the workbook, the permission check
and the audit follow.

Who may export whom:
* one patient: whoever may open the patient's page (every role); the clinical sections only
  for readers of that kind (clinicians). A Psychiatric Welfare Officer gets the patient's
  details only.
* many patients (bulk): only people whose lists cover the whole department
  (``permissions.list_scope`` is DEPARTMENT). A Junior Resident's lists cover their own and
  their room's patients: their bulk export is refused (they export one patient from its page).
Every export is audited: one ``patient_report_export`` row per patient exported, naming the
format and the sections (never their content).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select

from ..assessments import instruments as catalogue
from ..assessments import service as assessments
from ..assessments.models import Assessment
from ..audit import service as audit
from ..auth import records
from ..auth.models import User, grade_label
from ..auth.permissions import DEPARTMENT, list_scope
from ..clinical.models import ClinicalProforma
from ..errors import Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..followups.models import FollowUp
from ..intake.models import IntakeRecord
from ..patients.models import Patient
from ..prescriptions.models import Prescription
from ..timeutil import ist_text, today_ist

FORMATS = ("pdf", "xlsx")
BULK_MAX = 1000
EXPORT_ACTION = "patient_report_export"
BULK_REFUSED = ("Bulk export covers the whole department; a Junior Resident's lists cover their own and their "
                "room's patients. Export one patient at a time from the patient's page, or ask a Senior "
                "Resident or Faculty member.")


# ------------------------------------------------------------------ cells

def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return ist_text(value, "%d %b %Y, %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):  # checkbox groups and repeated rows of the work-up
        return "; ".join(t for t in (text(v) for v in value) if t)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {t}" for k, v in value.items() if (t := text(v)))
    return str(value).strip()


def _names(user_ids) -> dict[int, tuple[str, str]]:
    """{user id: (name, role or grade)}."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.name, User.role, User.grade).where(User.id.in_(ids))).all()
    return {i: (name, grade_label(grade) or role) for i, name, role, grade in rows}


def _by_patient(rows) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    for r in rows:
        out[r.patient_id].append(r)
    return out


# ------------------------------------------------------------------ sections

@dataclass(frozen=True)
class Section:
    key: str                    # names the card template templates/reports/_<key>.html
    title: str                  # card title in the PDF
    sheet: str                  # sheet name in the workbook (at most 31 characters)
    kind: str | None            # records kind the reader must read (auth/records.py); None: everyone
    columns: tuple[str, ...]    # the sheet's header
    load: Callable[[list[int]], dict]                # patient ids -> {patient id: data}
    rows: Callable[[Patient, object], list[list]]    # one patient's sheet rows from its data
    card: Callable[[Patient, object], object]        # what the PDF card shows (None: no card)


# -- patient details

def _address(p: Patient) -> str:
    parts = [p.address_line or p.local_address, p.present_city_town_village or p.city,
             p.present_district or p.district, p.present_state or p.state, p.present_pin_code or p.pin_code]
    return ", ".join(text(x) for x in parts if text(x))


def _guardian(p: Patient) -> str:
    """The head of family of a child (name, relationship, age, education, occupation)."""
    if p.clinic != "child" and not p.adult_since:
        return ""
    extra = [text(p.head_relationship), f"{p.head_age} y" if p.head_age is not None else "",
             text(p.head_education), text(p.head_occupation)]
    extra = [x for x in extra if x]
    return text(p.head_name) + (f" ({', '.join(extra)})" if extra else "")


DETAILS = (
    ("Patient ID", lambda p: p.id), ("CR No", lambda p: p.cr_no), ("PSY No", lambda p: p.psy_no),
    ("ADL No", lambda p: p.adl_no), ("Name", lambda p: p.name), ("Age", lambda p: p.age), ("Sex", lambda p: p.sex),
    ("Contact", lambda p: p.contact_number), ("Father's/Husband's Name", lambda p: p.father_name),
    ("Age Group", lambda p: p.age_group), ("Marital Status", lambda p: p.marital_status),
    ("Occupation", lambda p: p.occupation), ("Education", lambda p: p.education),
    ("Religion", lambda p: p.religion), ("Family Type", lambda p: p.family_type),
    ("Locality", lambda p: p.locality), ("Present Address", _address),
    ("Assigned Room", lambda p: p.assigned_room), ("Assigned Doctor", lambda p: p.assigned_doctor_name),
    ("Registered On", lambda p: p.date), ("Seen in Walk-in On", lambda p: p.seen_in_walk_in_on),
    ("Case Complexity", lambda p: p.case_complexity), ("Department", lambda p: p.department),
    ("Category", lambda p: p.category), ("Unit/Consit", lambda p: p.unit_consit), ("Room No", lambda p: p.room_no),
    ("Serial No", lambda p: p.serial_no), ("Unit Days", lambda p: p.unit_days), ("File No", lambda p: p.file_no),
    ("Special Clinic No", lambda p: p.special_clinic_no), ("Drug Allergies", lambda p: p.allergies),
    # The Child Guidance Clinic (a child is a patient; docs/children.md)
    ("Clinic", lambda p: "Child Guidance Clinic" if p.clinic == "child" else
     ("Adult (moved from the child clinic)" if p.adult_since else None)),
    ("CGC No", lambda p: p.cgc_number), ("Date of Birth", lambda p: p.date_of_birth),
    ("Guardian / Head of Family", _guardian), ("Guardian's Mobile", lambda p: p.contact_number
                                                if p.clinic == "child" else None),
    ("Head of Family Monthly Income", lambda p: p.head_income_band),
    ("In Adult Clinic Since", lambda p: p.adult_since),
)


def _detail_value(p: Patient, get) -> object:
    value = get(p)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else text(value)


def _details_card(p: Patient, _data) -> list[tuple[str, str]]:
    return [(label, text(get(p))) for label, get in DETAILS if text(get(p))]


# -- walk-in clinical proformas

def _load_proformas(ids: list[int]) -> dict:
    rows = db.session.execute(select(ClinicalProforma).where(
        ClinicalProforma.patient_id.in_(ids), ClinicalProforma.is_active.is_(True),
        ClinicalProforma.withdrawn_at.is_(None))
        .order_by(ClinicalProforma.visit_date, ClinicalProforma.id)).scalars().all()
    names = _names(r.filled_by for r in rows)
    return {pid: [(r, names.get(r.filled_by, ("", ""))) for r in found] for pid, found in _by_patient(rows).items()}


def _diagnosis(r: ClinicalProforma) -> str:
    code = " ".join(x for x in (text(r.icd_system), text(r.icd_code)) if x)
    return text(r.diagnosis) + (f" ({code})" if code and text(r.diagnosis) else code)


FORM_NAMES = {"adult": "Adult walk-in proforma", "child": "Child walk-in proforma"}


def _proforma_rows(p: Patient, data) -> list[list]:
    return [[p.id, text(p.cr_no), i, text(r.visit_date), "First visit" if r.visit_type == "first_visit" else
             "Follow-up", text(r.room_no), name, role, text(r.diagnosis), text(r.icd_code), text(r.case_severity),
             text(r.disposal), text(r.treatment_prescribed), text(r.created_at), FORM_NAMES.get(r.form, text(r.form)),
             _child_sections_text(r)]
            for i, (r, (name, role)) in enumerate(data or [], start=1)]


def _child_section_rows(r: ClinicalProforma) -> list[tuple[str, str]]:
    """The child form's own sections (emrs/child_clinical/spec.py), filled fields only, labelled
    with their section where the label alone says little ("Description")."""
    from ..child_clinical import spec as child_spec
    values = r.child_sections or {}
    out = []
    for _key, title, names in child_spec.SECTIONS:
        heading = title.split(". ", 1)[-1]
        for name in names:
            shown = text(child_spec.shown(values.get(name)))
            if shown:
                label = child_spec.LABELS.get(name, name)
                out.append((f"{heading}: description" if label == "Description" else label, shown))
    return out


def _child_sections_text(r: ClinicalProforma) -> str:
    if r.form != "child":
        return ""
    return "\n".join(f"{label}: {value}" for label, value in _child_section_rows(r))


PROFORMA_SUMMARY = (("Informant", "informant_present"), ("Onset", "onset_duration"), ("Course", "course"),
                    ("Precipitating factor", "precipitating_factor"), ("Mood", "mood"), ("Behaviour", "behaviour"),
                    ("Speech", "speech"), ("Thought", "thought"), ("Perception", "perception"),
                    ("Substance use", "substance_use"), ("Past history", "past_history"),
                    ("Family history", "family_history"), ("MSE: affect", "mse_affect"),
                    ("MSE: thought", "mse_thought"), ("Severity", "case_severity"), ("Disposal", "disposal"),
                    ("Treatment", "treatment_prescribed"), ("Referred to", "referred_to"))


def _proforma_card(p: Patient, data):
    """The first walk-in proforma (the first with visit type first_visit, else the first)."""
    if not data:
        return None
    first = next(((r, who) for r, who in data if r.visit_type == "first_visit"), data[0])
    r, (name, role) = first
    rows = [("Visit date", text(r.visit_date)), ("Room", text(r.room_no)),
            ("Doctor", ", ".join(x for x in (name, role) if x)), ("Diagnosis", _diagnosis(r))]
    if r.form == "child":  # the child form's own sections, not the adult form's (empty) fields
        rows += _child_section_rows(r)
        rows += [("Pharmacological treatment", text(r.treatment_prescribed)), ("Referred to", text(r.referred_to))]
        title = "Child walk-in clinical proforma"
    else:
        rows += [(label, text(getattr(r, attr))) for label, attr in PROFORMA_SUMMARY]
        title = None
    return {"rows": [(k, v) for k, v in rows if v], "later": len(data) - 1, "title": title}


# -- intake record

def _load_intake(ids: list[int]) -> dict:
    rows = db.session.execute(select(IntakeRecord).where(IntakeRecord.patient_id.in_(ids))
                              .order_by(IntakeRecord.id)).scalars().all()
    return dict(_by_patient(rows))


RECORD_NAMES = {"adult": "Out-patient intake record", "cap": "CAP work-up"}


def _intake_rows(p: Patient, data) -> list[list]:
    return [[p.id, text(p.cr_no), text(r.adl_no), text(r.file_status), text(r.physical_file_location),
             text(r.file_created_date), r.total_visits if r.total_visits is not None else "",
             text(r.last_accessed_date), text(r.complaints_patient), text(r.onset_duration), text(r.course),
             text(r.created_at), text(r.updated_at), RECORD_NAMES.get(r.form, text(r.form))] for r in data or []]


def _cap_rows(r: IntakeRecord) -> list[tuple[str, str]]:
    """The CAP work-up's filled single-value fields (emrs/cap/spec.py), in the form's order."""
    from ..cap import spec as cap_spec
    values = r.cap_sections or {}
    out = [("Work-up date", text(values.get("workup_date")))]
    for name, field in cap_spec.FIELDS.items():
        value = values.get(name)
        if field.kind == "rows" or value in (None, "", [], {}):
            continue
        out.append((cap_spec.label(field), "Yes" if value is True else "No" if value is False else text(value)))
    return out


INTAKE_SUMMARY = (("Complaints (patient)", "complaints_patient"), ("Complaints (informant)", "complaints_informant"),
                  ("Onset", "onset_duration"), ("Course", "course"), ("Precipitating factor", "precipitating_factor"),
                  ("Past psychiatric diagnosis", "past_history_psychiatric_diagnosis"),
                  ("Past psychiatric treatment", "past_history_psychiatric_treatment"),
                  ("Family history", "family_history"))


def _intake_card(p: Patient, data):
    active = [r for r in data or [] if r.is_active] or list(data or [])
    if not active:
        return None
    r = active[0]
    cap = r.form == "cap"
    rows = [("CAP work-up No" if cap else "ADL No", text(r.adl_no)), ("File status", text(r.file_status)),
            ("File location", text(r.physical_file_location)), ("File opened", text(r.file_created_date)),
            ("Visits", text(r.total_visits))]
    if cap:  # a child's CAP work-up: its own fields, not the adult intake record's (empty) ones
        rows += _cap_rows(r)
    else:
        rows += [(label, text(getattr(r, attr, None))) for label, attr in INTAKE_SUMMARY]
    return {"rows": [(k, v) for k, v in rows if v],
            "title": "CAP work-up (child and adolescent psychiatry)" if cap else None}


# -- follow-up notes

def _load_followups(ids: list[int]) -> dict:
    rows = db.session.execute(select(FollowUp).where(FollowUp.patient_id.in_(ids), FollowUp.is_active.is_(True))
                              .order_by(FollowUp.visit_date, FollowUp.id)).scalars().all()
    names = _names({r.filled_by for r in rows})
    return {pid: [(n, r, (names.get(r.filled_by) or (None,))[0]) for n, r in enumerate(notes, 1)]
            for pid, notes in _by_patient(rows).items()}


def _followup_rows(p: Patient, data) -> list[list]:
    return [[p.id, text(p.cr_no), n, text(r.visit_date), text(r.room_no), text(doctor), text(r.clinical_assessment),
             text(r.created_at)] for n, r, doctor in data or []]


def _followup_card(p: Patient, data):
    if not data:
        return None
    return {"rows": [(f"Follow-up {n} · {text(r.visit_date)}" + (f" · {doctor}" if doctor else ""),
                      text(r.clinical_assessment)) for n, r, doctor in data]}


# -- prescriptions

LINE_FIELDS = ("medicine", "strength", "form", "dosage", "when_to_take", "frequency", "duration", "quantity",
               "details", "notes")


def _lines(rx: Prescription) -> list[dict]:
    out = []
    for raw in rx.lines or []:
        if not isinstance(raw, dict) or not text(raw.get("medicine")):
            continue
        line = {k: text(raw.get(k)) for k in LINE_FIELDS}
        line["when_to_take"] = line["when_to_take"] or text(raw.get("when"))
        line["quantity"] = line["quantity"] or text(raw.get("qty"))
        out.append(line)
    return out


def _load_prescriptions(ids: list[int]) -> dict:
    rows = db.session.execute(
        select(Prescription, ClinicalProforma.visit_date)
        .join(ClinicalProforma, ClinicalProforma.id == Prescription.clinical_proforma_id)
        .where(Prescription.patient_id.in_(ids), Prescription.withdrawn_at.is_(None),
               ClinicalProforma.is_active.is_(True), ClinicalProforma.withdrawn_at.is_(None))
        .order_by(ClinicalProforma.visit_date, Prescription.id)).all()
    names = _names(rx.created_by for rx, _ in rows)
    out: dict[int, list] = defaultdict(list)
    for rx, visit_date in rows:
        out[rx.patient_id].append({"rx": rx, "date": visit_date, "lines": _lines(rx),
                                   "by": names.get(rx.created_by, ("", ""))})
    return dict(out)


def _prescription_rows(p: Patient, data) -> list[list]:
    out = []
    for item in data or []:
        rx, (by, role) = item["rx"], item["by"]
        for line in item["lines"]:
            out.append([p.id, text(p.cr_no), text(item["date"]), rx.id, line["medicine"], line["strength"],
                        line["form"], line["dosage"], line["when_to_take"], line["frequency"], line["duration"],
                        line["quantity"], line["details"], line["notes"], by, role, text(rx.follow_up_date),
                        text(rx.created_at)])
    return out


def _prescription_card(p: Patient, data):
    return [{"date": text(item["date"]), "lines": item["lines"], "by": ", ".join(x for x in item["by"] if x),
             "advice": text(item["rx"].advice), "follow_up": text(item["rx"].follow_up_date)}
            for item in data or []] or None


# -- rating scales

def _load_ratings(ids: list[int]) -> dict:
    rows = db.session.execute(select(Assessment).where(Assessment.patient_id.in_(ids), Assessment.is_active.is_(True))
                              .order_by(Assessment.patient_id, Assessment.assessed_on, Assessment.id)).scalars().all()
    names = _names({i for r in rows for i in (r.entered_by, r.confirmed_by, r.risk_ack_by)})
    out = {}
    for pid, series in _by_patient(rows).items():
        out[pid] = {"rows": [_rating(r, names) for r in series], "trends": assessments.trend_summaries(series)}
    return out


def _rating(r: Assessment, names: dict) -> dict:
    inst = catalogue.get(r.instrument)

    def who(uid) -> str:
        return (names.get(uid) or ("",))[0]

    risk = "; ".join(f"item {f.get('item')} = {f.get('value')}" for f in r.flags or [] if isinstance(f, dict))
    if r.risk_status == "acknowledged":
        ack = f"Acknowledged {text(r.risk_ack_at)}" + (f" by {who(r.risk_ack_by)}" if who(r.risk_ack_by) else "")
    elif r.risk_status == "open":
        ack = "Open: not yet acknowledged"
    else:
        ack = ""
    entered = who(r.entered_by)
    source = assessments.SOURCE_LABEL.get(r.source, r.source)
    if r.confirmed_at is not None:
        confirmed = "Yes" + (f", by {who(r.confirmed_by)}" if r.source != "clinician" and who(r.confirmed_by) else "")
    else:
        confirmed = "No: awaiting a clinician's confirmation"
    return {"date": text(r.assessed_on), "instrument": inst.short_name if inst else r.instrument,
            "total": r.total, "max": inst.total_max if inst else None,
            "score": f"{r.total} / {inst.total_max}" if inst else str(r.total), "severity": text(r.severity),
            "risk": risk, "ack": ack, "action": text(r.risk_action),
            "entered_by": ", ".join(x for x in (entered, source if r.source != "clinician" else "") if x),
            "confirmed": confirmed, "code": r.instrument, "id": r.id}


def _change_text(t: dict) -> str:
    if t["count"] < 2:
        return "One score so far"
    return t["text"] or f"{t['first_total']} → {t['latest_total']} ({t['change']:+d})"


def _rating_rows(p: Patient, data) -> list[list]:
    if not data:
        return []
    latest = {t["instrument"]: t for t in data["trends"]}
    last_id = {}
    for row in data["rows"]:
        last_id[row["code"]] = row["id"]
    out = []
    for row in data["rows"]:
        trend = latest.get(row["code"])
        change = _change_text(trend) if trend and last_id[row["code"]] == row["id"] else ""
        out.append([p.id, text(p.cr_no), row["date"], row["instrument"], row["total"], row["max"], row["severity"],
                    row["risk"], row["ack"], row["action"], row["entered_by"], row["confirmed"], change])
    return out


def _rating_card(p: Patient, data):
    if not data:
        return None
    return {"rows": data["rows"],
            "trends": [{"instrument": t["instrument_name"], "count": t["count"], "first": t["first_total"],
                        "first_on": text(dt.date.fromisoformat(t["first_on"])), "latest": t["latest_total"],
                        "latest_on": text(dt.date.fromisoformat(t["latest_on"])), "text": _change_text(t)}
                       for t in data["trends"]]}


SECTIONS: list[Section] = [
    Section("details", "Patient details", "Patient Details", None, tuple(label for label, _ in DETAILS),
            load=lambda ids: {}, rows=lambda p, _d: [[_detail_value(p, get) for _, get in DETAILS]],
            card=_details_card),
    Section("proforma", "Walk-in clinical proforma", "Clinical Proformas", records.PROFORMA,
            ("Patient ID", "CR No", "Visit #", "Visit Date", "Visit Type", "Room", "Doctor", "Doctor Role",
             "Diagnosis", "ICD Code", "Case Severity", "Disposal", "Treatment Prescribed", "Created At", "Form",
             "Child Form Sections"),
            load=_load_proformas, rows=_proforma_rows, card=_proforma_card),
    Section("intake", "Out-patient intake record", "Intake Records", records.WORKUP,
            ("Patient ID", "CR No", "ADL No", "File Status", "File Location", "File Opened", "Total Visits",
             "Last Accessed", "Complaints (patient)", "Onset", "Course", "Created At", "Updated At", "Record"),
            load=_load_intake, rows=_intake_rows, card=_intake_card),
    Section("followups", "Follow-up notes", "Follow-Up Visits", records.FOLLOWUP,
            ("Patient ID", "CR No", "Follow-up #", "Visit Date", "Room", "Doctor", "Clinical Assessment",
             "Created At"),
            load=_load_followups, rows=_followup_rows, card=_followup_card),
    Section("prescriptions", "Prescriptions", "Prescriptions", records.PRESCRIPTION,
            ("Patient ID", "CR No", "Date", "Prescription ID", "Medicine", "Strength", "Form", "Dose", "When",
             "Frequency", "Duration", "Quantity", "Details", "Notes", "Prescribed By", "Prescriber Role",
             "Follow-up Date", "Prescribed At"),
            load=_load_prescriptions, rows=_prescription_rows, card=_prescription_card),
    Section("ratings", "Rating scales", "Rating Scales", records.ASSESSMENT,
            ("Patient ID", "CR No", "Date", "Instrument", "Total", "Max", "Severity", "Risk Items",
             "Risk Acknowledged", "Action Taken", "Entered By", "Confirmed", "Change Since First Score"),
            load=_load_ratings, rows=_rating_rows, card=_rating_card),
]


def sections_for(reader) -> list[Section]:
    """The sections ``reader`` may see: the details always; a clinical section only for
    whoever reads every record of its kind (a welfare officer: details only)."""
    return [s for s in SECTIONS if s.kind is None or records.reads_all(reader, s.kind)]


# ------------------------------------------------------------------ the report

@dataclass
class Report:
    patients: list[Patient]
    sections: list[Section]
    data: dict          # section key -> {patient id: data}
    filename: str       # without extension

    def rows(self, section: Section) -> list[list]:
        out = []
        for p in self.patients:
            out.extend(section.rows(p, self.data[section.key].get(p.id)))
        return out

    def cards(self, patient: Patient) -> list[tuple[Section, object]]:
        return [(s, card) for s in self.sections
                if (card := s.card(patient, self.data[s.key].get(patient.id))) is not None]


def parse_format(raw, *, allowed=FORMATS, location="query") -> str:
    if raw is None or raw == "":
        raw = allowed[0]
    fmt = raw.strip().lower() if isinstance(raw, str) else raw
    fmt = "pdf" if fmt == "html" else fmt  # the original's print view: the PDF here
    if fmt not in allowed:
        raise ValidationError("Validation failed", errors=[field_error(
            "format", "format must be one of: " + ", ".join(allowed + (("html",) if "pdf" in allowed else ())),
            fmt if isinstance(fmt, str) and len(fmt) <= 20 else None, location)])
    return fmt


def safe_name(value: str, limit: int = 60) -> str:
    """A name for a file: letters, digits and underscores (the original's sanitised names)."""
    ascii_ = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "_", ascii_).strip("_")[:limit] or "patient"


def _build(patients: list[Patient], reader, filename: str) -> Report:
    sections = sections_for(reader)
    ids = [p.id for p in patients]
    return Report(patients, sections, {s.key: s.load(ids) for s in sections}, filename)


def _audit(report: Report, fmt: str, bulk: bool) -> None:
    keys = [s.key for s in report.sections]
    audit.record_each_now(EXPORT_ACTION, "registered_patient", [p.id for p in report.patients],
                          details={"format": fmt, "sections": keys, **({"bulk": len(report.patients)} if bulk else {})})


def patient_report(patient_id, reader, fmt: str) -> Report:
    """One patient's report as ``reader`` may see it (audited). NotFound for an unknown or
    archived patient."""
    patient = db.session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None or not patient.is_active:
        raise NotFound("Patient not found")
    report = _build([patient], reader, f"patient_{safe_name(patient.name)}_{today_ist().isoformat()}")
    _audit(report, fmt, bulk=False)
    return report


def _date(raw, name: str, errors: list) -> dt.date | None:
    if raw in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 10 else _bad()
    except ValueError:
        errors.append(field_error(name, f"{name} must be a date (YYYY-MM-DD)",
                                  raw if isinstance(raw, str) and len(raw) <= 40 else None))
        return None


def _bad():
    raise ValueError


def _ids(raw, errors: list) -> list[int] | None:
    if raw is None:
        return None
    ok = isinstance(raw, list) and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in raw)
    if not ok:
        errors.append(field_error("patient_ids", "patient_ids must be a list of patient ids", None))
        return None
    if len(raw) > BULK_MAX:
        errors.append(field_error("patient_ids", f"At most {BULK_MAX} patients per export", None))
        return None
    return sorted(set(raw))


def bulk_report(data: dict, reader) -> Report:
    """Many patients' reports in one workbook: ``patient_ids`` and/or registration dates
    ``date_from``/``date_to`` (IST calendar dates, inclusive). At most BULK_MAX patients."""
    if list_scope(reader) != DEPARTMENT:
        raise Forbidden(BULK_REFUSED)
    errors: list = []
    parse_format(data.get("format", "xlsx"), allowed=("xlsx",), location="body")
    start = _date(data.get("date_from"), "date_from", errors)
    end = _date(data.get("date_to"), "date_to", errors)
    ids = _ids(data.get("patient_ids"), errors)
    if start and end and start > end:
        errors.append(field_error("date_to", "date_to must be on or after date_from", data.get("date_to")))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    q = select(Patient).where(Patient.is_active.is_(True))
    if ids is not None:
        q = q.where(Patient.id.in_(ids or [0]))
    if start:
        q = q.where(Patient.date >= start)
    if end:
        q = q.where(Patient.date <= end)
    patients = list(db.session.execute(q.order_by(Patient.id).limit(BULK_MAX + 1)).scalars())
    if not patients:
        raise NotFound("No patients match: nothing to export")
    if len(patients) > BULK_MAX:
        raise ValidationError(f"More than {BULK_MAX} patients match: narrow the dates (at most {BULK_MAX} "
                              "patients per export)")
    if start or end:
        name = f"patients_export_{(start or patients[0].date or today_ist()).isoformat()}_to_" \
               f"{(end or today_ist()).isoformat()}"
    else:
        name = f"patients_export_{today_ist().isoformat()}"
    report = _build(patients, reader, name)
    _audit(report, "xlsx", bulk=True)
    return report
