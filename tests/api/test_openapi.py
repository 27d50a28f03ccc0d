"""The OpenAPI document (/api/openapi.json) and its docs page (/api/docs): a valid
OpenAPI 3.1 document; every api route described and nothing described that is not
routed; a client that knows only the document walks a clinical flow and checks every
answer against the document's schemas; a bounded schemathesis run over the app.

Run the schemathesis part alone: ``pytest tests/api/test_openapi.py -k schemathesis``.
"""
from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from flask import Flask
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from werkzeug.exceptions import MethodNotAllowed, NotFound

from emrs.api.openapi import build_document
from emrs.auth.permissions import PERMISSIONS, PUBLIC
from emrs.timeutil import today_ist

from ..conftest import PASSWORD

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
def doc(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


# ---------------------------------------------------------------------------- (a) valid OpenAPI 3.1

def test_the_document_is_valid_openapi_3_1_and_public(client, doc):
    assert doc["openapi"].startswith("3.1.")
    validate_spec(doc)  # raises on any error
    ids = [op["operationId"] for _p, _m, op in operations(doc)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert "patients_list" in ids and {"index", "index_slash"} <= set(ids)
    tags = {t["name"] for t in doc["tags"]}
    assert all(op["tags"][0] in tags and op["summary"] for _p, _m, op in operations(doc))
    # No token needed to read it; the docs page is public too.
    assert client.get("/api/docs").status_code == 200


def test_security_follows_the_permission_map(app, doc):
    adapter = app.url_map.bind("localhost")
    for path, method, op in operations(doc):
        endpoint = adapter.match(_concrete(path, op), method=method.upper())[0]
        rule = PERMISSIONS[endpoint]
        if endpoint in ("api.session_refresh", "api.session_activity"):
            assert op["security"] == [{"refreshCookie": []}]
        elif rule == PUBLIC:
            assert op["security"] == [], path
        else:
            assert op["security"] == [{"bearerAuth": []}], path
            assert "401" in op["responses"], path
        if isinstance(rule, frozenset):
            assert "403" in op["responses"] and op["x-roles"] == sorted(rule), path
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["refreshCookie"]["in"] == "cookie" and schemes["refreshCookie"]["name"] == "refreshToken"


def test_ids_are_integers_and_lists_are_paginated(doc):
    get_patient = doc["paths"]["/api/patients/{patient_id}"]["get"]
    (param,) = [p for p in get_patient["parameters"] if p["in"] == "path"]
    assert param["schema"]["type"] == "integer" and param["required"] is True
    assert {"400", "404", "401", "403"} <= set(get_patient["responses"])
    listing = doc["paths"]["/api/patients"]["get"]
    names = {p["name"]: p for p in listing["parameters"]}
    assert names["page"]["schema"]["minimum"] == 1 and names["limit"]["schema"]["maximum"] == 1000
    data = listing["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert data["properties"]["pagination"] == {"$ref": "#/components/schemas/Pagination"}
    medicine = doc["paths"]["/api/medicines/{medicine_id}"]["get"]["parameters"][0]
    assert medicine["schema"] == {"type": "integer", "minimum": 0, "maximum": 2147483647}
    upload = doc["paths"]["/api/patient-files/create"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload and "patient_id" in upload["multipart/form-data"]["schema"]["required"]


def test_schemas_come_from_the_field_tables(doc):
    """The patient's request schema carries the rules of patients/fields.py."""
    from emrs.patients import fields as F
    schemas = doc["components"]["schemas"]
    props = schemas["PatientInput"]["properties"]
    assert set(F.ALL_FIELDS) <= set(props)
    assert props["sex"]["enum"] == ["M", "F", "Other", None] and props["age"]["maximum"] == 150
    assert props["pin_code"]["pattern"] == r"^\d{6}$" and schemas["PatientInput"]["required"] == ["name"]
    assert set(schemas["PatientCard"]["properties"]) >= set(F.CARD_NAMES)
    assert "version" in schemas["Patient"]["required"] and "name_key" not in schemas["Patient"]["properties"]


def test_the_docs_page_keeps_the_strict_csp(client):
    from emrs.web import CSP
    resp = client.get("/api/docs")
    html = resp.get_data(as_text=True)
    assert resp.headers["Content-Security-Policy"] == CSP and "'unsafe-inline'" not in CSP
    assert '<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"' in html
    assert '<script src="/static/js/api-docs.js"' in html and "<script>" not in html
    assert 'data-url="/api/openapi.json"' in html
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert client.get(f"/static/vendor/swagger-ui/{name}").status_code == 200, name


# ---------------------------------------------------------------------------- (b) routes <-> document

def _sample(param) -> str:
    return "7" if param["schema"].get("type") == "integer" else "abc"


def _concrete(path: str, op: dict) -> str:
    values = {p["name"]: _sample(p) for p in op.get("parameters", []) if p.get("in") == "path"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def undocumented_routes(app: Flask, doc: dict) -> list[str]:
    """api routes (rule + method) that no operation of the document reaches."""
    adapter = app.url_map.bind("localhost")
    reached = set()
    for path, method, op in operations(doc):
        try:
            rule, _args = adapter.match(_concrete(path, op), method=method.upper(), return_rule=True)
        except (NotFound, MethodNotAllowed):
            continue
        reached.add((rule.rule, method.upper()))
    return sorted(f"{m} {r.rule} ({r.endpoint})" for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")
                  for m in r.methods - {"HEAD", "OPTIONS"} if (r.rule, m) not in reached)


def unrouted_operations(app: Flask, doc: dict) -> list[str]:
    """Documented path + method that the app does not route to that operation's endpoint."""
    adapter = app.url_map.bind("localhost")
    bad = []
    for path, method, op in operations(doc):
        try:
            rule, _args = adapter.match(_concrete(path, op), method=method.upper(), return_rule=True)
        except (NotFound, MethodNotAllowed):
            bad.append(f"{method.upper()} {path}")
            continue
        if not rule.endpoint.startswith("api.") or not op["operationId"].startswith(rule.endpoint[4:]):
            bad.append(f"{method.upper()} {path} reaches {rule.endpoint}, not {op['operationId']}")
        elif _concrete(path, op) != re.sub(r"<[^>]+>", "x", rule.rule) and \
                re.sub(r"\{\w+\}", "x", path) != re.sub(r"<[^>]+>", "x", rule.rule):
            bad.append(f"{method.upper()} {path} is not the template of {rule.rule}")
    return bad


def test_every_api_route_is_in_the_document_and_nothing_else(app, doc):
    assert undocumented_routes(app, doc) == []
    assert unrouted_operations(app, doc) == []
    assert sum(1 for _ in operations(doc)) == sum(
        len(r.methods - {"HEAD", "OPTIONS"}) for r in app.url_map.iter_rules() if r.endpoint.startswith("api."))


def test_each_route_is_described_in_the_module_that_holds_it(app):
    """The description of a route lives next to it: an ``OPENAPI`` entry names only routes of
    its own module, so moving a route without its description fails here."""
    import sys
    modules = {view.__module__ for endpoint, view in app.view_functions.items() if endpoint.startswith("api.")}
    elsewhere = []
    for name in sorted(modules):
        for endpoint in getattr(sys.modules[name], "OPENAPI", {}):
            view = app.view_functions.get(f"api.{endpoint}")
            if view is None or view.__module__ != name:
                elsewhere.append(f"{name}: {endpoint}")
    assert elsewhere == []
    assert {"emrs.api.patients", "emrs.api.users", "emrs.api.intake"} <= {
        name for name in modules if getattr(sys.modules[name], "OPENAPI", None)}


def test_the_route_checks_catch_a_new_route_and_a_stale_path(app):
    from emrs import create_app
    from ..conftest import make_config
    other = create_app({**make_config("openapi-extra", database=False)})
    other.add_url_rule("/api/extra/<item_id>", endpoint="api.extra", view_func=lambda item_id: "", methods=["PATCH"])
    with other.app_context():
        extra_doc = build_document(other)
    assert undocumented_routes(other, extra_doc) == ["PATCH /api/extra/<item_id> (api.extra)"]
    extra_doc["paths"]["/api/nowhere/{x}"] = {"get": {"operationId": "nowhere", "parameters": [
        {"name": "x", "in": "path", "required": True, "schema": {"type": "integer"}}]}}
    assert unrouted_operations(other, extra_doc) == ["GET /api/nowhere/{x}"]


def test_every_service_process_describes_the_whole_api():
    """Behind the gateway /api/openapi.json comes from the user service; it must still
    describe the routes of the other four services."""
    from emrs import create_app
    from ..conftest import make_config
    other = create_app({**make_config("openapi-svc", database=False), "EMRS_SERVICES": "user"})
    resp = other.test_client().get("/api/openapi.json")
    assert resp.status_code == 200
    paths = resp.get_json()["paths"]
    assert {"/api/users/login", "/api/patients", "/api/prescriptions", "/api/adl-files"} <= set(paths)


# ---------------------------------------------------------------------------- (c) a generated client

class DocumentClient:
    """Knows only the OpenAPI document: finds operations by operationId, fills the path
    template, and validates every answer against that operation's response schema."""

    def __init__(self, http, document: dict):
        self.http, self.doc, self.token = http, document, None
        self.ops = {op["operationId"]: (path, method, op) for path, method, op in operations(document)}

    def _schema_pointer(self, path, method, status, op) -> str:
        response = op["responses"].get(str(status))
        assert response is not None, f"{op['operationId']} answered {status}, which the document does not list"
        if "$ref" in response:
            return response["$ref"] + "/content/application~1json/schema"
        escaped = path.replace("~", "~0").replace("/", "~1")
        return f"#/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"

    def call(self, operation_id: str, path_params: dict | None = None, query: dict | None = None, body=None,
             form: dict | None = None):
        path, method, op = self.ops[operation_id]
        url = re.sub(r"\{(\w+)\}", lambda m: quote(str((path_params or {})[m.group(1)]), safe=""), path)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token and {"bearerAuth": []} in op["security"] \
            else {}
        if form is not None:
            assert "multipart/form-data" in op["requestBody"]["content"], operation_id
            resp = self.http.open(url, method=method.upper(), data=form, headers=headers,
                                  content_type="multipart/form-data")
        else:
            resp = self.http.open(url, method=method.upper(), query_string=query, json=body, headers=headers)
        documented = op["responses"].get(str(resp.status_code), {})
        if "content" in documented and "application/json" not in documented["content"]:
            assert resp.mimetype in documented["content"] or "application/octet-stream" in documented["content"], \
                (operation_id, resp.mimetype)
            return resp.status_code, resp.data
        payload = resp.get_json()
        root = {**self.doc, "$ref": self._schema_pointer(path, method, resp.status_code, op)}
        errors = sorted(Draft202012Validator(root, format_checker=FormatChecker()).iter_errors(payload),
                        key=lambda e: list(e.path))
        assert not errors, f"{operation_id} {resp.status_code}: " + "; ".join(
            f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
        return resp.status_code, payload


@pytest.fixture
def three_patients(app, users):
    from emrs.patients import registration
    with app.test_request_context():
        return [registration.register({"name": name, "sex": "M", "age": 30 + i}, users["pwo"], step="card").id
                for i, name in enumerate(("Amrit Pal", "Balbir Singh", "Charanjit Kaur"))]


def test_a_client_generated_from_the_document_walks_a_visit(client, doc, users, outbox, three_patients):
    api = DocumentClient(client, doc)
    doctor = users["resident"]
    status, body = api.call("users_login", body={"email": doctor.email, "password": PASSWORD})
    assert status == 200 and body["data"]["method"] == "email"
    status, body = api.call("users_verify_login_otp", body={"user_id": body["data"]["user_id"],
                                                            "otp": outbox.last_code(doctor.email)})
    assert status == 200 and body["data"]["user"]["email"] == doctor.email
    api.token = body["data"]["accessToken"]

    _, page1 = api.call("patients_list", query={"page": 1, "limit": 2})
    _, page2 = api.call("patients_list", query={"page": 2, "limit": 2})
    assert page1["data"]["pagination"]["total"] >= 3 and page1["data"]["pagination"]["pages"] >= 2
    first, second = ({p["id"] for p in page["data"]["patients"]} for page in (page1, page2))
    assert len(first) == 2 and second and not first & second

    status, body = api.call("patients_create", body={"name": "Daljit Kaur", "sex": "F", "age": 45})
    assert status == 201 and body["message"] == "Patient registered successfully"
    patient = body["data"]["patient"]
    status, body = api.call("proformas_create", body={
        "patient_id": patient["id"], "visit_date": today_ist().isoformat(), "mood": ["Sad", "Irritable"],
        "diagnosis": "Depressive episode", "icd_code": "F32.1", "case_severity": "moderate"})
    assert status == 201
    proforma = body["data"]["proforma"]
    assert proforma["patient_id"] == patient["id"] and proforma["mood"] == "Sad, Irritable"
    status, body = api.call("prescriptions_create", body={
        "patient_id": patient["id"], "clinical_proforma_id": proforma["id"], "prescription": [
            {"medicine": "Escitalopram 10 mg", "dosage": "0-0-1", "when": "After food", "duration": "1 month"},
            {"medicine": "Clonazepam 0.25 mg", "dosage": "0-0-1", "when_to_take": "Bedtime", "qty": "14"}]})
    assert status == 201 and body["message"] == "Prescription created successfully with 2 medication(s)"
    rx = body["data"]["prescription"]

    _, body = api.call("proformas_get", {"proforma_id": proforma["id"]})
    assert body["data"]["proforma"]["icd_code"] == "F32.1" and body["data"]["proforma"]["cr_no"] == patient["cr_no"]
    _, body = api.call("prescriptions_get", {"rx_id": rx["id"]})
    lines = body["data"]["prescription"]["prescription"]
    assert [(l["medicine"], l["when_to_take"], l["quantity"]) for l in lines] == [
        ("Escitalopram 10 mg", "After food", "30"), ("Clonazepam 0.25 mg", "Bedtime", "14")]  # 0-0-1 × 1 month
    # Errors are described too: an unknown proforma is the documented 404 envelope.
    status, body = api.call("proformas_get", {"proforma_id": 999_999_999})
    assert status == 404 and body == {"success": False, "message": "Clinical proforma not found"}


def test_the_richer_answers_match_the_document_too(client, doc, users, make_user, outbox, tmp_path):
    """Answers the fuzzer rarely reaches: login without a code, session routes, a complex
    case with its intake record and file moves, uploads, the PDF, archiving."""
    import io
    api = DocumentClient(client, doc)
    status, body = api.call("index")
    assert status == 200 and body["documentation"] == "/api/docs"
    service_account = make_user("Faculty", otp=False)
    status, body = api.call("users_login", body={"email": service_account.email, "password": PASSWORD})
    assert status == 200 and body["data"]["expiresIn"] > 0  # Tokens straight away, no code
    api.token = body["data"]["accessToken"]
    _, body = api.call("session_info")
    assert body["data"]["secondsUntilExpiry"] > 0
    status, body = api.call("session_refresh")  # the refresh cookie from the login answer
    assert status == 200
    api.token = body["data"]["accessToken"]
    assert api.call("session_activity")[0] == 200

    status, body = api.call("patients_register_complete", body={"name": "Ekam Singh", "sex": "M", "age": 27})
    patient = body["data"]["patient"]
    status, body = api.call("proformas_create", body={
        "patient_id": patient["id"], "visit_date": today_ist().isoformat(), "doctor_decision": "complex_case",
        "diagnosis": "Bipolar disorder", "informants": [{"name": "Mother", "relationship": "mother"}], "prescriptions": [{"medicine": "Lithium 300 mg"}]})
    assert status == 201 and body["message"] == "Complex case with ADL file saved successfully"
    assert body["prescriptions"]["count"] == 1  # the original's shape: a sibling of data
    record, proforma = body["data"]["adl_file"], body["data"]["clinical_proforma"]
    status, body = api.call("proformas_update", {"proforma_id": proforma["id"]}, body={"diagnosis": "Mania"})
    assert status == 200 and body["data"]["adl_file"]["id"] == record["id"]
    _, body = api.call("intake_update", {"record_id": record["id"]}, body={"file_status": "stored"})
    assert body["data"]["adlFile"]["file_status"] == "stored"
    _, body = api.call("adl_retrieve", {"record_id": record["id"]}, body={"notes": "OPD room 12"})
    assert body["data"]["adlFile"]["file_status"] == "retrieved"
    _, body = api.call("intake_active")
    assert [f["id"] for f in body["data"]["activeFiles"]] == [record["id"]]
    _, body = api.call("intake_bulk_return", body={"file_ids": [record["id"], 999_999]})
    assert len(body["data"]["returned"]) == 1 and len(body["data"]["errors"]) == 1
    _, body = api.call("adl_movement_history", {"record_id": record["id"]})
    assert [m["movement_type"] for m in body["data"]["movementHistory"]][:2] == ["returned", "retrieved"]
    _, body = api.call("patients_profile", {"patient_id": patient["id"]})
    assert body["data"]["adlFiles"][0]["id"] == record["id"]
    _, body = api.call("prescriptions_by_proforma", {"proforma_id": proforma["id"]})
    status, pdf = api.call("prescriptions_pdf", {"rx_id": body["data"]["prescription"]["id"]}, query={"size": "A5"})
    assert status == 200 and pdf.startswith(b"%PDF")

    status, body = api.call("patient_files_create", form={
        "patient_id": str(patient["id"]), "files": (io.BytesIO(b"discharge summary\n"), "summary.txt")})
    assert status == 201 and body["data"]["file_details"][0]["mime_type"] == "text/plain"
    path = body["data"]["files"][0]
    _, body = api.call("patient_files_get", {"patient_id": patient["id"]})
    assert body["data"]["files"] == [path] and body["data"]["record"]["attachment"] == [path]
    status, data = api.call("patient_files_download", {"patient_id": patient["id"],
                                                       "file_id": path.rsplit("/", 1)[1]})
    assert status == 200 and data == b"discharge summary\n"
    _, body = api.call("patients_files_delete_alias", {"patient_id": patient["id"], "file_path": path})
    assert body["data"]["files"] == [] and body["data"]["record"] is None

    status, body = api.call("users_verify_login_otp", body={"user_id": service_account.id, "otp": "000000"})
    assert status == 401 and body["success"] is False
    admin = DocumentClient(client, doc)
    admin.token = api_login_token(client, outbox, users["admin"])
    status, body = admin.call("patients_delete", {"patient_id": patient["id"]})
    assert status == 200 and body["archived"] is True and body["deletedPatientId"] == str(patient["id"])
    status, body = admin.call("users_get", {"user_id": 999_999_999})
    assert status == 404
    assert api.call("session_logout")[0] == 200
    status, body = api.call("users_profile")
    assert status == 401


def api_login_token(client, outbox, user):
    from ..conftest import api_login
    return api_login(client, outbox, user)


# ---------------------------------------------------------------------------- (d) schemathesis

# Besides every GET: the main writes (none that end the caller's own session or account).
FUZZED_WRITES = {
    "patients_create", "patients_register_complete", "patients_update", "patients_assign",
    "patients_visits_complete", "sessions_create", "patient_cards_create", "patient_cards_update",
    "out_patient_records_update", "proformas_create", "proformas_update", "prescriptions_create",
    "prescriptions_update", "intake_create", "intake_update", "clinical_options_add", "medicines_create",
    "users_register", "users_update", "users_profile_update",
}


@pytest.fixture
def seeded(app, users):
    """A small clinic: patients, a simple and a complex proforma, an intake record, a
    prescription, a visit, a stored file. Returns real values for path parameters."""
    import io
    from werkzeug.datastructures import FileStorage
    from sqlalchemy import select
    from emrs.clinical import service as clinical
    from emrs.extensions import db
    from emrs.patients import files as files_service, registration, visits
    from emrs.prescriptions import service as rx
    from emrs.prescriptions.models import Medicine

    doctor, clerk = users["resident"], users["pwo"]
    with app.test_request_context():
        people = [registration.register({"name": n, "sex": s, "age": a, "contact_number": m, "psy_no": psy}, clerk,
                                        step="complete")
                  for n, s, a, m, psy in (("Gurmeet Kaur", "F", 38, "9876500011", "PSY-OA-1"),
                                          ("Sukhdev Singh", "M", 61, None, None),
                                          ("Rajinder Pal", "M", 19, "9876500012", None))]
        first = people[0]
        visits.assign(first, clerk, doctor.id, "12", None, None)
        today = today_ist().isoformat()
        simple, _, _ = clinical.create({"patient_id": first.id, "visit_date": today, "diagnosis": "Anxiety"}, doctor)
        complex_, record, _ = clinical.create({"patient_id": people[1].id, "visit_date": today,
                                               "doctor_decision": "complex_case", "diagnosis": "Mania"}, doctor)
        row, _ = rx.save_for_proforma({"clinical_proforma_id": simple.id, "prescription": [
            {"medicine": "Sertraline 50 mg", "dosage": "1-0-0"}, {"medicine": "Propranolol 10 mg"}]}, doctor)
        (stored,) = files_service.upload(first, [FileStorage(io.BytesIO(b"referral letter\n"), "referral.txt",
                                                             content_type="text/plain")], clerk)
        medicine = db.session.execute(select(Medicine.id).limit(1)).scalar_one()
        return {"patient_id": first.id, "proforma_id": simple.id, "record_id": record.id, "rx_id": row.id,
                "file_id": stored.id, "user_id": doctor.id, "medicine_id": medicine, "cr_no": first.cr_no,
                "psy_no": first.psy_no, "adl_no": record.adl_no, "group": "mood",
                "complex_proforma_id": complex_.id}


@pytest.fixture
def tokens(users, api_token):
    """A token per role, each logged in once."""
    return {key: api_token(user) for key, user in users.items()}


# A few examples per operation keep the suite fast; EMRS_SCHEMATHESIS_EXAMPLES=50 runs longer.
MAX_EXAMPLES = int(os.environ.get("EMRS_SCHEMATHESIS_EXAMPLES", "4"))


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(app, seeded, tokens):
    """Every GET and the main writes, a few generated requests each (half of them with the
    seeded rows' ids so the handlers' real paths run), checked for 5xx answers and for
    bodies that do not match the document. Admin's token, or an allowed role's where the
    permission map leaves Admin out."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    role_of = {"Admin": "admin", "Faculty": "faculty", "Resident": "resident", "Psychiatric Welfare Officer": "pwo"}
    failures, ran = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        raw = operation.definition.raw
        if operation.method.upper() != "GET" and raw["operationId"] not in FUZZED_WRITES:
            continue
        roles = raw["x-roles"]
        key = "admin" if roles in ("any", "public") or "Admin" in roles else role_of[roles[0]]
        headers = {"Authorization": f"Bearer {tokens[key]}"}
        real = {p.name: seeded[p.name] for p in operation.path_parameters if p.name in seeded}
        strategy = operation.as_strategy()
        if real:
            strategy = st.one_of(operation.as_strategy(path_parameters=real), strategy)

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  derandomize=os.environ.get("EMRS_SCHEMATHESIS_RANDOM") != "1",
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @given(case=strategy)
        def check(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance,
                                                                   status_code_conformance])

        ran += 1
        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failure is reported together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert ran > 80
    assert not failures, "\n\n".join(failures)
