"""Sending the hostile corpus and judging the answers.

* targets: every page POST route and every API write route, with the fields they
  read, derived from the application's own tables (patient field table, proforma
  FIELDS, intake WORKUP_SECTIONS, prescription LINE_KEYS, the WTForms classes);
* the world: one patient with a visit, a complex-case proforma with its intake record
  and prescription, an uploaded file, a custom medicine and option, signed-in browser
  clients and bearer tokens (issued directly, so no rate limit or OTP mail is spent);
* the checks: no 5xx, no stack trace or exception text, no unescaped markup in HTML,
  and for a refused request no row changed (row counts and a hash of the rows of every
  domain table, plus the upload folder).
"""
from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote_from_bytes

from flask import Flask
from wtforms.fields.core import UnboundField

from emrs.auth import forms as auth_forms
from emrs.auth import service as auth_service
from emrs.auth import tokens
from emrs.auth.models import User
from emrs.auth.permissions import AUTH, PUBLIC, PERMISSIONS
from emrs.child_clinical import spec as child_spec
from emrs.clinical import service as clinical_service
from emrs.extensions import db
from emrs.intake import form as intake_form
from emrs.intake import service as intake_service
from emrs.intake.models import WORKUP_FIELDS
from emrs.patients import fields as F
from emrs.patients import search as patient_search
from emrs.prescriptions.service import LINE_KEYS
from emrs.timeutil import today_ist

from .hostile_corpus import (BODY_CASES, FORM_BODY_CASES, PATH_PARAM_VALUES, QUERY_VALUES, VALUE_PAYLOADS, Case,
                             RawJSON, body_case, counts_by_category)

ROLE_ORDER = ("faculty", "admin", "resident", "pwo")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EMRS = Path(__file__).resolve().parents[2] / "emrs"

# --------------------------------------------------------------------------- what a body must never show

STACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.exc", "psycopg2.", "sqlite3.",
                 "Werkzeug Debugger", "jinja2.exceptions", "RecursionError", "UnicodeEncodeError",
                 "UnicodeDecodeError", "OverflowError", "IntegrityError", "DataError", "ProgrammingError",
                 "OperationalError", "AttributeError", "TypeError:", "KeyError", "ValueError:", "[SQL:",
                 "NoneType")


