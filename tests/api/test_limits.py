"""Limits of the JSON API: a request budget per token, the JSON body cap, the page-size cap,
conditional GETs with ETag, and the root/docs aliases — as an integrator sees them."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from emrs.extensions import db
from emrs.patients.models import Patient

CARD = {"name": "Gurpreet Kaur", "age": 34, "sex": "F", "contact_number": "9876500123"}


@pytest.fixture
def api_budget(app):
    """A small API budget for one test; the limit string is part of the counter's key,
    so the suite's generous budget is untouched."""
    old = app.config["RATELIMIT_API"]
    app.config["RATELIMIT_API"] = "5 per minute"
    yield 5
    app.config["RATELIMIT_API"] = old


def test_each_token_has_its_own_budget(client, users, bearer, api_budget):
    a, b = bearer(users["resident"]), bearer(users["pwo"])
    codes = [client.get("/api/patients?limit=1", headers=a).status_code for _ in range(api_budget)]
    assert codes == [200] * api_budget
    over = client.get("/api/patients?limit=1", headers=a)
    assert over.status_code == 429
    assert over.get_json() == {"success": False, "message": "Too many requests. Please wait a moment and try again."}
    assert over.headers["Retry-After"] == "60"
    # Another user's token is counted on its own.
    assert client.get("/api/patients?limit=1", headers=b).status_code == 200


def test_json_body_over_the_cap_is_413_and_stores_nothing(client, users, bearer):
    before = db.session.scalar(select(func.count()).select_from(Patient))
    big = {**CARD, "local_address": "x" * (10 * 1024 * 1024 + 10)}
    resp = client.post("/api/patients/register-complete", json=big, headers=bearer(users["pwo"]))
    assert resp.status_code == 413
    assert resp.get_json() == {"success": False, "message": "Request body too large"}
    assert db.session.scalar(select(func.count()).select_from(Patient)) == before


def test_uploads_keep_their_own_larger_limit(app, client, users, bearer):
    pid = client.post("/api/patients/register-complete", json=CARD,
                      headers=bearer(users["pwo"])).get_json()["data"]["patient"]["id"]
    old = app.config["API_JSON_MAX_BYTES"]
    app.config["API_JSON_MAX_BYTES"] = 1024
    try:
        pdf = b"%PDF-1.4\n" + b"0" * 4096 + b"\n%%EOF\n"
        resp = client.post("/api/patient-files/create", headers=bearer(users["pwo"]),
                           data={"patient_id": str(pid), "files": (io.BytesIO(pdf), "scan.pdf")},
                           content_type="multipart/form-data")
        assert resp.status_code == 201, resp.get_json()
        small_json = client.put(f"/api/patients/{pid}", json={"occupation": "y" * 2000},
                                headers=bearer(users["pwo"]))
        assert small_json.status_code == 413
    finally:
        app.config["API_JSON_MAX_BYTES"] = old


def test_page_size_is_capped_with_a_validation_envelope(client, users, bearer):
    resp = client.get("/api/prescriptions?limit=5000", headers=bearer(users["faculty"]))
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == "limit" and body["errors"][0]["location"] == "query"


def test_single_record_get_has_an_etag_and_answers_304(client, users, bearer):
    h = bearer(users["pwo"])
    pid = client.post("/api/patients/register-complete", json=CARD, headers=h).get_json()["data"]["patient"]["id"]
    first = client.get(f"/api/patients/{pid}", headers=h)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and len(etag) == 34
    again = client.get(f"/api/patients/{pid}", headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert client.put(f"/api/patients/{pid}", json={"occupation": "Farmer"}, headers=h).status_code == 200
    changed = client.get(f"/api/patients/{pid}", headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["data"]["patient"]["occupation"] == "Farmer"


def test_errors_and_writes_carry_no_etag(client, users, bearer):
    h = bearer(users["pwo"])
    assert "ETag" not in client.get("/api/patients/999999", headers=h).headers
    resp = client.post("/api/patients/register-complete", json=CARD, headers=h)
    assert resp.status_code == 201 and "ETag" not in resp.headers


def test_root_answers_api_clients_with_the_original_document(client):
    body = client.get("/", headers={"Accept": "application/json"}).get_json()
    assert body["success"] is True and body["message"] == "Welcome to EMRS PGIMER API"
    assert body["version"] == "1.0.0" and body["health"] == "/health"
    assert body["endpoints"]["adlFiles"] == "/api/adl-files"
    assert client.get("/", headers={"Accept": "*/*"}).get_json()["message"] == "Welcome to EMRS PGIMER API"
    # A browser still gets the sign-in page.
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_api_index_lists_the_services_and_their_prefixes(client):
    services = {s["name"]: s for s in client.get("/api").get_json()["services"]}
    assert services["user"]["port"] == 3001 and "/api/users" in services["user"]["prefixes"]
    assert services["out-patients-card-and-out-patient-record"]["prefixes"][:2] == ["/api/patients",
                                                                                    "/api/patient-cards"]
    assert "/api/adl-files" in services["out-patient-intake-record"]["prefixes"]
    assert services["prescription"]["port"] == 3005
