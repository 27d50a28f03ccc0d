"""/fhir: what an integrator's FHIR R4 client parses — resources, bundles, paging,
errors as OperationOutcome — and the audit rows every read leaves."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.fhir import service as fhir
from emrs.timeutil import today_ist

from .conftest import fhir_body, issue

CR, PSY, ADL = fhir.CR_SYSTEM, fhir.PSY_SYSTEM, fhir.ADL_SYSTEM
ABHA, ABHA_ADDR = fhir.ABHA_NUMBER_SYSTEM, fhir.ABHA_ADDRESS_SYSTEM


def _audit(action: str) -> list[AuditLog]:
    return list(db.session.execute(select(AuditLog).where(AuditLog.action == action)
                                   .order_by(AuditLog.id)).scalars())


def _ids(bundle: dict, kind: str | None = None) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if kind in (None, e["resource"]["resourceType"])]


def _link(bundle: dict, relation: str) -> str | None:
    return next((l["url"] for l in bundle["link"] if l["relation"] == relation), None)


def _get(client, url: str, headers):
    """Follow an absolute link of a Bundle."""
    parts = urlsplit(url)
    return client.get(parts.path, query_string=parts.query, headers=headers)


# ------------------------------------------------------------------ metadata

def test_capability_statement_is_public_and_lists_exactly_what_is_served(client):
    body = fhir_body(client.get("/fhir/metadata"))
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1" and body["kind"] == "instance" and "json" in body["format"]
    assert body["implementation"]["url"] == "http://localhost/fhir"
    rest = body["rest"][0]
    assert rest["mode"] == "server"
    by_type = {r["type"]: r for r in rest["resource"]}
    assert list(by_type) == ["Patient", "Encounter", "Condition", "MedicationRequest", "Questionnaire",
                             "QuestionnaireResponse", "Observation"]
    assert [i["code"] for i in by_type["Patient"]["interaction"]] == ["read", "search-type"]
    assert [p["name"] for p in by_type["Patient"]["searchParam"]] == ["identifier", "name"]
    assert by_type["Patient"]["operation"] == [
        {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
    for kind in ("Encounter", "Condition", "MedicationRequest"):
        assert [i["code"] for i in by_type[kind]["interaction"]] == ["read", "search-type"]
        assert [(p["name"], p["type"]) for p in by_type[kind]["searchParam"]] == [("patient", "reference")]
    for system in (CR, PSY, ADL, ABHA, ABHA_ADDR):
        assert system in by_type["Patient"]["searchParam"][0]["documentation"]


def test_capability_statement_with_a_token_or_an_expired_one(client, h):
    """Public means public: a client that always sends its token gets it too (as does /api)."""
    assert fhir_body(client.get("/fhir/metadata", headers=h["pwo"]))["resourceType"] == "CapabilityStatement"
    assert fhir_body(client.get("/fhir/metadata", headers={"Authorization": "Bearer expired"}))
    assert client.get("/api", headers=h["pwo"]).status_code == 200


# ------------------------------------------------------------------ Patient read

def test_patient_read_maps_identifiers_demographics_and_is_audited(client, h, users, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    resp = client.get(f"/fhir/Patient/{pid}", headers=h["pwo"])
    body = fhir_body(resp)
    assert resp.headers["Cache-Control"] == "no-store"
    assert body["resourceType"] == "Patient" and body["id"] == str(pid) and body["active"] is True
    ids = {i["system"]: i for i in body["identifier"]}
    assert ids[CR]["value"] == "CR2026000777" and ids[CR]["type"]["coding"][0]["code"] == "MR"
    assert ids[PSY]["value"] == "PSY2026000042"
    assert ids[ABHA]["value"] == "91-7654-3210-9876"
    assert ids[ABHA_ADDR]["value"] == "gurnam.sandhu@abdm"
    assert ADL not in ids  # no intake record yet
    assert body["name"] == [{"use": "official", "text": "Gurnam Singh Sandhu"}]
    assert body["gender"] == "male"
    assert body["telecom"] == [{"system": "phone", "value": "9876543210", "use": "mobile"}]
    assert body["address"][0]["postalCode"] == "160015" and body["address"][0]["city"] == "Chandigarh"
    assert body["maritalStatus"]["coding"][0]["code"] == "M"
    assert body["meta"]["versionId"] == str(clinical_patient["patient"]["version"])
    rows = _audit("fhir_read")
    assert [(r.patient_id, r.user_id, r.entity_id) for r in rows] == [(pid, users["pwo"].id, str(pid))]
    assert rows[0].details == {"resource": "Patient"}


def test_unknown_malformed_and_archived_patients_are_404(client, h, clinical_patient):
    for path in ("/fhir/Patient/999999", "/fhir/Patient/abc", "/fhir/Patient/99999999999",
                 "/fhir/Patient/999999/$everything"):
        problem = issue(client.get(path, headers=h["admin"]), 404)
        assert problem["code"] == "not-found" and problem["diagnostics"] == "Patient not found", path
    pid = clinical_patient["patient"]["id"]
    assert client.delete(f"/api/patients/{pid}", headers=h["admin"]).status_code == 200  # archived
    assert issue(client.get(f"/fhir/Patient/{pid}", headers=h["resident"]), 404)["code"] == "not-found"
    assert issue(client.get(f"/fhir/Patient/{pid}/$everything", headers=h["resident"]), 404)["code"] == "not-found"
    found = fhir_body(client.get("/fhir/Patient", query_string={"identifier": f"{CR}|CR2026000777"},
                                 headers=h["resident"]))
    assert found["total"] == 0 and found["entry"] == []
    visits = fhir_body(client.get("/fhir/Encounter", query_string={"patient": pid}, headers=h["resident"]))
    assert visits["total"] == 0 and visits["entry"] == []
    assert _audit("fhir_read") == []


# ------------------------------------------------------------------ authentication and roles

def test_no_or_bad_token_is_401_operation_outcome(client, role_client, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    for headers, message in (({}, "Access token required"), ({"Authorization": "Bearer nonsense"}, "Invalid token"),
                             ({"Authorization": "Basic dXNlcjpwYXNz"}, "Access token required")):
        resp = client.get(f"/fhir/Patient/{pid}", headers=headers)
        problem = issue(resp, 401)
        assert problem == {"severity": "error", "code": "login", "diagnostics": message}
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    # A signed-in browser is not enough: FHIR takes bearer tokens only.
    assert issue(role_client("admin").get(f"/fhir/Patient/{pid}"), 401)["code"] == "login"
    assert issue(client.get("/fhir/Encounter", query_string={"patient": pid}), 401)["code"] == "login"
    assert _audit("fhir_read") == [] and _audit("fhir_search") == []


def test_an_idle_session_says_session_expired_like_the_api(client, users, api_token, clinical_patient):
    import datetime as dt

    from emrs.auth.models import UserSession
    token = api_token(users["resident"])
    row = db.session.execute(select(UserSession).where(UserSession.user_id == users["resident"].id,
                                                       UserSession.kind == "api")
                             .order_by(UserSession.id.desc())).scalars().first()
    row.last_activity = row.last_activity - dt.timedelta(hours=1)
    db.session.commit()
    resp = client.get(f"/fhir/Patient/{clinical_patient['patient']['id']}",
                      headers={"Authorization": f"Bearer {token}"})
    assert issue(resp, 401) == {"severity": "error", "code": "login", "details": {"text": "SESSION_EXPIRED"},
                                "diagnostics": "Session expired due to inactivity"}


def test_welfare_officer_is_refused_prescriptions_and_everything(client, h, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    expected = ("Access denied. Required roles: Admin, Faculty, Resident. "
                "Your role: Psychiatric Welfare Officer")
    for path, query in (("/fhir/MedicationRequest", {"patient": pid}), (f"/fhir/Patient/{pid}/$everything", {}),
                        ("/fhir/Condition", {"patient": pid}),
                        (f"/fhir/Condition/{clinical_patient['proforma']['id']}", {})):
        problem = issue(client.get(path, query_string=query, headers=h["pwo"]), 403)
        assert problem == {"severity": "error", "code": "forbidden", "diagnostics": expected}
    # What every role reads: the patient and the visits. Diagnoses are clinical content, for
    # clinicians on every door (the proforma pages and API refuse a welfare officer too).
    for path in (f"/fhir/Patient/{pid}", f"/fhir/Encounter?patient={pid}"):
        assert client.get(path, headers=h["pwo"]).status_code == 200, path
    assert _audit("fhir_everything") == []


def test_writes_are_405_operation_outcome(client, h):
    resp = client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=h["admin"])
    problem = issue(resp, 405)
    assert problem["code"] == "not-supported" and "read only" in problem["diagnostics"]
    assert "GET" in resp.headers["Allow"]
    assert issue(client.get("/fhir/AllergyIntolerance", headers=h["admin"]), 404)["code"] == "not-found"


# ------------------------------------------------------------------ Patient search

def _complex_case(client, h, pid):
    """A complex-case proforma opens the intake record (ADL file): its ADL number."""
    resp = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": pid, "visit_date": today_ist().isoformat(), "doctor_decision": "complex_case",
        "diagnosis": "Schizophrenia"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["adl_file"]["adl_no"]


def test_search_by_every_identifier_system(client, h, users, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    adl_no = _complex_case(client, h, pid)
    searches = [f"{CR}|CR2026000777", f"{CR}|cr2026000777", f"{PSY}|PSY2026000042", f"{ADL}|{adl_no}",
                f"{ABHA}|91-7654-3210-9876", f"{ABHA}|91765432109876", f"{ABHA_ADDR}|Gurnam.Sandhu@abdm",
                "CR2026000777", "91-7654-3210-9876", f"|{adl_no}"]
    for token in searches:
        bundle = fhir_body(client.get("/fhir/Patient", query_string={"identifier": token}, headers=h["faculty"]))
        assert bundle["type"] == "searchset" and bundle["total"] == 1, token
        entry = bundle["entry"][0]
        assert entry["fullUrl"] == f"http://localhost/fhir/Patient/{pid}"
        assert entry["search"] == {"mode": "match"} and entry["resource"]["id"] == str(pid)
    adl = next(i for i in entry["resource"]["identifier"] if i["system"] == ADL)
    assert adl["value"] == adl_no
    none = fhir_body(client.get("/fhir/Patient", query_string={"identifier": f"{CR}|CR0000000000"},
                                headers=h["faculty"]))
    assert none["total"] == 0 and none["entry"] == []
    rows = _audit("fhir_search")
    assert len(rows) == len(searches) + 1
    assert {r.patient_id for r in rows[:-1]} == {pid} and {r.user_id for r in rows} == {users["faculty"].id}
    assert rows[-1].patient_id is None and rows[-1].details == {"resource": "Patient", "by": "identifier",
                                                                "matches": 0}


def test_name_search_pages_with_next_and_previous_links(client, h):
    ids = []
    for n, name in enumerate(("Kulwant Kaur Gill", "Kulwant Singh Brar", "Kulwant Rai")):
        resp = client.post("/api/patients/register-complete", json={"name": name, "age": 30 + n},
                           headers=h["pwo"])
        ids.append(str(resp.get_json()["data"]["patient"]["id"]))
    first = fhir_body(client.get("/fhir/Patient", query_string={"name": "Kulwant", "_count": "2"},
                                 headers=h["resident"]))
    # On PostgreSQL the word index stops at the page asked for: the first page may only know
    # that there is more (no total, a next link); SQLite counts.
    assert first.get("total") in (None, 3) and len(first["entry"]) == 2
    assert _link(first, "previous") is None
    nxt = _link(first, "next")
    query = parse_qs(urlsplit(nxt).query)
    assert query == {"name": ["Kulwant"], "_count": ["2"], "_page": ["2"]}
    second = fhir_body(_get(client, nxt, h["resident"]))
    assert second["total"] == 3 and len(second["entry"]) == 1 and _link(second, "next") is None
    assert _link(second, "previous") is not None
    assert sorted(_ids(first) + _ids(second)) == sorted(ids)
    assert {r.patient_id for r in _audit("fhir_search")} == {int(i) for i in ids}
    # A larger page than the server serves is capped, not refused.
    capped = fhir_body(client.get("/fhir/Patient", query_string={"name": "Kulwant", "_count": "5000"},
                                  headers=h["resident"]))
    assert len(capped["entry"]) == 3 and parse_qs(urlsplit(_link(capped, "self")).query)["_count"] == ["5000"]


@pytest.mark.parametrize("path, query, message", [
    ("/fhir/Patient", {}, "Search patients by identifier=<system>|<value> or by name=<text> (one of the two)"),
    ("/fhir/Patient", {"name": "Kaur", "identifier": "CR1"}, "Search patients by identifier"),
    ("/fhir/Patient", {"gender": "male"}, "Unsupported parameter(s): gender."),
    ("/fhir/Patient", {"name": ["Kaur", "Singh"]}, "name may be given only once"),
    ("/fhir/Patient", {"name": "Kaur", "_count": "0"}, "_count must be a positive whole number"),
    ("/fhir/Patient", {"name": "Kaur", "_count": "ten"}, "_count must be a positive whole number"),
    ("/fhir/Patient", {"name": "Kaur", "_page": "-1"}, "_page must be a positive whole number"),
    ("/fhir/Patient", {"name": "K"}, "name must be at least 2 letters (no digits)"),
    ("/fhir/Patient", {"name": "1234"}, "name must be at least 2 letters (no digits)"),
    ("/fhir/Patient", {"identifier": "http://example.org/mrn|123"}, "Unknown identifier system"),
    ("/fhir/Patient", {"identifier": f"{CR}|"}, "identifier needs a value"),
    ("/fhir/Patient", {"identifier": f"{ABHA}|1234"}, "ABHA number must be 14 digits, written XX-XXXX-XXXX-XXXX"),
    ("/fhir/Patient", {"identifier": f"{ABHA_ADDR}|someone@gmail.com"}, "ABHA address must be an ABHA address"),
    ("/fhir/Encounter", {}, "Encounter search needs patient=<id>"),
    ("/fhir/Condition", {"patient": "abc"}, "patient must be a patient id"),
    ("/fhir/MedicationRequest", {"subject": "Patient/1"}, "Unsupported parameter(s): subject."),
    ("/fhir/Encounter", {"patient": "1", "_count": "x"}, "_count must be a positive whole number"),
    ("/fhir/Patient/1", {"_elements": "id"}, "Unsupported parameter(s): _elements."),
    ("/fhir/metadata", {"mode": "full"}, "Unsupported parameter(s): mode."),
])
def test_bad_search_parameters_are_400(client, h, path, query, message):
    problem = issue(client.get(path, query_string=query, headers=h["admin"]), 400)
    assert problem["code"] == "invalid" and problem["diagnostics"].startswith(message), problem


def test_only_json_is_served(client, h):
    problem = issue(client.get("/fhir/metadata", query_string={"_format": "xml"}), 406)
    assert problem["code"] == "not-supported"
    assert fhir_body(client.get("/fhir/metadata", query_string={"_format": "application/fhir+json"}))


# ------------------------------------------------------------------ Encounter, Condition, MedicationRequest

def test_encounters_are_the_patients_visits(client, h, users, clinical_patient):
    pid, visit = clinical_patient["patient"]["id"], clinical_patient["visit"]
    for ref in (str(pid), f"Patient/{pid}"):
        bundle = fhir_body(client.get("/fhir/Encounter", query_string={"patient": ref}, headers=h["pwo"]))
        assert bundle["total"] == 1 and _ids(bundle) == [str(visit["id"])]
    enc = bundle["entry"][0]["resource"]
    assert enc["status"] == "planned" and enc["class"]["code"] == "AMB"
    assert enc["subject"] == {"reference": f"Patient/{pid}"}
    assert enc["period"] == {"start": today_ist().isoformat()}
    assert enc["participant"] == [{"individual": {"display": users["resident"].name}}]
    assert enc["location"] == [{"location": {"display": "Room R-7"}}]
    assert bundle["entry"][0]["fullUrl"] == f"http://localhost/fhir/Encounter/{visit['id']}"
    client.post(f"/api/patients/{pid}/visits/complete", json={}, headers=h["resident"])
    bundle = fhir_body(client.get("/fhir/Encounter", query_string={"patient": pid}, headers=h["pwo"]))
    assert bundle["entry"][0]["resource"]["status"] == "finished"
    rows = _audit("fhir_search")
    assert [(r.patient_id, r.entity, r.details) for r in rows][-1] == (
        pid, "patient_visits", {"resource": "Encounter", "matches": 1})


def test_conditions_carry_icd10_and_icd11_codes(client, h, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    pro, old, visit = clinical_patient["proforma"], clinical_patient["old_proforma"], clinical_patient["visit"]
    bundle = fhir_body(client.get("/fhir/Condition", query_string={"patient": pid}, headers=h["resident"]))
    assert bundle["total"] == 2 and _ids(bundle) == [str(pro["id"]), str(old["id"])]  # newest first
    icd10, icd11 = (e["resource"] for e in bundle["entry"])
    assert icd10["code"]["coding"] == [{"system": "http://hl7.org/fhir/sid/icd-10", "version": "2019",
                                        "code": "F32.1", "display": "Moderate depressive episode"}]
    assert icd10["code"]["text"] == "Moderate depressive episode"
    assert icd10["encounter"] == {"reference": f"Encounter/{visit['id']}"}
    assert icd10["recordedDate"] == today_ist().isoformat()
    assert icd10["severity"]["coding"][0]["code"] == "6736007"
    assert icd10["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
    assert icd11["code"]["coding"] == [{"system": "http://id.who.int/icd/release/11/mms", "version": "2026-01",
                                        "code": "6A70", "display": "Single episode depressive disorder"}]
    assert "encounter" not in icd11  # no visit was recorded that day
    assert _audit("fhir_search")[-1].details == {"resource": "Condition", "matches": 2}


def test_one_medication_request_per_prescription_line(client, h, users, clinical_patient):
    pid, rx = clinical_patient["patient"]["id"], clinical_patient["prescription"]
    pro, visit = clinical_patient["proforma"], clinical_patient["visit"]
    bundle = fhir_body(client.get("/fhir/MedicationRequest", query_string={"patient": pid}, headers=h["faculty"]))
    assert bundle["total"] == 2 and _ids(bundle) == [f"{rx['id']}-1", f"{rx['id']}-2"]
    first, second = (e["resource"] for e in bundle["entry"])
    assert first["medicationCodeableConcept"] == {"text": "Sertraline 50 mg"}
    assert first["status"] == "unknown" and first["intent"] == "order"
    assert first["dosageInstruction"][0]["text"] == "1-0-0, After Food, Once Daily, 1 Month. Do not stop suddenly"
    assert first["dosageInstruction"][0]["patientInstruction"].startswith("Take 1 tablet in the morning")
    assert [n["text"] for n in first["note"]] == ["Quantity: 30", "Review in 4 weeks"]
    # The duration is also kept as a number + unit: the expected supply.
    assert first["dispenseRequest"] == {"quantity": {"value": 30, "unit": "unit"},
                                        "expectedSupplyDuration": {"value": 1, "unit": "months",
                                                                   "system": "http://unitsofmeasure.org",
                                                                   "code": "mo"}}
    assert first["subject"] == {"reference": f"Patient/{pid}"}
    assert first["encounter"] == {"reference": f"Encounter/{visit['id']}"}
    assert first["reasonReference"] == [{"reference": f"Condition/{pro['id']}"}]
    assert first["requester"] == {"display": users["resident"].name}
    assert first["groupIdentifier"] == {"system": fhir.PRESCRIPTION_SYSTEM, "value": str(rx["id"])}
    assert second["medicationCodeableConcept"]["text"] == "Clonazepam 0.5 mg"
    assert second["dosageInstruction"][0]["text"] == "0-0-1, Bedtime, 2 Weeks"
    assert [n["text"] for n in second["note"]] == ["Quantity: 14"]  # computed: 0-0-1 for 2 weeks
    paged = fhir_body(client.get("/fhir/MedicationRequest", query_string={"patient": pid, "_count": 1},
                                 headers=h["faculty"]))
    assert paged["total"] == 2 and _ids(paged) == [f"{rx['id']}-1"] and _link(paged, "next")


def test_unknown_patient_searches_are_empty_and_audited(client, h):
    for kind in ("Encounter", "Condition", "MedicationRequest"):
        bundle = fhir_body(client.get(f"/fhir/{kind}", query_string={"patient": "999999"}, headers=h["admin"]))
        assert bundle["total"] == 0 and bundle["entry"] == []
    rows = _audit("fhir_search")
    assert [(r.patient_id, r.details["resource"], r.details["matches"]) for r in rows] == [
        (None, "Encounter", 0), (None, "Condition", 0), (None, "MedicationRequest", 0)]


# ------------------------------------------------------------------ $everything

def test_everything_bundle_holds_the_whole_record_and_validates(client, h, users, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    resp = client.get(f"/fhir/Patient/{pid}/$everything", headers=h["resident"])
    bundle = fhir_body(resp)  # the whole Bundle parses as FHIR R4, every entry included
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Patient", "Encounter", "Condition", "Condition", "MedicationRequest", "MedicationRequest"]
    assert [e["search"]["mode"] for e in bundle["entry"]] == ["match"] + ["include"] * 5
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert len(full_urls) == 6
    # Every reference between the resources points at an entry of the same Bundle.
    refs = []
    for e in bundle["entry"]:
        r = e["resource"]
        refs += [r[k]["reference"] for k in ("subject", "encounter") if k in r]
        refs += [x["reference"] for x in r.get("reasonReference", [])]
    assert refs and all(f"http://localhost/fhir/{ref}" in full_urls for ref in refs)
    rows = _audit("fhir_everything")
    assert [(r.patient_id, r.user_id) for r in rows] == [(pid, users["resident"].id)]
    assert rows[0].details == {"Encounter": 1, "Condition": 2, "MedicationRequest": 2, "QuestionnaireResponse": 0,
                               "Observation": 0}
    assert _audit("fhir_read") == [] and _audit("fhir_search") == []  # one row for the request


def test_every_full_url_of_everything_reads_back_the_same_resource(client, h, users, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    bundle = fhir_body(client.get(f"/fhir/Patient/{pid}/$everything", headers=h["resident"]))
    for entry in bundle["entry"]:
        resource = fhir_body(_get(client, entry["fullUrl"], h["resident"]))
        assert resource == entry["resource"]
    reads = _audit("fhir_read")
    assert len(reads) == 6 and {r.patient_id for r in reads} == {pid}
    line = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
    # The welfare officer may read visits and diagnoses, not prescriptions (as on /api).
    assert client.get(f"/fhir/MedicationRequest/{line}", headers=h["pwo"]).status_code == 403
    visit = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    assert fhir_body(client.get(f"/fhir/Encounter/{visit}", headers=h["pwo"]))["id"] == visit


@pytest.mark.parametrize("path", ["/fhir/Encounter/999999", "/fhir/Condition/abc", "/fhir/MedicationRequest/12",
                                  "/fhir/MedicationRequest/999999-1", "/fhir/Encounter/1-1"])
def test_unknown_or_malformed_resource_ids_are_404(client, h, path):
    assert issue(client.get(path, headers=h["resident"]), 404)["code"] == "not-found"


def test_audit_rows_carry_no_search_text_or_clinical_text(client, h, clinical_patient):
    pid = clinical_patient["patient"]["id"]
    client.get("/fhir/Patient", query_string={"name": "Gurnam"}, headers=h["admin"])
    client.get(f"/fhir/Patient/{pid}/$everything", headers=h["admin"])
    for row in _audit("fhir_search") + _audit("fhir_everything"):
        text = str(row.details)
        assert "Gurnam" not in text and "depressive" not in text and "Sertraline" not in text


@pytest.mark.parametrize("url,status", [("/fhir/Patient/%C2%B2", 404), ("/fhir/Encounter?patient=%C2%B2", 400),
                                        ("/fhir/Patient?name=ab&_count=%C2%B2", 400),
                                        ("/fhir/Patient/" + "9" * 5000, 404)])
def test_superscript_and_huge_digits_are_refused_not_500(client, h, url, status):
    assert client.get(url, headers=h["resident"]).status_code == status
