"""FHIR R4 (4.0.1) read access: our rows as FHIR resources (plain JSON dicts), and the
reads behind /fhir, each audited.

Mapping:
- Patient            <- registered_patient (archived patients are never returned); a child of
                        the Child Guidance Clinic: birthDate, the guardian as a contact (with
                        the guardian's mobile, not as the child's telecom), the CGC number
- Encounter          <- patient_visits (one OPD attendance)
- Condition          <- the diagnosis of each walk-in clinical proforma (text + ICD-10/11 code)
- MedicationRequest  <- one per medication line of a prescription
- Questionnaire      <- each rating-scale instrument definition (emrs/assessments/instruments/)
- QuestionnaireResponse <- each active assessment (the answers), id = the assessment id
- Observation        <- the total score of each active assessment, id = the assessment id

Audit: every request that shows a patient's data writes one audit row per patient shown
(action ``fhir_read``, ``fhir_search`` or ``fhir_everything``); a search that shows nobody
writes one ``fhir_search`` row without a patient. Details carry the resource type and
counts only, never names, identifiers typed by the caller or clinical text.
"""
from __future__ import annotations

import datetime as dt
import re

from flask import current_app
from sqlalchemy import or_, select

from ..assessments import instruments as catalogue
from ..assessments import service as assessments
from ..assessments.models import Assessment
from ..audit import service as audit
from ..auth import records
from ..auth.models import User
from ..clinical.models import ClinicalProforma
from ..config import VERSION
from ..errors import Forbidden, NotFound, ValidationError
from ..extensions import db
from ..intake.models import IntakeRecord
from ..patients import fields as F
from ..patients import reading as patients
from ..patients import search as patient_search
from ..patients.models import Patient, PatientVisit
from ..prescriptions import instructions
from ..prescriptions import service as prescriptions
from ..followups.models import FollowUp
from ..prescriptions.models import Prescription
from ..serialize import json_value

FHIR_VERSION = "4.0.1"

# --- identifier and code systems -------------------------------------------------------
# Our own numbers: one namespace per number under the hospital's domain.
SID = "https://emrs.pgimer.edu.in/fhir/sid"
CR_SYSTEM = f"{SID}/cr-number"              # Central Registration number (hospital MRN)
PSY_SYSTEM = f"{SID}/psy-number"            # department's psychiatry registration number
ADL_SYSTEM = f"{SID}/adl-number"            # intake record (ADL file) number
CGC_SYSTEM = f"{SID}/cgc-number"            # Child Guidance Clinic number (child and adolescent psychiatry)
PRESCRIPTION_SYSTEM = f"{SID}/prescription"  # groups the lines of one prescription
# ABHA number: the system the ABDM (NDHM) FHIR implementation guide's examples use, with
# the value written XX-XXXX-XXXX-XXXX. The guide names no system for ABHA addresses; we
# use a path under the same host.
ABHA_NUMBER_SYSTEM = "https://healthid.ndhm.gov.in"
ABHA_ADDRESS_SYSTEM = "https://healthid.ndhm.gov.in/abha-address"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
ICD11_SYSTEM = "http://id.who.int/icd/release/11/mms"
# The hospital's own additions to its ICD-11 tree (proformas coded with them store the version
# "local"): not WHO's codes, so not under WHO's system.
ICD11_LOCAL_SYSTEM = f"{SID}/icd11-local"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
# Patient.contact.relationship (value set patient-contactrelationship, extensible): the guardian
# of a child is next of kin ("N"); the relation as registered (Father, Mother, …) in the text.
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
# Rating-scale instruments by their code (phq9, gad7, ...), and each item's answers: one code
# system per item (the same value means "Not at all" in one item and "Not difficult at all" in another).
INSTRUMENT_SYSTEM = f"{SID}/instrument"
ANSWER_SYSTEM = f"{SID}/instrument-answers"

# identifier search: system -> kind of number (patients.reading.patients_by_number)
IDENTIFIER_KINDS = {CR_SYSTEM: "cr", PSY_SYSTEM: "psy", ADL_SYSTEM: "adl", ABHA_NUMBER_SYSTEM: "abha",
                    ABHA_ADDRESS_SYSTEM: "abha_address", CGC_SYSTEM: "cgc"}

