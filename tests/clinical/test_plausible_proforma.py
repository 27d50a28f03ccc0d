"""Plausible proformas: no visit date after today (IST), and a
completed proforma has a presenting complaint, a diagnosis or a disposal. A welfare officer's
visit stub (header only) and a page draft may be empty. Pages and API alike; a refusal changes
nothing."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from emrs.clinical.models import ClinicalProforma
from emrs.clinical.service import EMPTY_FINAL
from emrs.drafts.models import Draft
from emrs.extensions import db
from emrs.timeutil import today_ist

from ..factories import patient_row

TODAY = today_ist().isoformat


@pytest.fixture
def patient():
    return patient_row("Amarjit Kaur", age=52, cr_no="CRTEST200001", name_key="amrjt kr")


def _count(pid) -> int:
    return db.session.execute(select(func.count(ClinicalProforma.id))
                              .where(ClinicalProforma.patient_id == pid)).scalar_one()


def _messages(resp) -> str:
    body = resp.get_json()
    return " ".join([body["message"]] + [e["msg"] for e in body.get("errors") or []])


def _tomorrow() -> str:
    return (today_ist() + dt.timedelta(days=1)).isoformat()


# ------------------------------------------------------------------ visit date

def test_api_refuses_a_visit_date_after_today(client, h, patient):
    resp = client.post("/api/clinical-proformas", json={"patient_id": patient.id, "visit_date": _tomorrow(),
                                                         "diagnosis": "Depression"}, headers=h["resident"])
    assert resp.status_code == 400 and "visit_date cannot be after today" in _messages(resp)
    assert _count(patient.id) == 0
    ok = client.post("/api/clinical-proformas", json={"patient_id": patient.id, "visit_date": TODAY(),
                                                       "diagnosis": "Depression"}, headers=h["resident"])
    assert ok.status_code == 201
    pid = ok.get_json()["data"]["proforma"]["id"]
    resp = client.put(f"/api/clinical-proformas/{pid}", json={"visit_date": _tomorrow()}, headers=h["resident"])
    assert resp.status_code == 400 and "visit_date cannot be after today" in _messages(resp)
    assert db.session.get(ClinicalProforma, pid).visit_date == today_ist()


def test_page_refuses_a_visit_date_after_today(role_client, patient):
    resp = role_client("resident").post(f"/clinical/proformas/new?patient_id={patient.id}", data={
        "visit_date": _tomorrow(), "diagnosis": "Depression", "doctor_decision": "simple_case"})
    assert resp.status_code == 422 and "visit_date cannot be after today" in resp.get_data(as_text=True)
    assert _count(patient.id) == 0


# ------------------------------------------------------------------ final proforma content

def test_api_refuses_a_completed_proforma_without_complaint_diagnosis_or_disposal(client, h, patient):
    for decision in ("simple_case", "complex_case"):
        resp = client.post("/api/clinical-proformas", json={
            "patient_id": patient.id, "visit_date": TODAY(), "doctor_decision": decision, "gpe": "BP 120/80"},
            headers=h["resident"])
        assert resp.status_code == 400, decision
        assert resp.get_json()["message"] == EMPTY_FINAL
    assert _count(patient.id) == 0
    # Any one of the three is enough.
    for extra in ({"mood": "Sad"}, {"diagnosis": "Depression"}, {"icd_code": "F32.1"}, {"disposal": "Follow up"},
                  {"referred_to": "Neurology"}):
        resp = client.post("/api/clinical-proformas", json={
            "patient_id": patient.id, "visit_date": TODAY(), "doctor_decision": "simple_case", **extra},
            headers=h["resident"])
        assert resp.status_code == 201, (extra, resp.get_json())


def test_a_visit_stub_may_be_empty(client, h, patient):
    """The original contract's clients open a proforma with the header only (no decision)."""
    stub = client.post("/api/clinical-proformas", json={"patient_id": patient.id, "visit_date": TODAY(),
                                                         "room_no": "4"}, headers=h["resident"])
    assert stub.status_code == 201, stub.get_json()
    pwo = client.post("/api/clinical-proformas", json={"patient_id": patient.id, "visit_date": TODAY(),
                                                        "visit_type": "follow_up", "doctor_decision": "simple_case"},
                      headers=h["pwo"])
    assert pwo.status_code == 201, pwo.get_json()
    # The doctor completes the stub later: then it needs content.
    pid = stub.get_json()["data"]["proforma"]["id"]
    resp = client.put(f"/api/clinical-proformas/{pid}", json={"doctor_decision": "simple_case"},
                      headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["message"] == EMPTY_FINAL
    resp = client.put(f"/api/clinical-proformas/{pid}", json={"doctor_decision": "simple_case",
                                                               "diagnosis": "Panic disorder"}, headers=h["resident"])
    assert resp.status_code == 200


def test_an_amendment_cannot_empty_a_completed_proforma(client, h, patient):
    resp = client.post("/api/clinical-proformas", json={"patient_id": patient.id, "visit_date": TODAY(),
                                                         "diagnosis": "Depression"}, headers=h["resident"])
    pid = resp.get_json()["data"]["proforma"]["id"]
    resp = client.put(f"/api/clinical-proformas/{pid}", json={"diagnosis": ""}, headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["message"] == EMPTY_FINAL
    assert db.session.get(ClinicalProforma, pid).diagnosis == "Depression"
    # Replacing it with another of the three is fine.
    resp = client.put(f"/api/clinical-proformas/{pid}", json={"diagnosis": "", "disposal": "Admitted"},
                      headers=h["resident"])
    assert resp.status_code == 200


def test_page_refuses_an_empty_proforma_but_keeps_the_draft(role_client, patient):
    c = role_client("resident")
    # The page's autosave keeps an empty draft: unfinished work may be empty.
    saved = c.post("/drafts/save", headers={"HX-Request": "true"}, data={
        "_draft_key": "proforma:new", "_draft_patient": str(patient.id), "visit_date": TODAY()})
    assert saved.status_code == 200
    resp = c.post(f"/clinical/proformas/new?patient_id={patient.id}", data={
        "visit_date": TODAY(), "informant_present": "true", "gpe": "Pulse 80", "doctor_decision": "simple_case"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "A completed proforma needs at least one of: a presenting complaint, a diagnosis or a disposal" in html
    assert "Pulse 80" in html  # what was typed stays
    assert _count(patient.id) == 0
    assert db.session.execute(select(Draft).where(Draft.patient_id == patient.id)).first() is not None
    resp = c.post(f"/clinical/proformas/new?patient_id={patient.id}", data={
        "visit_date": TODAY(), "informant_present": "true", "mood": ["Sad"], "doctor_decision": "simple_case"})
    assert resp.status_code == 302 and _count(patient.id) == 1
