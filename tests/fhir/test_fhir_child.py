"""FHIR for a child of the Child Guidance Clinic: the Patient carries the CGC number, the date
of birth and the guardian as a contact (the guardian's mobile is not the child's own), and
Patient/$everything holds the child's diagnosis and prescription."""
from __future__ import annotations

import datetime as dt

from emrs.fhir.service import CGC_SYSTEM, CONTACT_ROLE
from emrs.timeutil import today_ist

from ..children.test_child_api import register_child
from .conftest import fhir_body


def _dob(years: int) -> dt.date:
    today = today_ist()
    return today.replace(year=today.year - years) - dt.timedelta(days=40)


def test_child_patient_has_birth_date_and_the_guardian_as_contact(client, h):
    dob = _dob(9)
    child = register_child(client, h["pwo"], date_of_birth=dob.isoformat())
    res = fhir_body(client.get(f"/fhir/Patient/{child['id']}", headers=h["faculty"]))
    assert res["birthDate"] == dob.isoformat()
    assert any(i["system"] == CGC_SYSTEM and i["value"] == child["cgc_number"] for i in res["identifier"])
    assert "telecom" not in res  # the only number is the guardian's
    [contact] = res["contact"]
    assert contact["name"] == {"text": "Harpreet Singh"}
    assert contact["telecom"] == [{"system": "phone", "value": "9876501234", "use": "mobile"}]
    [role] = contact["relationship"]
    assert role["coding"] == [{"system": CONTACT_ROLE, "code": "N", "display": "Next-of-Kin"}]
    assert role["text"] == "Guardian (Father)"


def test_child_without_date_of_birth_has_no_birth_date_and_an_adult_no_contact(client, h):
    child = register_child(client, h["pwo"], head_relationship="Guardian")
    res = fhir_body(client.get(f"/fhir/Patient/{child['id']}", headers=h["faculty"]))
    assert "birthDate" not in res and res["contact"][0]["relationship"][0]["text"] == "Guardian"
    adult = client.post("/api/patients/register-complete", headers=h["pwo"], json={
        "name": "Gurnam Singh", "age": 52, "sex": "M", "contact_number": "9876543210",
        "head_name": "Gurnam Singh", "head_relationship": "self"}).get_json()["data"]["patient"]
    res = fhir_body(client.get(f"/fhir/Patient/{adult['id']}", headers=h["faculty"]))
    assert res["telecom"] == [{"system": "phone", "value": "9876543210", "use": "mobile"}]
    assert "contact" not in res and "birthDate" not in res


def test_everything_of_a_child_holds_the_child_proforma_diagnosis_and_prescription(client, h):
    child = register_child(client, h["pwo"], date_of_birth=_dob(12).isoformat(), age=12)
    pf = client.post("/api/child-clinical-proformas", headers=h["resident"], json={
        "child_patient_id": child["id"], "provisional_diagnosis": "ADHD, combined presentation",
        "icd_code": "6A05.2"})
    assert pf.status_code == 201, pf.get_json()
    line = {"medicine": "Risperidone", "strength": "0.5 mg", "form": "Tablet", "dosage": "0-0-1",
            "frequency": "Once Daily", "duration": "1 Month"}
    rx = client.post("/api/prescriptions", headers=h["resident"], json={
        "clinical_proforma_id": pf.get_json()["data"]["proforma"]["id"], "prescription": [line]})
    assert rx.status_code == 201, rx.get_json()
    bundle = fhir_body(client.get(f"/fhir/Patient/{child['id']}/$everything", headers=h["resident"]))
    by_kind = {}
    for e in bundle["entry"]:
        by_kind.setdefault(e["resource"]["resourceType"], []).append(e["resource"])
    [patient] = by_kind["Patient"]
    assert patient["contact"][0]["telecom"][0]["value"] == "9876501234" and "telecom" not in patient
    [condition] = by_kind["Condition"]
    assert condition["code"]["text"] == "ADHD, combined presentation"
    assert condition["code"]["coding"][0]["code"] == "6A05.2"
    assert condition["subject"] == {"reference": f"Patient/{child['id']}"}
    [request] = by_kind["MedicationRequest"]
    assert "Risperidone" in request["medicationCodeableConcept"]["text"]
    assert request["subject"] == {"reference": f"Patient/{child['id']}"}
