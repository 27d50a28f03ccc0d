"""/api/clinical-proformas: the contract's shapes, complex-case rules, locking, roles."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.intake.models import FileMovement, IntakeRecord
from emrs.patients.models import PatientVisit
from emrs.timeutil import today_ist

from ..factories import register_patient


@pytest.fixture
def patient(client, h):
    return register_patient(client, h["pwo"], name="Kuldeep Singh", age=40, sex="M")


def create(client, headers, patient_id, **over):
    body = {"patient_id": patient_id, "visit_date": today_ist().isoformat(), "mood": ["Sad", "Anxious"],
            "diagnosis": "Depression", "icd_code": "F32.1", **over}
    return client.post("/api/clinical-proformas", json=body, headers=headers)


def test_simple_create_shape_and_visit_link(client, h, users, patient):
    client.post("/api/patients/assign", json={"patient_id": patient["id"], "assigned_doctor_id": users["resident"].id},
                headers=h["pwo"])
    resp = create(client, h["resident"], patient["id"],
                  prescriptions=[{"medicine": "Escitalopram 10 mg", "dosage": "0-0-1", "when": "after food",
                                  "qty": "30"}, {"medicine": "", "dosage": "1-0-1"}])
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["message"] == "Simple Walk-in Clinical Proforma saved successfully"
    p = body["data"]["proforma"]
    assert p["mood"] == "Sad, Anxious" and p["doctor_decision"] == "simple_case" and p["requires_adl_file"] is False
    assert p["icd_system"] == "ICD-10" and p["patient_name"] == "Kuldeep Singh"
    assert p["doctor_name"] == users["resident"].name and p["doctor_role"] == "Resident"
    rx = body["data"]["prescriptions"]
    assert rx["count"] == 1
    lines = rx["prescriptions"][0]["prescription"]
    assert len(lines) == 1 and lines[0]["when_to_take"] == "after food" and lines[0]["quantity"] == "30"
    visit = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == patient["id"])).scalar_one()
    assert visit.clinical_proforma_id == p["id"] and p["visit_type"] == "first_visit"


def test_complex_create_makes_one_intake_record(client, h, patient):
    resp = create(client, h["resident"], patient["id"], doctor_decision="complex_case",
                  adl_reasoning="Needs full work-up", history_narrative="Two years of low mood",
                  informants=[{"relationship": "Wife", "name": "Jaspreet", "reliability": "Reliable"}],
                  prescriptions=[{"medicine": "Sertraline 50 mg"}])
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["message"] == "Complex case with ADL file saved successfully"
    assert set(body["data"]) == {"clinical_proforma", "adl_file"}
    assert body["prescriptions"]["count"] == 1          # sibling of data, as the original
    adl = body["data"]["adl_file"]
    assert adl["adl_no"].startswith("ADL") and len(adl["adl_no"]) == 15 and adl["file_status"] == "created"
    assert adl["history_narrative"] == "Two years of low mood" and adl["informants"][0]["name"] == "Jaspreet"
    assert body["data"]["clinical_proforma"]["adl_file_id"] == adl["id"]
    # A second complex proforma links the same record.
    resp = create(client, h["faculty"], patient["id"], doctor_decision="complex_case")
    assert resp.get_json()["data"]["adl_file"]["id"] == adl["id"]
    n = db.session.execute(select(func.count(IntakeRecord.id)).where(IntakeRecord.patient_id == patient["id"]))
    assert n.scalar_one() == 1
    assert db.session.execute(select(FileMovement).where(FileMovement.adl_file_id == adl["id"])).scalar_one()
    got = client.get(f"/api/patients/{patient['id']}", headers=h["pwo"]).get_json()["data"]["patient"]
    assert got["case_complexity"] == "complex" and got["adl_no"] == adl["adl_no"]


def test_complex_is_final(client, h, patient):
    pid = create(client, h["resident"], patient["id"], doctor_decision="complex_case").get_json()["data"][
        "clinical_proforma"]["id"]
    resp = client.put(f"/api/clinical-proformas/{pid}", json={"doctor_decision": "simple_case"}, headers=h["resident"])
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "A complex case cannot be changed back to a simple case"
    got = client.get(f"/api/clinical-proformas/{pid}", headers=h["resident"]).get_json()["data"]["proforma"]
    assert got["doctor_decision"] == "complex_case"


def test_update_to_complex_creates_record_and_version_conflict(client, h, patient):
    p = create(client, h["resident"], patient["id"]).get_json()["data"]["proforma"]
    resp = client.put(f"/api/clinical-proformas/{p['id']}", json={"doctor_decision": "complex_case",
                                                                  "version": p["version"]}, headers=h["resident"])
    body = resp.get_json()
    assert resp.status_code == 200 and body["message"] == "Clinical proforma updated successfully"
    assert body["data"]["adl_file"]["file_status"] == "created"
    assert body["data"]["clinical_proforma"]["version"] == p["version"] + 1
    stale = client.put(f"/api/clinical-proformas/{p['id']}", json={"diagnosis": "Other", "version": p["version"]},
                       headers=h["faculty"])
    assert stale.status_code == 409
    got = client.get(f"/api/clinical-proformas/{p['id']}", headers=h["faculty"]).get_json()["data"]["proforma"]
    assert got["diagnosis"] == "Depression"   # no silent overwrite


def test_validation_and_unknowns(client, h, patient):
    assert client.post("/api/clinical-proformas", json={"visit_date": "2025-01-01"},
                       headers=h["resident"]).get_json()["message"] == "Missing required fields"
    resp = create(client, h["resident"], patient["id"], visit_type="walk_in", doctor_decision="maybe",
                  room_no="12345678901", mood=5, icd_code="NOTACODE", workup_appointment="31/12/2025")
    assert resp.status_code == 400
    paths = {e["path"] for e in resp.get_json()["errors"]}
    assert {"visit_type", "doctor_decision", "room_no", "mood", "icd_code", "workup_appointment"} <= paths
    assert create(client, h["resident"], 99999999).status_code == 404
    assert create(client, h["resident"], "abc").status_code == 400
    assert create(client, h["resident"], patient["id"], prescriptions="x").status_code == 400
    assert create(client, h["resident"], patient["id"], prescriptions=[{"medicine": "x"}] * 26).status_code == 400
    assert client.get("/api/clinical-proformas/999999", headers=h["resident"]).get_json()["message"] == \
        "Clinical proforma not found"
    assert client.post("/api/clinical-proformas", data="{", content_type="application/json",
                       headers=h["resident"]).status_code == 400


def test_icd11_code_accepted_and_labelled(client, h, patient):
    p = create(client, h["resident"], patient["id"], icd_code="6a70.1").get_json()["data"]["proforma"]
    assert p["icd_code"] == "6A70.1" and p["icd_system"] == "ICD-11"


def stub(client, headers, patient_id, **over):
    """The visit stub a welfare officer opens at registration: header fields only."""
    body = {"patient_id": patient_id, "visit_date": today_ist().isoformat(), "visit_type": "first_visit", **over}
    return client.post("/api/clinical-proformas", json=body, headers=headers)


def test_record_level_rules(client, h, users, patient):
    # A welfare officer opens a stub, but writes no clinical content into it.
    refused = create(client, h["pwo"], patient["id"])
    assert refused.status_code == 403 and "written by a doctor" in refused.get_json()["message"]
    mine = stub(client, h["pwo"], patient["id"]).get_json()["data"]["proforma"]
    theirs = create(client, h["resident"], patient["id"]).get_json()["data"]["proforma"]
    assert client.put(f"/api/clinical-proformas/{mine['id']}", json={"room_no": "7"},
                      headers=h["pwo"]).status_code == 200
    assert client.put(f"/api/clinical-proformas/{mine['id']}", json={"gpe": "BP 120/80"},
                      headers=h["pwo"]).status_code == 403
    resp = client.put(f"/api/clinical-proformas/{theirs['id']}", json={"room_no": "8"}, headers=h["pwo"])
    assert resp.status_code == 403
    assert client.delete(f"/api/clinical-proformas/{theirs['id']}", headers=h["pwo"]).status_code == 403
    # The welfare officer reads their own stub, not the doctor's proforma.
    assert client.get(f"/api/clinical-proformas/{theirs['id']}", headers=h["pwo"]).status_code == 403
    # immutable keys are ignored; the doctor fills the stub without being asked for a reason
    client.put(f"/api/clinical-proformas/{mine['id']}", json={"patient_id": 1, "filled_by": users["admin"].id,
                                                             "gpe": "y"}, headers=h["faculty"])
    got = client.get(f"/api/clinical-proformas/{mine['id']}", headers=h["pwo"]).get_json()["data"]["proforma"]
    assert got["patient_id"] == patient["id"] and got["filled_by"] == users["pwo"].id and got["gpe"] == "y"
    assert got["amended_by"] == users["faculty"].id
    # Now Faculty wrote it: the welfare officer can no longer change it.
    assert client.put(f"/api/clinical-proformas/{mine['id']}", json={"room_no": "9"},
                      headers=h["pwo"]).status_code == 403
    assert client.get("/api/clinical-proformas/my-proformas", headers=h["pwo"]).status_code == 403
    mine_list = client.get("/api/clinical-proformas/my-proformas", headers=h["resident"]).get_json()["data"]
    assert [p["id"] for p in mine_list["proformas"]] == [theirs["id"]]
    assert client.get("/api/clinical-proformas/stats", headers=h["resident"]).status_code == 403
    assert client.get("/api/clinical-proformas/stats", headers=h["admin"]).get_json()["data"]["stats"][
        "total_proformas"] >= 2


def test_delete_archives_intake_record(client, h, patient):
    body = create(client, h["resident"], patient["id"], doctor_decision="complex_case").get_json()["data"]
    pid, adl_id = body["clinical_proforma"]["id"], body["adl_file"]["id"]
    resp = client.delete(f"/api/clinical-proformas/{pid}", headers=h["resident"])
    assert resp.get_json()["message"] == "Clinical proforma deleted successfully"
    assert client.get(f"/api/clinical-proformas/{pid}", headers=h["resident"]).status_code == 404
    rec = db.session.get(IntakeRecord, adl_id)
    assert rec.file_status == "archived" and rec.is_active is False and rec.notes.endswith("[DELETED]")


def test_lists_filters_stats_and_trends(client, h, users, patient):
    create(client, h["resident"], patient["id"], visit_date="2026-01-05")
    create(client, h["faculty"], patient["id"], doctor_decision="complex_case", visit_date="2026-01-06")
    lst = client.get("/api/clinical-proformas", query_string={"doctor_decision": "complex_case"},
                     headers=h["resident"]).get_json()["data"]
    assert lst["pagination"]["total"] == 1 and lst["proformas"][0]["doctor_decision"] == "complex_case"
    lst = client.get("/api/clinical-proformas", query_string={"date_from": "2026-01-06", "date_to": "2026-01-06"},
                     headers=h["resident"]).get_json()["data"]
    assert lst["pagination"]["total"] == 1
    # A welfare officer's list holds only the stubs they opened.
    assert client.get("/api/clinical-proformas", headers=h["pwo"]).get_json()["data"]["pagination"]["total"] == 0
    assert client.get("/api/clinical-proformas", query_string={"visit_type": "bogus"},
                      headers=h["pwo"]).status_code == 400
    cx = client.get("/api/clinical-proformas/complex-cases", headers=h["resident"]).get_json()["data"]["proformas"]
    assert len(cx) == 1
    assert client.get("/api/clinical-proformas/complex-cases", headers=h["pwo"]).get_json()["data"]["proformas"] == []
    ds = client.get("/api/clinical-proformas/decision-stats", headers=h["pwo"]).get_json()["data"]["decisionStats"]
    assert {d["doctor_decision"]: d["count"] for d in ds} == {"simple_case": 1, "complex_case": 1}
    ds = client.get("/api/clinical-proformas/decision-stats", query_string={"user_id": users["faculty"].id},
                    headers=h["pwo"]).get_json()["data"]["decisionStats"]
    assert {d["doctor_decision"]: d["count"] for d in ds} == {"simple_case": 0, "complex_case": 1}
    for period, n, key in (("day", 7, "date"), ("week", 7, "week_start"), ("month", 12, "month_start")):
        trends = client.get("/api/clinical-proformas/visit-trends", query_string={"period": period},
                            headers=h["pwo"]).get_json()["data"]["trends"]
        assert len(trends) == n and key in trends[0]
    assert client.get("/api/clinical-proformas/visit-trends", query_string={"period": "year"},
                      headers=h["pwo"]).status_code == 400
    by_patient = client.get(f"/api/clinical-proformas/patient/{patient['id']}", headers=h["resident"]).get_json()
    assert [p["visit_date"] for p in by_patient["data"]["proformas"]] == ["2026-01-06", "2026-01-05"]
    last = client.get(f"/api/clinical-proformas/patient/{patient['id']}/last-visit", headers=h["resident"]).get_json()
    assert last["data"]["proforma"]["visit_date"] == "2026-01-06"
    # The welfare officer's view of the patient holds no doctor's proforma.
    assert client.get(f"/api/clinical-proformas/patient/{patient['id']}", headers=h["pwo"]).get_json()[
        "data"]["proformas"] == []
    assert client.get(f"/api/clinical-proformas/patient/{patient['id']}/last-visit", headers=h["pwo"]).get_json()[
        "data"]["proforma"] is None
    # Every page of the list is audited, naming the patients it returned.
    rows = db.session.execute(select(AuditLog).where(AuditLog.action == "proforma_list_view",
                                                     AuditLog.entity == "clinical_proforma")
                              .order_by(AuditLog.id)).scalars().all()
    assert [(r.user_id, r.details["patients"]) for r in rows][:3] == [
        (users["resident"].id, [patient["id"]]), (users["resident"].id, [patient["id"]]), (users["pwo"].id, [])]
    assert rows[0].patient_id == patient["id"]