GENDER = {"M": "male", "F": "female", "Other": "other"}
MARITAL_CODES = {"single": ("S", "Never Married"), "married": ("M", "Married"), "remarried": ("M", "Married"),
                 "widowed": ("W", "Widowed"), "divorced": ("D", "Divorced"),
                 "separated": ("L", "Legally Separated")}
ENCOUNTER_STATUS = {"scheduled": "planned", "in_progress": "in-progress", "completed": "finished",
                    "cancelled": "cancelled"}
SEVERITY = {"mild": ("255604002", "Mild"), "moderate": ("6736007", "Moderate"), "severe": ("24484000", "Severe")}

SEARCH_LIMIT = 100   # identifier matches looked at per kind of number


# --------------------------------------------------------------------------- mapping

def _ref(resource_type: str, rid) -> dict:
    return {"reference": f"{resource_type}/{rid}"}


def _instant(value: dt.datetime | None) -> str | None:
    return json_value(value) if value is not None else None


def _identifier(use: str, system: str, value: str, text: str, code: str | None = None) -> dict:
    kind = {"text": text}
    if code:
        kind["coding"] = [{"system": V2_0203, "code": code, "display": "Medical record number"}]
    return {"use": use, "type": kind, "system": system, "value": value}


def _organisation() -> dict:
    cfg = current_app.config
    return {"display": f"{cfg['DEPARTMENT_NAME']}, {cfg['HOSPITAL_NAME']}"}


def patient_resource(p: Patient, adl_no: str | None = None) -> dict:
    identifiers = []
    if p.cr_no:
        identifiers.append(_identifier("usual", CR_SYSTEM, p.cr_no, "CR No.", code="MR"))
    if p.psy_no:
        identifiers.append(_identifier("secondary", PSY_SYSTEM, p.psy_no, "PSY No."))
    if adl_no or p.adl_no:
        identifiers.append(_identifier("secondary", ADL_SYSTEM, p.adl_no or adl_no, "ADL No."))
    if p.cgc_number:
        identifiers.append(_identifier("secondary", CGC_SYSTEM, p.cgc_number, "CGC No."))
    if p.abha_number:
        identifiers.append(_identifier("official", ABHA_NUMBER_SYSTEM, F.format_abha(p.abha_number), "ABHA number"))
    if p.abha_address:
        identifiers.append(_identifier("secondary", ABHA_ADDRESS_SYSTEM, p.abha_address, "ABHA address"))
    out = {"resourceType": "Patient", "id": str(p.id),
           "meta": {"versionId": str(p.version), "lastUpdated": _instant(p.updated_at or p.created_at)},
           "identifier": identifiers, "active": bool(p.is_active),
           "name": [{"use": "official", "text": p.name}]}
    child = p.clinic == "child"
    # A child's only number is the guardian's mobile (the child card's "Guardian's mobile"): it
    # is the guardian's telecom in Patient.contact, never the child's own.
    if p.contact_number and not child:
        out["telecom"] = [{"system": "phone", "value": p.contact_number, "use": "mobile"}]
    if p.sex in GENDER:
        out["gender"] = GENDER[p.sex]
    if p.date_of_birth:
        out["birthDate"] = p.date_of_birth.isoformat()
    address = {k: v for k, v in (("line", [p.address_line] if p.address_line else None), ("city", p.city),
                                 ("district", p.district), ("state", p.state), ("postalCode", p.pin_code),
                                 ("country", p.country)) if v}
    if address:
        out["address"] = [{"use": "home", **address}]
    if p.marital_status:
        code = MARITAL_CODES.get(p.marital_status)
        if code:
            out["maritalStatus"] = {"coding": [{"system": MARITAL, "code": code[0], "display": code[1]}],
                                    "text": F.label_of("marital_status", p.marital_status)}
        elif p.marital_status == "not_known":
            out["maritalStatus"] = {"coding": [{"system": NULL_FLAVOR, "code": "UNK", "display": "unknown"}]}
        else:
            out["maritalStatus"] = {"text": F.label_of("marital_status", p.marital_status)}
    if child:
        guardian = _guardian_contact(p)
        if guardian:
            out["contact"] = [guardian]
    out["managingOrganization"] = _organisation()
    return out


