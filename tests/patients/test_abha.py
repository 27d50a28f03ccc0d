"""ABHA number and address on the patient: typed any way, stored as 14 digits / lower
case, shown XX-XXXX-XXXX-XXXX on pages and in the API, unique, found by search."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from emrs.extensions import db
from emrs.patients.models import Patient

CARD = {"name": "Harjit Kaur", "age": "41", "sex": "F", "contact_number": "9876512399", "pin_code": "160012"}


def _register_page(c, **over):
    resp = c.post("/patients/new", data={**CARD, **over})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return int(re.search(r"/patients/(\d+)/record", resp.headers["Location"]).group(1))


def test_page_registration_normalises_and_shows_abha(role_client):
    c = role_client("pwo")
    form = c.get("/patients/new").get_data(as_text=True)
    assert 'name="abha_number"' in form and 'name="abha_address"' in form
    assert "ABHA (Ayushman Bharat Health Account)" in form
    pid = _register_page(c, abha_number="91 2345 6789 0123", abha_address="Harjit.Kaur_41@ABDM")
    p = db.session.get(Patient, pid)
    assert (p.abha_number, p.abha_address) == ("91234567890123", "harjit.kaur_41@abdm")
    show = c.get(f"/patients/{pid}").get_data(as_text=True)
    assert "91-2345-6789-0123" in show and "harjit.kaur_41@abdm" in show
    assert "91234567890123" not in show
    edit = c.get(f"/patients/{pid}/card").get_data(as_text=True)
    assert 'value="91-2345-6789-0123"' in edit and 'value="harjit.kaur_41@abdm"' in edit


@pytest.mark.parametrize("field, value, message", [
    ("abha_number", "9123456789012", "ABHA number must be 14 digits, written XX-XXXX-XXXX-XXXX"),
    ("abha_number", "91-2345-6789-01234", "ABHA number must be 14 digits, written XX-XXXX-XXXX-XXXX"),
    ("abha_number", "91.2345.6789.0123", "ABHA number must be 14 digits, written XX-XXXX-XXXX-XXXX"),
    ("abha_address", "harjit@gmail.com", "ABHA address must be an ABHA address such as name@abdm"),
    ("abha_address", "abc@abdm", "ABHA address must be an ABHA address such as name@abdm"),
    ("abha_address", ".harjit@abdm", "ABHA address must be an ABHA address such as name@abdm"),
    ("abha_address", "harjit kaur@abdm", "ABHA address must be an ABHA address such as name@abdm"),
])
def test_page_rejects_bad_abha_and_keeps_what_was_typed(role_client, field, value, message):
    c = role_client("pwo")
    before = db.session.execute(select(func.count(Patient.id))).scalar_one()
    resp = c.post("/patients/new", data={**CARD, field: value})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and message in html
    assert f'value="{value}"' in html
    assert db.session.execute(select(func.count(Patient.id))).scalar_one() == before


def test_page_duplicate_abha_is_a_field_message_on_create_and_edit(role_client):
    c = role_client("pwo")
    first = _register_page(c, abha_number="91-1111-2222-3333")
    resp = c.post("/patients/new", data={**CARD, "name": "Other Person", "abha_number": "91111122223333"})
    assert resp.status_code == 422
    assert "ABHA number is already registered to another patient" in resp.get_data(as_text=True)
    second = _register_page(c, name="Other Person")
    p = db.session.get(Patient, second)
    resp = c.post(f"/patients/{second}/card", data={**CARD, "name": "Other Person", "version": str(p.version),
                                                     "abha_number": "91 1111 2222 3333"})
    assert resp.status_code == 422
    assert "ABHA number is already registered to another patient" in resp.get_data(as_text=True)
    assert db.session.get(Patient, second).abha_number is None
    # Saving the first patient's own card again with its number is not a duplicate; clearing works on the page.
    p1 = db.session.get(Patient, first)
    resp = c.post(f"/patients/{first}/card", data={**CARD, "version": str(p1.version),
                                                    "abha_number": "91-1111-2222-3333"})
    assert resp.status_code == 302
    resp = c.post(f"/patients/{first}/card", data={**CARD, "version": str(db.session.get(Patient, first).version),
                                                    "abha_number": ""})
    assert resp.status_code == 302 and db.session.get(Patient, first).abha_number is None


def test_api_create_get_update_show_the_formatted_number(client, h):
    resp = client.post("/api/patients/register-complete",
                       json={**CARD, "abha_number": "12-3456-7890-1234", "abha_address": "Test.User@sbx"},
                       headers=h["pwo"])
    assert resp.status_code == 201, resp.get_json()
    p = resp.get_json()["data"]["patient"]
    assert (p["abha_number"], p["abha_address"]) == ("12-3456-7890-1234", "test.user@sbx")
    pid = p["id"]
    got = client.get(f"/api/patients/{pid}", headers=h["resident"]).get_json()["data"]["patient"]
    assert got["abha_number"] == "12-3456-7890-1234"
    card = client.get(f"/api/patient-cards/{pid}", headers=h["pwo"]).get_json()["data"]["patient_card"]
    assert card["abha_number"] == "12-3456-7890-1234" and card["abha_address"] == "test.user@sbx"
    quick = client.post("/api/patients", json={"name": "Quick Person", "abha_number": "12 3456 7890 0001",
                                                "abha_address": "quick.person@abdm"}, headers=h["pwo"])
    assert quick.status_code == 201
    assert quick.get_json()["data"]["patient"]["abha_number"] == "12-3456-7890-0001"
    resp = client.put(f"/api/patients/{pid}", json={"abha_number": 12345678905678}, headers=h["pwo"])
    assert resp.status_code == 200 and resp.get_json()["data"]["patient"]["abha_number"] == "12-3456-7890-5678"
    assert db.session.get(Patient, pid).abha_number == "12345678905678"


def test_api_bad_and_duplicate_abha(client, h):
    resp = client.post("/api/patients/register-complete",
                       json={**CARD, "abha_number": "1234", "abha_address": "x@abdm"}, headers=h["pwo"])
    assert resp.status_code == 400
    errors = {e["path"]: e["msg"] for e in resp.get_json()["errors"]}
    assert errors["abha_number"] == "ABHA number must be 14 digits, written XX-XXXX-XXXX-XXXX"
    assert errors["abha_address"].startswith("ABHA address must be an ABHA address such as name@abdm")
    ok = client.post("/api/patients/register-complete", json={**CARD, "abha_number": "55-5555-5555-5555"},
                     headers=h["pwo"])
    assert ok.status_code == 201
    resp = client.post("/api/patients/register-complete",
                       json={**CARD, "name": "Someone Else", "abha_number": "55555555555555"}, headers=h["pwo"])
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["message"] == "ABHA number is already registered to another patient"
    assert body["errors"][0]["path"] == "abha_number"
    other = client.post("/api/patients/register-complete", json={**CARD, "name": "Someone Else"}, headers=h["pwo"])
    oid = other.get_json()["data"]["patient"]["id"]
    resp = client.put(f"/api/patients/{oid}", json={"abha_number": "55 5555 5555 5555"}, headers=h["pwo"])
    assert resp.status_code == 409 and resp.get_json()["message"] == "ABHA number is already registered to another patient"
    assert db.session.get(Patient, oid).abha_number is None


def test_search_finds_a_patient_by_abha_number(client, h, role_client):
    resp = client.post("/api/patients/register-complete", json={**CARD, "abha_number": "77-1234-5678-9012"},
                       headers=h["pwo"])
    pid = resp.get_json()["data"]["patient"]["id"]
    for term in ("77-1234-5678-9012", "77123456789012", "77 1234 5678 9012"):
        found = client.get("/api/patients/search", query_string={"q": term}, headers=h["pwo"]).get_json()
        assert [p["id"] for p in found["data"]["patients"]] == [pid], term
    c = role_client("pwo")
    page = c.get("/patients/", query_string={"q": "77-1234-5678-9012"}).get_data(as_text=True)
    assert f"/patients/{pid}" in page
    quick = c.get("/patients/quick-search", query_string={"q": "77123456789012"}).get_data(as_text=True)
    assert f"/patients/{pid}" in quick
    export = c.get("/patients/export.csv", query_string={"q": "77-1234-5678-9012"}).get_data(as_text=True)
    header, row = list(csv.reader(io.StringIO(export.lstrip("\ufeff"))))
    assert row[header.index("ABHA number")] == "77-1234-5678-9012"


def test_unique_index_refuses_a_duplicate_written_past_the_service(app, ctx):
    from sqlalchemy.exc import IntegrityError
    db.session.add(Patient(name="First One", abha_number="99999999999999"))
    db.session.add(Patient(name="No Abha"))
    db.session.add(Patient(name="Also No Abha"))  # many patients without ABHA are fine
    db.session.flush()
    db.session.add(Patient(name="Second One", abha_number="99999999999999"))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_race_past_the_check_is_still_a_clear_409(client, h, monkeypatch):
    """Two desks saving the same ABHA at once: the index refuses the second, and the
    answer names the ABHA number, not the CR number."""
    from emrs.patients import registration
    ok = client.post("/api/patients/register-complete", json={**CARD, "abha_number": "66-6666-6666-6666"},
                     headers=h["pwo"])
    assert ok.status_code == 201
    monkeypatch.setattr(registration, "_check_abha_free", lambda *a, **k: None)
    resp = client.post("/api/patients/register-complete",
                       json={**CARD, "name": "Second Desk", "abha_number": "66666666666666"}, headers=h["pwo"])
    assert resp.status_code == 409
    assert resp.get_json()["message"] == "ABHA number is already registered to another patient"