class _MarkupScan(HTMLParser):
    """What a browser would run: an event-handler attribute, a javascript: URL, an
    inline script (the templates have none: CSP allows script files only)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction", "data") and \
                    (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "script" and not dict(attrs).get("src"):
            self.found.append("<script> without src")

    handle_startendtag = handle_starttag


def unescaped_markup(text: str) -> list[str]:
    scan = _MarkupScan()
    scan.feed(text)
    scan.close()
    return scan.found


def body_problems(resp) -> list[str]:
    problems = []
    if resp.status_code >= 500:
        problems.append(f"status {resp.status_code}")
    if not (resp.mimetype.startswith("text/") or resp.is_json):
        return problems  # a PDF, an image, a spreadsheet
    text = resp.get_data(as_text=True)
    for marker in STACK_MARKERS:
        if marker in text:
            problems.append(f"exception text {marker!r} in the body")
            break
    if resp.mimetype == "text/html":
        found = unescaped_markup(text)
        if found:
            problems.append(f"markup a browser would run: {found[:3]}")
    return problems


# --------------------------------------------------------------------------- snapshots

EXCLUDED_TABLES = {"audit_log", "user_sessions", "refresh_tokens", "login_otps", "password_reset_tokens",
                   "pending_logins"}
# Security bookkeeping a refused sign-in is meant to change (failure counter, lockout).
EXCLUDED_COLUMNS = {"users": {"last_login", "failed_login_attempts", "locked_until", "totp_last_step", "updated_at"}}


@lru_cache(maxsize=1)
def _statements() -> tuple[tuple[str, str], ...]:
    """One plain SELECT per domain table (the DB-API cursor is ten times faster than the ORM here)."""
    out = []
    for table in db.metadata.sorted_tables:
        if table.name in EXCLUDED_TABLES:
            continue
        skip = EXCLUDED_COLUMNS.get(table.name, set())
        cols = ", ".join(f'"{c.name}"' for c in table.columns if c.name not in skip)
        order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
        out.append((table.name, f'SELECT {cols} FROM "{table.name}" ORDER BY {order}'))
    return tuple(out)


def snapshot(app: Flask) -> dict:
    """Row count and a hash of the rows of every domain table, and the upload folder."""
    out = {}
    cursor = db.session.connection().connection.cursor()
    try:
        for name, sql in _statements():
            cursor.execute(sql)
            rows = cursor.fetchall()
            digest = hashlib.sha256(repr(rows).encode("utf-8", "backslashreplace")).hexdigest()
            out[name] = (len(rows), digest)
    finally:
        cursor.close()
    root = Path(app.config["UPLOAD_FOLDER"])
    out["<upload folder>"] = sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*")
                                    if p.is_file()) if root.exists() else []
    return out


def changed(before: dict, after: dict) -> list[str]:
    return [k for k in before if before[k] != after.get(k)]


# --------------------------------------------------------------------------- the world

@dataclass
class World:
    app: Flask
    users: dict
    spare: User
    patient_id: int = 0
    cr_no: str = ""
    psy_no: str = ""
    visit_id: int = 0
    proforma_id: int = 0
    rx_id: int = 0
    record_id: int = 0
    adl_no: str = ""
    file_id: int = 0
    medicine_id: int = 0
    option_id: int = 0
    icd11_id: int = 0          # a local addition to the ICD-11 tree
    icd11_parent_id: int = 0   # the default chapter 06 it sits under
    room_id: int = 0           # an OPD room (the visit is queued in it)
    room_number: str = ""
    referral_id: int = 0       # an open referral of the patient, Admin -> faculty
    followup_id: int = 0       # a follow-up note of the patient
    child_id: int = 0          # a child patient (the Child Guidance Clinic)
    child_cr: str = ""
    child_patient_id: int = 0  # a patient of the child clinic
    child_proforma_id: int = 0  # the child's walk-in proforma (the child routes' <proforma_id>)
    cap_id: int = 0            # the child's CAP work-up (an adl_files row, form 'cap')
    assessment_id: int = 0     # a PHQ-9 of the patient with item 9 positive (risk open)
    _tokens: dict = field(default_factory=dict)
    _browsers: dict = field(default_factory=dict)
    _values: dict = field(default_factory=dict)

    # ------------------------------------------------------------ credentials
    def token(self, role: str) -> str:
        if role not in self._tokens:
            self._tokens[role] = issue_token(self.app, self.users[role])
        return self._tokens[role]

    def bearer(self, role: str | None) -> dict:
        return {"Authorization": f"Bearer {self.token(role)}"} if role else {}

    def browser(self, role: str | None, app: Flask | None = None):
        key = (role, id(app or self.app))
        if key not in self._browsers:
            self._browsers[key] = (browser_client(app or self.app, self.users[role]) if role
                                   else (app or self.app).test_client())
        return self._browsers[key]

    @property
    def file_path(self) -> str:
        return f"/api/patient-files/{self.patient_id}/download/{self.file_id}"

    def path_values(self) -> dict:
        if not self._values:
            self._values.update(self._path_values())
        return self._values

    def _path_values(self) -> dict:
        return {"patient_id": self.patient_id, "proforma_id": self.proforma_id, "rx_id": self.rx_id,
                "record_id": self.record_id, "user_id": self.spare.id, "medicine_id": self.medicine_id,
                "option_id": self.option_id, "group": "mood", "key": next(iter(_SECTION_FIELDS)),
                "file_id": self.file_id, "file_path": self.file_path.lstrip("/"), "file_ref": str(self.file_id),
                "adl_no": self.adl_no, "cr_no": self.cr_no, "psy_no": self.psy_no, "fmt": "csv",
                "visit_id": self.visit_id, "kind": "proforma",  # /clinical/withdrawn/<kind>/<record_id>/restore
                "resource_id": str(self.visit_id),  # /fhir/<type>/<id>: a visit's Encounter
                "entity_id": self.icd11_id,  # /clinical/icd11/..., /api/icd11/entities/<id>
                "room_id": self.room_id, "referral_id": self.referral_id, "followup_id": self.followup_id,
                "room_number": self.room_number,  # /api/patients/by-room/<room_number>
                "child_id": self.child_id, "cr_number": self.child_cr,  # /api/child-patient/...
                "child_patient_id": self.child_patient_id, "child_proforma_id": self.child_proforma_id,
                "cap_id": self.cap_id, "assessment_id": self.assessment_id, "code": "phq9",
                "date": today_ist().isoformat()}  # /api/patients/patients-by-date/<date>


# URL values of routes that name the child's CAP work-up rather than the adult's intake record.
ENDPOINT_VALUES = {"cap.edit": {"record_id": "cap_id"}, "cap.show": {"record_id": "cap_id"},
                   "cap.save_section": {"record_id": "cap_id"}, "api.patient_growth": {"patient_id": "child_id"}}


def values_for(w: "World", endpoint: str) -> dict:
    values = dict(w.path_values())
    for arg, attr in ENDPOINT_VALUES.get(endpoint, {}).items():
        values[arg] = getattr(w, attr)
    return values


def issue_token(app: Flask, user: User) -> str:
    with app.test_request_context():
        u = db.session.get(User, user.id)
        sess, _raw = auth_service.complete_login(u, "api", "127.0.0.1", "hostile-tests")
        access, _ = tokens.issue_access_token(u, sess)
    return access


def browser_client(app: Flask, user: User):
    """A browser client with a real session row, without spending the login rate limit."""
    c = app.test_client()
    with app.test_request_context():
        u = db.session.get(User, user.id)
        _row, raw = auth_service.complete_login(u, "web", "127.0.0.1", "hostile-tests")
    with c.session_transaction() as s:
        s["sid"] = raw
        s["_user_id"] = str(user.id)
        s["_fresh"] = True
    return c


def build_world(app: Flask, users: dict, make_user) -> World:
    from emrs.auth.models import RESIDENT
    w = World(app=app, users=users, spare=make_user(RESIDENT, name="Spare Resident"))
    c = app.test_client()
    h = w.bearer("faculty")

    def call(method, path, **kw):
        resp = c.open(path, method=method, headers=h, **kw)
        assert resp.status_code in (200, 201), (path, resp.status_code, resp.get_data(as_text=True)[:300])
        return resp.get_json()

    p = call("POST", "/api/patients/register-complete",
             json={"name": "Hostile Target", "age": 40, "sex": "M", "contact_number": "9876500999",
                   "psy_no": "PSYH1", "city": "Chandigarh"})["data"]["patient"]
    w.patient_id, w.cr_no, w.psy_no = p["id"], p["cr_no"], p["psy_no"]
    w.visit_id = call("POST", "/api/patients/assign", json={"patient_id": p["id"], "room_no": "7",
                                                            "assigned_doctor_id": users["faculty"].id}
                      )["data"]["assignment"]["id"]
    body = call("POST", "/api/clinical-proformas",
                json={"patient_id": p["id"], "visit_date": today_ist().isoformat(), "doctor_decision": "complex_case",
                      "diagnosis": "Depression", "prescription": [{"medicine": "Sertraline", "dosage": "1-0-0"}]})
    w.proforma_id = body["data"]["clinical_proforma"]["id"]
    w.record_id, w.adl_no = body["data"]["adl_file"]["id"], body["data"]["adl_file"]["adl_no"]
    w.rx_id = body["prescriptions"]["prescriptions"][0]["id"]
    files = call("POST", f"/api/patients/{p['id']}/files",
                 data={"files": (io.BytesIO(b"plain text note\n"), "note.txt")}, content_type="multipart/form-data")
    w.file_id = files["data"]["file_details"][0]["id"]
    w.followup_id = call("POST", "/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": "Better"}
                         )["data"]["followup"]["id"]
    w.assessment_id = call("POST", f"/api/patients/{p['id']}/assessments",
                           json={"instrument": "phq9", "answers": _PHQ9_RISK})["data"]["assessment"]["id"]
    w.medicine_id = call("POST", "/api/medicines", json={"generic_name": "Hostilamine"})["data"]["medicine"]["id"]
    w.option_id = call("POST", "/api/clinical-options/mood", json={"label": "Hostile option"})["data"]["option"]["id"]
    from emrs.opd.models import Room
    room = Room(room_number="H1", number_key="h1", doctor_capacity=2)
    db.session.add(room)
    db.session.commit()
    w.room_id, w.room_number = room.id, room.room_number
    call("POST", "/api/patients", json={"patient_id": p["id"], "assigned_room": "H1"})  # today's visit, queued
    h = w.bearer("admin")  # local additions to the ICD-11 tree are the Admin's
    w.icd11_parent_id = call("GET", "/api/icd11/entities")["data"]["entities"][0]["id"]
    w.icd11_id = call("POST", "/api/icd11/entities", json={"parent_id": w.icd11_parent_id,
                                                           "title": "Hostile local entry"})["data"]["entity"]["id"]
    room = call("POST", "/api/rooms", json={"room_number": "H-1", "doctor_capacity": 3})["data"]
    w.room_id, w.room_number = room["id"], room["room_number"]
    w.referral_id = call("POST", f"/api/patients/{p['id']}/refer",
                         json={"to_doctor_id": users["faculty"].id})["data"]["referral"]["id"]
    child = call("POST", "/api/child-patient/register", json={"child_name": "Hostile Child", "age": 9,
                                                               "mobile_no": "9876500888"})["data"]["childPatient"]
    w.child_id, w.child_cr = child["id"], child["cr_number"]
    w.child_patient_id = child["id"]
    h = w.bearer("faculty")
    w.child_proforma_id = call("POST", "/api/child-clinical-proformas",
                               json={"child_patient_id": child["id"], "reliability": "Good"})["data"]["proforma"]["id"]
    w.cap_id = call("POST", "/api/child-cap-workup", json={"child_patient_id": child["id"],
                                                           "gpe_height_length_cm": 130})["data"]["record"]["id"]
    return w


# --------------------------------------------------------------------------- targets

def role_for(endpoint: str) -> str | None:
    """The first of faculty, admin, resident, PWO the permission map lets in (None = anonymous)."""
    rule = PERMISSIONS.get(endpoint)
    if rule == PUBLIC:
        return None
    if rule == AUTH:
        return "faculty"
    from tests.conftest import ROLE_KEYS
    for key in ROLE_ORDER:
        if ROLE_KEYS[key] in rule:
            return key
    raise AssertionError(f"no test role may use {endpoint}")


def form_fields(form_class) -> tuple[str, ...]:
    return tuple(name for name, _ in inspect.getmembers(form_class, lambda v: isinstance(v, UnboundField)))


CODE_OR_TEXT = tuple(n for n, f in F.ALL_FIELDS.items() if f.kind == "code_or_text")
LINES = tuple(("prescription", 0, k) for k in LINE_KEYS)


@dataclass(frozen=True)
class Target:
    endpoint: str
    fields: tuple = ()
    body: object = None            # callable(world) -> dict: a valid request
    kind: str = "json"             # json | multipart | none | cookie (API); form | multipart (pages)
    query: object = None           # callable(world) -> dict of query args (pages)
    session: object = None         # callable(world) -> dict put into the browser session first (pages)


_CHILD_KEYS = tuple(F.CHILD_ALIASES) + F.CHILD_NAMES + ("assigned_room",)


_PHQ9_RISK = {**{f"q{i}": 1 for i in range(1, 9)}, "q9": 1}
_PHQ9_FORM = {f"a-{k}": str(v) for k, v in _PHQ9_RISK.items()}


def _patient_ref(w):
    return {"patient_id": w.patient_id}


def _proforma_body(w):
    return {"patient_id": w.patient_id, "visit_date": today_ist().isoformat(), "diagnosis": "Anxiety"}


def _rx_body(w):
    return {"clinical_proforma_id": w.proforma_id, "patient_id": w.patient_id,
            "prescription": [{"medicine": "Escitalopram", "dosage": "0-0-1"}], "advice": "Sleep early"}


_PROFORMA_FIELDS = clinical_service.FIELDS + ("patient_id", "adl_no", "version", "prescription") + LINES + \
    WORKUP_FIELDS[::7]
_INTAKE_FIELDS = WORKUP_FIELDS + intake_service.FILE_FIELDS + ("patient_id", "file_status", "file_created_date",
                                                               "clinical_proforma_id", "adl_no", "version")
from emrs.cap.spec import FIELDS as _CAP_SPEC_FIELDS  # noqa: E402
_CAP_FIELDS = tuple(_CAP_SPEC_FIELDS)
_RX_FIELDS = ("clinical_proforma_id", "patient_id", "follow_up_date", "advice", "override_reason", "version",
              "change_reason", "reason",
              "prescription") + LINES
_CHILD_FIELDS = tuple(child_spec.FIELDS) + tuple(child_spec.COLUMNS) + ("version", "change_reason")
_MED_FIELDS = ("generic_name", "drug_class", "brand_names", "strengths", "name", "category", "brands",
               ("brand_names", 0), ("strengths", 0))

API_TARGETS: dict[str, Target] = {t.endpoint: t for t in [
    # sign-in, OTP, reset (public)
    Target("api.users_login", ("email", "password"), lambda w: {"email": w.users["faculty"].email, "password": "x"}),
    Target("api.users_verify_login_otp", ("user_id", "otp"),
           lambda w: {"user_id": w.users["faculty"].id, "otp": "000000"}),
    Target("api.users_resend_login_otp", ("user_id",), lambda w: {"user_id": w.users["faculty"].id}),
    Target("api.users_forgot_password", ("email",), lambda w: {"email": w.users["resident"].email}),
    Target("api.users_verify_otp", ("token", "otp"), lambda w: {"token": "t" * 64, "otp": "000000"}),
    Target("api.users_reset_password", ("token", "newPassword", "new_password"),
           lambda w: {"token": "t" * 64, "newPassword": "N3w-passw0rd!"}),
    # session (the refresh cookie carries the input)
    Target("api.session_refresh", ("refreshToken",), kind="cookie"),
    Target("api.session_activity", ("refreshToken",), kind="cookie"),
    Target("api.session_logout", (), kind="none"),
    # own account
    Target("api.users_profile_update", form_fields(auth_forms.ProfileForm), lambda w: {"designation": "Professor"}),
    Target("api.users_change_password", ("currentPassword", "newPassword"),
           lambda w: {"currentPassword": "wrong", "newPassword": "N3w-passw0rd!"}),
    Target("api.users_enable_2fa", (), kind="none"),
    Target("api.users_disable_2fa", (), kind="none"),
    # user administration
    Target("api.users_register", form_fields(auth_forms.UserForm),
           lambda w: {"name": "New Person", "email": "new.person@test.emrs.local", "role": "Resident",
                      "sub_role": "Junior Resident"}),
    Target("api.users_resend_invitation", (), kind="none"),
    Target("api.users_setup_password", ("token", "newPassword", "new_password"),
           lambda w: {"token": "t" * 64, "newPassword": "N3w-passw0rd!"}),
    Target("api.users_update", form_fields(auth_forms.ProfileForm) + ("role", "sub_role", "grade"),
           lambda w: {"designation": "SR"}),
    Target("api.users_activate", (), kind="none"),
    Target("api.users_unlock", (), kind="none"),
    Target("api.users_deactivate", (), kind="none"),
    Target("api.users_delete", (), kind="none"),
    # patients (the field table)
    Target("api.patients_create", F.CARD_NAMES + ("psy_no", "mobile_no", "assigned_room", "patient_id"),
           lambda w: {"name": "Quick Patient", "sex": "F", "age": 30}),
    Target("api.patients_register_complete", F.CARD_NAMES + F.RECORD_NAMES + ("assigned_doctor_id", "mobile_no"),
           lambda w: {"name": "Complete Patient", "sex": "M", "age": 52}),
    Target("api.patients_update", F.CARD_NAMES + F.RECORD_NAMES + F.CLEARABLE + ("mobile_no",),
           lambda w: {"city": "Mohali"}),
    Target("api.patients_delete", (), kind="none"),
    Target("api.patients_visits_complete", ("visit_date",), lambda w: {}),
    Target("api.sessions_complete", ("visit_date",), lambda w: {}),
    Target("api.patients_reports_bulk", ("format", "date_from", "date_to", "patient_ids", ("patient_ids", 0)),
           lambda w: {"format": "xlsx", "patient_ids": [w.patient_id]}),
    Target("api.patients_assign", ("patient_id", "assigned_doctor_id", "room_no", "visit_date", "notes"),
           lambda w: {"patient_id": w.patient_id, "assigned_doctor_id": w.users["faculty"].id, "room_no": "8"}),
    Target("api.sessions_create", ("patient_id", "assigned_doctor_id", "room_no", "visit_date", "notes", "visit_type"),
           lambda w: {"patient_id": w.patient_id, "assigned_doctor_id": w.users["faculty"].id}),
    Target("api.patient_cards_create", F.CARD_NAMES + ("mobile_no",), lambda w: {"name": "Card Patient"}),
    Target("api.patient_cards_update", F.CARD_NAMES, lambda w: {"district": "Ropar"}),
    Target("api.out_patient_records_update", F.RECORD_NAMES + ("assigned_doctor_id",),
           lambda w: {"religion": "sikhism"}),
    # patient files: multipart uploads ("@filename" = the uploaded file's name), path references
    Target("api.patient_files_create", ("patient_id", "@filename", "@content"), _patient_ref, kind="multipart"),
    Target("api.patients_files_create_alias", ("patient_id", "@filename", "@content"), _patient_ref,
           kind="multipart"),
    Target("api.patients_files_upload", ("@filename", "@content"), lambda w: {}, kind="multipart"),
    Target("api.patient_files_update", ("files_to_remove", ("files_to_remove", 0)),
           lambda w: {"files_to_remove": []}),
    Target("api.patients_files_update_alias", ("files_to_remove", ("files_to_remove", 0)),
           lambda w: {"files_to_remove": []}),
    Target("api.patient_files_delete", (), kind="none"),
    Target("api.patients_files_delete_alias", (), kind="none"),
    Target("api.patients_files_remove", (), kind="none"),
    # clinical proformas and options
    Target("api.proformas_create", _PROFORMA_FIELDS, _proforma_body),
    Target("api.proformas_update", _PROFORMA_FIELDS, lambda w: {"gpe": "BP 120/80"}),
    Target("api.proformas_delete", (), kind="none"),
    # the child walk-in proforma
    Target("api.child_proformas_create", _CHILD_FIELDS + ("child_patient_id",),
           lambda w: {"child_patient_id": w.child_patient_id, "presenting_complaints": "Poor sleep"}),
    Target("api.child_proformas_update", _CHILD_FIELDS, lambda w: {"school_name": "Govt School"}),
    Target("api.child_proformas_delete", ("reason",), lambda w: {"reason": "Written for the wrong child"}),
    Target("api.clinical_options_add", ("label",), lambda w: {"label": "Added option"}),
    Target("api.proforma_options_add", ("label",), lambda w: {"label": "Added option 2"}),
    Target("api.clinical_options_delete", ("id", "label"), lambda w: {"label": "No such option"}),
    Target("api.proforma_options_delete", ("id", "label"), lambda w: {"label": "No such option"}),
    # intake records (both prefixes)
    *[Target(f"api.{p}_create", _INTAKE_FIELDS, _patient_ref) for p in ("intake", "adl")],
    *[Target(f"api.{p}_update", _INTAKE_FIELDS, lambda w: {"history_narrative": "Sleeps poorly"})
      for p in ("intake", "adl")],
    *[Target(f"api.{p}_{m}", ("notes", "note"), lambda w: {}) for p in ("intake", "adl")
      for m in ("retrieve", "return", "archive")],
    *[Target(f"api.{p}_{m}", ("file_ids", ("file_ids", 0)), lambda w: {"file_ids": [w.record_id]})
      for p in ("intake", "adl") for m in ("bulk_retrieve", "bulk_return")],
    *[Target(f"api.{p}_delete", (), kind="none") for p in ("intake", "adl")],
    # prescriptions and the formulary
    Target("api.prescriptions_create", _RX_FIELDS, _rx_body),
    Target("api.prescriptions_update", _RX_FIELDS, _rx_body),
    Target("api.prescriptions_delete", ("reason",), lambda w: {"reason": "Written for the wrong visit"}),
    Target("api.prescriptions_restore", (), kind="none"),
    Target("api.proformas_restore", (), kind="none"),
    Target("api.medicines_create", _MED_FIELDS, lambda w: {"generic_name": "Newzepam"}),
    Target("api.medicines_delete", (), kind="none"),
    # follow-up notes
    Target("api.followups_create", ("patient_id", "clinical_assessment", "visit_date", "assigned_doctor_id", "room_no",
                                    "child_patient_id"),
           lambda w: {"patient_id": w.patient_id, "clinical_assessment": "Improving"}),
    Target("api.followups_update", ("clinical_assessment", "visit_date", "assigned_doctor_id", "room_no",
                                    "amend_reason", "version"),
           lambda w: {"clinical_assessment": "Improving further", "amend_reason": "Hostile-input check"}),
    Target("api.followups_delete", ("reason",), lambda w: {"reason": "Written for the wrong visit"}),
    # rating scales
    Target("api.assessments_create", ("instrument", "answers", "visit_id", "proforma_id", "followup_id",
                                      "assessed_on"),
           lambda w: {"instrument": "phq9", "answers": _PHQ9_RISK}),
    Target("api.instruments_score", ("answers",), lambda w: {"answers": {"q1": 1}}),
    Target("api.assessments_acknowledge", ("action",), lambda w: {"action": "Safety plan made"}),
    Target("api.assessments_confirm", (), kind="none"),
    Target("api.assessments_delete", ("reason",), lambda w: {"reason": "Entered for the wrong patient"}),
    # the CAP work-up (a child's intake record): every §1c field
    Target("api.cap_workup_create", _CAP_FIELDS + ("child_patient_id",),
           lambda w: {"child_patient_id": w.child_id}),
    Target("api.cap_workup_update", _CAP_FIELDS + ("version",), lambda w: {"hpi_continued": "Settling"}),
    Target("api.cap_workup_delete", (), kind="none"),
    # the ICD-11 tree's local additions (Admin)
    Target("api.icd11_entities_create", ("parent_id", "title", "code"),
           lambda w: {"parent_id": w.icd11_parent_id, "title": "Hostile added entry"}),
    Target("api.icd11_entities_update", ("title", "code", "is_active"), lambda w: {"title": "Hostile local entry"}),
    Target("api.icd11_entities_delete", (), kind="none"),
    # OPD rooms, a doctor's room today
    Target("api.rooms_create", ("room_number", "description", "doctor_capacity", "is_active"),
           lambda w: {"room_number": "H-2"}),
    Target("api.rooms_update", ("room_number", "description", "doctor_capacity", "is_active"),
           lambda w: {"description": "Hostile room"}),
    Target("api.rooms_delete", ("force",), kind="none"),
    Target("api.users_rooms_select", ("room_number", "assignment_time"), lambda w: {"room_number": w.room_number}),
    Target("api.users_rooms_clear", (), kind="none"),
    Target("api.users_change_room", ("new_room",), lambda w: {"new_room": w.room_number}),
    # referrals
    Target("api.patients_refer", ("to_doctor_id", "reason"), lambda w: {"to_doctor_id": w.spare.id}),
    Target("api.patients_refer_bulk", ("patient_ids", ("patient_ids", 0), "to_doctor_id", "reason"),
           lambda w: {"patient_ids": [w.patient_id], "to_doctor_id": w.spare.id}),
    Target("api.referrals_seen", (), kind="none"),
    Target("api.referrals_complete", (), kind="none"),
    Target("api.referrals_revoke", (), kind="none"),
    # the OPD queue
    Target("api.patients_change_room", ("new_room", "patient_type"), lambda w: {"new_room": w.room_number}),
    Target("api.patients_transfer", ("target_doctor_id", "patient_type"),
           lambda w: {"target_doctor_id": w.users["resident"].id}),
    Target("api.patients_add_to_my_list", ("doctor_id", "patient_type"), lambda w: {}),
    Target("api.patients_visits_reopen", (), kind="none"),
    # child patients (the Child Guidance Clinic)
    Target("api.child_patient_register", _CHILD_KEYS,
           lambda w: {"child_name": "Hostile New Child", "mobile_no": "9876500777", "age": 7}),
    Target("api.child_patient_update", _CHILD_KEYS, lambda w: {"district": "Ropar"}),
    Target("api.child_patient_add_to_today", ("child_patient_id", "assigned_room"),
           lambda w: {"child_patient_id": w.child_id, "assigned_room": w.room_number}),
    Target("api.child_patient_documents", ("@filename", "@content"), lambda w: {}, kind="multipart"),
    Target("api.child_patient_delete", (), kind="none"),
    Target("api.child_patient_move_to_adult", (), kind="none"),
]}

_SECTION_FIELDS = {s["key"]: tuple(f["name"] for f in s["fields"]) for s in intake_form.sections()}


def _cap_inputs() -> tuple:
    """Every input of every CAP work-up section, as ("section key", input name)."""
    from emrs.cap import spec as cap_spec
    out = []
    for key, _title, fields in cap_spec.SECTIONS:
        for f in fields:
            if f.kind == "rows":
                out.extend((key, f"{f.name}-0-{col}") for col in f.keys + ("remove",))
                out.append((key, "add_row"))
            else:
                out.append((key, f.name))
    return tuple(out)


def _section_inputs() -> tuple:
    """Every input of every intake section, as ("section key", input name)."""
    out = []
    for key, names in _SECTION_FIELDS.items():
        for name in names:
            cols = intake_form.ROW_COLUMNS.get(name)
            if cols:
                out.extend((key, f"{name}-0-{col}") for col, _ in cols)
            else:
                out.append((key, name))
    return tuple(out)


_PROFORMA_FORM = clinical_service.FIELDS + tuple(f"{m}__other" for m in clinical_service.MULTI) + ("version",
                                                                                                 "change_reason")
_RX_LINES_FORM = tuple(f"lines-0-{k}" for k in LINE_KEYS) + ("lines-99-medicine",)


def _card_form(w):
    return {"name": "Form Patient", "sex": "F", "age": "33", "date": today_ist().isoformat()}


def _pending_login(w) -> str:
    """A real pending login of the welfare officer (as after a correct password): its raw token."""
    from emrs.auth import service as auth_service
    with w.app.test_request_context():
        _row, raw = auth_service.open_pending_login(w.users["pwo"], "email", "127.0.0.1")
    return raw


PAGE_TARGETS: dict[str, Target] = {t.endpoint: t for t in [
    # sign-in and account (WTForms classes)
    Target("auth.login", form_fields(auth_forms.LoginForm) + ("next",),
           lambda w: {"email": w.users["pwo"].email, "password": "wrong"}, kind="form"),
    Target("auth.login_otp", form_fields(auth_forms.OTPForm), lambda w: {"otp": "000000"}, kind="form",
           session=lambda w: {"pending_2fa": {"token": _pending_login(w), "next": None, "method": "email"}}),
    Target("auth.resend_otp", (), lambda w: {}, kind="form"),
    Target("auth.logout", (), lambda w: {}, kind="form"),
    Target("auth.forgot_password", form_fields(auth_forms.EmailForm), lambda w: {"email": "nobody@test.emrs.local"},
           kind="form"),
    Target("auth.forgot_verify", form_fields(auth_forms.OTPForm), lambda w: {"otp": "000000"}, kind="form",
           session=lambda w: {"reset": {"token": "t" * 64, "verified": False}}),
    Target("auth.reset_password", form_fields(auth_forms.ResetForm),
           lambda w: {"password": "N3w-passw0rd!", "confirm": "N3w-passw0rd!"}, kind="form",
           session=lambda w: {"reset": {"token": "t" * 64, "verified": True}}),
    Target("auth.profile", form_fields(auth_forms.ProfileForm),
           lambda w: {"name": w.users["faculty"].name, "email": w.users["faculty"].email}, kind="form"),
    Target("auth.change_password", form_fields(auth_forms.ChangePasswordForm),
           lambda w: {"current": "wrong", "password": "N3w-passw0rd!", "confirm": "N3w-passw0rd!"}, kind="form"),
    Target("auth.totp_setup", form_fields(auth_forms.OTPForm), lambda w: {"otp": "000000"}, kind="form"),
    Target("auth.totp_remove", form_fields(auth_forms.PasswordConfirmForm), lambda w: {"password": "wrong"},
           kind="form"),
    Target("auth.end_other_sessions", (), lambda w: {}, kind="form"),
    Target("auth.user_new", form_fields(auth_forms.UserForm),
           lambda w: {"name": "Page Person", "email": "page.person@test.emrs.local", "role": "Resident",
                      "sub_role": "JR"}, kind="form"),
    Target("auth.setup_password", form_fields(auth_forms.SetupPasswordForm) + ("token",),
           lambda w: {"token": "t" * 64, "password": "N3w-passw0rd!", "confirm": "N3w-passw0rd!"}, kind="form"),
    Target("auth.user_resend_invitation", ("back",), lambda w: {}, kind="form"),
    Target("auth.user_edit", tuple(f for f in form_fields(auth_forms.UserForm)
                                   if f not in ("password", "two_factor_enabled")),
           lambda w: {"name": w.spare.name, "email": w.spare.email, "role": "Resident", "sub_role": "JR"},
           kind="form"),
    Target("auth.user_set_active", ("active", "back"), lambda w: {"active": "1"}, kind="form"),
    Target("auth.user_set_otp", ("enabled", "back"), lambda w: {"enabled": "1"}, kind="form"),
    Target("auth.user_end_sessions", ("back",), lambda w: {}, kind="form"),
    Target("auth.user_unlock", ("back",), lambda w: {}, kind="form"),
    # option groups and formulary
    Target("clinical.options_add", ("label",), lambda w: {"label": "Form option"}, kind="form"),
    Target("clinical.options_move", ("direction",), lambda w: {"direction": "up"}, kind="form"),
    Target("clinical.options_retire", (), lambda w: {}, kind="form"),
    Target("clinical.options_restore", (), lambda w: {}, kind="form"),
    # the ICD-11 tree's local additions (Admin)
    Target("clinical.icd11_local_new", ("title", "code"), lambda w: {"title": "Form local entry"}, kind="form"),
    Target("clinical.icd11_local_edit", ("title", "code"), lambda w: {"title": "Hostile local entry"}, kind="form"),
    Target("clinical.icd11_local_active", ("active",), lambda w: {"active": "1"}, kind="form"),
    Target("prescriptions.formulary_add", ("generic_name", "drug_class", "brand_names", "strengths", "filter"),
           lambda w: {"generic_name": "Formulamine"}, kind="form"),
    Target("prescriptions.formulary_retire", ("filter",), lambda w: {}, kind="form"),
    Target("prescriptions.formulary_restore", ("filter",), lambda w: {}, kind="form"),
    # withdrawn records (Admin)
    Target("clinical.withdrawn_restore", (), lambda w: {}, kind="form"),
    Target("clinical.withdrawn_purge", (), lambda w: {}, kind="form"),
    # proformas (the service's FIELDS plus the checkbox groups' "Other" boxes)
    Target("clinical.proforma_new", _PROFORMA_FORM,
           lambda w: {"visit_date": today_ist().isoformat(), "diagnosis": "Form diagnosis"}, kind="form",
           query=lambda w: {"patient_id": w.patient_id}),
    Target("clinical.proforma_edit", _PROFORMA_FORM,
           lambda w: {"visit_date": today_ist().isoformat(), "gpe": "Edited"}, kind="form"),
    # the child walk-in proforma
    Target("child_clinical.new", _CHILD_FIELDS, lambda w: {"presenting_complaints": "Form complaint"}, kind="form",
           query=lambda w: {"patient_id": w.child_patient_id}),
    Target("child_clinical.edit", _CHILD_FIELDS, lambda w: {"school_name": "Edited school"}, kind="form"),
    # drafts
    Target("drafts.save", ("_draft_key", "_draft_patient", "gpe", "diagnosis"),
           lambda w: {"_draft_key": "proforma:new", "_draft_patient": str(w.patient_id), "gpe": "typing"},
           kind="form"),
    Target("drafts.discard", ("_draft_key", "_draft_patient", "next"),
           lambda w: {"_draft_key": "proforma:new", "_draft_patient": str(w.patient_id)}, kind="form"),
    # intake record: every input of every section (the section key follows the field)
    Target("intake.save_section", _section_inputs() + ("version",), lambda w: {}, kind="form"),
    Target("intake.open_for_patient", ("patient_id",), lambda w: {"patient_id": str(w.patient_id)}, kind="form"),
    Target("cap.save_section", _cap_inputs() + ("version",), lambda w: {}, kind="form"),
    Target("cap.open_for_child", ("patient_id",), lambda w: {"patient_id": str(w.child_id)}, kind="form"),
    Target("intake.bulk_retrieve", ("file_ids",), lambda w: {"file_ids": str(w.record_id)}, kind="form"),
    Target("intake.bulk_return", ("file_ids",), lambda w: {"file_ids": str(w.record_id)}, kind="form"),
    Target("intake.file_store", ("location", "note", "next"), lambda w: {}, kind="form"),
    Target("intake.file_retrieve", ("note", "next"), lambda w: {}, kind="form"),
    Target("intake.file_return", ("note", "next"), lambda w: {}, kind="form"),
    Target("intake.file_archive", ("confirm", "note", "next"), lambda w: {"confirm": "no"}, kind="form"),
    # patients (the field table; "Others" boxes of code-or-text fields)
    Target("patients.new", F.CARD_NAMES + ("queue_room",), _card_form, kind="form"),
    Target("patients.card_edit", F.CARD_NAMES + ("version", "assigned_doctor_id"),
           lambda w: {"name": "Hostile Target", "sex": "M", "age": "40"}, kind="form"),
    Target("patients.record_edit", F.RECORD_NAMES + tuple(f"{n}__other" for n in CODE_OR_TEXT if n in F.RECORD_NAMES)
           + ("version", "assigned_doctor_id"), lambda w: {"allergies": "None known"}, kind="form"),
    Target("reports.bulk", ("date_from", "date_to"),
           lambda w: {"date_from": today_ist().isoformat(), "date_to": today_ist().isoformat()}, kind="form"),
    Target("patients.assign", ("assigned_doctor_id", "room_no", "visit_date", "notes"),
           lambda w: {"assigned_doctor_id": str(w.users["faculty"].id), "room_no": "9"}, kind="form"),
    Target("patients.complete_visit", ("visit_date", "back"), lambda w: {}, kind="form"),
    Target("patients.archive", (), lambda w: {}, kind="form"),
    Target("patients.files_upload", ("intake_record_id", "@filename", "@content"), lambda w: {}, kind="multipart"),
    Target("patients.file_delete", (), lambda w: {}, kind="form"),
    # prescriptions
    Target("prescriptions.edit", ("follow_up_date", "advice", "override_reason", "version", "change_reason")
           + _RX_LINES_FORM,
           lambda w: {"lines-0-medicine": "Fluoxetine", "lines-0-dosage": "1-0-0"}, kind="form"),
    Target("prescriptions.check", _RX_LINES_FORM, lambda w: {"lines-0-medicine": "Fluoxetine"}, kind="form"),
    Target("prescriptions.edit_followup", ("follow_up_date", "advice", "override_reason", "version", "change_reason")
           + _RX_LINES_FORM,
           lambda w: {"lines-0-medicine": "Fluoxetine", "lines-0-dosage": "1-0-0"}, kind="form"),
    Target("prescriptions.check_followup", _RX_LINES_FORM, lambda w: {"lines-0-medicine": "Fluoxetine"}, kind="form"),
    # follow-up notes
    Target("followups.new", ("clinical_assessment", "visit_date", "patient_id", "@filename", "@content"),
           lambda w: {"clinical_assessment": "Form follow-up"}, kind="multipart",
           query=lambda w: {"patient_id": w.patient_id}),
    Target("followups.amend", ("clinical_assessment", "visit_date", "amend_reason", "version"),
           lambda w: {"clinical_assessment": "Amended on the page", "amend_reason": "Hostile page check"},
           kind="form"),
    Target("followups.withdraw", ("reason",), lambda w: {"reason": "Written for the wrong visit"}, kind="form"),
    # rating scales
    Target("assessments.create", ("instrument", "visit_id", "proforma_id", "followup_id") + tuple(_PHQ9_FORM),
           lambda w: {"instrument": "phq9", **_PHQ9_FORM}, kind="form"),
    Target("assessments.score", ("instrument",) + tuple(_PHQ9_FORM), lambda w: {"instrument": "phq9", "a-q1": "1"},
           kind="form"),
    Target("assessments.acknowledge", ("action",), lambda w: {"action": "Safety plan made"}, kind="form"),
    Target("assessments.confirm", (), lambda w: {}, kind="form"),
    Target("assessments.withdraw", ("reason",), lambda w: {"reason": "Entered for the wrong patient"}, kind="form"),
    Target("assessments.kiosk_start", ("instrument", "visit_id"), lambda w: {"instrument": "phq9"}, kind="form"),
    Target("assessments.kiosk_submit", tuple(_PHQ9_FORM), lambda w: dict(_PHQ9_FORM), kind="form"),
    Target("assessments.kiosk_end", (), lambda w: {}, kind="form"),
    Target("prescriptions.save_template", ("template_name",) + _RX_LINES_FORM,
           lambda w: {"template_name": "Hostile template", "lines-0-medicine": "Fluoxetine"}, kind="form"),
    # OPD rooms and referrals
    Target("opd.room_new", ("room_number", "description", "doctor_capacity"),
           lambda w: {"room_number": "H-3", "doctor_capacity": "1"}, kind="form"),
    Target("opd.room_edit", ("room_number", "description", "doctor_capacity"),
           lambda w: {"room_number": w.room_number, "doctor_capacity": "3"}, kind="form"),
    Target("opd.room_set_active", ("active", "q", "state"), lambda w: {"active": "1"}, kind="form"),
    Target("opd.room_delete", ("q", "state"), lambda w: {}, kind="form"),
    Target("opd.room_move_doctor", ("room_number",), lambda w: {"room_number": w.room_number}, kind="form"),
    Target("opd.refer", ("to_doctor_id", "reason"), lambda w: {"to_doctor_id": str(w.spare.id)}, kind="form"),
    Target("opd.referral_act", ("action", "direction", "status"), lambda w: {"action": "seen"}, kind="form"),
    # the OPD counter and Today's Patients
    Target("opd.counter_register", ("name", "sex", "age", "contact_number", "assigned_room"),
           lambda w: {"name": "Counter Patient", "sex": "F", "age": "30", "assigned_room": w.room_number},
           kind="form"),
    Target("opd.counter_requeue", ("q", "room", "patient_id"), lambda w: {"q": w.cr_no, "room": w.room_number},
           kind="form"),
    Target("opd.pick_room", ("room_id",), lambda w: {"room_id": str(w.room_id)}, kind="form"),
    Target("opd.start", ("next",), lambda w: {}, kind="form"),
    Target("opd.change_room", ("new_room", "q", "room", "scope", "completed"), lambda w: {"new_room": "7"},
           kind="form"),
    Target("opd.transfer", ("target_doctor_id",), lambda w: {"target_doctor_id": str(w.users["resident"].id)},
           kind="form"),
    Target("opd.claim", ("doctor_id",), lambda w: {}, kind="form"),
    Target("opd.complete", (), lambda w: {}, kind="form"),
    Target("opd.reopen", (), lambda w: {}, kind="form"),
    # child patients
    Target("children.new", F.CHILD_NAMES + ("queue_room",),
           lambda w: {"name": "Hostile Page Child", "contact_number": "9876500666", "age": "6"}, kind="form"),
    Target("children.edit", F.CHILD_NAMES + ("version",),
           lambda w: {"name": "Hostile Child", "contact_number": "9876500888", "age": "9"}, kind="form"),
    Target("children.move_to_adult", ("confirm",), lambda w: {"confirm": "yes"}, kind="form"),
]}


# --------------------------------------------------------------------------- routes from app.url_map

def write_rules(app: Flask, prefix: str):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not (rule.methods & WRITE_METHODS):
            continue
        is_api = rule.endpoint.startswith("api.")
        if (prefix == "api") == is_api:
            yield rule


def get_rules(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and "GET" in rule.methods:
            yield rule


CHILD_ROUTES = ("child_clinical.", "api.child_proformas_")  # their <proforma_id> is the child's proforma


def url_for_rule(app: Flask, rule, values: dict, override: dict | None = None) -> str:
    """The rule's URL with the world's values; ``override`` puts raw URL text into
    some arguments (a placeholder is built, then replaced)."""
    override = override or {}
    args, marks = {}, {}
    for i, arg in enumerate(sorted(rule.arguments)):
        if arg in override:
            numeric = type(rule._converters[arg]).__name__.endswith(("IntegerConverter", "NumberConverter"))
            mark = 1_999_999_900 + i if numeric else f"ZZHOSTILE{i}ZZ"
            args[arg], marks[str(mark)] = mark, override[arg]
        elif arg == "proforma_id" and rule.endpoint.startswith(CHILD_ROUTES) and values.get("child_proforma_id"):
            args[arg] = values["child_proforma_id"]
        else:
            args[arg] = values[arg]
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        url = adapter.build(rule.endpoint, args, method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0],
                            append_unknown=False)
    for mark, raw in marks.items():
        url = url.replace(mark, raw)
    return url


def method_of(rule) -> str:
    return sorted(rule.methods & WRITE_METHODS)[0]


def rule_of(app: Flask, endpoint: str, method: str | None = None):
    for rule in app.url_map.iter_rules(endpoint):
        if method is None or method in rule.methods:
            return rule
    raise KeyError(endpoint)


@lru_cache(maxsize=1)
def query_keys() -> tuple[str, ...]:
    """Every query parameter the code reads by name, plus the services' filter tables."""
    pattern = re.compile(r"(?:args|request\.values)\.get(?:list)?\(\s*[\"']([a-zA-Z_]+)[\"']")
    keys = set(patient_search.FILTER_KEYS) | set(clinical_service.LIST_FILTERS)
    for path in EMRS.rglob("*.py"):
        if "fhir" in path.parts:
            continue
        keys.update(pattern.findall(path.read_text(encoding="utf-8")))
    from .hostile_corpus import COMMON_QUERY_KEYS
    keys.update(COMMON_QUERY_KEYS)
    return tuple(sorted(keys))