def _guardian_contact(p: Patient) -> dict | None:
    """The child's guardian (head of family) and the guardian's mobile as a Patient.contact."""
    contact: dict = {}
    relation = F.label_of("head_relationship", p.head_relationship) if p.head_relationship else None
    if p.head_name or p.contact_number:
        role = {"coding": [{"system": CONTACT_ROLE, "code": "N", "display": "Next-of-Kin"}]}
        role["text"] = f"Guardian ({relation})" if relation and relation != "Guardian" else "Guardian"
        contact["relationship"] = [role]
    if p.head_name:
        contact["name"] = {"text": p.head_name}
    if p.contact_number:
        contact["telecom"] = [{"system": "phone", "value": p.contact_number, "use": "mobile"}]
    return contact or None


def encounter_resource(v: PatientVisit, doctor_name: str | None) -> dict:
    out = {"resourceType": "Encounter", "id": str(v.id),
           "meta": {"lastUpdated": _instant(v.updated_at or v.created_at)},
           "status": ENCOUNTER_STATUS.get(v.visit_status, "unknown"),
           "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
           "type": [{"text": "First visit" if v.visit_type == "first_visit" else "Follow-up visit"}],
           "subject": _ref("Patient", v.patient_id),
           "period": {"start": v.visit_date.isoformat()}}
    if doctor_name:
        out["participant"] = [{"individual": {"display": doctor_name}}]
    if v.room_no:
        out["location"] = [{"location": {"display": f"Room {v.room_no}"}}]
    out["serviceProvider"] = _organisation()
    return out


def has_diagnosis(p: ClinicalProforma) -> bool:
    return bool((p.diagnosis or "").strip() or (p.icd_code or "").strip())


def condition_resource(p: ClinicalProforma, encounter_id: int | None, doctor_name: str | None) -> dict:
    code: dict = {}
    if p.icd_code:
        local = p.icd_system == "ICD-11" and p.icd_version == "local"
        system = ICD11_LOCAL_SYSTEM if local else ICD11_SYSTEM if p.icd_system == "ICD-11" else ICD10_SYSTEM
        coding = {"system": system}
        if p.icd_version and not local:
            coding["version"] = p.icd_version  # the ICD-11 MMS release ("2026-01") or ICD-10 edition ("2019")
        coding["code"] = p.icd_code
        if p.icd_title:
            coding["display"] = p.icd_title
        code["coding"] = [coding]
    code["text"] = (p.diagnosis or "").strip() or p.icd_title or p.icd_code
    out = {"resourceType": "Condition", "id": str(p.id),
           "meta": {"lastUpdated": _instant(p.updated_at or p.created_at)},
           "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis",
                                     "display": "Encounter Diagnosis"}]}],
           "code": code, "subject": _ref("Patient", p.patient_id)}
    if p.case_severity:
        sev = SEVERITY.get(p.case_severity)
        out["severity"] = ({"coding": [{"system": SNOMED, "code": sev[0], "display": sev[1]}], "text": sev[1]}
                           if sev else {"text": p.case_severity.capitalize()})
    if encounter_id is not None:
        out["encounter"] = _ref("Encounter", encounter_id)
    out["recordedDate"] = p.visit_date.isoformat()
    if doctor_name:
        out["recorder"] = {"display": doctor_name}
    return out


def _medication_text(line: dict) -> str:
    """"Escitalopram 10 mg tablet": the name, its strength and form (older lines: as written)."""
    from ..prescriptions.service import line_name
    return " ".join(p for p in (line_name(line), str(line.get("form") or "").strip()) if p)


UCUM_TIME = {"days": "d", "weeks": "wk", "months": "mo"}


def _line_text(line: dict) -> str:
    parts = [str(line.get(k) or "").strip() for k in ("dosage", "when_to_take", "frequency", "duration")]
    text = ", ".join(x for x in parts if x)
    details = str(line.get("details") or "").strip()
    if details:
        text = f"{text}. {details}" if text else details
    return text


