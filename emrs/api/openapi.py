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
  success envelope, its error statuses): the ``OPENAPI`` table of the module that holds the
  route, keyed by endpoint and written next to the routes (``api/openapi_schema.py`` has the
  vocabulary). ``operations(app)`` collects the tables of the modules the app's ``api.``
  view functions come from. A route without an entry is missing from the document and
  tests/api/test_openapi.py fails, naming it.
"""
from __future__ import annotations

import re
import sys

from flask import current_app, jsonify, render_template

from ..auth.permissions import AUTH, PERMISSIONS, PUBLIC
from ..config import VERSION
from . import bp
from .openapi_schema import BOOL, DATE, DATETIME, ID, INT, STR, Op, arr, model_schema, null, obj, ref
from .session import COOKIE

# ============================================================================ schema helpers


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


# Path parameters by name (the route's converter decides for names not listed).
PATH_PARAMS = {
    "patient_id": (ID, "The patient's id."),
    "user_id": (ID, "The user's id."),
    "proforma_id": (ID, "The clinical proforma's id."),
    "record_id": (ID, "The intake record's (ADL file's) id."),
    "rx_id": (ID, "The prescription's id."),
    "file_id": (ID, "The stored file's id."),
    "room_id": (ID, "The room's id."),
    "referral_id": (ID, "The referral's id."),
    "followup_id": (ID, "The follow-up note's id."),
    "child_id": (ID, "The child patient's id (a patient id of the Child Guidance Clinic)."),
    "cr_number": ({"type": "string", "minLength": 1}, "CR number (case-insensitive)."),
    "cap_id": (ID, "The CAP work-up's id (the child's intake record)."),
    "child_patient_id": (ID, "The child's patient id (a patient of the child clinic)."),
    "room_number": ({"type": "string", "minLength": 1, "maxLength": 20}, "A room number (case-insensitive)."),
    "cr_no": ({"type": "string", "minLength": 1}, "CR number (case-insensitive)."),
    "psy_no": ({"type": "string", "minLength": 1}, "PSY number (case-insensitive)."),
    "adl_no": ({"type": "string", "minLength": 1}, "ADL (intake record) number (case-insensitive)."),
    "group": ({"type": "string", "minLength": 1, "examples": ["mood", "behaviour", "mse_affect"]},
              "Option group: the proforma column it fills (mood, behaviour, speech, …)."),
    "date": (DATE, "An IST calendar day (YYYY-MM-DD)."),
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
    from ..auth.models import GRADES, ROLES, User
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
            "patient_type": {"type": "string", "enum": ["adult", "child"],
                             "description": "child: a patient of the Child Guidance Clinic (same as `clinic`)."},
        },
        description="Out-patient card and record: every column of the patient plus joined names. "
                    "`has_adl_file`, `case_complexity` and `adl_no` are derived from the intake record.")
    visit = model_schema(PatientVisit, description="One OPD attendance (a visit, the spec's \"session\").")
    visit_with_doctor = extend("Visit", {"doctor_name": null(STR), "doctor_role": null(STR)})
    proforma_row = model_schema(ClinicalProforma, description="Walk-in clinical proforma: its columns.",
                                overrides={"child_sections": {"type": "object", "description": (
                                    "The child form's own fields (form = child); {} on an adult proforma.")},
                                    "form": {"type": "string", "enum": ["adult", "child"]}})
    proforma = extend("ProformaRow", {
        "patient_name": null(STR), "cr_no": null(STR), "psy_no": null(STR),
        "doctor_name": null(STR), "doctor_role": null(STR)},
        "Walk-in clinical proforma: every column plus the patient's and the filling doctor's names.")
    proforma_with_doctor = extend("ProformaRow", {"doctor_name": null(STR), "doctor_role": null(STR)})
    record_row = model_schema(IntakeRecord, exclude=("cap_sections",), description="Intake record (ADL file): its columns.")
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
    sub_role = {"type": ["string", "null"], "enum": [*GRADES.values(), None],
                "description": "Residents' grade (Junior or Senior Resident); null for other roles."}
    user = model_schema(User, only=User.PUBLIC_FIELDS,
                        overrides={"role": {"type": "string", "enum": list(ROLES)}},
                        extra={"sub_role": sub_role, "invitation_pending": {
                            **BOOL, "description": "Invited, and the password is not set yet."}},
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
    rx_input = obj({"patient_id": ID, "clinical_proforma_id": ID,
                    "followup_id": {**ID, "description": "Instead of clinical_proforma_id: written on a follow-up "
                                                         "note."},
                    "prescription": rx_lines,
                    "prescriptions": {**rx_lines, "description": "Alias of prescription."}, **rx_extras},
                   required=(), description="Exactly one of clinical_proforma_id and followup_id.")
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
    user_fields = {"name": {"type": "string", "minLength": 2, "maxLength": 255},
                   "email": {"type": "string", "format": "email", "maxLength": 255},
                   "role": {"type": "string", "enum": list(ROLES)},
                   "mobile": null({"type": "string", "pattern": r"^\+?[0-9]{10,14}$"}),
                   "designation": null({"type": "string", "maxLength": 100}),
                   "sub_role": {"type": ["string", "null"], "enum": [*GRADES.values(), *GRADES, None],
                                "description": "Residents only, and required for them: Junior Resident or Senior "
                                               "Resident (JR, SR accepted)."}}

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
        "UserInput": obj({**user_fields, "two_factor_enabled": BOOL}, required=("name", "email", "role"),
                         description="No password: the user gets an e-mailed link (24 h, single use) to set it. "
                                     "A `password` field is refused (400)."),
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
    ("Child clinical proformas", "The child walk-in clinical proforma (Child Guidance Clinic)."),
    ("Clinical options", "Option groups of the proforma's multi-select fields."),
    ("ICD-11", "The ICD-11 MMS tree loaded from WHO's release file (CC BY-ND 3.0 IGO) and the hospital's local "
               "additions (Admin)."),
    ("Intake records", "Out-patient intake record = ADL file, and its physical file (contract §9)."),
    ("Intake records (legacy /api/adl-files)", "The same handlers under the original path."),
    ("Prescriptions", "One prescription per proforma, safety warnings, PDF (contract §10)."),
    ("Medicines", "The formulary."),
    ("Rooms", "OPD rooms and the room each doctor sits in today (IST)."),
    ("Referrals", "Referrals of patients between doctors."),
    ("Dashboard", "The figures of each role and the registrations calendar."),
    ("Follow-ups", "Follow-up notes of returning patients (contract: /api/follow-ups)."),
    ("Assessments", "Rating scales scored at the visit: instruments as data, scores, risk items, trends."),
    ("Child patients", "The Child Guidance Clinic: a child is a patient of the one registry (clinic 'child'); "
                       "these routes answer the original's /api/child-patient shapes."),
    ("CAP work-up", "The CAP detailed work-up (a child's intake record) and WHO growth z-scores."),
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


def _route_modules(app) -> list:
    return [sys.modules[name] for name in sorted({view.__module__ for endpoint, view in app.view_functions.items()
                                                  if endpoint.startswith("api.")})]


def operations(app) -> dict[str, Op]:
    """Endpoint (without "api.") -> Op: the ``OPENAPI`` tables of the modules holding the
    app's API routes."""
    ops: dict[str, Op] = {}
    for module in _route_modules(app):
        ops.update(getattr(module, "OPENAPI", {}))
    return ops


def schemas(app) -> dict:
    """The shared object schemas: those built here from the models, plus each route module's
    ``OPENAPI_SCHEMAS``."""
    out = _components()
    for module in _route_modules(app):
        out.update(getattr(module, "OPENAPI_SCHEMAS", {}))
    return out


def build_document(app) -> dict:
    """The document for ``app`` (every ``api.`` route that an ``OPENAPI`` table describes)."""
    described = operations(app)
    paths: dict = {}
    used: set[str] = set()
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    # /api before /api/: the plain path keeps the plain operationId
    rules.sort(key=lambda r: r.rule.endswith("/") and len(r.rule) > 1)
    for rule in rules:
        endpoint = rule.endpoint[len("api."):]
        spec = described.get(endpoint)
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
            "schemas": schemas(app),
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


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    "openapi": Op("Meta", "This OpenAPI document", content={"application/json": {"schema": {"type": "object"}}}),
    "docs": Op("Meta", "Offline API documentation (Swagger UI)", content={"text/html": {"schema": STR}}),
}
