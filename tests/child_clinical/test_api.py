"""/api/child-clinical-proformas: the original's paths and shapes, EMRS's rules."""
from __future__ import annotations

from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.timeutil import today_ist
from tests.factories import patient_row

URL = "/api/child-clinical-proformas"


def _child(**fields):
    return patient_row(fields.pop("name", "Simran Child"), clinic="child", age=fields.pop("age", 9),
                       **{"sex": "F", **fields})


def _create(client, headers, child_id, **fields):
    resp = client.post(URL, json={"child_patient_id": child_id, **fields}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["proforma"]


def test_create_read_list_flat_shape(client, h, users):
    child = _child(cgc_number="CGC-77")
    pf = _create(client, h["resident"], child.id, reliability="Good", school_type="Govt",
                 behavioral_concerns=["hyperactivity", "inattention"], provisional_diagnosis="ADHD, combined",
                 icd_code="6A05.2", mse_rapport="Easily established", pharmacological_treatment="Atomoxetine")
    assert pf["child_patient_id"] == child.id and pf["status"] == "draft" and pf["age"] == 9
    assert pf["behavioral_concerns"] == ["inattention", "hyperactivity"]  # the form's order
    assert pf["child_patient_name"] == "Simran Child" and pf["cgc_number"] == "CGC-77"
    assert pf["cr_number"] == child.cr_no and pf["doctor_role"] == "Resident"
    assert pf["icd_system"] == "ICD-11" and pf["visit_date"] == today_ist().isoformat()
    row = db.session.get(ClinicalProforma, pf["id"])
    assert row.form == "child" and row.diagnosis == "ADHD, combined" and row.treatment_prescribed == "Atomoxetine"
    assert row.child_sections["mse_rapport"] == "Easily established" and "diagnosis" not in row.child_sections
    got = client.get(f"{URL}/{pf['id']}", headers=h["faculty"]).get_json()["data"]["proforma"]
    assert got["provisional_diagnosis"] == "ADHD, combined" and got["doctor_name"] == users["resident"].name
    body = client.get(f"{URL}?child_patient_id={child.id}&status=draft&limit=5", headers=h["faculty"]).get_json()
    assert [p["id"] for p in body["data"]["proformas"]] == [pf["id"]]
    assert body["data"]["pagination"] == {"page": 1, "limit": 5, "total": 1, "pages": 1}
    assert client.get(f"{URL}?status=submitted&child_patient_id={child.id}",
                      headers=h["faculty"]).get_json()["data"]["proformas"] == []
    assert client.get(f"{URL}?status=final", headers=h["faculty"]).status_code == 400
    assert client.get(f"{URL}?limit=1001", headers=h["faculty"]).status_code == 400
    mine = client.get(f"{URL}/child-patient/{child.id}", headers=h["admin"]).get_json()["data"]["proformas"]
    assert [p["id"] for p in mine] == [pf["id"]]
    actions = set(db.session.execute(select(AuditLog.action).where(AuditLog.entity_id == str(pf["id"]))).scalars())
    assert {"child_proforma_create", "child_proforma_view"} <= actions


def test_bad_enum_is_400_invalid_field_values_and_saves_nothing(client, h):
    child = _child()
    resp = client.post(URL, json={"child_patient_id": child.id, "reliability": "Excellent",
                                  "risk_assessment": ["suicide_risk", "ghosts"]}, headers=h["resident"])
    body = resp.get_json()
    assert resp.status_code == 400 and body["message"] == "Invalid field value(s)"
    assert {e["path"] for e in body["errors"]} == {"reliability", "risk_assessment"}
    assert db.session.execute(select(ClinicalProforma).where(ClinicalProforma.patient_id == child.id)).first() is None


def test_age_registered_when_not_sent_and_blank_when_unknown(client, h):
    """The original pre-filled an age-group midpoint and crashed (500) with no age sent."""
    assert _create(client, h["resident"], _child(age=13).id)["age"] == 13
    assert _create(client, h["resident"], _child(age=None).id)["age"] is None
    assert _create(client, h["resident"], _child(age=13).id, age=12)["age"] == 12
    assert client.post(URL, json={"child_patient_id": _child().id, "age": 40}, headers=h["resident"]).status_code == 400


def test_adult_patient_refused_both_ways(client, h):
    adult = patient_row("Adult Person", age=40)
    resp = client.post(URL, json={"child_patient_id": adult.id}, headers=h["resident"])
    assert resp.status_code == 422 and "adult clinic" in resp.get_json()["message"]
    child = _child()
    resp = client.post("/api/clinical-proformas", json={"patient_id": child.id, "visit_date": today_ist().isoformat(),
                                                        "diagnosis": "x"}, headers=h["resident"])
    assert resp.status_code == 422 and "child clinic" in resp.get_json()["message"]
    assert client.post(URL, json={"child_patient_id": 999999}, headers=h["resident"]).status_code == 404


def test_put_partial_with_the_two_conditional_rules_and_409(client, h):
    pf = _create(client, h["resident"], _child().id, school_name="Govt Model School")
    url = f"{URL}/{pf['id']}"
    resp = client.put(url, json={"has_physical_illness": True}, headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "physical_illness_specification"
    resp = client.put(url, json={"disposal_status": "Managed in Walk-in only"}, headers=h["resident"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "disposal_reason"
    resp = client.put(url, json={"status": "submitted", "reliability": "Fair", "version": 1}, headers=h["resident"])
    assert resp.status_code == 200, resp.get_json()
    out = resp.get_json()["data"]["proforma"]
    assert out["status"] == "submitted" and out["school_name"] == "Govt Model School" and out["version"] == 2
    stale = client.put(url, json={"reliability": "Poor", "version": 1}, headers=h["resident"])
    assert stale.status_code == 409 and "changed by someone else" in stale.get_json()["message"]
    assert db.session.get(ClinicalProforma, pf["id"]).child_sections["reliability"] == "Fair"
    # the adult endpoint does not amend a child form
    assert client.put(f"/api/clinical-proformas/{pf['id']}", json={"diagnosis": "x"},
                      headers=h["resident"]).status_code == 422


def test_amend_and_withdraw_follow_the_adult_rules(client, h, make_user, bearer):
    pf = _create(client, h["faculty"], _child().id, provisional_diagnosis="Autism spectrum disorder")
    url = f"{URL}/{pf['id']}"
    # a resident cannot rewrite a consultant's record, nor withdraw it
    assert client.put(url, json={"provisional_diagnosis": "None", "change_reason": "I disagree"},
                      headers=h["resident"]).status_code == 403
    assert client.delete(url, headers=h["resident"]).status_code == 403
    assert client.put(url, json={"reliability": "Good"}, headers=h["pwo"]).status_code == 403
    # another resident's record: Faculty amends with a reason, the version is kept
    rpf = _create(client, h["resident"], _child().id, reliability="Good")
    resp = client.put(f"{URL}/{rpf['id']}", json={"reliability": "Poor"}, headers=h["faculty"])
    assert resp.status_code == 400
    resp = client.put(f"{URL}/{rpf['id']}", json={"reliability": "Poor", "change_reason": "Informant changed"},
                      headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["data"]["proforma"]["change_reason"] == "Informant changed"
    versions = client.get(f"/api/clinical-proformas/{rpf['id']}/versions", headers=h["admin"]).get_json()["data"]
    assert versions["versions"][0]["fields"]["child_sections"]["reliability"] == "Good"
    # DELETE withdraws: still in the table, gone from reads
    assert client.delete(f"{URL}/{rpf['id']}", json={"reason": "Wrong child"}, headers=h["faculty"]).status_code == 200
    row = db.session.get(ClinicalProforma, rpf["id"])
    assert row is not None and row.is_active is False and row.withdrawal_reason == "Wrong child"
    assert client.get(f"{URL}/{rpf['id']}", headers=h["faculty"]).status_code == 404


def test_adult_proforma_id_is_not_a_child_proforma(client, h):
    adult = patient_row("Adult Person", age=40)
    from tests.factories import create_proforma
    apf = create_proforma(client, h["resident"], adult.id)
    assert client.get(f"{URL}/{apf['id']}", headers=h["resident"]).status_code == 404
    assert client.put(f"{URL}/{apf['id']}", json={"reliability": "Good"}, headers=h["resident"]).status_code == 404