@lru_cache(maxsize=1)
def literal_form_keys() -> dict[str, set[str]]:
    """Form fields read by name in each view module (request.form.get/getlist("...")): the
    page targets must name them all."""
    pattern = re.compile(r"request\.(?:form|values)\.get(?:list)?\(\s*[\"']([a-zA-Z_]+)[\"']")
    out = {}
    for path in EMRS.rglob("*.py"):
        if "fhir" in path.parts or "api" in path.parts:
            continue
        found = set(pattern.findall(path.read_text(encoding="utf-8")))
        if found:
            out[str(path.relative_to(EMRS))] = found
    return out


# --------------------------------------------------------------------------- building requests

def set_path(body: dict, path, value) -> dict:
    """A copy of ``body`` with ``value`` at ``path`` (a key, or a tuple of keys/indexes)."""
    out = json.loads(json.dumps(body))
    if not isinstance(path, tuple):
        out[path] = value
        return out
    node = out
    for i, key in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(node, list):
            while len(node) <= key:
                node.append({} if not isinstance(nxt, int) else [])
            if not isinstance(node[key], (dict, list)):
                node[key] = {} if not isinstance(nxt, int) else []
            node = node[key]
        else:
            if not isinstance(node.get(key), (dict, list)):
                node[key] = [] if isinstance(nxt, int) else {}
            node = node[key]
    last = path[-1]
    if isinstance(node, list):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return out


