"""Plausible prescriptions: the follow-up is not before the visit,
and a prescription without any medicine is never printed; the page does not save one (the
original API may: its contract drops lines without a medicine and answers "0 medication(s)")."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from emrs.extensions import db
from emrs.prescriptions.models import Prescription
from emrs.prescriptions.printing import NOTHING_TO_PRINT
from emrs.timeutil import today_ist

from ..factories import patient_row, proforma_row

VISIT = today_ist() - dt.timedelta(days=5)
BEFORE = (VISIT - dt.timedelta(days=1)).isoformat()


@pytest.fixture
def proforma(users):
    p = patient_row("Charanjit Singh", sex="M", age=58, cr_no="CRTEST400001")
    return proforma_row(p, users["resident"], visit_date=VISIT)


def _rx(pf):
    return db.session.execute(select(Prescription).where(Prescription.clinical_proforma_id == pf.id)).scalar()


def _messages(resp) -> str:
    body = resp.get_json()
    return " ".join([body["message"]] + [e["msg"] for e in body.get("errors") or []])


LINE = [{"medicine": "Escitalopram 10 mg", "dosage": "0-0-1"}]


# ------------------------------------------------------------------ follow-up date

def test_api_refuses_a_follow_up_before_the_visit(client, h, proforma):
    body = {"patient_id": proforma.patient_id, "clinical_proforma_id": proforma.id, "prescription": LINE}
    resp = client.post("/api/prescriptions", json={**body, "follow_up_date": BEFORE}, headers=h["resident"])
    assert resp.status_code == 400
    assert f"cannot be before the visit ({VISIT.strftime('%d %b %Y')})" in _messages(resp)
    assert _rx(proforma) is None
    # The visit day itself and later are fine.
    resp = client.post("/api/prescriptions", json={**body, "follow_up_date": VISIT.isoformat()}, headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    rx_id = resp.get_json()["data"]["prescription"]["id"]
    resp = client.put(f"/api/prescriptions/{rx_id}", json={"prescription": LINE, "follow_up_date": BEFORE},
                      headers=h["resident"])
    assert resp.status_code == 400 and "cannot be before the visit" in _messages(resp)
    assert _rx(proforma).follow_up_date == VISIT


def test_page_refuses_a_follow_up_before_the_visit(role_client, proforma):
    resp = role_client("resident").post(f"/prescriptions/proforma/{proforma.id}", data={
        "lines-0-medicine": "Escitalopram 10 mg", "lines-0-dosage": "0-0-1", "follow_up_date": BEFORE})
    assert resp.status_code == 422
    assert "cannot be before the visit" in resp.get_data(as_text=True)
    assert _rx(proforma) is None


# ------------------------------------------------------------------ no medicine: never printed

def test_api_may_save_an_empty_prescription_but_never_prints_it(client, h, proforma):
    resp = client.post("/api/prescriptions", json={"patient_id": proforma.patient_id,
                                                    "clinical_proforma_id": proforma.id,
                                                    "prescription": [{"medicine": "", "dosage": "1-0-1"}]},
                       headers=h["resident"])
    assert resp.status_code == 201
    assert resp.get_json()["message"] == "Prescription created successfully with 0 medication(s)"
    rx_id = resp.get_json()["data"]["prescription"]["id"]
    pdf = client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"])
    assert pdf.status_code == 400 and pdf.mimetype == "application/json"
    assert pdf.get_json() == {"success": False, "message": NOTHING_TO_PRINT, "code": "NO_MEDICINE"}


def test_proforma_api_may_clear_the_lines_and_the_pdf_is_refused(client, h, proforma, role_client):
    created = client.post("/api/prescriptions", json={"patient_id": proforma.patient_id,
                                                       "clinical_proforma_id": proforma.id, "prescription": LINE},
                          headers=h["resident"])
    rx_id = created.get_json()["data"]["prescription"]["id"]
    assert client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"]).status_code == 200
    resp = client.put(f"/api/clinical-proformas/{proforma.id}", json={"prescriptions": []}, headers=h["resident"])
    assert resp.status_code == 200, resp.get_json()
    assert _rx(proforma).lines == []
    assert client.get(f"/api/prescriptions/{rx_id}/pdf", headers=h["resident"]).status_code == 400
    page = role_client("resident").get(f"/prescriptions/{rx_id}/pdf", follow_redirects=True)
    assert page.mimetype == "text/html" and "nothing to print" in page.get_data(as_text=True)


def test_page_does_not_save_a_prescription_without_medicine(role_client, proforma):
    resp = role_client("resident").post(f"/prescriptions/proforma/{proforma.id}", data={
        "lines-0-medicine": "", "lines-0-dosage": "1-0-1", "advice": "Sleep on time"})
    assert resp.status_code == 422
    assert "Add at least one medicine" in resp.get_data(as_text=True)
    assert _rx(proforma) is None