def medication_requests(rx, encounter_id: int | None, condition_id: int | None,
                        doctor_name: str | None) -> list[dict]:
    """One MedicationRequest per line of the prescription, id ``<prescription id>-<line no.>``."""
    out = []
    lines = [ln for ln in (rx.lines or []) if isinstance(ln, dict) and str(ln.get("medicine") or "").strip()]
    for n, line in enumerate(lines, start=1):
        line = {**line, "when_to_take": line.get("when_to_take") or line.get("when"),
                "quantity": line.get("quantity") or line.get("qty")}
        dosage: dict = {"sequence": 1}
        text = _line_text(line)
        if text:
            dosage["text"] = text
        say = instructions.describe(line).get("en")
        if say:
            dosage["patientInstruction"] = say
        res = {"resourceType": "MedicationRequest", "id": f"{rx.id}-{n}",
               "meta": {"lastUpdated": _instant(rx.updated_at or rx.created_at)},
               "groupIdentifier": {"system": PRESCRIPTION_SYSTEM, "value": str(rx.id)},
               # EMRS records what was prescribed at a visit, not whether the course was
               # finished or stopped: R4's "unknown" says exactly that.
               "status": "unknown", "intent": "order",
               "medicationCodeableConcept": {"text": _medication_text(line)},
               "subject": _ref("Patient", rx.patient_id)}
        if encounter_id is not None:
            res["encounter"] = _ref("Encounter", encounter_id)
        res["authoredOn"] = _instant(rx.created_at)
        if doctor_name:
            res["requester"] = {"display": doctor_name}
        if condition_id is not None:
            res["reasonReference"] = [_ref("Condition", condition_id)]
        notes = [f"Quantity: {str(line['quantity']).strip()}" if str(line.get("quantity") or "").strip() else "",
                 str(line.get("notes") or "").strip()]
        if any(notes):
            res["note"] = [{"text": t} for t in notes if t]
        if len(dosage) > 1:
            res["dosageInstruction"] = [dosage]
        dispense = {}
        qty = str(line.get("quantity") or "").strip()
        if qty.isdecimal() and len(qty) < 7:
            dispense["quantity"] = {"value": int(qty), "unit": line.get("form") or "unit"}
        value, unit = line.get("duration_value"), line.get("duration_unit")
        if isinstance(value, int) and unit in UCUM_TIME:
            dispense["expectedSupplyDuration"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                                  "code": UCUM_TIME[unit]}
        if dispense:
            res["dispenseRequest"] = dispense
        out.append(res)
    return out


# --- rating scales: the instruments as Questionnaires, each assessment as a
# QuestionnaireResponse (the answers) and an Observation (the total)

def questionnaire_id(code: str) -> str:
    """A FHIR id for an instrument code: ids allow letters, digits, '-' and '.' only (cgi_s -> cgi-s)."""
    return code.replace("_", "-")


def questionnaire_url(base: str, code: str) -> str:
    """The canonical URL of an instrument's Questionnaire: where it is read (GET resolves it)."""
    return f"{base}/Questionnaire/{questionnaire_id(code)}"


def _computable_name(inst: catalogue.Instrument) -> str:
    """Questionnaire.name: a machine name (``PHQ9``), starting with a capital letter."""
    name = re.sub(r"[^A-Za-z0-9_]", "", inst.short_name) or inst.code.upper()
    return name if name[:1].isupper() else "Q" + name


def _answer_coding(inst: catalogue.Instrument, item: catalogue.Item, option: catalogue.Option) -> dict:
    return {"system": f"{ANSWER_SYSTEM}/{inst.code}/{item.id}", "code": str(option.value), "display": option.label}


def questionnaire_resource(inst: catalogue.Instrument, base: str) -> dict:
    items = []
    for item in inst.items:
        options = []
        for option in item.options:
            coding = _answer_coding(inst, item, option)
            if item.scored:  # what the answer adds to the total (reverse-scored items count backwards)
                coding = {"extension": [{"url": ORDINAL_VALUE, "valueDecimal": item.scored_value(option.value)}],
                          **coding}
            options.append({"valueCoding": coding})
        items.append({"linkId": item.id, "text": item.text, "type": "choice", "required": bool(item.required),
                      "answerOption": options})
    out = {"resourceType": "Questionnaire", "id": questionnaire_id(inst.code), "url": questionnaire_url(base, inst.code),
           "version": inst.version, "name": _computable_name(inst), "title": inst.name, "status": "active",
           "subjectType": ["Patient"], "publisher": _organisation()["display"]}
    if inst.instructions:
        out["description"] = inst.instructions
    terms = str((inst.licence or {}).get("terms") or "").strip()
    if terms:
        out["copyright"] = terms
    loinc = (inst.loinc or {}).get("questionnaire")
    if loinc:
        out["code"] = [{"system": LOINC, "code": str(loinc), "display": inst.name}]
    out["item"] = items
    return out