def json_bytes(body: dict) -> bytes:
    """JSON text of ``body``; RawJSON values are spliced in verbatim."""
    raws: list[str] = []

    def swap(v):
        if isinstance(v, RawJSON):
            raws.append(v.text)
            return f"__RAW_{len(raws) - 1}__"
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    text = json.dumps(swap(body))
    for i, raw in enumerate(raws):
        text = text.replace(f'"__RAW_{i}__"', raw)
    return text.encode("utf-8")


def form_value(value) -> list[bytes] | None:
    """What a browser could send for a field: text (as bytes; a lone surrogate as its raw
    UTF-8 bytes), several values for a list, nothing for None."""
    if value is None:
        return None
    if isinstance(value, RawJSON):
        value = value.text
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, list):
        out = []
        for v in value:
            out.extend(form_value(v) or [b""])
        return out
    if isinstance(value, dict):
        value = json.dumps(value)
    return [str(value).encode("utf-8", "surrogatepass")]


def form_bytes(fields: dict) -> bytes:
    parts = []
    for name, value in fields.items():
        encoded = form_value(value)
        if encoded is None:
            continue
        for v in encoded:
            parts.append(quote_from_bytes(name.encode(), safe="") + "=" + quote_from_bytes(v, safe=""))
    return "&".join(parts).encode("ascii")


