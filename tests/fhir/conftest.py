"""FHIR test fixtures: bearer headers per role, a patient with a visit, a diagnosed
proforma and a two-line prescription (built through the API, as a desk would), and
validation of what /fhir returns against the FHIR R4 models of two libraries."""
from __future__ import annotations

import datetime as dt

import pytest

from emrs.timeutil import today_ist

FHIR_JSON = "application/fhir+json"

LINES = [{"medicine": "Sertraline 50 mg", "dosage": "1-0-0", "when_to_take": "After Food", "frequency": "Once Daily",
          "duration": "1 Month", "quantity": "30", "details": "Do not stop suddenly", "notes": "Review in 4 weeks"},
         {"medicine": "Clonazepam 0.5 mg", "dosage": "0-0-1", "when_to_take": "Bedtime", "duration": "2 Weeks"}]


def assert_r4(resource: dict) -> None:
    """Parses as FHIR R4 4.0.1 (fhirclient's R4 models, strict: wrong types, unknown or
    missing required elements and malformed dates fail) and with fhir.resources' R4B
    pydantic models (the same resources; also checks id, code, uri and instant formats)."""
    from fhir.resources.R4B import get_fhir_model_class
    from fhirclient.models import fhirelementfactory

    kind = resource["resourceType"]
    fhirelementfactory.FHIRElementFactory.instantiate(kind, resource)  # raises FHIRValidationError
    model = get_fhir_model_class(kind).model_validate(resource)
    assert model.get_resource_type() == kind


def fhir_body(resp, status: int = 200) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    assert resp.mimetype == FHIR_JSON, resp.mimetype
    body = resp.get_json(force=True)
    assert_r4(body)
    return body


def issue(resp, status: int) -> dict:
    """The single issue of an OperationOutcome answer."""
    body = fhir_body(resp, status)
    assert body["resourceType"] == "OperationOutcome"
    assert len(body["issue"]) == 1
    return body["issue"][0]


@pytest.fixture
def clinical_patient(client, h, users):
    """Registered at the counter (with ABHA), sent to a resident today, seen with an
    ICD-10 diagnosis and given a two-line prescription; an older ICD-11 proforma too."""
    today = today_ist().isoformat()
    resp = client.post("/api/patients/register-complete", headers=h["pwo"], json={
        "name": "Gurnam Singh Sandhu", "age": 52, "sex": "M", "contact_number": "9876543210",
        "cr_no": "CR2026000777", "psy_no": "PSY2026000042", "abha_number": "91 7654 3210 9876",
        "abha_address": "gurnam.sandhu@abdm", "marital_status": "married", "address_line": "House 12, Sector 15",
        "city": "Chandigarh", "state": "Chandigarh", "pin_code": "160015", "country": "India"})
    assert resp.status_code == 201, resp.get_json()
    patient = resp.get_json()["data"]["patient"]
    visit = client.post("/api/patients/assign", headers=h["pwo"], json={
        "patient_id": patient["id"], "assigned_doctor_id": users["resident"].id, "room_no": "R-7"})
    assert visit.status_code == 201, visit.get_json()
    earlier = (today_ist() - dt.timedelta(days=60)).isoformat()
    old = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": patient["id"], "visit_date": earlier, "diagnosis": "Single episode depressive disorder",
        "icd_code": "6A70"})
    assert old.status_code == 201, old.get_json()
    pro = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": patient["id"], "visit_date": today, "diagnosis": "Moderate depressive episode",
        "icd_code": "F32.1", "case_severity": "moderate"})
    assert pro.status_code == 201, pro.get_json()
    proforma = pro.get_json()["data"]["proforma"]
    rx = client.post("/api/prescriptions", headers=h["resident"], json={
        "patient_id": patient["id"], "clinical_proforma_id": proforma["id"], "prescription": LINES})
    assert rx.status_code == 201, rx.get_json()
    return {"patient": patient, "visit": visit.get_json()["data"]["assignment"], "proforma": proforma,
            "old_proforma": old.get_json()["data"]["proforma"], "prescription": rx.get_json()["data"]["prescription"]}