def questionnaires(base: str) -> list[dict]:
    """Every instrument, in the catalogue's order."""
    return [questionnaire_resource(inst, base) for inst in catalogue.all_instruments()]


def read_questionnaire(code: str, base: str) -> dict:
    inst = catalogue.get(code.replace("-", "_")) if isinstance(code, str) and len(code) <= 40 else None
    if inst is None:
        raise NotFound(f"Questionnaire/{(code or '')[:40]} not found")
    return questionnaire_resource(inst, base)


def questionnaire_response_resource(row: Assessment, base: str) -> dict:
    inst = catalogue.get(row.instrument)
    answers = dict(row.answers or {})
    items = []
    for item in (inst.items if inst else ()):
        if item.id not in answers:
            continue
        value = answers[item.id]
        option = next((o for o in item.options if o.value == value), None)
        answer = {"valueCoding": _answer_coding(inst, item, option)} if option else {"valueInteger": int(value)}
        items.append({"linkId": item.id, "text": item.text, "answer": [answer]})
    out = {"resourceType": "QuestionnaireResponse", "id": str(row.id),
           "meta": {"lastUpdated": _instant(row.updated_at or row.created_at)},
           "questionnaire": f"{questionnaire_url(base, row.instrument)}|{row.instrument_version}",
           "status": "completed", "subject": _ref("Patient", row.patient_id)}
    if row.visit_id is not None:
        out["encounter"] = _ref("Encounter", row.visit_id)
    out["authored"] = _instant(row.created_at)
    if items:
        out["item"] = items
    return out


def observation_resource(row: Assessment) -> dict:
    """The total: final once a clinician scored or confirmed it, preliminary while a
    self-report waits for confirmation."""
    inst = catalogue.get(row.instrument)
    name = inst.name if inst else row.instrument
    codings = []
    loinc = ((inst.loinc if inst else None) or {}).get("total")
    if loinc:
        codings.append({"system": LOINC, "code": str(loinc), "display": f"{name} total score"})
    codings.append({"system": INSTRUMENT_SYSTEM, "code": row.instrument, "display": name})
    out = {"resourceType": "Observation", "id": str(row.id),
           "meta": {"lastUpdated": _instant(row.updated_at or row.created_at)},
           "status": "final" if row.confirmed_at is not None else "preliminary",
           "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
           "code": {"coding": codings, "text": f"{inst.short_name if inst else row.instrument} total score"},
           "subject": _ref("Patient", row.patient_id)}
    if row.visit_id is not None:
        out["encounter"] = _ref("Encounter", row.visit_id)
    out["effectiveDateTime"] = row.assessed_on.isoformat()
    out["issued"] = _instant(row.created_at)
    out["valueInteger"] = row.total
    if row.severity:
        out["interpretation"] = [{"text": row.severity}]
    out["derivedFrom"] = [_ref("QuestionnaireResponse", row.id)]
    components = _subscale_components(inst, row)
    if components:
        out["component"] = components
    return out


def _subscale_components(inst: catalogue.Instrument | None, row: Assessment) -> list[dict]:
    """The subscales stored with the score (AUDIT's WHO domains, HAM-D6), in the definition's
    order, each coded in the instrument's own subscale system (no LOINC codes: none verified)."""
    stored = dict(row.subscales or {})
    names = {sid: name for sid, name, _items in (inst.subscales if inst else ())}
    order = [sid for sid in names if sid in stored] + sorted(sid for sid in stored if sid not in names)
    return [{"code": {"coding": [{"system": f"{INSTRUMENT_SYSTEM}/{row.instrument}/subscale", "code": sid,
                                  "display": names.get(sid, sid)}], "text": names.get(sid, sid)},
             "valueInteger": int(stored[sid])}
            for sid in order if isinstance(stored[sid], int)]


# --------------------------------------------------------------------------- reading