BOUNDARY = "hostile-boundary-7MA4YWxkTrZu0gW"


def multipart_data(base: dict, fieldname, value) -> tuple[bytes, str]:
    """A multipart body, encoded by hand (the test client cannot send every byte): the
    upload "files" plus text fields; ``value`` goes into the upload's file name
    ("@filename"), its bytes ("@content") or a text field."""
    filename, content = b"note.txt", b"plain text\n"
    data = dict(base)
    if fieldname == "@filename":
        filename = (value if isinstance(value, str) else json.dumps(value, default=str)).encode("utf-8",
                                                                                                 "surrogatepass")
    elif fieldname == "@content":
        content = (value if isinstance(value, str) else json.dumps(value, default=str)).encode("utf-8",
                                                                                              "surrogatepass")
    elif fieldname is not None:
        data[fieldname] = value
    b = BOUNDARY.encode()
    parts = []
    for name, v in data.items():
        for encoded in form_value(v) or []:
            parts.append(b"--" + b + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
                         + encoded + b"\r\n")
    parts.append(b"--" + b + b'\r\nContent-Disposition: form-data; name="files"; filename="' + filename
                 + b'"\r\nContent-Type: application/octet-stream\r\n\r\n' + content + b"\r\n")
    return b"".join(parts) + b"--" + b + b"--\r\n", f"multipart/form-data; boundary={BOUNDARY}"


