"""The OpenAPI 3.1 document of the JSON API (GET /api/openapi.json) and its offline
docs page (GET /api/docs, vendored Swagger UI).

Where each part comes from, so that the document cannot drift from the code:
- paths and methods: ``app.url_map`` — every rule of the ``api`` blueprint. In service mode
  (emrs/services.py) every process still describes the whole API: behind the gateway the
  document is fetched from the user service and must show what the gateway answers;
- security: the permission map (emrs/auth/permissions.py): PUBLIC → none, else bearer;
- object schemas: the models' columns (what ``to_dict()``/``column_dict`` return) plus the
  joined extras the services add; request schemas from the validation tables
  (patients/fields.py, clinical/service.py, intake/models.py, prescriptions/...);
- what an operation means (tag, summary, parameters, bodies, the ``data`` of its
  success envelope, its error statuses): the one table ``OPERATIONS``, keyed by endpoint
  (built by ``_operations()``; the intake and option routes, registered by loops over two
  prefixes, get their entries by the same loops). A route without an entry is missing
  from the document and tests/api/test_openapi.py fails, naming it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, jsonify, render_template
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY

from ..auth.permissions import AUTH, PERMISSIONS, PUBLIC
from ..config import VERSION
from . import bp
from .session import COOKIE

# ============================================================================ schema helpers

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
ID = {"type": "integer", "minimum": 1, "maximum": 999_999_999}  # what api.users.parse_id accepts


def _rx_line_docs() -> dict:
    from ..prescriptions import lines as L
    return {
        "medicine": "Generic or brand name (formulary, or as typed when not in it). \"Licab 300mg\" without a "
                    "`strength` is split into medicine \"Licab\" and strength \"300 mg\".",
        "strength": "Strength of one unit, e.g. \"10 mg\" (written with a space). For a formulary medicine with "
                    "strengths it must be one of them; free text otherwise. Printed after the name: "
                    "\"Escitalopram 10 mg\".",
        "form": "One of: " + ", ".join(L.FORMS) + " (tab, cap, syp, inj … understood).",
        "dosage": "A pattern morning-afternoon-night such as 1-0-1, ½-0-1, 0-0-1 (4 parts with evening), or OD, "
                  "BD, TDS, QID, HS, SOS, STAT, Q6H, optionally with an amount (\"½ HS\", \"10 ml BD\"). A strength "
                  "here (\"300mg\") is refused: send it as `strength`.",
        "when_to_take": "Before Food, After Food, With Food, Empty Stomach, Bedtime, Morning, … (the instruction "
                        "phrases; anything else goes in `details`).",
        "frequency": "Once Daily, Twice Daily, Thrice Daily, Four Times Daily, Every N Hours, Alternate Day, Weekly, "
                     "Monthly, SOS, Continuous, Once, Tapering Dose.",
        "duration": "\"14 Days\", \"2 Weeks\", \"1 Month\" (at most " + L.MAX_DURATION + "), or Until Symptoms "
                    "Subside, Continuous, As Directed. Saved in this spelling; ignored when `duration_value` is sent.",
        "duration_value": "Number of `duration_unit`s (at most " + L.MAX_DURATION + "); wins over `duration`.",
        "duration_unit": "days, weeks or months (or a named duration: Until Symptoms Subside, Continuous, "
                         "As Directed).",
        "quantity": "Units to dispense. When empty it is computed for tablets and capsules: per-day count of the "
                    "dosage × frequency × days.",
    }


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def arr(item) -> dict:
    return {"type": "array", "items": ref(item) if isinstance(item, str) else item}


def null(schema: dict) -> dict:
    """The schema or JSON null."""
    t = schema.get("type")
    if isinstance(t, str) and "$ref" not in schema:
        out = {**schema, "type": [t, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def obj(props: dict, required=None, description: str | None = None) -> dict:
    """An object; by default every listed property is always present. Extra keys are allowed
    (clients must ignore keys they do not know)."""
    out = {"type": "object", "properties": props,
           "required": list(props) if required is None else list(required)}
    if description:
        out["description"] = description
    return out


def _column_schema(column) -> dict:
    t = column.type
    if isinstance(t, Boolean):
        s = dict(BOOL)
    elif isinstance(t, Integer):
        s = dict(INT)
    elif isinstance(t, Numeric):
        s = dict(NUM)
    elif isinstance(t, DateTime):
        s = dict(DATETIME)
    elif isinstance(t, Date):
        s = dict(DATE)
    elif isinstance(t, String):
        s = dict(STR)
    elif isinstance(t, (JSON, ARRAY)):
        s = {"type": "array"}
    else:  # pragma: no cover - a new column type must be mapped here
        raise TypeError(f"no JSON schema for column {column} of type {t!r}")
    return null(s) if column.nullable else s


def model_schema(model, *, exclude=(), only=None, extra: dict | None = None, overrides: dict | None = None,
                 descriptions: dict | None = None, description: str | None = None) -> dict:
    """What ``serialize.column_dict`` makes of a row: every column (by column name), always
    present, plus ``extra`` (keys the service adds, always present too)."""
    props = {}
    for column in model.__table__.columns:
        if column.name in exclude or (only is not None and column.name not in only):
            continue
        props[column.name] = _column_schema(column)
    if only is not None:
        props = {k: props[k] for k in only if k in props}
    props.update(overrides or {})
    props.update(extra or {})
    for name, text in (descriptions or {}).items():
        if name in props and "$ref" not in props[name]:
            props[name] = {**props[name], "description": text}
    return obj(props, description=description)


def extend(base: str, extra: dict, description: str | None = None) -> dict:
    """Component ``base`` plus the keys in ``extra`` (always present)."""
    out = {"allOf": [ref(base), obj(extra)]}
    if description:
        out["description"] = description
    return out


def pick(schema: dict, keys) -> dict:
    """The same object limited to ``keys`` (all present)."""
    return obj({k: schema["properties"][k] for k in keys})


# ============================================================================ parameters

def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def idempotency_key_parameter() -> dict:
    from .idempotency import HEADER, KEY_PATTERN
    return {"name": HEADER, "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": KEY_PATTERN},
            "description": (
                "Optional, 1–128 printable ASCII characters (0x21–0x7E), per user. Send a new random key "
                "(a UUID) with each new request and the same key when retrying it: within 24 hours the "
                "same request under the same key is answered with the first answer (status, body, content "
                "type) and `Idempotent-Replayed: true`, without running again. The same key with a "
                "different request is a 422; a key whose first request's result is not known (still "
                "running, or committed and answered 5xx) is a 409: look the record up. An invalid key is "
                "a 400. Ignored on the public sign-in routes.")}


IDEMPOTENCY_KEY = {"$ref": "#/components/parameters/IdempotencyKey"}
REPLAYED = {"Idempotent-Replayed": {"schema": {"const": "true"},
                                    "description": "Present when this is the stored answer to an earlier "
                                                   "request with the same Idempotency-Key."}}


def page_params(default: int = 10, cap: int | None = None) -> tuple:
    capped = f" (at most {cap} are returned per page)" if cap else ""
    return (query("page", {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 1},
                  "Page number, from 1."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": default},
                  f"Items per page, 1–1000{capped}."))


DATE_RANGE = (query("date_from", DATE, "From this date (YYYY-MM-DD), inclusive."),
              query("date_to", DATE, "Up to this date (YYYY-MM-DD), inclusive."))


def _patient_filters() -> tuple:
    from ..patients.search import AGE_BANDS
    return (
        query("sex", {"type": "string", "enum": ["M", "F", "Other"]}, "Sex."),
        query("age_band", {"type": "string", "enum": list(AGE_BANDS)}, "Age band."),
        *DATE_RANGE,
        query("doctor_id", ID, "Assigned doctor (user id); `assigned_doctor_id` is accepted too."),
        query("complexity", {"type": "string", "enum": ["simple", "complex"]},
              "Case complexity (complex = has an intake record); `case_complexity` is accepted too."),
        query("has_adl_file", {"type": "string", "enum": ["true", "false"]}, "Has an intake record."),
        query("file_status", {"type": "string",
                              "enum": ["none", "created", "stored", "retrieved", "active", "archived"]},
              "Status of the patient's intake record file."),
        query("assigned_room", {"type": "string", "maxLength": 20}, "Room today; `room` is accepted too."),
    )


# Path parameters by name (the route's converter decides for names not listed).
PATH_PARAMS = {
    "patient_id": (ID, "The patient's id."),
    "user_id": (ID, "The user's id."),
    "proforma_id": (ID, "The clinical proforma's id."),
    "record_id": (ID, "The intake record's (ADL file's) id."),
    "rx_id": (ID, "The prescription's id."),
    "file_id": (ID, "The stored file's id."),
    "cr_no": ({"type": "string", "minLength": 1}, "CR number (case-insensitive)."),
    "psy_no": ({"type": "string", "minLength": 1}, "PSY number (case-insensitive)."),
    "adl_no": ({"type": "string", "minLength": 1}, "ADL (intake record) number (case-insensitive)."),
    "group": ({"type": "string", "minLength": 1, "examples": ["mood", "behaviour", "mse_affect"]},
              "Option group: the proforma column it fills (mood, behaviour, speech, …)."),
    "file_path": ({"type": "string", "minLength": 1},
                  "A file path as returned by the API (URL-encoded), its stored name or its id."),
    "file_ref": ({"type": "string", "minLength": 1},
                 "The file's id, its stored name or its path as returned by the API (URL-encoded)."),
}

_VAR = re.compile(r"<(?:(?P<conv>[a-zA-Z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_]\w*)>")


def openapi_path(rule: str) -> tuple[str, list[dict]]:
    """Flask rule → OpenAPI path template and its path parameters
    (``/x/<int(max=9):id>`` → ``/x/{id}`` with an integer schema)."""
    params = []
    for m in _VAR.finditer(rule):
        name, conv = m.group("name"), m.group("conv") or "default"
        if name in PATH_PARAMS:
            schema, text = PATH_PARAMS[name]
        elif conv == "int":
            bound = re.search(r"max=(\d+)", m.group("args") or "")
            schema = {"type": "integer", "minimum": 0, **({"maximum": int(bound.group(1))} if bound else {})}
            text = f"The {name.replace('_', ' ')}."
        else:
            schema, text = {"type": "string", "minLength": 1}, name.replace("_", " ").capitalize() + "."
        params.append({"name": name, "in": "path", "required": True, "schema": schema, "description": text})
    return _VAR.sub(lambda m: "{" + m.group("name") + "}", rule), params


# ============================================================================ component schemas

def _components() -> dict:
    from ..auth.models import ROLES, User
    from ..clinical import service as clinical
    from ..clinical.models import ClinicalProforma
    from ..intake.models import (BOOL_FIELDS, DATE_FIELDS, INT_FIELDS, INTAKE_FILE_STATUSES, JSON_ARRAY_FIELDS,
                                 WORKUP_FIELDS, FileMovement, IntakeRecord)
    from ..intake import service as intake
    from ..patients import fields as F
    from ..patients.models import Patient, PatientVisit
    from ..patients.reading import INTERNAL_COLUMNS
    from ..patients.visits import VISIT_SUMMARY_KEYS
    from ..prescriptions import service as rx
    from ..prescriptions.models import Medicine, Prescription
    from .patients import CARD_KEYS, RECORD_KEYS

    labels = {name: f.label for name, f in F.ALL_FIELDS.items()}
    patient = model_schema(
        Patient, exclude=INTERNAL_COLUMNS, descriptions=labels,
        extra={
            "filled_by_name": null(STR), "filled_by_role": null(STR),
            "assigned_doctor_role": null(STR),
            "last_assigned_date": null(DATE),
            "visit_date": {**null(DATE), "description": "Today (IST) when the patient has a visit today, "
                                                        "else the last visit's date."},
            "visit_status": null({"type": "string", "enum": ["scheduled", "in_progress", "completed", "cancelled"]}),
            "has_visit_today": BOOL, "has_proforma_today": BOOL,
        },
        description="Out-patient card and record: every column of the patient plus joined names. "
                    "`has_adl_file`, `case_complexity` and `adl_no` are derived from the intake record.")
    visit = model_schema(PatientVisit, description="One OPD attendance (a visit, the spec's \"session\").")
    visit_with_doctor = extend("Visit", {"doctor_name": null(STR), "doctor_role": null(STR)})
    proforma_row = model_schema(ClinicalProforma, description="Walk-in clinical proforma: its columns.")
    proforma = extend("ProformaRow", {
        "patient_name": null(STR), "cr_no": null(STR), "psy_no": null(STR),
        "doctor_name": null(STR), "doctor_role": null(STR)},
        "Walk-in clinical proforma: every column plus the patient's and the filling doctor's names.")
    proforma_with_doctor = extend("ProformaRow", {"doctor_name": null(STR), "doctor_role": null(STR)})
    record_row = model_schema(IntakeRecord, description="Intake record (ADL file): its columns.")
    record = extend("IntakeRecordRow", {
        "patient_name": null(STR), "cr_no": null(STR), "psy_no": null(STR),
        "created_by_name": null(STR), "created_by_role": null(STR), "last_accessed_by_name": null(STR),
        "assigned_doctor": null(INT), "assigned_doctor_name": null(STR), "assigned_doctor_role": null(STR),
        "proforma_visit_date": null(DATE),
        "doctor_decision": null({"type": "string", "enum": list(clinical.CHOICES["doctor_decision"])})},
        "Out-patient intake record (ADL file): every column plus the patient, creator, last accessor and the "
        "linked proforma's doctor.")
    record_with_creator = extend("IntakeRecordRow", {"created_by_name": null(STR), "created_by_role": null(STR)})
    line_docs = _rx_line_docs()
    line = obj({"id": INT, **{k: {**STR, "description": line_docs[k]} if k in line_docs else STR
                              for k in rx.LINE_KEYS if k != "duration_value"},
                "duration_value": {**null(INT), "description": line_docs["duration_value"]}},
               required=("medicine",),
               description="One medication line. Lines saved by this system have every key; lines saved before "
                           "strengths had a field (EMRS 0014) lack strength, form, duration_value and duration_unit "
                           "(their medicine text may carry the strength, e.g. \"Licab 300mg\").")
    warning = obj({"rule": STR, "severity": {"type": "string", "enum": ["high", "moderate", "info"]},
                   "message": STR, "medicines": arr(STR)}, description="A drug-safety warning.")
    prescription = model_schema(Prescription, exclude=("prescriptions",),
                                overrides={"warnings": arr("SafetyWarning")},
                                extra={"prescription": arr("PrescriptionLine")},
                                description="The medication lines written on one proforma "
                                            "(one prescription per proforma).")
    medicine = model_schema(Medicine, overrides={"brand_names": arr(STR), "strengths": arr(STR),
                                                 "forms": {**arr(STR), "description": "Forms it comes in, the usual "
                                                                                      "one first."},
                                                 "aliases": {**arr(STR), "description": "Other generic names of it "
                                                                                        "(merged duplicates)."}},
                            description="A formulary entry.")
    user = model_schema(User, only=User.PUBLIC_FIELDS,
                        overrides={"role": {"type": "string", "enum": list(ROLES)}},
                        description="A user account (never its password or secrets).")
    movement = model_schema(FileMovement, extra={"moved_by_name": null(STR), "moved_by_role": null(STR)},
                            description="One move of the physical intake file.")

    # ---- request bodies from the validation tables
    patient_fields = {name: _patient_field_input(f) for name, f in F.ALL_FIELDS.items()}
    patient_fields["name"] = {**patient_fields["name"], "minLength": 2, "type": "string"}
    doctor_id = {**null(ID), "description": "The assigned doctor (a Faculty member or Resident); null clears it."}
    patient_input = obj({**patient_fields, "mobile_no": {**null(STR), "description": "Alias of contact_number."},
                         "assigned_doctor_id": doctor_id}, required=("name",),
                        description="Card and record fields; `name` is required. Unknown keys are ignored.")
    patient_update = obj({**patient_fields, "assigned_doctor_id": doctor_id}, required=(),
                         description="Any card or record field. Null or empty values are ignored, except "
                                     "`assigned_doctor_id` and `assigned_room`, which may be cleared.")
    card_input = obj({k: patient_fields[k] for k in F.CARD_NAMES}, required=("name",))
    card_update = obj({k: patient_fields[k] for k in F.CARD_NAMES}, required=())
    record_update = obj({**{k: patient_fields[k] for k in F.RECORD_NAMES}, "assigned_doctor_id": doctor_id},
                        required=())

    workup = {}
    for name in WORKUP_FIELDS:
        if name in JSON_ARRAY_FIELDS:
            workup[name] = {"type": ["array", "null"], "maxItems": intake.MAX_ROWS,
                            "items": {"anyOf": [{"type": "object"}, STR]},
                            "description": "Rows of a table (objects of short text/numbers) or a JSON string."}
        elif name in DATE_FIELDS:
            workup[name] = null(DATE)
        elif name in INT_FIELDS:
            workup[name] = null({"type": "integer", "minimum": 0, "maximum": 150})
        elif name in BOOL_FIELDS:
            workup[name] = null(BOOL)
        else:
            workup[name] = null({"type": "string", "maxLength": intake.MAX_TEXT})
    file_fields = {"physical_file_location": null({"type": "string", "maxLength": 100}),
                   "notes": null({"type": "string", "maxLength": intake.MAX_TEXT}),
                   "total_visits": {"type": "integer", "minimum": 0, "maximum": 10000}}
    intake_input = obj({"patient_id": ID, "clinical_proforma_id": null(ID),
                        "adl_no": {"type": "string", "maxLength": 50},
                        "file_status": {"type": "string", "enum": ["created", "stored"]},
                        "file_created_date": null(DATE), **file_fields}, required=("patient_id",),
                       description="Creates the patient's intake record, or updates it when the patient has one.")
    intake_input = {"allOf": [intake_input, ref("IntakeWorkup")]}
    intake_update = obj({"file_status": {"type": "string", "enum": list(INTAKE_FILE_STATUSES),
                                         "description": "Only created → stored here; other moves have their "
                                                        "own routes."},
                         "version": {"type": "integer", "minimum": 1,
                                     "description": "The version you read: a stale one is a 409."},
                         **file_fields}, required=())
    intake_update = {"allOf": [intake_update, ref("IntakeWorkup")]}

    rx_line_input = obj({**{k: {**null({"type": "string",
                                         "maxLength": rx.MAX_MEDICINE if k == "medicine" else rx.MAX_FIELD}),
                                **({"description": line_docs[k]} if k in line_docs else {})}
                            for k in rx.LINE_KEYS if k != "duration_value"},
                         "duration_value": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 365},
                                                      {"type": "string", "pattern": "^[0-9]{1,3}$"}, {"type": "null"}],
                                            "description": line_docs["duration_value"]},
                         "when": {**null(STR), "description": "Alias of when_to_take."},
                         "qty": {**null(STR), "description": "Alias of quantity."}}, required=(),
                        description="A line without `medicine` is dropped. The original's keys keep working; "
                                    "`strength`, `form`, `duration_value` and `duration_unit` are EMRS additions. "
                                    "A wrong field is a 400 whose `errors` name it (`prescription[0].dosage` …).")
    rx_lines = {"type": "array", "maxItems": rx.MAX_LINES, "items": ref("PrescriptionLineInput")}
    rx_extras = {"follow_up_date": null(DATE), "advice": null({"type": "string", "maxLength": rx.MAX_ADVICE}),
                 "override_reason": {**null({"type": "string", "maxLength": 1000}),
                                     "description": "Required (≥ 5 characters) when a high or moderate "
                                                    "drug-safety warning applies (else 400 OVERRIDE_REQUIRED)."},
                 "version": {"type": "integer", "minimum": 1,
                             "description": "The version you read: a stale one is a 409."},
                 "change_reason": {**null({"type": "string", "maxLength": 1000}),
                                   "description": "Why this new version (≥ 5 characters): required when the current "
                                                  "version was signed by someone else. The old version is kept."}}
    rx_input = obj({"patient_id": ID, "clinical_proforma_id": ID, "prescription": rx_lines,
                    "prescriptions": {**rx_lines, "description": "Alias of prescription."}, **rx_extras},
                   required=("clinical_proforma_id",))
    rx_update = obj({"patient_id": ID, "prescription": rx_lines,
                     "prescriptions": {**rx_lines, "description": "Alias of prescription."}, **rx_extras},
                    required=(), description="Full replacement of the lines (`prescription` or `prescriptions`).")

    proforma_fields = {}
    for name in clinical.FIELDS:
        if name in ("visit_date", "workup_appointment"):
            proforma_fields[name] = null(DATE)
        elif name in clinical.CHOICES:
            proforma_fields[name] = null({"type": "string", "enum": list(clinical.CHOICES[name])})
        elif name == "informant_present":
            proforma_fields[name] = null(BOOL)
        elif name == "assigned_doctor":
            proforma_fields[name] = {**null(ID), "description": "A Faculty member or Resident."}
        elif name == "room_no":
            proforma_fields[name] = null({"type": "string", "maxLength": 10})
        elif name in clinical.MULTI:
            proforma_fields[name] = {"anyOf": [{"type": "string", "maxLength": clinical.MAX_TEXT},
                                               {"type": "array", "items": {"type": "string", "minLength": 1}},
                                               {"type": "null"}],
                                     "description": "Labels of the option group, joined with commas or as a list."}
        elif name == "icd_code":
            proforma_fields[name] = {**null(STR), "description": (
                "ICD-11 (6A70.1) or ICD-10 (F32.1) code. The system, the title and `icd_version` (the ICD-11 "
                "MMS release, `local`, or the ICD-10 edition 2019) are set from the classification; a "
                "well-formed ICD-11 code not in the loaded release is accepted with `icd_version` null.")}
        else:
            proforma_fields[name] = null({"type": "string", "maxLength": clinical.MAX_TEXT})
    proforma_extras = {"prescriptions": {**rx_lines, "description": "Medication lines saved as the proforma's "
                                                                    "prescription."},
                       "adl_no": {**STR, "description": "ADL number for a new intake record (complex case)."}}
    proforma_input = {"allOf": [obj({"patient_id": ID, **proforma_fields, **proforma_extras},
                                    required=("patient_id", "visit_date")), ref("IntakeWorkup")],
                      "description": "Proforma fields; for a complex case any intake-record work-up field may be "
                                     "sent flat in the same body."}
    proforma_update = {"allOf": [obj({**proforma_fields, **proforma_extras,
                                      "version": {"type": "integer", "minimum": 1,
                                                  "description": "The version you read: a stale one is a 409."},
                                      "change_reason": {**null({"type": "string", "maxLength": 1000}),
                                                        "description": "Why (≥ 5 characters): required when "
                                                                       "someone else wrote the current version."}},
                                     required=()), ref("IntakeWorkup")],
                       "description": "Any proforma field; a complex case cannot become simple. Every save keeps "
                                      "the version it replaces (GET …/versions)."}
    password = {"type": "string", "minLength": 1, "maxLength": 256}
    user_fields = {"name": {"type": "string", "minLength": 2, "maxLength": 255},
                   "email": {"type": "string", "format": "email", "maxLength": 255},
                   "role": {"type": "string", "enum": list(ROLES)},
                   "mobile": null({"type": "string", "pattern": r"^\+?[0-9]{10,14}$"}),
                   "designation": null({"type": "string", "maxLength": 100})}

    return {
        "Envelope": obj({"success": {"const": True}, "message": STR, "data": {}}, required=("success",),
                        description="Every success answer: `message` on most writes, `data` on most reads."),
        "Error": obj({"success": {"const": False}, "message": STR, "errors": arr("FieldError"),
                      "code": {**STR, "description": "Machine-readable reason, e.g. SESSION_EXPIRED, STALE, "
                                                     "OVERRIDE_REQUIRED."}},
                     required=("success", "message"),
                     description="Every error answer. `errors` lists per-field problems of a 400."),
        "FieldError": obj({"type": {"const": "field"}, "value": {}, "msg": STR, "path": STR,
                           "location": {"type": "string", "enum": ["body", "query", "params"]}}),
        "Pagination": obj({"page": {"type": "integer", "minimum": 1}, "limit": {"type": "integer", "minimum": 1},
                           "total": {"type": "integer", "minimum": 0}, "pages": {"type": "integer", "minimum": 0},
                           "estimated": {**BOOL, "description": "Present and true when `total` is the "
                                                                "planner's estimate (beyond 10,000 matches)."}},
                          required=("page", "limit", "total", "pages"),
                          description="Placed inside `data` next to the list."),
        "User": user,
        "Tokens": obj({"user": ref("User"), "accessToken": {**STR, "description": "Bearer JWT."},
                       "expiresIn": {**INT, "description": "Seconds."}},
                      description="Login complete: the refresh token is set as the HttpOnly cookie "
                                  f"`{COOKIE}`."),
        "LoginChallenge": obj({"user_id": INT, "email": STR, "method": {"type": "string", "enum": ["email", "totp"]},
                               "expires_in": {**INT, "description": "Seconds the code is valid."},
                               "login_token": {**STR, "description": "This pending login's token (also set as "
                                               "the HttpOnly cookie `loginToken`, path /api/users): send it "
                                               "with the code. Valid PENDING_LOGIN_SECONDS."}},
                              description="Password accepted; the second factor is needed."),
        "Patient": patient,
        "PatientCard": pick(patient, CARD_KEYS),
        "OutPatientRecord": pick(patient, RECORD_KEYS),
        "PatientInput": patient_input,
        "PatientUpdate": patient_update,
        "PatientCardInput": card_input,
        "PatientCardUpdate": card_update,
        "OutPatientRecordUpdate": record_update,
        "Visit": visit,
        "VisitWithDoctor": visit_with_doctor,
        "VisitSummary": pick(visit, VISIT_SUMMARY_KEYS),
        "VisitCount": obj({"visit_count": INT, "visits": arr("VisitSummary"), "next_visit_number": INT}),
        "PatientFile": obj({"id": INT, "path": STR, "name": STR, "mime_type": STR, "size_bytes": INT,
                            "sha256": STR, "uploaded_by": null(INT), "created_at": DATETIME},
                           description="One stored attachment; `path` is its authorised download route."),
        "PatientFileRecord": obj({"id": INT, "patient_id": INT, "attachment": arr(STR),
                                  "role": arr(obj({"id": INT})), "created_at": DATETIME, "updated_at": DATETIME},
                                 description="The contract's one-record-per-patient view of the files."),
        "Proforma": proforma,
        "ProformaRow": proforma_row,
        "ProformaWithDoctor": proforma_with_doctor,
        "ProformaInput": proforma_input,
        "ProformaUpdate": proforma_update,
        "PrescriptionBlock": obj({"count": INT, "prescriptions": arr("Prescription")}),
        "ClinicalOptionGroup": obj({"group": STR, "options": arr(STR),
                                    "optionsWithMeta": arr(obj({"id": INT, "label": STR, "is_system": BOOL})),
                                    "option": obj({"id": INT, "label": STR, "is_system": BOOL})},
                                   required=("group", "options", "optionsWithMeta")),
        "IntakeRecord": record,
        "IntakeRecordRow": record_row,
        "IntakeRecordWithCreator": record_with_creator,
        "IntakeWorkup": obj(workup, required=(), description="The work-up fields of an intake record, by "
                                                             "section of the paper form (all optional)."),
        "IntakeRecordInput": intake_input,
        "IntakeRecordUpdate": intake_update,
        "FileMovement": movement,
        "Prescription": prescription,
        "PrescriptionLine": line,
        "PrescriptionLineInput": rx_line_input,
        "PrescriptionInput": rx_input,
        "PrescriptionUpdate": rx_update,
        "SafetyWarning": warning,
        "Medicine": medicine,
        "IcdResult": obj({
            "code": STR, "title": STR, "system": {"type": "string", "enum": ["ICD-11", "ICD-10"]},
            "chapter": {**STR, "description": "ICD-11: 06, 07, 17, V …; ICD-10: a Roman numeral (V = mental)."},
            "version": {**STR, "description": "What a proforma coded with it stores as `icd_version`: the ICD-11 "
                                              "MMS release (2026-01), `local` for a hospital addition, or the "
                                              "ICD-10 edition (2019)."},
            "release": {**null(STR), "description": "ICD-11 only: the MMS release (null for a local addition)."},
            "source": {"type": "string", "enum": ["who", "local"], "description": "ICD-11 only."},
            "id": {**INT, "description": "ICD-11 only: the entry's id in /api/icd11/entities."}},
            required=("code", "title", "system", "chapter", "version"),
            description="One picker result: ICD-11 entries of the loaded tree first, then ICD-10."),
        "Icd11Entity": obj({
            "id": INT, "parent_id": null(INT), "code": {**null(STR), "description": "Null for chapters and blocks."},
            "block_id": null(STR), "title": STR,
            "class_kind": {"type": "string", "enum": ["chapter", "block", "category", "local"]},
            "chapter_no": STR, "depth": INT, "is_residual": BOOL, "is_leaf": null(BOOL),
            "foundation_uri": null(STR), "release": {**null(STR), "description": "Null for a local addition."},
            "source": {"type": "string", "enum": ["who", "local"]}, "is_active": BOOL,
            "version": STR, "added_by": null(INT), "added_at": null(DATETIME),
            "children": {**INT, "description": "Active entries under this one."}},
            required=("id", "title", "class_kind", "chapter_no", "source", "is_active"),
            description="One node of the ICD-11 tree: WHO's (from the loaded release file, never edited here) "
                        "or the hospital's local addition."),
        "MedicineEntry": obj({"label": STR, "medicine": {**STR, "description": "The text written into a line."},
                              "generic": STR, "brand": null(STR), "strengths": arr(STR),
                              "forms": {**arr(STR), "description": "The medicine's forms, the usual one first."},
                              "drug_class": null(STR)},
                             description="A medicine picker entry: a generic, one of its other names or one of its "
                                         "brands."),
        "UserInput": obj({**user_fields, "password": {**password, "description": "≥ 8 characters with a letter "
                                                                                 "and a digit."},
                          "two_factor_enabled": BOOL}, required=("name", "email", "role", "password")),
        "UserUpdate": obj(user_fields, required=()),
        "ProfileUpdate": obj({**{k: user_fields[k] for k in ("name", "email", "mobile", "designation")},
                              "name": {**user_fields["name"], "description": (
                                  "Accepted only unchanged: the registered name is printed as the prescriber and "
                                  "only an Admin changes it (PUT /api/users/{id}); any other value is a 400.")},
                              "designation": {**user_fields["designation"], "description": (
                                  "Accepted only unchanged: printed under the prescriber's name; only an Admin "
                                  "changes it.")}},
                             required=()),
    }


def _patient_field_input(f) -> dict:
    """JSON schema of one card/record field from its row in patients/fields.py."""
    if f.kind == "int":
        s = {"type": "integer", "minimum": f.min, "maximum": f.max}
    elif f.kind == "money":
        s = {"type": "number", "minimum": 0, "exclusiveMaximum": 1e13}
    elif f.kind == "date":
        s = {"type": "string", "format": "date"}
    elif f.kind == "choice":
        s = {"type": "string", "enum": [code for code, _ in f.choices]}
    elif f.kind == "pin":
        s = {"type": "string", "pattern": r"^\d{6}$"}
    elif f.kind == "mobile":
        s = {"type": "string", "pattern": r"^\+?[0-9][0-9 -]{8,18}[0-9]$"}
    elif f.kind == "identifier":  # CR / PSY numbers (emrs/safetext.py)
        s = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9/-]{0,49}$", "maxLength": 50}
    else:  # text, code_or_text
        s = {"type": "string"}
        if f.max_len:
            s["maxLength"] = f.max_len
    s = {k: v for k, v in s.items() if v is not None}
    text = f.label
    if f.kind == "code_or_text":
        text += ". One of " + ", ".join(code for code, _ in f.choices) + ", or free text"
    s["description"] = text + "."
    return s if f.required else null(s)


# ============================================================================ responses

ERRORS = {
    400: ("BadRequest", "Validation failed or a business rule refused the request; nothing changed.",
          {"success": False, "message": "Validation failed",
           "errors": [{"type": "field", "value": "abc", "msg": "Valid integer ID is required", "path": "id",
                       "location": "params"}]}),
    401: ("Unauthorized", "No, an invalid or an expired access token (or refresh cookie).",
          {"success": False, "message": "Access token required"}),
    403: ("Forbidden", "Your role may not do this, or the record is not yours to change.",
          {"success": False, "message": "Access denied. Required roles: Admin. Your role: Resident"}),
    404: ("NotFound", "No such record.", {"success": False, "message": "Patient not found"}),
    409: ("Conflict", "A duplicate, or the record changed since you read it (code STALE); on a POST with an "
                      "Idempotency-Key: a request with this key was received before and its result is not "
                      "known (still running, committed and answered 5xx, or an answer over 1 MB) — look the "
                      "record up before sending it again.",
          {"success": False, "message": "CR number is already registered"}),
    413: ("PayloadTooLarge", "The request body is larger than the limit.",
          {"success": False, "message": "Request body too large"}),
    422: ("UnprocessableEntity", "The Idempotency-Key was already used (by you, in the last 24 hours) for a "
                                 "different request (method, path, query or body); nothing changed.",
          {"success": False, "message": "Idempotency-Key was already used for a different request"}),
    423: ("Locked", "Too many failed logins: the account is locked for a while.",
          {"success": False, "message": "Account locked. Try again in 15 minutes."}),
    429: ("TooManyRequests", "Rate limited; see Retry-After.",
          {"success": False, "message": "Too many requests. Please wait a moment and try again."}),
}


def _error_responses() -> dict:
    out = {}
    for status, (name, text, example) in ERRORS.items():
        resp = {"description": text, "content": {"application/json": {"schema": ref("Error"), "example": example}}}
        if status == 429:
            resp["headers"] = {"Retry-After": {"schema": INT, "description": "Seconds to wait."}}
        out[name] = resp
    return out


def success(data: dict | None = None, *, message: bool = False, extra: dict | None = None) -> dict:
    """The success envelope around ``data``."""
    props = {"success": {"const": True}}
    required = ["success"]
    if message:
        props["message"] = STR
        required.append("message")
    if data is not None:
        props["data"] = data
        required.append("data")
    for k, v in (extra or {}).items():
        props[k] = v
        required.append(k)
    return {"type": "object", "properties": props, "required": required}


# ============================================================================ the operations table

@dataclass(frozen=True)
class Op:
    """What one endpoint means. ``data``: schema of the success envelope's ``data`` (None =
    no data); ``errors``: error statuses beyond those derived from the route (401/403 from
    the permission map, 400/404 for id path parameters, 400/413 for a body)."""
    tag: str
    summary: str
    data: dict | None = None
    status: int = 200
    also: tuple = ()  # other success statuses with the same body
    message: str | None = None
    params: tuple = ()
    body: str | dict | None = None
    body_required: bool = True
    multipart: dict | None = None
    errors: tuple = ()
    extra: dict | None = None
    description: str = ""
    security: str | None = None
    content: dict | None = None
    example: dict | None = None
    response_example: dict | None = None
    limited: bool = False


def _list_of(key: str, item: str) -> dict:
    return obj({key: arr(item), "pagination": ref("Pagination")})


PATIENT = obj({"patient": ref("Patient")})
PROFORMA_LIST = _list_of("proformas", "Proforma")
INTAKE_FILE = obj({"adlFile": ref("IntakeRecord")})
RX = obj({"prescription": ref("Prescription")})
USER = obj({"user": ref("User")})
FILES_AND_RECORD = obj({"files": arr(STR), "record": null(ref("PatientFileRecord"))})
OPTIONAL_NOTE = obj({"notes": null({"type": "string", "maxLength": 1000}),
                     "note": {**null(STR), "description": "Alias of notes."}}, required=())
LABEL_BODY = obj({"label": {"type": "string", "minLength": 1, "maxLength": 255}}, required=("label",))


def _files_multipart(with_patient: bool = False, removals: bool = False) -> dict:
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    props = {"files": {"type": "array", "items": binary, "maxItems": 20,
                       "description": "Files (max 10 MB each, 20 per request; JPEG, PNG, GIF, WebP, PDF, DOC, "
                                      "DOCX, TXT — the type is checked from the content)."},
             "attachments[]": {"type": "array", "items": binary, "description": "Same as files."}}
    required = []
    if with_patient:
        props = {"patient_id": {"type": "string", "pattern": r"^\d{1,9}$"}, **props}
        required.append("patient_id")
    if removals:
        props["files_to_remove"] = {"type": "array", "items": STR,
                                    "description": "Paths to remove (repeated field, or one JSON array string)."}
    return {"type": "object", "properties": props, "required": required}


def _intake_ops(kind: str) -> dict:
    """The intake-record operations; the same under both prefixes (api/intake.py)."""
    legacy = kind == "adl"
    tag = "Intake records (legacy /api/adl-files)" if legacy else "Intake records"
    say = (lambda s: s + " (legacy path)") if legacy else (lambda s: s)
    from ..intake.models import INTAKE_FILE_STATUSES
    return {
        "list": Op(tag, say("List intake records"), _list_of("files", "IntakeRecord"), params=(
            *page_params(),
            query("file_status", {"type": "string", "enum": list(INTAKE_FILE_STATUSES)}, "File status."),
            query("is_active", {"type": "string", "enum": ["true", "false"]}, "Active or not."),
            query("created_by", ID, "Creator (user id)."),
            query("last_accessed_by", ID, "Last accessed by (user id)."),
            *DATE_RANGE,
            query("include_all", {"type": "string", "enum": ["true", "false"]},
                  "true: every record; otherwise only those linked to a complex-case proforma.")),
            description="Newest first; the date range is on file_created_date."),
        "create": Op(tag, say("Create (or update) the patient's intake record"), obj({"adl_file": ref("IntakeRecord")}),
                     status=201, also=(200,), message="ADL file created successfully", body="IntakeRecordInput",
                     errors=(404,),
                     description="201 when created; 200 \"ADL file updated successfully\" when the patient "
                                 "already had one (one record per patient)."),
        "stats": Op(tag, say("Intake record statistics"), obj({"stats": obj({
            k: INT for k in ("total_files", "created_files", "stored_files", "retrieved_files", "archived_files",
                             "active_files", "inactive_files")} | {"avg_visits_per_file": NUM})})),
        "status_stats": Op(tag, say("Counts by file status"), obj({"statusStats": arr(obj({
            "file_status": {"type": "string", "enum": list(INTAKE_FILE_STATUSES)}, "count": INT}))})),
        "active": Op(tag, say("Files out of the record room"), obj({"activeFiles": arr({"allOf": [
            ref("IntakeRecord"), obj({"with_whom": null(STR), "retrieved_at": null(DATETIME)})]})})),
        "to_retrieve": Op(tag, say("Stored active files (to retrieve)"), obj({"filesToRetrieve": arr("IntakeRecord")})),
        "bulk_retrieve": Op(tag, say("Retrieve several files"), obj({"retrieved": arr("IntakeRecord"),
                                                                     "errors": arr(STR)}),
                            message="Retrieved 1 files successfully",
                            body=obj({"file_ids": {"type": "array", "minItems": 1, "items": ID}})),
        "bulk_return": Op(tag, say("Return several files to storage"), obj({"returned": arr("IntakeRecord"),
                                                                           "errors": arr(STR)}),
                          message="Returned 1 files successfully",
                          body=obj({"file_ids": {"type": "array", "minItems": 1, "items": ID}})),
        "by_patient": Op(tag, say("A patient's intake record"), obj({"adlFiles": arr("IntakeRecord")})),
        "by_adl_no": Op(tag, say("Intake record by ADL number"), INTAKE_FILE, errors=(404,)),
        "get": Op(tag, say("One intake record"), INTAKE_FILE),
        "update": Op(tag, say("Update the work-up or file fields"), INTAKE_FILE,
                     message="ADL file updated successfully", body="IntakeRecordUpdate", errors=(409,)),
        "delete": Op(tag, say("Archive an intake record"), message="ADL file deleted successfully",
                     description="Soft delete: the file is archived and made inactive."),
        "retrieve": Op(tag, say("Retrieve the file from the record room"), INTAKE_FILE,
                       message="ADL file retrieved successfully", body=OPTIONAL_NOTE, body_required=False),
        "return": Op(tag, say("Return the file to the record room"), INTAKE_FILE,
                     message="ADL file returned to storage successfully", body=OPTIONAL_NOTE, body_required=False),
        "archive": Op(tag, say("Archive the file"), INTAKE_FILE, message="ADL file archived successfully",
                      body=OPTIONAL_NOTE, body_required=False),
        "movement_history": Op(tag, say("Movements of the physical file"),
                               obj({"adlFile": ref("IntakeRecord"), "movementHistory": arr("FileMovement")})),
    }


def _option_ops(kind: str) -> dict:
    legacy = kind == "proforma_options"
    tag = "Clinical options"
    say = (lambda s: s + " (original path)") if legacy else (lambda s: s)
    return {
        "all": Op(tag, say("Every option group with its labels"),
                  {"type": "object", "additionalProperties": arr(STR)}),
        "get": Op(tag, say("One option group"), ref("ClinicalOptionGroup"),
                  description="An unknown group answers an empty list."),
        "add": Op(tag, say("Add a label to a group"), ref("ClinicalOptionGroup"), status=201,
                  message="Option added", body=LABEL_BODY, body_required=False,
                  description="201 with the unchanged list (message \"Option already exists\") when the label "
                              "is already there."),
        "delete": Op(tag, say("Remove a label from a group"), ref("ClinicalOptionGroup"), message="Option deleted",
                     body=obj({"label": STR, "id": {"anyOf": [ID, {"type": "string", "pattern": r"^\d{1,9}$"}]}},
                              required=()), body_required=False, errors=(404,),
                     description="By `id` or `label`; seeded (system) options cannot be removed (403)."),
    }


def _operations() -> dict[str, Op]:
    files_create = obj({"files": arr(STR), "record": null(ref("PatientFileRecord")),
                        "file_details": arr("PatientFile")})
    tokens_example = {"success": True, "message": "Login successful",
                      "data": {"user": {"id": 2, "name": "Dr. Meera Sharma", "role": "Faculty",
                                        "mobile": None, "email": "faculty@emrs.local", "designation": None,
                                        "two_factor_enabled": True, "totp_enabled": False, "is_active": True,
                                        "last_login": "2025-01-06T04:30:00+00:00",
                                        "created_at": "2025-01-01T04:30:00+00:00"},
                               "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…", "expiresIn": 300}}
    ops = {
        # ---------------------------------------------------------------- meta
        "index": Op("Meta", "API index", extra={
            "version": STR, "documentation": STR, "health": STR,
            "endpoints": {"type": "object", "additionalProperties": STR}}, message="Welcome to EMRS PGIMER API"),
        "openapi": Op("Meta", "This OpenAPI document", content={"application/json": {"schema": {"type": "object"}}}),
        "docs": Op("Meta", "Offline API documentation (Swagger UI)", content={"text/html": {"schema": STR}}),
        # ---------------------------------------------------------------- session
        "session_refresh": Op("Session", "New access token from the refresh cookie",
                              obj({"accessToken": STR, "expiresIn": INT}), security="cookie", errors=(401,),
                              description="Rotates the refresh token (a new cookie is set). A rotated token "
                                          "presented again revokes the whole session. 401 with code "
                                          "SESSION_EXPIRED after inactivity."),
        "session_activity": Op("Session", "Record activity (keeps the session alive)", message="Activity updated",
                               security="cookie", errors=(401,)),
        "session_info": Op("Session", "The current session", obj({
            "lastActivity": DATETIME, "sessionExpiresAt": DATETIME, "secondsUntilExpiry": INT,
            "deviceInfo": null(STR)})),
        "session_logout": Op("Session", "Log out", message="Logged out successfully",
                             description="Revokes the session (its access tokens stop working at once) and "
                                         "clears the refresh cookie."),
        # ---------------------------------------------------------------- users: login and account
        "users_login": Op("Users", "Log in with e-mail and password",
                          {"anyOf": [ref("Tokens"), ref("LoginChallenge")]}, message="OTP sent to your email. "
                          "Please check your inbox.",
                          body=obj({"email": {"type": "string", "maxLength": 255},
                                    "password": {"type": "string", "maxLength": 256}}),
                          errors=(401, 423), limited=True,
                          example={"email": "faculty@emrs.local", "password": "Demo@2025"},
                          response_example={"success": True, "message": "OTP sent to your email. Please check "
                                                                        "your inbox.",
                                            "data": {"user_id": 2, "email": "faculty@emrs.local", "method": "email",
                                                     "expires_in": 300}},
                          description="With a second factor (the default) the answer is a LoginChallenge: send "
                                      "the e-mailed code to verify-login-otp. Without one it is the login-complete "
                                      f"body (Tokens) and the refresh cookie `{COOKIE}` is set."),
        "users_verify_login_otp": Op("Users", "Complete the login with the one-time code", ref("Tokens"),
                                     message="Login successful",
                                     body=obj({"user_id": ID, "login_token": STR, "otp": {"anyOf": [
                                         {"type": "string", "pattern": r"^\d{6}$"},
                                         {"type": "integer", "minimum": 0, "maximum": 999999}]}}),
                                     errors=(401,), limited=True, example={"user_id": 2, "otp": "123456"},
                                     response_example=tokens_example,
                                     description=f"Sets the HttpOnly refresh cookie `{COOKIE}`. A code is "
                                                 "accepted only inside the pending login a correct password opened "
                                                 "(its `login_token`, the `loginToken` cookie, or else the newest one "
                                                 "of `user_id` opened from the same address); codes and authenticator "
                                                 "time-steps are single use; 5 wrong codes close the pending login. "
                                                 "Every refusal is the same 401."),
        "users_resend_login_otp": Op("Users", "Send a new login code", obj({"user_id": INT, "expires_in": INT}),
                                     message="A new OTP was sent to your email.",
                                     body=obj({"user_id": ID, "login_token": STR}),
                                     errors=(401,), limited=True,
                                     description="Only from the pending login itself: its `login_token` in the body "
                                                 "or the `loginToken` cookie. A bare `{user_id}` is refused (401)."),
        "users_forgot_password": Op("Users", "Start a password reset", obj({"token": STR, "expires_at": DATETIME}),
                                    message="If an account with this email exists, a password reset OTP has been "
                                            "sent.", body=obj({"email": STR}), limited=True,
                                    description="The same answer for any e-mail (does not reveal who has an "
                                                "account)."),
        "users_verify_otp": Op("Users", "Verify the password-reset code",
                               obj({"token": STR, "user": obj({"name": STR, "email": STR})}),
                               message="OTP verified successfully", body=obj({"token": STR, "otp": STR}),
                               limited=True),
        "users_reset_password": Op("Users", "Set a new password after verify-otp",
                                   message="Password reset successfully. You can now log in with your new password.",
                                   body=obj({"token": STR, "newPassword": STR}), errors=(404,), limited=True),
        "users_profile": Op("Users", "My profile", USER),
        "users_profile_update": Op("Users", "Update my profile", USER, message="Profile updated successfully",
                                   body="ProfileUpdate",
                                   errors=(409,)),
        "users_change_password": Op("Users", "Change my password", message="Password changed successfully",
                                    body=obj({"currentPassword": STR, "newPassword": STR}),
                                    description="Other sessions of the account are ended."),
        "users_enable_2fa": Op("Users", "Turn the e-mailed login code on",
                               obj({"two_factor_enabled": {"const": True}}),
                               message="Two-factor authentication enabled", errors=(400,)),
        "users_disable_2fa": Op("Users", "Turn the e-mailed login code off (Admin)",
                                obj({"two_factor_enabled": {"const": False}}),
                                message="Two-factor authentication disabled", errors=(400, 403),
                                body=obj({"currentPassword": STR}),
                                description="Needs the caller's current password (`currentPassword`): a "
                                            "stolen access token alone cannot remove the second factor."),
        "users_doctors": Op("Users", "Doctors (Faculty and Residents)", _list_of("users", "User"),
                            params=page_params(100)),
        # ---------------------------------------------------------------- users: administration
        "users_register": Op("Users", "Create a user", USER, status=201, message="User registered successfully",
                             body="UserInput", errors=(409,)),
        "users_list": Op("Users", "List users", _list_of("users", "User"), params=(
            *page_params(), query("role", STR, "Only this role (e.g. Faculty)."))),
        "users_stats": Op("Users", "Users per role", obj({"stats": arr(obj({"role": STR, "count": INT}))})),
        "users_get": Op("Users", "One user", USER),
        "users_update": Op("Users", "Update a user", USER, message="User updated successfully", body="UserUpdate",
                           errors=(409,)),
        "users_activate": Op("Users", "Activate a user", USER, message="User activated successfully"),
        "users_deactivate": Op("Users", "Deactivate a user", USER, message="User deactivated successfully",
                               description="Ends the user's sessions. Not your own account (400)."),
        "users_unlock": Op("Users", "Unlock a locked account",
                           obj({"user": ref("User"), "was_locked_until": null(DATETIME)}),
                           message="User unlocked successfully",
                           description="EMRS addition. Clears the lock that wrong passwords or wrong login codes "
                                       "put on the account (`was_locked_until`: when it would have opened, UTC; "
                                       "null and the message `User was not locked` when it was not locked). "
                                       "Audited as `account_unlock`."),
        "users_delete": Op("Users", "Delete (deactivate) a user",
                           obj({"user": ref("User"), "deactivated": {"const": True}}),
                           message="User deleted successfully",
                           description="Deliberate difference: the account is deactivated, not removed."),
        # ---------------------------------------------------------------- patients
        "patients_stats": Op("Patients", "Patient statistics", obj({"stats": obj({k: INT for k in (
            "total_patients", "male_patients", "female_patients", "other_patients", "patients_with_adl",
            "complex_cases", "simple_cases")})})),
        "patients_age_distribution": Op("Patients", "Patients per age group", obj({"distribution": arr(obj({
            "age_group": {"type": "string", "enum": ["Under 18", "18-25", "26-35", "36-45", "46-55", "56-65",
                                                     "65+"]}, "count": INT}))})),
        "patients_list": Op("Patients", "List or search patients", _list_of("patients", "Patient"), params=(
            *page_params(10, cap=100),
            query("search", {"type": "string", "maxLength": 100},
                  "Search term (≥ 2 characters): CR/PSY/ADL number, mobile or name (typo-tolerant)."),
            *_patient_filters(),
            query("id", ID, "Only this patient (404 when there is none).")), errors=(404,),
            response_example={"success": True, "data": {"patients": [], "pagination": {
                "page": 1, "limit": 10, "total": 0, "pages": 0}}},
            description="Newest first, or ranked when searching. Totals are exact up to 10,000 matches; beyond "
                        "that `pagination.estimated` is true."),
        "patients_search": Op("Patients", "Search patients", _list_of("patients", "Patient"), params=(
            query("q", {"type": "string", "minLength": 2, "maxLength": 100},
                  "CR/PSY/ADL number, mobile or name; at least 2 characters.", required=True),
            *page_params(10, cap=100), *_patient_filters())),
        "patients_create": Op("Patients", "Register a patient (quick) or open a visit for one",
                              {"anyOf": [PATIENT, obj({"patient": ref("Patient"), "visit": ref("Visit"),
                                                       "visit_count": INT,
                                                       "visit_type": {"type": "string",
                                                                      "enum": ["first_visit", "follow_up"]}})]},
                              status=201, message="Patient registered successfully",
                              body={"anyOf": [
                                  obj({"name": {"type": "string", "minLength": 2, "maxLength": 255},
                                       "sex": null({"type": "string", "enum": ["M", "F", "Other"]}),
                                       "age": null({"type": "integer", "minimum": 0, "maximum": 150}),
                                       "cr_no": null({"type": "string", "maxLength": 50}),
                                       "psy_no": null({"type": "string", "maxLength": 50}),
                                       "contact_number": null({"type": "string",
                                                               "pattern": r"^\+?[0-9][0-9 -]{8,18}[0-9]$"}),
                                       "assigned_room": null({"type": "string", "maxLength": 20})},
                                      required=("name",)),
                                  obj({"patient_id": ID})]},
                              errors=(404, 409), example={"name": "Gurpreet Singh", "sex": "M", "age": 34},
                              description="New patient: CR number generated when absent. With `patient_id`: a new "
                                          "visit for that patient (message \"Visit record created successfully\")."),
        "patients_register_complete": Op("Patients", "Register a patient with card and record fields", PATIENT,
                                         status=201,
                                         message="Patient registered successfully with complete information",
                                         body="PatientInput", errors=(409,),
                                         description="`date` (registration), `seen_in_walk_in_on` and "
                                                     "`worked_up_on` are never after today (IST); an income not "
                                                     "sent stays null (unknown), not 0.",
                                         example={"name": "Harjit Kaur", "sex": "F", "age": 52, "category": "GEN",
                                                  "contact_number": "9876543210", "city": "Mohali",
                                                  "marital_status": "married"}),
        "patients_get": Op("Patients", "One patient", PATIENT),
        "patients_update": Op("Patients", "Update a patient (JSON, or multipart with files)", PATIENT,
                              message="Patient updated successfully", body="PatientUpdate",
                              multipart=_files_multipart(removals=True), errors=(403, 409)),
        "patients_delete": Op("Patients", "Archive a patient (Admin)", message="Patient and all related records "
                              "deleted successfully", extra={
                                  "deletedPatientId": STR,
                                  "deleted": obj({"patient": {"const": True}, "clinicalProformas": INT,
                                                  "adlFiles": INT}),
                                  "archived": {"const": True}},
                              description="Deliberate difference: the patient is archived, not deleted."),
        "patients_profile": Op("Patients", "Patient with visits, proformas and intake record", obj({
            "patient": ref("Patient"), "visitHistory": arr("VisitWithDoctor"),
            "clinicalRecords": arr("ProformaWithDoctor"), "adlFiles": arr("IntakeRecordWithCreator")})),
        "patients_visits": Op("Patients", "Visit history", obj({"patient": ref("Patient"),
                                                               "visitHistory": arr("VisitWithDoctor")})),
        "patients_visits_count": Op("Patients", "Visit count", ref("VisitCount")),
        "patients_visits_complete": Op("Patients", "Mark a visit completed", obj({"visit": ref("Visit")}),
                                       message="Visit marked as completed successfully",
                                       body=obj({"visit_date": null(DATE)}, required=()), body_required=False,
                                       description="The visit of `visit_date` (default today, IST)."),
        "patients_clinical_records": Op("Patients", "The patient's proformas", obj({
            "patient": ref("Patient"), "clinicalRecords": arr("ProformaWithDoctor")})),
        "patients_adl_files": Op("Patients", "The patient's intake records", obj({
            "patient": ref("Patient"), "adlFiles": arr("IntakeRecordWithCreator")})),
        "patients_assign": Op("Patients", "Assign a patient to a doctor and room", obj({"assignment": ref("Visit")}),
                              status=201, message="Patient assigned successfully",
                              body=obj({"patient_id": ID, "assigned_doctor_id": ID,
                                        "room_no": null({"type": "string", "maxLength": 20}),
                                        "visit_date": null(DATE), "notes": null({"type": "string",
                                                                                 "maxLength": 1000})},
                                       required=("patient_id", "assigned_doctor_id")), errors=(404,)),
        "patients_by_cr": Op("Patients", "Patient by CR number", PATIENT, errors=(404,),
                             description="404 means the CR number is free."),
        "patients_by_psy": Op("Patients", "Patient by PSY number", PATIENT, errors=(404,)),
        "patients_by_adl": Op("Patients", "Patient by ADL number", PATIENT, errors=(404,)),
        # ---------------------------------------------------------------- visits (spec "sessions")
        "sessions_create": Op("Visits", "Create a visit", obj({"visit": ref("Visit")}), status=201,
                              message="Visit created successfully",
                              body=obj({"patient_id": ID, "assigned_doctor_id": null(ID),
                                        "room_no": null({"type": "string", "maxLength": 20}),
                                        "visit_date": null(DATE),
                                        "visit_type": null({"type": "string", "enum": ["first_visit", "follow_up"]}),
                                        "notes": null({"type": "string", "maxLength": 1000})},
                                       required=("patient_id",)), errors=(404,)),
        "sessions_by_patient": Op("Visits", "A patient's visits", ref("VisitCount")),
        "sessions_complete": Op("Visits", "Mark a visit completed", obj({"visit": ref("Visit")}),
                                message="Visit marked as completed successfully",
                                body=obj({"visit_date": null(DATE)}, required=()), body_required=False),
        # ---------------------------------------------------------------- card / record views
        "patient_cards_list": Op("Patient cards", "List patient cards", _list_of("patient_cards", "PatientCard"),
                                 params=(*page_params(10, cap=100),
                                         query("search", {"type": "string", "maxLength": 100}, "Search term."),
                                         *_patient_filters(), query("id", ID, "Only this patient.")), errors=(404,)),
        "patient_cards_create": Op("Patient cards", "Create a patient card", obj({"patient_card": ref("PatientCard")}),
                                   status=201, message="Patient card created successfully", body="PatientCardInput",
                                   errors=(409,)),
        "patient_cards_get": Op("Patient cards", "One patient card", obj({"patient_card": ref("PatientCard")})),
        "patient_cards_update": Op("Patient cards", "Update a patient card", obj({"patient_card": ref("PatientCard")}),
                                   message="Patient card updated successfully", body="PatientCardUpdate",
                                   errors=(409,)),
        "out_patient_records_list": Op("Out-patient records", "List out-patient records",
                                       _list_of("out_patient_records", "OutPatientRecord"),
                                       params=(*page_params(10, cap=100),
                                               query("search", {"type": "string", "maxLength": 100}, "Search term."),
                                               *_patient_filters(), query("id", ID, "Only this patient.")),
                                       errors=(404,)),
        "out_patient_records_get": Op("Out-patient records", "One out-patient record",
                                      obj({"out_patient_record": ref("OutPatientRecord")})),
        "out_patient_records_update": Op("Out-patient records", "Update an out-patient record",
                                         obj({"out_patient_record": ref("OutPatientRecord")}),
                                         message="Out-patient record updated successfully",
                                         body="OutPatientRecordUpdate", errors=(409,)),
        # ---------------------------------------------------------------- patient files
        "patient_files_stats": Op("Patient files", "File statistics", obj({"stats": obj({k: INT for k in (
            "total_records", "patients_with_files", "total_files", "files_this_month", "files_this_week")})})),
        "patient_files_download": Op("Patient files", "Download a stored file",
                                     content={"application/octet-stream": {"schema": {
                                         "type": "string", "contentMediaType": "application/octet-stream"}}},
                                     description="Images inline, other types as attachments; the Content-Type is "
                                                 "the type detected at upload."),
        "patient_files_create": Op("Patient files", "Upload files for a patient", files_create, status=201,
                                   message="1 file(s) uploaded successfully",
                                   multipart=_files_multipart(with_patient=True), errors=(404,)),
        "patient_files_update": Op("Patient files", "Add and remove a patient's files", FILES_AND_RECORD,
                                   message="Files updated successfully", multipart=_files_multipart(removals=True),
                                   body=obj({"files_to_remove": {"anyOf": [arr(STR), STR]}}), errors=(403,)),
        "patient_files_get": Op("Patient files", "A patient's files", obj({
            "patient_id": INT, "files": arr(STR), "record": null(ref("PatientFileRecord")), "can_edit": BOOL,
            "file_details": arr("PatientFile")})),
        "patient_files_delete": Op("Patient files", "Delete one file", FILES_AND_RECORD,
                                   message="File deleted successfully", errors=(403,)),
        "patients_files_upload": Op("Patient files", "Upload files for a patient (patients path)", files_create,
                                    status=201, message="1 file(s) uploaded successfully",
                                    multipart=_files_multipart()),
        "patients_files_list": Op("Patient files", "A patient's file paths (patients path)",
                                  obj({"files": arr(STR), "count": INT})),
        "patients_files_remove": Op("Patient files", "Delete one file (patients path)", FILES_AND_RECORD,
                                    message="File deleted successfully", errors=(403,)),
        # ---------------------------------------------------------------- clinical proformas
        "proformas_create": Op("Clinical proformas", "Save a walk-in clinical proforma", {"anyOf": [
            obj({"proforma": ref("Proforma"), "prescriptions": null(ref("PrescriptionBlock"))}),
            obj({"clinical_proforma": ref("Proforma"), "adl_file": ref("IntakeRecordRow")})]},
            status=201, message="Simple Walk-in Clinical Proforma saved successfully", body="ProformaInput",
            errors=(404,),
            example={"patient_id": 1, "visit_date": "2025-01-06", "visit_type": "first_visit",
                     "mood": "Sad, Irritable", "diagnosis": "Depressive episode", "icd_code": "F32.1",
                     "case_severity": "moderate", "doctor_decision": "simple_case"},
            description="Simple case: `data.proforma` and `data.prescriptions`. Complex case (message \"Complex "
                        "case with ADL file saved successfully\"): `data.clinical_proforma`, `data.adl_file` and "
                        "`prescriptions` as a sibling of `data` (the original's shape). EMRS rules (400, nothing "
                        "saved): `visit_date` is not after today (IST); a completed proforma — one that states "
                        "`doctor_decision`, unless written by a welfare officer — needs at least one presenting "
                        "complaint group, `diagnosis`/`icd_code`, or `disposal`/`referred_to` (a visit stub "
                        "without `doctor_decision` may be empty); a flat `personal_birth_date` must agree with "
                        "the patient's age (within a year)."),
        "proformas_list": Op("Clinical proformas", "List proformas", PROFORMA_LIST, params=(
            *page_params(),
            query("visit_type", {"type": "string", "enum": ["first_visit", "follow_up"]}, "Visit type."),
            query("doctor_decision", {"type": "string", "enum": ["simple_case", "complex_case"]}, "Decision."),
            query("requires_adl_file", {"type": "string", "enum": ["true", "false"]}, "Needs an intake record."),
            query("filled_by", ID, "Filled by (user id)."), query("patient_id", ID, "Patient."),
            query("room_no", {"type": "string", "maxLength": 10}, "Room."), *DATE_RANGE),
            description="Newest visit first."),
        "proformas_mine": Op("Clinical proformas", "Proformas I filled", PROFORMA_LIST, params=page_params()),
        "proformas_complex": Op("Clinical proformas", "Complex cases", PROFORMA_LIST, params=page_params()),
        "proformas_stats": Op("Clinical proformas", "Proforma statistics", obj({"stats": obj({k: INT for k in (
            "total_proformas", "first_visits", "follow_ups", "simple_cases", "complex_cases",
            "cases_requiring_adl")})})),
        "proformas_decision_stats": Op("Clinical proformas", "Counts by decision", obj({"decisionStats": arr(obj({
            "doctor_decision": {"type": "string", "enum": ["simple_case", "complex_case"]}, "count": INT}))}),
            params=(query("user_id", ID, "Only proformas filled by this user."),)),
        "proformas_visit_trends": Op("Clinical proformas", "Proformas per day, week or month", obj({"trends": arr({
            "type": "object", "required": ["count"], "properties": {
                "date": DATE, "week_start": DATE, "month_start": DATE, "count": INT},
            "oneOf": [{"required": ["date"]}, {"required": ["week_start"]}, {"required": ["month_start"]}]})}),
            params=(query("period", {"type": "string", "enum": ["day", "week", "month"], "default": "week"},
                          "day: last 7 days; week: last 7 weeks; month: last 12 months."),
                    query("user_id", ID, "Only proformas filled by this user."))),
        "proformas_by_patient": Op("Clinical proformas", "A patient's proformas", obj({"proformas": arr("Proforma")})),
        "proformas_last_visit": Op("Clinical proformas", "A patient's latest proforma",
                                   obj({"proforma": null(ref("Proforma"))})),
        "proformas_get": Op("Clinical proformas", "One proforma", obj({"proforma": ref("Proforma")})),
        "proformas_update": Op("Clinical proformas", "Update a proforma", obj({
            "clinical_proforma": ref("Proforma"), "adl_file": null(ref("IntakeRecordRow")),
            "prescriptions": null(ref("PrescriptionBlock"))}), message="Clinical proforma updated successfully",
            body="ProformaUpdate", errors=(403, 409),
            description="Creates the intake record when the case just became complex; `prescriptions` "
                        "replaces the proforma's prescription."),
        "proformas_delete": Op("Clinical proformas", "Delete (withdraw) a proforma", message="Clinical proforma "
                               "deleted successfully", errors=(403,), body_required=False,
                               body=obj({"reason": {"type": "string", "maxLength": 1000}}),
                               description="Withdraws the proforma: it stays, marked with who, when and why "
                                           "(`reason` in the body or the query), and an Admin can restore it; a "
                                           "linked intake record is archived. Who may: the author, Faculty over "
                                           "Residents' records, an Admin."),
        "proformas_versions": Op("Clinical proformas", "Every version of a proforma", obj({
            "proforma_id": INT, "versions": arr(obj({
                "version": INT, "fields": {"type": "object"}, "author_id": null(INT), "author_name": null(STR),
                "authored_at": null(STR), "change_reason": null(STR), "superseded_at": null(STR),
                "current": {"type": "boolean"}}))}),
            description="Oldest first, the current version last; each names who wrote it and why."),
        "proformas_restore": Op("Clinical proformas", "Restore a withdrawn proforma (Admin)",
                                obj({"proforma": ref("Proforma")}), message="Clinical proforma restored"),
        # ---------------------------------------------------------------- ICD
        "icd_search": Op("Clinical proformas", "Search ICD-11 and ICD-10 codes", obj({
            "results": arr("IcdResult"),
            "typed": null(obj({"code": STR, "system": STR, "title": null(STR), "version": null(STR),
                               "in_release": {**BOOL, "description": "False: a well-formed ICD-11 code the loaded "
                                                                     "release does not have (still accepted)."}}))}),
            params=(
                query("q", {"type": "string", "maxLength": 100},
                      "Code prefix (6A7, 6A70.1, F32) or words of the title."),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 15}, "At most 50."),
                query("system", {"type": "string", "enum": ["ICD-11", "ICD-10"]}, "Only this system.")),
            description="ICD-11 entries of the loaded tree first, then ICD-10 (2019); when both match, each gets "
                        "at least half of `limit`."),
        # ---------------------------------------------------------------- ICD-11 tree
        "icd11_entities_list": Op("ICD-11", "The ICD-11 tree: chapters, an entry's children, or a search",
                                  obj({"entities": {"anyOf": [arr("Icd11Entity"), arr("IcdResult")]}}), params=(
                                      query("parent", ID, "The children of this entry (else the chapters)."),
                                      query("q", {"type": "string", "maxLength": 100},
                                            "Codable entries by code prefix or title words (IcdResult items)."),
                                      query("limit", {"type": "integer", "minimum": 1, "maximum": 100,
                                                      "default": 25}, "With q: at most 100.")),
                                  errors=(404,)),
        "icd11_entities_get": Op("ICD-11", "One entry with its path and children", obj({
            "entity": ref("Icd11Entity"), "path": {**arr("Icd11Entity"), "description": "The chapter first."},
            "children": arr("Icd11Entity")}), errors=(404,)),
        "icd11_entities_create": Op("ICD-11", "Add a local entry under an entry (Admin)",
                                    obj({"entity": ref("Icd11Entity")}), status=201,
                                    message="Local ICD-11 entry added", errors=(404, 409), body=obj({
                                        "parent_id": ID,
                                        "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                        "code": {**null({"type": "string", "maxLength": 20}),
                                                 "description": "Optional; not one of WHO's codes or another "
                                                                "local entry's (409)."}},
                                        required=("parent_id", "title"))),
        "icd11_entities_update": Op("ICD-11", "Change a local entry (Admin)", obj({"entity": ref("Icd11Entity")}),
                                    message="Local ICD-11 entry saved", errors=(403, 404, 409), body=obj({
                                        "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                        "code": null({"type": "string", "maxLength": 20}),
                                        "is_active": BOOL}, required=()),
                                    description="WHO's entries are never edited (403)."),
        "icd11_entities_delete": Op("ICD-11", "Deactivate a local entry (Admin)", obj({"entity": ref("Icd11Entity")}),
                                    message="Local ICD-11 entry deactivated", errors=(403, 404),
                                    description="Never a hard delete; local entries under it are deactivated too; "
                                                "records coded with it keep their code. WHO's entries: 403."),
        # ---------------------------------------------------------------- prescriptions
        "prescriptions_create": Op("Prescriptions", "Save the prescription of a proforma", RX, status=201,
                                   message="Prescription created successfully with 2 medication(s)",
                                   body="PrescriptionInput", errors=(404, 409),
                                   example={"patient_id": 1, "clinical_proforma_id": 1, "prescription": [
                                       {"medicine": "Escitalopram 10 mg", "dosage": "0-0-1", "when": "After food",
                                        "duration": "1 month", "qty": "30"},
                                       {"medicine": "Clonazepam 0.25 mg", "dosage": "0-0-1",
                                        "when_to_take": "Bedtime", "duration": "2 weeks"}]},
                                   description="One prescription per proforma: a new save replaces its lines. "
                                               "`data.prescription.warnings` lists drug-safety warnings. "
                                               "`follow_up_date` is not before the proforma's `visit_date` (400). "
                                               "Lines without a medicine are dropped (as in the original); a "
                                               "prescription left with none is saved but never printed."),
        "prescriptions_list": Op("Prescriptions", "List prescriptions", _list_of("prescriptions", "Prescription"),
                                 message="Prescriptions retrieved successfully", params=(
                                     *page_params(), query("patient_id", ID, "Patient."),
                                     query("clinical_proforma_id", ID, "Proforma."),
                                     query("doctor_decision", {"type": "string",
                                                               "enum": ["simple_case", "complex_case"]},
                                           "The proforma's decision."))),
        "prescriptions_by_proforma": Op("Prescriptions", "The prescription of a proforma", RX, errors=(404,)),
        "prescriptions_by_patient": Op("Prescriptions", "A patient's prescriptions",
                                       obj({"prescriptions": arr("Prescription")})),
        "prescriptions_get": Op("Prescriptions", "One prescription", RX, message="Prescription retrieved successfully",
                                params=(query("clinical_proforma_id", ID,
                                              "When given, the prescription of this proforma instead."),)),
        "prescriptions_update": Op("Prescriptions", "Replace a prescription's lines", RX,
                                   message="Prescription updated successfully", body="PrescriptionUpdate",
                                   errors=(409,)),
        "prescriptions_delete": Op("Prescriptions", "Delete (withdraw) a prescription",
                                   message="Prescription deleted successfully", errors=(403,), body_required=False,
                                   body=obj({"reason": {"type": "string", "maxLength": 1000}}),
                                   description="Withdraws it: the prescription stays, marked, is no longer listed "
                                               "or printed, and an Admin can restore it."),
        "prescriptions_versions": Op("Prescriptions", "Every version of a prescription", obj({
            "prescription_id": INT, "withdrawn_at": null(STR), "versions": arr(obj({
                "version": INT, "prescription": {"type": "array", "items": {"type": "object"}},
                "follow_up_date": null(STR), "advice": null(STR), "signed_by": null(INT),
                "signed_by_name": null(STR), "signed_at": null(STR), "change_reason": null(STR),
                "superseded_at": null(STR), "current": {"type": "boolean"}}))}),
            description="Oldest first, the current version last: a signed prescription is never edited in place; "
                        "each version names its signer and the reason for the change."),
        "prescriptions_restore": Op("Prescriptions", "Restore a withdrawn prescription (Admin)", RX,
                                    message="Prescription restored"),
        "prescriptions_pdf": Op("Prescriptions", "The printable prescription (PDF)",
                                description="400 `This prescription has no medicine, so there is nothing to "
                                            "print. …` when it has no medicine line.",
                                params=(query("size", {"type": "string", "enum": ["A4", "A5"]}, "Page size."),),
                                content={"application/pdf": {"schema": {"type": "string",
                                                                        "contentMediaType": "application/pdf"}}}),
        # ---------------------------------------------------------------- formulary
        "medicines_list": Op("Medicines", "The formulary", _list_of("medicines", "Medicine"), params=(
            *page_params(50, cap=500),
            query("q", {"type": "string", "maxLength": 100}, "Generic, brand or class contains this."),
            query("include_retired", {"type": "string", "enum": ["true", "false"]}, "Include retired entries."))),
        "medicines_search": Op("Medicines", "Medicine picker search", obj({"results": arr("MedicineEntry")}), params=(
            query("q", {"type": "string", "maxLength": 100}, "Generic or brand name."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 12}, "At most 50."))),
        "medicines_get": Op("Medicines", "One formulary entry", obj({"medicine": ref("Medicine")}), errors=(404,)),
        "medicines_create": Op("Medicines", "Add a formulary entry", obj({"medicine": ref("Medicine")}), status=201,
                               message="Medicine added", body=obj({
                                   "generic_name": {"type": "string", "minLength": 1, "maxLength": 200},
                                   "name": {**STR, "description": "Alias of generic_name."},
                                   "drug_class": null({"type": "string", "maxLength": 120}),
                                   "category": {**null(STR), "description": "Alias of drug_class."},
                                   "brand_names": {"anyOf": [arr(STR), STR, {"type": "null"}]},
                                   "brands": {"anyOf": [arr(STR), STR, {"type": "null"}]},
                                   "strengths": {"anyOf": [arr(STR), STR, {"type": "null"}]},
                                   "forms": {"anyOf": [arr(STR), STR, {"type": "null"}],
                                             "description": "tablet (default), capsule, syrup, injection …"}},
                                   required=()),
                               errors=(409,)),
        "medicines_delete": Op("Medicines", "Retire a formulary entry", obj({"medicine": ref("Medicine")}),
                               message="Medicine retired", errors=(404,),
                               description="Never a hard delete; prescriptions naming it are untouched."),
    }
    for name in ("create", "update", "get", "delete"):  # the /api/patients/files/... aliases
        spec = ops[f"patient_files_{name}"]
        ops[f"patients_files_{name}_alias"] = Op(**{**spec.__dict__, "summary": spec.summary + " (patients path)"})
    for kind in ("intake", "adl"):
        ops.update({f"{kind}_{name}": op for name, op in _intake_ops(kind).items()})
    for kind in ("clinical_options", "proforma_options"):
        ops.update({f"{kind}_{name}": op for name, op in _option_ops(kind).items()})
    return ops


# The table: endpoint (without "api.") -> Op.
OPERATIONS: dict[str, Op] = _operations()

TAGS = [
    ("Meta", "The index, this document and its docs page."),
    ("Users", "Login with OTP, password reset, own account, user administration."),
    ("Session", f"Token session: refresh (HttpOnly cookie `{COOKIE}`), activity, info, logout."),
    ("Patients", "Out-patient card and record (contract §5)."),
    ("Visits", "Visits, the spec's \"sessions\" (contract §6)."),
    ("Patient cards", "The patient seen as its step-1 (card) fields."),
    ("Out-patient records", "The patient seen as its step-2 (record) fields."),
    ("Patient files", "Uploaded scans and documents (contract §7)."),
    ("Clinical proformas", "Walk-in clinical proforma and the ICD picker (contract §8)."),
    ("Clinical options", "Option groups of the proforma's multi-select fields."),
    ("ICD-11", "The ICD-11 MMS tree loaded from WHO's release file (CC BY-ND 3.0 IGO) and the hospital's local "
               "additions (Admin)."),
    ("Intake records", "Out-patient intake record = ADL file, and its physical file (contract §9)."),
    ("Intake records (legacy /api/adl-files)", "The same handlers under the original path."),
    ("Prescriptions", "One prescription per proforma, safety warnings, PDF (contract §10)."),
    ("Medicines", "The formulary."),
]


# ============================================================================ the document

def _operation(endpoint: str, spec: Op, path_params: list[dict], method: str = "GET") -> dict:
    rule_value = PERMISSIONS.get(f"api.{endpoint}")
    op: dict = {"operationId": endpoint, "tags": [spec.tag], "summary": spec.summary}
    who = ("Public." if rule_value == PUBLIC else "Any signed-in user." if rule_value == AUTH
           else "Roles: " + ", ".join(sorted(rule_value)) + ".")
    op["description"] = (spec.description + "\n\n" if spec.description else "") + who
    op["x-roles"] = "public" if rule_value == PUBLIC else "any" if rule_value == AUTH else sorted(rule_value)
    if spec.security == "cookie":
        op["security"] = [{"refreshCookie": []}]
    elif rule_value == PUBLIC:
        op["security"] = []
    else:
        op["security"] = [{"bearerAuth": []}]
    idempotent = method == "POST" and rule_value != PUBLIC  # emrs/api/idempotency.py
    params = list(path_params) + list(spec.params) + ([IDEMPOTENCY_KEY] if idempotent else [])
    if params:
        op["parameters"] = params
    has_body = spec.body is not None or spec.multipart is not None
    if has_body:
        content = {}
        if spec.body is not None:
            schema = ref(spec.body) if isinstance(spec.body, str) else spec.body
            content["application/json"] = {"schema": schema}
            if spec.example is not None:
                content["application/json"]["example"] = spec.example
        if spec.multipart is not None:
            content["multipart/form-data"] = {"schema": spec.multipart}
        op["requestBody"] = {"required": spec.body_required, "content": content}

    responses: dict = {}
    if spec.content is not None:
        responses[str(spec.status)] = {"description": "OK", "content": spec.content}
    else:
        media = {"schema": success(spec.data, message=spec.message is not None, extra=spec.extra)}
        if spec.response_example is not None:
            media["example"] = spec.response_example
        elif spec.message is not None:
            example = {"success": True, "message": spec.message}
            if spec.data is None and not spec.extra:
                media["example"] = example
        responses[str(spec.status)] = {"description": spec.message or "OK", "content": {"application/json": media}}
        for status in spec.also:
            responses[str(status)] = {"description": "OK", "content": {"application/json": {"schema": media["schema"]}}}
    if idempotent:
        for status, response in responses.items():
            response["headers"] = dict(REPLAYED)
    codes = set(spec.errors)
    if idempotent:
        codes |= {400, 409, 422}
    if path_params:
        codes.add(400)  # an id that is not a positive integer, a NUL character (emrs/web.py)
    if any(p["schema"].get("type") == "integer" for p in path_params):
        codes.add(404)
    if has_body:
        codes |= {400, 413}
    if spec.params:
        codes.add(400)
    if rule_value != PUBLIC:
        codes.add(401)
    if isinstance(rule_value, frozenset):
        codes.add(403)
    if spec.limited:
        codes.add(429)
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/{ERRORS[code][0]}"}
    op["responses"] = responses
    return op


def build_document(app) -> dict:
    """The document for ``app`` (every ``api.`` route that OPERATIONS describes)."""
    paths: dict = {}
    used: set[str] = set()
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    # /api before /api/: the plain path keeps the plain operationId
    rules.sort(key=lambda r: r.rule.endswith("/") and len(r.rule) > 1)
    for rule in rules:
        endpoint = rule.endpoint[len("api."):]
        spec = OPERATIONS.get(endpoint)
        if spec is None:
            continue  # undocumented: tests/api/test_openapi.py names it
        path, path_params = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = _operation(endpoint, spec, path_params, method)
            op_id = endpoint
            if op_id in used:  # one endpoint on several paths or methods: api.index answers /api and /api/
                op_id = f"{endpoint}_slash" if path.endswith("/") and len(path) > 1 else f"{endpoint}_{method.lower()}"
            n = 2
            while op_id in used:
                op_id, n = f"{endpoint}_{n}", n + 1
            used.add(op_id)
            op["operationId"] = op_id
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "EMRS API",
            "version": VERSION,
            "summary": "Psychiatry out-patient electronic medical record: the JSON API.",
            "description": (
                "Every answer is an envelope: `{\"success\": true, \"message\"?, \"data\"?}` or "
                "`{\"success\": false, \"message\", \"errors\"?, \"code\"?}`. Lists carry a `pagination` "
                "object next to the list inside `data`. Sign in with `POST /api/users/login`, then "
                "`POST /api/users/verify-login-otp` with the e-mailed code; send the access token as "
                "`Authorization: Bearer <token>` and renew it with `POST /api/session/refresh` (refresh "
                f"token in the HttpOnly cookie `{COOKIE}`). Dates are `YYYY-MM-DD`, timestamps ISO-8601 "
                "in UTC. A client error is a 4xx with a clear message, never a 500."),
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [{"name": n, "description": d} for n, d in TAGS],
        "paths": paths,
        "components": {
            "schemas": _components(),
            "responses": _error_responses(),
            "parameters": {"IdempotencyKey": idempotency_key_parameter()},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "The access token from verify-login-otp or session/refresh."},
                "refreshCookie": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                                  "description": "The HttpOnly refresh token set at login (session routes)."},
            },
        },
    }


def document() -> dict:
    """The current app's document, built once."""
    app = current_app._get_current_object()
    doc = app.extensions.get("emrs_openapi")
    if doc is None:
        doc = app.extensions["emrs_openapi"] = build_document(app)
    return doc


# ============================================================================ routes

@bp.get("/openapi.json", endpoint="openapi")
def openapi_json():
    resp = jsonify(document())
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/docs", endpoint="docs")
def docs():
    # Swagger UI runs from static/vendor/swagger-ui with its start-up code in
    # static/js/api-docs.js: the site-wide CSP (no inline script) applies unchanged.
    return render_template("api/docs.html")