def _names(user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def _adl_numbers(patient_ids: list[int]) -> dict[int, str]:
    if not patient_ids:
        return {}
    return dict(db.session.execute(select(IntakeRecord.patient_id, IntakeRecord.adl_no)
                                   .where(IntakeRecord.patient_id.in_(patient_ids))).all())


def patient_resources(rows: list[Patient]) -> list[dict]:
    adl = _adl_numbers([p.id for p in rows])
    return [patient_resource(p, adl.get(p.id)) for p in rows]


def parse_patient_id(raw) -> int | None:
    """A path id or a `patient` search value (``12`` or ``Patient/12``) as an int, else None."""
    raw = (raw or "").strip()
    if raw.startswith("Patient/"):
        raw = raw[len("Patient/"):]
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 10 else None


def active_patient(raw_id) -> Patient:
    """The patient of a read, or NotFound (unknown, malformed or archived id)."""
    return patients.get_patient(parse_patient_id(raw_id), audit_action=None)


def _audit(action: str, entity: str, entity_id, patient_id, **details) -> None:
    audit.record(action, entity, entity_id, patient_id=patient_id, details=details)


# Each read builds its resources first, then commits its audit rows (a commit expires
# the loaded rows: building after it would load every patient again).

def read_patient(raw_id) -> dict:
    patient = active_patient(raw_id)
    resource = patient_resources([patient])[0]
    _audit("fhir_read", "registered_patient", patient.id, patient.id, resource="Patient")
    db.session.commit()
    return resource


def _parse_token(value: str) -> tuple[list[str], str]:
    """`system|value` or a bare value -> (kinds of number to look in, value)."""
    if "|" in value:
        system, number = value.split("|", 1)
        if system and system not in IDENTIFIER_KINDS:
            raise ValidationError(f"Unknown identifier system {system[:100]!r}. Known systems: "
                                  + ", ".join(IDENTIFIER_KINDS))
        kinds = [IDENTIFIER_KINDS[system]] if system else list(IDENTIFIER_KINDS.values())
    else:
        number, kinds = value, list(IDENTIFIER_KINDS.values())
    number = number.strip()
    if not number:
        raise ValidationError("identifier needs a value: identifier=<system>|<value>")
    if kinds == ["abha"]:
        try:
            F.abha_digits(number)
        except ValueError as exc:
            raise ValidationError(f"ABHA number {exc}")
    if kinds == ["abha_address"]:
        try:
            F.abha_address(number)
        except ValueError as exc:
            raise ValidationError(f"ABHA address {exc}")
    return kinds, number


def search_patients(*, identifier: str | None = None, name: str | None = None, page: int = 1,
                    count: int = 20) -> tuple[list[dict], int, bool]:
    """Patients by identifier (exact) or by name (the register's ranked search).
    Returns (Patient resources of the page, total, whether the total is an estimate)."""
    if identifier is not None:
        kinds, number = _parse_token(identifier)
        found: dict[int, Patient] = {}
        for kind in kinds:
            for p in patients.patients_by_number(kind, number, limit=SEARCH_LIMIT):
                found.setdefault(p.id, p)
        rows = [found[i] for i in sorted(found)]
        total, estimated = len(rows), False
        rows = rows[(page - 1) * count: page * count]
        by = "identifier"
    else:
        term = (name or "").strip()
        if len(term) < 2 or re.search(r"\d", term) or not re.search(r"[^\W\d_]", term):
            raise ValidationError("name must be at least 2 letters (no digits)")
        rows, total, estimated = patient_search.search(term, page, count)
        by = "name"
    resources = patient_resources(rows)
    for p in rows:
        _audit("fhir_search", "registered_patient", p.id, p.id, resource="Patient", by=by)
    if not rows:
        _audit("fhir_search", "registered_patient", None, None, resource="Patient", by=by, matches=0)
    db.session.commit()
    return resources, total, estimated


# --- one patient's visits, diagnoses and prescriptions -----------------------------------

def _visits(patient_id: int) -> list[PatientVisit]:
    return list(db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == patient_id)
                                   .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc())).scalars())


def _proformas(patient_id: int) -> list[ClinicalProforma]:
    return list(db.session.execute(select(ClinicalProforma).where(
        ClinicalProforma.patient_id == patient_id, ClinicalProforma.is_active.is_(True),
        or_(ClinicalProforma.diagnosis.is_not(None), ClinicalProforma.icd_code.is_not(None)))
        .order_by(ClinicalProforma.visit_date.desc(), ClinicalProforma.id.desc())).scalars())


def _encounter_of(patient_id: int) -> dict[int, int]:
    """proforma id -> the visit it was written at."""
    return dict(db.session.execute(select(PatientVisit.clinical_proforma_id, PatientVisit.id).where(
        PatientVisit.patient_id == patient_id, PatientVisit.clinical_proforma_id.is_not(None))
        .order_by(PatientVisit.id)).all())