# --------------------------------------------------------------------------- the fixed corpus

FULL = os.environ.get("HOSTILE_FULL") == "1"  # every payload against every route (a long run)
BY_CATEGORY: dict[str, list] = {}
for _p in VALUE_PAYLOADS:
    BY_CATEGORY.setdefault(_p.category, []).append(_p)


def sample(items: list, n: int, offset: int) -> list:
    """``n`` of ``items``, a window that moves with ``offset`` (the route's index), so
    that every item is sent to some routes; all of them with HOSTILE_FULL=1."""
    if FULL or n >= len(items):
        return list(items)
    return [items[(offset + k) % len(items)] for k in range(n)]


def _field(fields: tuple, e: int, j: int):
    return fields[(e * 5 + j * 7) % len(fields)]


def _value_cases(endpoint: str, e: int, fields: tuple, per_category: int, categories, skip=None) -> list[Case]:
    out = []
    for c, category in enumerate(categories):
        for p in sample(BY_CATEGORY[category], per_category, e * per_category):
            if skip and skip(p):
                continue
            f = _field(fields, e, len(out) + c)
            out.append(Case(p.category, endpoint, f"{p.label} in {f}", {"payload": p, "field": f}))
    return out


def _cookie_unsendable(p) -> bool:
    return not isinstance(p.value, str) or "\n" in p.value or "\r" in p.value  # no header can carry it


