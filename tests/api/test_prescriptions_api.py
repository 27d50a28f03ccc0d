"""/api/prescriptions (contract §10): shapes, one row per proforma, aliases, safety
override, roles, bad input, PDF."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.prescriptions.models import Prescription

from ..factories import create_proforma, register_patient


@pytest.fixture
def h(users, bearer):
    return {**{k: bearer(u) for k, u in users.items()}, **{f"{k}_id": u.id for k, u in users.items()}}


@pytest.fixture
def proforma(client, h):
    p = register_patient(client, h["pwo"], name="Balwinder Kaur", age=41)
    return create_proforma(client, h["resident"], p["id"], diagnosis="Bipolar disorder")


LINES = [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1", "when": "After Food", "duration": "1 Month", "qty": "30"},
         {"medicine": "", "dosage": "1-0-1"},
         {"medicine": "Clonazepam 0.5 mg", "dosage": "0-0-1", "when_to_take": "Bedtime"}]


def test_create_shape_aliases_and_one_row_per_proforma(client, h, proforma):
    body = {"patient_id": proforma["patient_id"], "clinical_proforma_id": proforma["id"], "prescription": LINES}
    resp = client.post("/api/prescriptions", json=body, headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    data = resp.get_json()
    assert data["message"] == "Prescription created successfully with 2 medication(s)"
    rx = data["data"]["prescription"]
    assert [l["medicine"] for l in rx["prescription"]] == ["Sertraline 50 mg", "Clonazepam 0.5 mg"]
    assert rx["prescription"][0]["when_to_take"] == "After Food" and rx["prescription"][0]["quantity"] == "30"
    assert [l["id"] for l in rx["prescription"]] == [1, 2]
    # A second save for the same proforma replaces the lines (one row per proforma).
    resp = client.post("/api/prescriptions", json={**body, "prescriptions": [{"medicine": "Sertraline 100 mg"}],
                                                   "prescription": None}, headers=h["resident"])
    again = resp.get_json()["data"]["prescription"]
    assert again["id"] == rx["id"] and [l["medicine"] for l in again["prescription"]] == ["Sertraline 100 mg"]
    by_proforma = client.get(f"/api/prescriptions/by-proforma/{proforma['id']}", headers=h["faculty"]).get_json()
    assert by_proforma["data"]["prescription"]["id"] == rx["id"]
    by_id = client.get(f"/api/prescriptions/{rx['id']}", headers=h["faculty"]).get_json()
    assert by_id["message"] == "Prescription retrieved successfully"
    alias = client.get(f"/api/prescriptions/999999?clinical_proforma_id={proforma['id']}",
                       headers=h["faculty"]).get_json()
    assert alias["data"]["prescription"]["id"] == rx["id"]
    by_patient = client.get(f"/api/prescriptions/by-patient/{proforma['patient_id']}", headers=h["faculty"]).get_json()
    assert [r["id"] for r in by_patient["data"]["prescriptions"]] == [rx["id"]]
    # A welfare officer reads no prescription on any of these doors (as on the pages and FHIR).
    for url in (f"/api/prescriptions/by-proforma/{proforma['id']}", f"/api/prescriptions/{rx['id']}",
                f"/api/prescriptions/999999?clinical_proforma_id={proforma['id']}",
                f"/api/prescriptions/by-patient/{proforma['patient_id']}", f"/api/prescriptions/{rx['id']}/pdf",
                f"/api/prescriptions/{rx['id']}/versions"):
        refused = client.get(url, headers=h["pwo"])
        assert refused.status_code == 403 and "prescription" not in refused.get_json().get("data", {}), url
    listed = client.get("/api/prescriptions", query_string={"patient_id": proforma["patient_id"]},
                        headers=h["faculty"]).get_json()["data"]
    assert listed["pagination"]["total"] == 1


def test_bad_input(client, h, proforma):
    def post(body):
        return client.post("/api/prescriptions", json=body, headers=h["resident"])
    assert post({"patient_id": 1, "prescription": LINES}).get_json()["message"] == "clinical_proforma_id is required"
    assert post({"clinical_proforma_id": "x"}).get_json()["message"] == "clinical_proforma_id must be a valid integer"
    assert post({"clinical_proforma_id": proforma["id"], "patient_id": "abc"}).get_json()["message"] == \
        "patient_id must be a valid integer"
    resp = post({"clinical_proforma_id": 99999999, "prescription": LINES})
    assert resp.status_code == 404 and resp.get_json()["message"] == "Clinical proforma not found"
    assert post({"clinical_proforma_id": proforma["id"], "prescription": "x"}).status_code == 400
    resp = post({"clinical_proforma_id": proforma["id"], "prescription": [{"medicine": "x"}] * 26})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["msg"] == "at most 25 medication lines"
    assert post({"clinical_proforma_id": proforma["id"], "prescription": [{"medicine": ["x"]}]}).status_code == 400
    resp = post({"clinical_proforma_id": proforma["id"], "prescription": [{"medicine": "x" * 201}]})
    assert resp.status_code == 400 and "medicine must be text of at most 200 characters" in resp.get_json()["message"]
    assert post({"clinical_proforma_id": proforma["id"], "prescription": [{"medicine": "Escitalopram", "details": "x" * 501}]}).status_code == 400
    resp = post({"clinical_proforma_id": proforma["id"], "prescription": LINES, "advice": "x" * 2001})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["msg"] == "advice must be text of at most 2000 characters"
    resp = post({"clinical_proforma_id": proforma["id"], "patient_id": proforma["patient_id"] + 1000,
                 "prescription": LINES})
    assert resp.status_code == 400
    assert client.get("/api/prescriptions/99999", headers=h["resident"]).status_code == 404


def test_roles(client, h, proforma):
    body = {"clinical_proforma_id": proforma["id"], "prescription": LINES}
    resp = client.post("/api/prescriptions", json=body, headers=h["pwo"])
    assert resp.status_code == 403
    assert client.get("/api/prescriptions", headers=h["pwo"]).status_code == 403
    rx = client.post("/api/prescriptions", json=body, headers=h["admin"]).get_json()["data"]["prescription"]
    assert client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": LINES}, headers=h["pwo"]).status_code == 403
    assert client.delete(f"/api/prescriptions/{rx['id']}", headers=h["pwo"]).status_code == 403


def test_lithium_with_ibuprofen_needs_an_override_reason(client, h, proforma):
    lines = [{"medicine": "Lithium Carbonate 300 mg", "dosage": "1-0-1"}, {"medicine": "Ibuprofen 400 mg", "dosage": "SOS"}]
    body = {"clinical_proforma_id": proforma["id"], "prescription": lines}
    resp = client.post("/api/prescriptions", json=body, headers=h["resident"])
    assert resp.status_code == 400
    data = resp.get_json()
    assert data["code"] == "OVERRIDE_REQUIRED" and "override reason" in data["message"]
    assert client.get(f"/api/prescriptions/by-proforma/{proforma['id']}", headers=h["resident"]).status_code == 404
    resp = client.post("/api/prescriptions", json={**body, "override_reason": "Short course, lithium level checked today"},
                       headers=h["resident"])
    assert resp.status_code == 201
    rx = resp.get_json()["data"]["prescription"]
    assert rx["override_reason"] == "Short course, lithium level checked today"
    assert any(w["rule"].startswith("lithium") for w in rx["warnings"])
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "prescription_override",
                                                     AuditLog.entity_id == str(rx["id"]))).scalar_one()


def test_update_delete_and_stale_version(client, h, proforma):
    rx = client.post("/api/prescriptions", json={"clinical_proforma_id": proforma["id"], "prescription": LINES},
                     headers=h["resident"]).get_json()["data"]["prescription"]
    change = {"prescriptions": [{"medicine": "Fluoxetine 20 mg"}], "version": rx["version"]}
    # Faculty changing a Resident's prescription must say why; then it is version 2, signed by Faculty.
    no_reason = client.put(f"/api/prescriptions/{rx['id']}", json=change, headers=h["faculty"])
    assert no_reason.status_code == 400 and no_reason.get_json()["errors"][0]["path"] == "reason"
    resp = client.put(f"/api/prescriptions/{rx['id']}", json={**change, "change_reason": "Switched after review"},
                      headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["message"] == "Prescription updated successfully"
    v2 = resp.get_json()["data"]["prescription"]
    assert v2["version"] == rx["version"] + 1 and v2["signed_by"] == h["faculty_id"]
    stale = client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [{"medicine": "Other"}],
                                                             "version": rx["version"], "change_reason": "Again"},
                       headers=h["faculty"])
    assert stale.status_code == 409
    assert client.put(f"/api/prescriptions/{rx['id']}", json={"advice": "x"}, headers=h["faculty"]).status_code == 400
    # The Resident may neither rewrite nor withdraw the version Faculty signed.
    assert client.put(f"/api/prescriptions/{rx['id']}", json={"prescription": [{"medicine": "Other"}],
                                                            "change_reason": "I prefer mine"},
                      headers=h["resident"]).status_code == 403
    assert client.delete(f"/api/prescriptions/{rx['id']}", headers=h["resident"]).status_code == 403
    versions = client.get(f"/api/prescriptions/{rx['id']}/versions", headers=h["resident"]).get_json()["data"]
    assert [(v["version"], v["signed_by"], v["prescription"][0]["medicine"]) for v in versions["versions"]] == [
        (rx["version"], h["resident_id"], "Sertraline 50 mg"), (v2["version"], h["faculty_id"], "Fluoxetine 20 mg")]
    assert versions["versions"][-1]["change_reason"] == "Switched after review"
    resp = client.delete(f"/api/prescriptions/{rx['id']}", json={"reason": "Written for the wrong visit"},
                         headers=h["faculty"])
    assert resp.get_json()["message"] == "Prescription deleted successfully"
    assert client.get(f"/api/prescriptions/{rx['id']}", headers=h["resident"]).status_code == 404
    assert client.get(f"/api/prescriptions/{rx['id']}/pdf", headers=h["faculty"]).status_code == 404
    # Withdrawn, not deleted: still in its history, and an Admin (only) restores it.
    row = db.session.get(Prescription, rx["id"])
    assert row.withdrawal_reason == "Written for the wrong visit" and row.withdrawn_by == h["faculty_id"]
    assert client.post(f"/api/prescriptions/{rx['id']}/restore", headers=h["faculty"]).status_code == 403
    assert client.post(f"/api/prescriptions/{rx['id']}/restore", headers=h["admin"]).status_code == 200
    assert client.get(f"/api/prescriptions/{rx['id']}", headers=h["resident"]).status_code == 200


def test_pdf(client, h, proforma):
    rx = client.post("/api/prescriptions", json={"clinical_proforma_id": proforma["id"], "prescription": LINES,
                                                 "advice": "Sleep hygiene"}, headers=h["resident"]).get_json()
    rid = rx["data"]["prescription"]["id"]
    resp = client.get(f"/api/prescriptions/{rid}/pdf", headers=h["resident"])
    assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    a4 = client.get(f"/api/prescriptions/{rid}/pdf?size=A4", headers=h["resident"])
    assert a4.status_code == 200 and a4.data != resp.data