def encounters(patient: Patient) -> list[dict]:
    visits = _visits(patient.id)
    names = _names(v.assigned_doctor_id for v in visits)
    return [encounter_resource(v, names.get(v.assigned_doctor_id)) for v in visits]


def conditions(patient: Patient) -> list[dict]:
    rows = [p for p in _proformas(patient.id) if has_diagnosis(p)]
    visit_of = _encounter_of(patient.id)
    names = _names(p.author_id for p in rows)  # who wrote the current version records it
    return [condition_resource(p, visit_of.get(p.id), names.get(p.author_id)) for p in rows]


def medications(patient: Patient) -> list[dict]:
    rows = prescriptions.for_patient(patient.id)
    visit_of = _encounter_of(patient.id)
    diagnosed = {p.id for p in _proformas(patient.id) if has_diagnosis(p)}
    names = _names(r.signer_id for r in rows)
    out = []
    for r in rows:
        pid = r.clinical_proforma_id
        if pid is None and r.followup_id is not None:  # written from a follow-up note: its visit
            followup = db.session.get(FollowUp, r.followup_id)
            out += medication_requests(r, followup.visit_id if followup else None, None, names.get(r.signer_id))
            continue
        out += medication_requests(r, visit_of.get(pid), pid if pid in diagnosed else None, names.get(r.signer_id))
    return out


def questionnaire_responses(patient: Patient, base: str) -> list[dict]:
    return [questionnaire_response_resource(r, base) for r in assessments.active_for_patient(patient.id)]


def observations(patient: Patient) -> list[dict]:
    return [observation_resource(r) for r in assessments.active_for_patient(patient.id)]


# resource type -> (build(patient, base), the table its audit rows name)
SEARCHES = {"Encounter": (lambda p, base: encounters(p), "patient_visits"),
            "Condition": (lambda p, base: conditions(p), "clinical_proforma"),
            "MedicationRequest": (lambda p, base: medications(p), "prescriptions"),
            "QuestionnaireResponse": (questionnaire_responses, "assessments"),
            "Observation": (lambda p, base: observations(p), "assessments")}


# The clinical record behind a resource type: reading it follows auth/records.py.
RECORD_KINDS = {"Condition": records.PROFORMA, "MedicationRequest": records.PRESCRIPTION,
                "QuestionnaireResponse": records.ASSESSMENT, "Observation": records.ASSESSMENT}


def _check_read(resource_type: str, reader) -> None:
    kinds = RECORD_KINDS.values() if resource_type == "$everything" else \
        [RECORD_KINDS[resource_type]] if resource_type in RECORD_KINDS else []
    for kind in kinds:
        if not records.reads_all(reader, kind):
            raise Forbidden(records.message(reader, records.READ, kind))


def search_for_patient(resource_type: str, patient_ref: str, reader, base: str = "") -> list[dict]:
    """Encounter / Condition / MedicationRequest / QuestionnaireResponse / Observation
    ?patient=<id>: all of the patient's.
    An unknown or archived patient has none (a search never answers 404)."""
    _check_read(resource_type, reader)
    build, entity = SEARCHES[resource_type]
    patient_id = parse_patient_id(patient_ref)
    if patient_id is None:
        raise ValidationError("patient must be a patient id, e.g. patient=12 or patient=Patient/12")
    try:
        patient = patients.get_patient(patient_id, audit_action=None)
    except NotFound:
        _audit("fhir_search", entity, None, None, resource=resource_type, matches=0)
        db.session.commit()
        return []
    found = build(patient, base)
    _audit("fhir_search", entity, None, patient.id, resource=resource_type, matches=len(found))
    db.session.commit()
    return found


def everything(raw_id, reader, base: str = "") -> list[dict]:
    """Patient/<id>/$everything: the patient, then visits, diagnoses, prescriptions, the
    Questionnaires the patient's rating scales answer (once each), their responses and totals."""
    _check_read("$everything", reader)
    patient = active_patient(raw_id)
    scored = assessments.active_for_patient(patient.id)
    used = {r.instrument for r in scored}
    forms = [questionnaire_resource(i, base) for i in catalogue.all_instruments() if i.code in used]
    parts = {"Encounter": encounters(patient), "Condition": conditions(patient),
             "MedicationRequest": medications(patient),
             "QuestionnaireResponse": [questionnaire_response_resource(r, base) for r in scored],
             "Observation": [observation_resource(r) for r in scored]}
    resources = patient_resources([patient]) + [r for kind, rs in parts.items()
                                                 for r in (forms if kind == "QuestionnaireResponse" else []) + rs]
    _audit("fhir_everything", "registered_patient", patient.id, patient.id,
           **{k: len(v) for k, v in parts.items()})
    db.session.commit()
    return resources