def _free_args(rule) -> list[str]:
    """Path arguments a client can fill with any text (not a fixed choice such as csv|xlsx)."""
    return [a for a in sorted(rule.arguments) if type(rule._converters[a]).__name__ != "AnyConverter"]


def api_cases(app: Flask) -> list[Case]:
    """Every API write route gets every payload category (two payloads each, in fields
    rotating through those the route reads), 10,000-deep nesting plus three more
    whole-body cases, and hostile path parameters. An alias served by the same handler
    as another route, and a route that reads no body, gets half the categories."""
    cases: list[Case] = []
    rules = sorted(write_rules(app, "api"), key=lambda r: r.endpoint)
    alias = twins(app, [r.endpoint for r in rules])
    categories = list(BY_CATEGORY)
    for e, rule in enumerate(rules):
        t = API_TARGETS[rule.endpoint]
        fields = t.fields or ("unexpected",)
        light = rule.endpoint in alias or t.kind == "none"
        cats = categories[e % 2::2] if light and not FULL else categories
        cases += _value_cases(rule.endpoint, e, fields, 1 if light else 2, cats,
                              skip=_cookie_unsendable if t.kind == "cookie" else None)
        if t.kind in ("json", "none"):
            bodies = list(range(1, len(BODY_CASES)))
            picked = sample(bodies, 1, e) if light else [0] + sample(bodies, 3, e * 3)
            for k in picked:
                category, label, _ctype = BODY_CASES[k]
                cases.append(Case(category, rule.endpoint, label, {"body": k}))
        for arg in _free_args(rule):
            for cat, raw in sample(PATH_PARAM_VALUES, 1 if light else 2, e * 2):
                cases.append(Case(cat, rule.endpoint, f"path {arg}={raw[:30]}", {"path": {arg: raw}}))
    return cases


def page_cases(app: Flask) -> list[Case]:
    """Every page POST route gets every payload category (one payload each, rotating
    fields), one malformed form body, and a request without a valid CSRF token."""
    cases: list[Case] = []
    categories = list(BY_CATEGORY)
    for e, rule in enumerate(sorted(write_rules(app, "pages"), key=lambda r: r.endpoint)):
        t = PAGE_TARGETS[rule.endpoint]
        cases += _value_cases(rule.endpoint, e, t.fields or ("unexpected",), 1, categories,
                              skip=lambda p: isinstance(p.value, RawJSON))
        for cat, label, data, ctype in sample(FORM_BODY_CASES, 1, e):
            cases.append(Case(cat, rule.endpoint, label, {"raw": (data, ctype)}))
        for how in sample(["missing", "forged"], 1, e):
            cases.append(Case("csrf", rule.endpoint, f"{how} CSRF token (CSRF on)", {"csrf": how}))
    return cases


def get_cases(app: Flask) -> list[Case]:
    """Every GET route (pages and API): hostile query values in every query parameter
    the code reads, and hostile path parameters."""
    cases: list[Case] = []
    for e, rule in enumerate(sorted(get_rules(app), key=lambda r: (r.rule, r.endpoint))):
        for cat, value in sample(QUERY_VALUES, 2, e * 2):
            cases.append(Case(cat, rule.endpoint, f"query={str(value)[:30]!r}", {"query": value, "rule": rule.rule}))
        for arg in _free_args(rule):
            for cat, raw in sample(PATH_PARAM_VALUES, 1, e):
                cases.append(Case(cat, rule.endpoint, f"path {arg}={raw[:30]}", {"path": {arg: raw},
                                                                                   "rule": rule.rule}))
    return cases


def corpus_counts() -> dict[str, int]:
    """Fixed-corpus cases per category (hypothesis examples are counted by their tests)."""
    from emrs import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "JWT_SECRET": "y" * 40,
                      "LOG_DIR": "", "TESTING": True})
    cases = api_cases(app) + page_cases(app) + get_cases(app)
    counts = counts_by_category(cases)
    counts["total"] = len(cases)
    return counts


# --------------------------------------------------------------------------- sending

@dataclass
class Outcome:
    resp: object
    refused: bool
    problems: list
    after: dict | None = None


def flashed_error(client) -> bool:
    with client.session_transaction() as s:
        flashes = s.pop("_flashes", [])
    return any(cat in ("error", "warning") for cat, _msg in flashes)


SLOW_SECONDS = 8.0  # one request, even of 10 MB, must not keep a worker busy longer (a loaded 2-core box)


def judge(app, client, before: dict, resp, page: bool, seconds: float = 0.0) -> Outcome:
    """Judge one answer; the snapshot taken after it is the next case's "before"."""
    problems = body_problems(resp)
    if seconds > SLOW_SECONDS:
        problems.append(f"took {seconds:.1f} s")
    refused = resp.status_code >= 400
    if page and not refused and resp.status_code in (301, 302, 303):
        refused = flashed_error(client)
    after = snapshot(app)
    if refused:
        diff = changed(before, after)
        if diff:
            problems.append(f"refused ({resp.status_code}) but changed: {', '.join(diff)}")
    return Outcome(resp, refused, problems, after)


def report(failures: list[str]) -> str:
    return f"{len(failures)} hostile case(s) failed:\n" + "\n".join(failures[:60])


# --------------------------------------------------------------------------- running cases

