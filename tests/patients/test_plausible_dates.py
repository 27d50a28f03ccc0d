"""Plausible dates and contents, from the user's side: a
registration or visit date after today (IST), a date of birth that disagrees with the age,
unknown income. Every refusal is a clear message on the page and in the API, and nothing changes."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from emrs.extensions import db
from emrs.intake.models import IntakeRecord
from emrs.patients.models import Patient, PatientVisit
from emrs.timeutil import today_ist

from ..factories import register_patient

CARD = {"name": "Harjit Kaur Bains", "age": 40, "sex": "F"}


def _tomorrow() -> str:
    return (today_ist() + dt.timedelta(days=1)).isoformat()


def _count(model) -> int:
    return db.session.execute(select(func.count(model.id))).scalar_one()


def _messages(resp) -> str:
    body = resp.get_json()
    return " ".join([body["message"]] + [e["msg"] for e in body.get("errors") or []])


def _register(client, headers, **over) -> dict:
    return register_patient(client, headers, **{**CARD, **over})


# ------------------------------------------------------------------ registration date

@pytest.mark.parametrize("path", ["/api/patient-cards", "/api/patients/register-complete"])
def test_api_refuses_a_registration_date_after_today(client, h, path):
    before = _count(Patient)
    resp = client.post(path, json={**CARD, "date": _tomorrow()}, headers=h["pwo"])
    assert resp.status_code == 400
    assert "Registration date cannot be after today" in _messages(resp)
    assert _count(Patient) == before
    # Today is fine, and so is a past date.
    assert client.post(path, json={**CARD, "name": "Harjit Kaur Two", "date": today_ist().isoformat()},
                       headers=h["pwo"]).status_code == 201


def test_api_refuses_walk_in_and_work_up_dates_after_today(client, h):
    for field in ("seen_in_walk_in_on", "worked_up_on"):
        resp = client.post("/api/patients/register-complete", json={**CARD, field: _tomorrow()}, headers=h["pwo"])
        assert resp.status_code == 400 and "cannot be after today" in _messages(resp), field


def test_api_update_refuses_a_future_registration_date(client, h):
    p = _register(client, h["pwo"])
    resp = client.put(f"/api/patients/{p['id']}", json={"date": _tomorrow()}, headers=h["pwo"])
    assert resp.status_code == 400 and "Registration date cannot be after today" in _messages(resp)
    assert db.session.get(Patient, p["id"]).date == today_ist()


def test_page_refuses_a_registration_date_after_today(role_client):
    c = role_client("pwo")
    before = _count(Patient)
    resp = c.post("/patients/new", data={"name": "Harjit Kaur", "age": "40", "sex": "F", "date": _tomorrow()})
    assert resp.status_code == 422
    assert "Registration date cannot be after today" in resp.get_data(as_text=True)
    assert _count(Patient) == before


# ------------------------------------------------------------------ visit date

def test_api_assign_refuses_a_visit_date_after_today(client, h, users):
    p = _register(client, h["pwo"])
    resp = client.post("/api/patients/assign", json={"patient_id": p["id"], "assigned_doctor_id": users["resident"].id,
                                                      "room_no": "4", "visit_date": _tomorrow()}, headers=h["pwo"])
    assert resp.status_code == 400 and "Visit date cannot be after today" in _messages(resp)
    assert db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == p["id"])).first() is None


def test_api_complete_visit_refuses_a_date_after_today(client, h, users):
    p = _register(client, h["pwo"])
    resp = client.post(f"/api/patients/{p['id']}/visits/complete", json={"visit_date": _tomorrow()},
                       headers=h["resident"])
    assert resp.status_code == 400 and "Visit date cannot be after today" in _messages(resp)


def test_page_assign_refuses_a_visit_date_after_today(role_client, client, h, users):
    p = _register(client, h["pwo"])
    resp = role_client("pwo").post(f"/patients/{p['id']}/assign", data={
        "assigned_doctor_id": str(users["resident"].id), "room_no": "4", "visit_date": _tomorrow()},
        follow_redirects=True)
    assert "Visit date cannot be after today" in resp.get_data(as_text=True)
    assert db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == p["id"])).first() is None


# ------------------------------------------------------------------ unknown income

def test_unknown_income_stays_unknown_on_the_api(client, h):
    p = _register(client, h["pwo"])
    assert p["patient_income"] is None and p["family_income"] is None and p["head_income"] is None
    got = client.get(f"/api/patients/{p['id']}", headers=h["pwo"]).get_json()["data"]["patient"]
    assert got["patient_income"] is None and got["family_income"] is None
    # A real nil income is kept as 0.
    zero = _register(client, h["pwo"], name="Kulwant Singh", patient_income=0)
    assert float(zero["patient_income"]) == 0.0 and zero["family_income"] is None


def test_unknown_income_stays_unknown_on_the_pages(role_client):
    c = role_client("pwo")
    resp = c.post("/patients/new", data={"name": "Harjit Kaur", "age": "40", "sex": "F"})
    assert resp.status_code == 302
    pid = int(re.search(r"/patients/(\d+)/record", resp.headers["Location"]).group(1))
    p = db.session.get(Patient, pid)
    assert p.patient_income is None and p.family_income is None  # the card says nothing about income
    form = c.get(f"/patients/{pid}/record").get_data(as_text=True)
    assert not re.search(r'name="(patient|family)_income"[^>]*value="0', form)  # not offered as ₹0
    resp = c.post(f"/patients/{pid}/record", data={"version": str(p.version), "marital_status": "married",
                                                  "patient_income": "", "family_income": ""})
    assert resp.status_code == 302
    db.session.expire_all()
    p = db.session.get(Patient, pid)
    assert p.patient_income is None and p.family_income is None
    assert "0.00" not in c.get(f"/patients/{pid}").get_data(as_text=True)


# ------------------------------------------------------------------ date of birth vs age

def _years_ago(years: int, days: int = 10) -> str:
    today = today_ist()
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return (day - dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("prefix", ["/api/outpatient-intake-records", "/api/adl-files"])
def test_api_refuses_a_birth_date_that_disagrees_with_age(client, h, prefix):
    p = _register(client, h["pwo"])  # age 40
    resp = client.post(prefix, json={"patient_id": p["id"], "personal_birth_date": _years_ago(25)},
                       headers=h["resident"])
    assert resp.status_code == 400
    assert "makes the patient 25 years old, but the patient's card says age 40" in _messages(resp)
    assert db.session.execute(select(IntakeRecord).where(IntakeRecord.patient_id == p["id"])).first() is None
    resp = client.post(prefix, json={"patient_id": p["id"], "personal_birth_date": _years_ago(40)},
                       headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    record = resp.get_json()["data"]["adl_file"] if "adl_file" in resp.get_json()["data"] else None
    # Later changes are held to the same rule.
    rid = db.session.execute(select(IntakeRecord.id).where(IntakeRecord.patient_id == p["id"])).scalar_one()
    resp = client.put(f"{prefix}/{rid}", json={"personal_birth_date": _tomorrow()}, headers=h["resident"])
    assert resp.status_code == 400 and "Date of birth cannot be after today" in _messages(resp)
    # ... and so is the age on the card, once a date of birth is known.
    resp = client.put(f"/api/patients/{p['id']}", json={"age": 70}, headers=h["pwo"])
    assert resp.status_code == 400 and "the patient's card says age 70" in _messages(resp)
    assert db.session.get(Patient, p["id"]).age == 40
    assert client.put(f"/api/patients/{p['id']}", json={"age": 41}, headers=h["pwo"]).status_code == 200
    del record


def test_complex_proforma_refuses_a_birth_date_that_disagrees_with_age(client, h):
    p = _register(client, h["pwo"])
    resp = client.post("/api/clinical-proformas", json={
        "patient_id": p["id"], "visit_date": today_ist().isoformat(), "doctor_decision": "complex_case",
        "diagnosis": "Bipolar disorder", "personal_birth_date": _years_ago(12)}, headers=h["resident"])
    assert resp.status_code == 400 and "makes the patient 12 years old" in _messages(resp)
    assert db.session.execute(select(IntakeRecord).where(IntakeRecord.patient_id == p["id"])).first() is None


def test_page_refuses_a_birth_date_that_disagrees_with_age(client, h, role_client):
    p = _register(client, h["pwo"])
    rec = client.post("/api/outpatient-intake-records", json={"patient_id": p["id"]}, headers=h["resident"])
    assert rec.status_code == 201
    record = db.session.execute(select(IntakeRecord).where(IntakeRecord.patient_id == p["id"])).scalar_one()
    resp = role_client("resident").post(f"/intake/{record.id}/section/home_development", data={
        "version": str(record.version), "personal_birth_date": _years_ago(3)})
    assert resp.status_code == 422
    assert "makes the patient 3 years old, but the patient&#39;s card says age 40" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(IntakeRecord, record.id).personal_birth_date is None
