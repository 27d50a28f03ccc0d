"""A child who moves to the adult clinic at 18 keeps every earlier record: the child proforma,
the CAP work-up and the prescriptions stay readable on the patient page and through the API;
from the move on, a new walk-in proforma is the adult form."""
from __future__ import annotations

import datetime as dt

from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.timeutil import today_ist

from .test_child_api import register_child

LINE = {"medicine": "Risperidone", "strength": "0.5 mg", "form": "Tablet", "dosage": "0-0-1",
        "frequency": "Once Daily", "duration": "1 Month"}


def _child_with_records(client, h):
    born = today_ist().replace(year=today_ist().year - 18) - dt.timedelta(days=3)
    child = register_child(client, h["pwo"], age=None, date_of_birth=born.isoformat(),
                           child_name="Gurleen Kaur", mobile_no="9876512377")
    pf = client.post("/api/child-clinical-proformas", headers=h["resident"], json={
        "child_patient_id": child["id"], "provisional_diagnosis": "Conduct disorder, childhood onset",
        "icd_code": "6C91.0", "informant_relationship": "Mother"})
    assert pf.status_code == 201, pf.get_json()
    cap = client.post("/api/child-cap-workup", headers=h["resident"], json={
        "child_patient_id": child["id"], "school_type": "Private", "impairment_severity": "Moderate"})
    assert cap.status_code == 201, cap.get_json()
    rx = client.post("/api/prescriptions", headers=h["resident"], json={
        "clinical_proforma_id": pf.get_json()["data"]["proforma"]["id"], "prescription": [LINE]})
    assert rx.status_code == 201, rx.get_json()
    return (child, pf.get_json()["data"]["proforma"], cap.get_json()["data"]["record"],
            rx.get_json()["data"]["prescription"])


def test_moved_patient_keeps_child_proforma_cap_workup_and_prescriptions(client, h, role_client):
    child, pf, cap, rx = _child_with_records(client, h)
    moved = client.post(f"/api/child-patient/{child['id']}/move-to-adult", headers=h["faculty"])
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["data"]["patient"]["clinic"] == "adult"

    # The API still answers every earlier record, as it was written.
    got = client.get(f"/api/child-clinical-proformas/{pf['id']}", headers=h["faculty"]).get_json()["data"]["proforma"]
    assert got["provisional_diagnosis"] == "Conduct disorder, childhood onset" and got["informant_relationship"] == "Mother"
    listed = client.get(f"/api/child-clinical-proformas/child-patient/{child['id']}", headers=h["faculty"])
    assert [p["id"] for p in listed.get_json()["data"]["proformas"]] == [pf["id"]]
    record = client.get(f"/api/child-cap-workup/{cap['id']}", headers=h["faculty"]).get_json()["data"]["record"]
    assert record["school_type"] == "Private" and record["impairment_severity"] == "Moderate"
    got_rx = client.get(f"/api/prescriptions/{rx['id']}", headers=h["faculty"])
    assert got_rx.status_code == 200 and "Risperidone" in got_rx.get_data(as_text=True)
    rx_list = client.get(f"/api/prescriptions?patient_id={child['id']}", headers=h["faculty"])
    assert rx_list.status_code == 200 and str(rx["id"]) in rx_list.get_data(as_text=True)
    assert client.get(f"/api/prescriptions/{rx['id']}/pdf", headers=h["faculty"]).data.startswith(b"%PDF")

    # The patient page shows them: the child proforma, the CAP work-up and the prescription.
    c = role_client("faculty")
    html = c.get(f"/patients/{child['id']}").get_data(as_text=True)
    assert "Conduct disorder, childhood onset" in html and "Risperidone" in html
    assert cap["adl_no"] in html and "CAP work-up" in html
    assert c.get(f"/clinical/child/{pf['id']}").status_code == 200
    assert c.get(f"/cap/{cap['id']}").status_code == 200
    assert "Conduct disorder" in c.get(f"/clinical/child/{pf['id']}").get_data(as_text=True)

    # From now on: the adult form, and no new child proforma.
    new = c.get(f"/clinical/proformas/new?patient_id={child['id']}")
    assert new.status_code == 200 and "Child walk-in clinical proforma" not in new.get_data(as_text=True)
    assert "New walk-in proforma" in html
    refused = client.post("/api/child-clinical-proformas", headers=h["resident"],
                          json={"child_patient_id": child["id"]})
    assert refused.status_code == 422 and "adult clinic" in refused.get_json()["message"]
    adult = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": child["id"], "visit_date": today_ist().isoformat(), "diagnosis": "Conduct disorder"})
    assert adult.status_code == 201, adult.get_json()
    assert db.session.get(ClinicalProforma, adult.get_json()["data"]["proforma"]["id"]).form == "adult"
    assert db.session.get(ClinicalProforma, pf["id"]).form == "child"

    # FHIR maps the patient as an adult now: the registered mobile is the patient's own, the CGC
    # number stays, and the earlier child proforma's diagnosis is still in $everything.
    from ..fhir.conftest import fhir_body
    res = fhir_body(client.get(f"/fhir/Patient/{child['id']}", headers=h["faculty"]))
    assert res["telecom"][0]["value"] == "9876512377" and "contact" not in res
    assert child["cgc_number"] in [i["value"] for i in res["identifier"]]
    bundle = fhir_body(client.get(f"/fhir/Patient/{child['id']}/$everything", headers=h["faculty"]))
    texts = [e["resource"]["code"]["text"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    assert "Conduct disorder, childhood onset" in texts