FRESH_TOKEN = {"api.session_logout"}
FRESH_BROWSER = {"auth.logout", "auth.change_password", "auth.end_other_sessions", "auth.totp_remove",
                 "assessments.kiosk_start"}


def twins(app: Flask, endpoints) -> dict[str, str]:
    """Alias routes served by the same handler (e.g. api.adl_* and api.intake_*): alias -> primary."""
    by_view: dict[int, str] = {}
    out = {}
    for e in sorted(endpoints):
        view = app.view_functions[e]
        key = id(getattr(view, "__wrapped__", view))
        if key in by_view:
            out[e] = by_view[key]
        else:
            by_view[key] = e
    return out


def send_api_case(w: World, rule, case: Case, before: dict) -> Outcome:
    app, spec = w.app, case.spec
    t = API_TARGETS[rule.endpoint]
    role = role_for(rule.endpoint)
    client = app.test_client()
    headers = w.bearer(role)
    if rule.endpoint in FRESH_TOKEN:
        headers = {"Authorization": f"Bearer {issue_token(app, w.users[role])}"}
    base = t.body(w) if t.body else {}
    kind = "json" if t.kind == "none" else t.kind
    data, ctype = None, None
    if "payload" in spec:
        p, fieldname = spec["payload"], spec["field"] or "unexpected"
        if kind == "json":
            data, ctype = json_bytes(set_path(base, fieldname, p.value)), "application/json"
        elif kind == "multipart":
            data, ctype = multipart_data(base, fieldname, p.value)
        else:  # the refresh-token cookie
            headers = {**headers, "Cookie": "refreshToken=" + p.value.encode("utf-8", "surrogatepass")
                       .decode("latin-1")}
    elif "body" in spec:
        b = body_case(spec["body"], base, t.fields or ("unexpected",))
        data, ctype = b.data, b.content_type
    elif "json" in spec:
        data, ctype = json_bytes(spec["json"]), "application/json"
    elif kind == "json":
        data, ctype = json_bytes(base), "application/json"
    elif kind == "multipart":
        data, ctype = multipart_data(base, None, None)
    path = url_for_rule(app, rule, values_for(w, rule.endpoint), spec.get("path"))
    kw = {"data": data} if data is not None else {}
    if ctype:
        kw["content_type"] = ctype
    started = time.perf_counter()
    resp = client.open(path, method=method_of(rule), headers=headers, **kw)
    return judge(app, client, before, resp, page=False, seconds=time.perf_counter() - started)


def send_page_case(w: World, rule, case: Case, before: dict, csrf_app: Flask | None = None) -> Outcome:
    app, spec = w.app, case.spec
    t = PAGE_TARGETS[rule.endpoint]
    role = role_for(rule.endpoint)
    target_app = csrf_app if "csrf" in spec else app
    if role is None:
        client = target_app.test_client()
    elif rule.endpoint in FRESH_BROWSER:
        client = browser_client(target_app, w.users[role])
    else:
        client = w.browser(role, target_app)
    if t.session is not None:
        with client.session_transaction() as s:
            s.update(t.session(w))
    values = values_for(w, rule.endpoint)
    fields = dict(t.body(w) if t.body else {})
    fieldname = spec.get("field")
    if isinstance(fieldname, tuple):  # an intake section input: the URL names the section
        values["key"], fieldname = fieldname
    query = t.query(w) if t.query else {}
    path = url_for_rule(app, rule, values, spec.get("path"))
    if query:
        path += "?" + form_bytes(query).decode()
    data, ctype = None, "application/x-www-form-urlencoded"
    if "payload" in spec:
        value = spec["payload"].value
        if t.kind == "multipart":
            data, ctype = multipart_data(fields, fieldname, value)
        else:
            fields[fieldname] = value
    elif "raw" in spec:
        data, ctype = spec["raw"]
    elif "csrf" in spec and spec["csrf"] == "forged":
        fields["csrf_token"] = "IjEyMyI.forged.token"
    if data is None:
        if t.kind == "multipart":
            data, ctype = multipart_data(fields, None, None)
        else:
            data = form_bytes(fields)
    kw = {"content_type": ctype} if ctype else {}
    started = time.perf_counter()
    resp = client.open(path, method="POST", data=data, **kw)
    out = judge(app, client, before, resp, page=True, seconds=time.perf_counter() - started)
    if "csrf" in spec and resp.status_code != 400:
        out.problems.append(f"CSRF not enforced: {resp.status_code}")
    return out


HUGE_QUERY_KEYS = ("q", "search", "page")


def send_get_case(w: World, rule, case: Case, before: dict | None = None) -> Outcome:
    app, spec = w.app, case.spec
    role = role_for(rule.endpoint)
    is_api = rule.endpoint.startswith("api.")
    client = app.test_client() if is_api or role is None else w.browser(role)
    headers = w.bearer(role) if is_api else {}
    path = url_for_rule(app, rule, values_for(w, rule.endpoint), spec.get("path"))
    if isinstance(spec.get("query"), dict):
        path += "?" + form_bytes(spec["query"]).decode()
    elif "query" in spec:
        value = spec["query"]
        keys = HUGE_QUERY_KEYS if isinstance(value, str) and len(value) > 1000 else query_keys()
        path += "?" + form_bytes({k: value for k in keys}).decode()
    resp = client.get(path, headers=headers)
    return Outcome(resp, resp.status_code >= 400, body_problems(resp))


def run(w: World, cases: list[Case], send, **kw) -> list[str]:
    """Send ``cases`` in order; the failures as readable lines."""
    failures = []
    state = snapshot(w.app)
    for case in cases:
        rule = rule_for_case(w.app, case)
        started = time.perf_counter()
        out = send(w, rule, case, state, **kw)
        state = out.after if out.after is not None else state
        if os.environ.get("HOSTILE_TIMING") and time.perf_counter() - started > 0.2:
            print(f"SLOW {time.perf_counter() - started:.2f}s {case.target} {case.label}")
        failures += [f"{case.target} [{case.category}] {case.label}: {p}" for p in out.problems]
    return failures


def rule_for_case(app: Flask, case: Case):
    wanted = case.spec.get("rule")
    for rule in app.url_map.iter_rules(case.target):
        if wanted is None or rule.rule == wanted:
            return rule
    raise KeyError(case.target)


def group_of(app: Flask, endpoint: str) -> str:
    """API routes by the module of their handler, pages by blueprint."""
    if endpoint.startswith("api."):
        view = app.view_functions[endpoint]
        module = getattr(view, "__wrapped__", view).__module__.rsplit(".", 1)[-1]
        return API_GROUPS_BY_MODULE.get(module, module)
    blueprint = endpoint.split(".", 1)[0]
    return PAGE_GROUPS_BY_BLUEPRINT.get(blueprint, blueprint)


API_GROUPS_BY_MODULE = {"session": "users", "reports": "patients", "clinical_options": "clinical",
                        "medicines": "prescriptions", "patient_stats": "patients", "icd11": "clinical",
                        "rooms": "patients", "referrals": "patients", "dashboard": "patients", "followups": "clinical",
                        "opd": "opd", "child_patients": "patients", "child_proformas": "clinical", "cap_workup": "intake",
                        "assessments": "clinical"}
PAGE_GROUPS_BY_BLUEPRINT = {"reports": "patients", "drafts": "clinical", "dashboard": "auth", "audit": "auth",
                            "health": "auth", "followups": "clinical",
                            "children": "patients", "child_clinical": "clinical", "cap": "intake",
                            "assessments": "clinical"}
API_GROUPS = ("users", "patients", "patient_files", "clinical", "intake", "prescriptions", "opd")
PAGE_GROUPS = ("auth", "patients", "clinical", "intake", "prescriptions", "opd")


def destructive_last(case_or_endpoint) -> tuple:
    """Order inside a group: routes that delete, archive, deactivate or sign out go last
    (the patient's own archive very last), so the others still find the world intact."""
    e = case_or_endpoint if isinstance(case_or_endpoint, str) else case_or_endpoint.target
    if e in ("api.patients_delete", "patients.archive"):
        return (3, e)
    if any(w in e for w in ("delete", "deactivate", "archive", "logout", "remove", "retire", "end_sessions",
                            "set_active")) or e == "followups.withdraw":
        return (2, e)
    return (1, e)