# The row behind each resource id of the other types, and where its patient is.
OWNER_ROWS = {"Encounter": PatientVisit, "Condition": ClinicalProforma, "MedicationRequest": Prescription,
              "QuestionnaireResponse": Assessment, "Observation": Assessment}


def read_resource(resource_type: str, raw_id: str, reader, base: str = "") -> dict:
    """Encounter/<id>, Condition/<id>, MedicationRequest/<prescription id>-<line no.>,
    QuestionnaireResponse/<assessment id>, Observation/<assessment id>:
    built exactly as the patient's search builds it (the same resource either way)."""
    _check_read(resource_type, reader)
    model = OWNER_ROWS[resource_type]
    match = re.fullmatch(r"(\d{1,9})(-\d{1,3})?", raw_id or "")
    if match is None or bool(match.group(2)) != (resource_type == "MedicationRequest"):
        raise NotFound(f"{resource_type}/{raw_id} not found")
    patient_id = db.session.scalar(select(model.patient_id).where(model.id == int(match.group(1))))
    if patient_id is None:
        raise NotFound(f"{resource_type}/{raw_id} not found")
    patient = patients.get_patient(patient_id, audit_action=None)  # archived: NotFound
    build, entity = SEARCHES[resource_type]
    for resource in build(patient, base):
        if resource["id"] == raw_id:
            _audit("fhir_read", entity, raw_id, patient.id, resource=resource_type)
            db.session.commit()
            return resource
    raise NotFound(f"{resource_type}/{raw_id} not found")


# --------------------------------------------------------------------------- capability

SEARCH_PARAMS = {
    "Patient": [("identifier", "token", "Exact match on <system>|<value> or a bare value (any of the systems): "
                 f"CR No. {CR_SYSTEM}, PSY No. {PSY_SYSTEM}, ADL No. {ADL_SYSTEM}, ABHA number "
                 f"{ABHA_NUMBER_SYSTEM} (14 digits, hyphens optional), ABHA address {ABHA_ADDRESS_SYSTEM}, "
                 f"CGC No. (Child Guidance Clinic) {CGC_SYSTEM}"),
                ("name", "string", "The register's name search (at least 2 letters; spelling and "
                 "transliteration variants found, best matches first)")],
    "Encounter": [("patient", "reference", "The patient's visits (patient=<id> or Patient/<id>)")],
    "Condition": [("patient", "reference", "Diagnoses of the patient's walk-in proformas, ICD-10/ICD-11 coded")],
    "MedicationRequest": [("patient", "reference", "One per medication line of the patient's prescriptions")],
    "Questionnaire": [],
    "QuestionnaireResponse": [("patient", "reference", "The answers of each of the patient's rating-scale "
                               "assessments (withdrawn ones are not returned)")],
    "Observation": [("patient", "reference", "The total score of each of the patient's rating-scale assessments "
                     "(category survey; preliminary until a clinician confirms a self-report)")],
}


def capability_statement(base_url: str, date: str) -> dict:
    cfg = current_app.config
    resources = []
    for rtype, params in SEARCH_PARAMS.items():
        entry = {"type": rtype, "interaction": [{"code": "read"}, {"code": "search-type"}]}
        if params:
            entry["searchParam"] = [{"name": n, "type": t, "documentation": d} for n, t, d in params]
        if rtype == "Patient":
            entry["operation"] = [{"name": "everything",
                                   "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active", "date": date, "kind": "instance",
        "publisher": f"{cfg['DEPARTMENT_NAME']}, {cfg['HOSPITAL_NAME']}",
        "software": {"name": "EMRS", "version": VERSION},
        "implementation": {"description": "EMRS psychiatry out-patient record: FHIR R4 read access",
                           "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Read only. Searches page with _count (at most 100, default 20) and _page; "
                             "follow the Bundle's next link. Unknown search parameters are refused (400).",
            "security": {"description": "Authorization: Bearer <accessToken>, the same token as /api "
                                        "(POST /api/users/login). Every read is audited."},
            "resource": resources,
        }],
    }
