"""/api/child-patient: the original's shapes over the one patient registry, and the original's
defects as regression cases (Senior Secondary, the missing edit, shared ids, deletes)."""
from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.patients.models import Patient, PatientVisit
from emrs.prescriptions.models import Prescription
from emrs.timeutil import today_ist

from ..factories import create_prescription, create_proforma, register_patient
from ..opd.helpers import room, seat
from ..security.walk import png

CHILD = {"child_name": "Simran Kaur", "mobile_no": "9876501234", "age": 9, "sex": "Female",
         "educational_status": "Primary", "occupational_status": "Student", "religion": "Sikh",
         "head_name": "Harpreet Singh", "head_relationship": "Father", "head_age": 38,
         "head_education": "Senior Secondary", "head_occupation": "Farmer",
         "head_monthly_income": "₹5,000 – ₹10,000", "locality": "Rural", "distance_travelled": "21 – 60 miles",
         "source_of_referral": "P.G.I.", "address_line": "Village Kharar", "city_town_village": "Kharar",
         "district": "Mohali", "state": "punjab", "pincode": "140301", "local_address_line": "Sector 15, Chandigarh"}


def register_child(client, headers, **fields) -> dict:
    resp = client.post("/api/child-patient/register", json={**CHILD, **fields}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["childPatient"]


def test_register_answers_the_original_shape_and_is_a_patient(client, h):
    resp = client.post("/api/child-patient/register", json=CHILD, headers=h["pwo"])
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["success"] is True and body["message"] == "Child patient registered successfully"
    c = body["data"]["childPatient"]
    assert c["patient_type"] == "child" and c["child_name"] == "Simran Kaur" and c["mobile_no"] == "9876501234"
    assert c["sex"] == "Female" and c["age"] == 9 and c["age_group"] == "5 – 10 years"
    assert c["head_education"] == "Senior Secondary"  # the original's CHECK refused it (500)
    assert c["head_monthly_income"] == "₹5,000 – ₹10,000" and c["distance_travelled"] == "21 – 60 miles"
    assert c["source_of_referral"] == "P.G.I." and c["local_address_line"] == "Sector 15, Chandigarh"
    assert c["cr_number"].startswith(f"CR{today_ist().year}")
    assert c["cgc_number"] == f"CGC{today_ist().year}000001"
    assert c["seen_as_walk_in_on"] == today_ist().isoformat()
    assert c["filled_by_role"] == "Psychiatric Welfare Officer" and c["filled_by_name"]
    # the same row of the one registry: the patient API sees it, as a child
    p = client.get(f"/api/patients/{c['id']}", headers=h["faculty"]).get_json()["data"]["patient"]
    assert p["name"] == "Simran Kaur" and p["clinic"] == "child" and p["patient_type"] == "child"
    assert p["sex"] == "F" and p["education"] == "Primary" and p["head_income_band"] == "₹5,000 – ₹10,000"


def test_validation_name_mobile_age_group_and_lists(client, h):
    before = db.session.execute(select(func.count(Patient.id))).scalar_one()
    resp = client.post("/api/child-patient/register", json={"child_name": "A", "mobile_no": "98765", "age": 19,
                                                            "religion": "Hinduism", "sex": "Boy"}, headers=h["pwo"])
    assert resp.status_code == 400
    paths = {e["path"]: e["msg"] for e in resp.get_json()["errors"]}
    assert "exactly 10 digits" in paths["contact_number"]
    assert "between 0 and 18" in paths["age"]
    assert "Hindu" in paths["religion"] and "sex" in paths and "name" in paths
    # missing age (the original's proforma crashed on it): a clear message
    resp = client.post("/api/child-patient/register", json={"child_name": "Aman Deep", "mobile_no": "9876501234"},
                       headers=h["pwo"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "age"
    # an age group that does not fit the age
    resp = client.post("/api/child-patient/register", json={**CHILD, "age": 4, "age_group": "10 – 15 years"},
                       headers=h["pwo"])
    assert resp.status_code == 400
    assert "expected “1 – 5 years”" in resp.get_json()["errors"][0]["msg"]
    # no mobile at all
    no_mobile = {k: v for k, v in CHILD.items() if k != "mobile_no"}
    resp = client.post("/api/child-patient/register", json=no_mobile, headers=h["pwo"])
    assert resp.status_code == 400 and "Guardian's mobile is required" in resp.get_data(as_text=True)
    assert db.session.execute(select(func.count(Patient.id))).scalar_one() == before


def test_age_groups_from_age_including_15_to_18(client, h):
    groups = {0: "Less than 1 year", 5: "1 – 5 years", 6: "5 – 10 years", 15: "10 – 15 years",
              16: "15 – 18 years", 18: "15 – 18 years"}
    for i, (age, group) in enumerate(groups.items()):
        c = register_child(client, h["pwo"], age=age, child_name=f"Child Number {i}", mobile_no=f"98765000{i:02d}")
        assert c["age_group"] == group


def test_date_of_birth_gives_the_age(client, h):
    born = today_ist().replace(year=today_ist().year - 7) - dt.timedelta(days=3)
    c = register_child(client, h["pwo"], age=None, date_of_birth=born.isoformat())
    assert c["age"] == 7 and c["age_group"] == "5 – 10 years" and c["date_of_birth"] == born.isoformat()
    resp = client.post("/api/child-patient/register", json={**CHILD, "age": 12, "date_of_birth": born.isoformat()},
                       headers=h["pwo"])
    assert resp.status_code == 400 and "does not match the date of birth" in resp.get_json()["errors"][0]["msg"]


def test_cgc_number_typed_unique_and_duplicate_refused(client, h):
    c = register_child(client, h["pwo"], cgc_number="cgc-77")
    assert c["cgc_number"] == "CGC-77"
    resp = client.post("/api/child-patient/register", json={**CHILD, "child_name": "Other Child",
                                                            "cgc_number": "CGC-77"}, headers=h["pwo"])
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["message"] == "CGC number is already registered to another child"
    assert body["errors"][0]["path"] == "cgc_number"


def test_adult_rows_keep_the_adult_lists(client, h):
    resp = client.post("/api/patients/register-complete", json={"name": "Adult Person", "age": 40, "sex": "M",
                                                                "religion": "sikhism", "education": "graduate"},
                       headers=h["pwo"])
    assert resp.status_code == 201
    p = resp.get_json()["data"]["patient"]
    assert p["clinic"] == "adult" and p["patient_type"] == "adult" and p["cgc_number"] is None
    resp = client.post("/api/patients/register-complete", json={"name": "Adult Person", "age": 40, "sex": "Male"},
                       headers=h["pwo"])
    assert resp.status_code == 400  # adults keep the codes M/F/Other


def test_get_by_id_and_by_cr_and_adult_is_no_child(client, h):
    c = register_child(client, h["pwo"])
    adult = register_patient(client, h["pwo"])
    for role in ("pwo", "resident", "faculty", "admin"):
        got = client.get(f"/api/child-patient/{c['id']}", headers=h[role]).get_json()["data"]["childPatient"]
        assert got["child_name"] == "Simran Kaur"
    assert client.get(f"/api/child-patient/cr/{c['cr_number'].lower()}", headers=h["resident"]).get_json()[
        "data"]["childPatient"]["id"] == c["id"]
    resp = client.get(f"/api/child-patient/{adult['id']}", headers=h["admin"])
    assert resp.status_code == 404 and resp.get_json()["message"] == "Child patient not found"
    assert client.get(f"/api/child-patient/cr/{adult['cr_no']}", headers=h["admin"]).status_code == 404
    assert client.put(f"/api/child-patient/{adult['id']}", json={"child_name": "X Y"},
                      headers=h["admin"]).status_code == 404
    assert client.get("/api/child-patient/abc", headers=h["admin"]).status_code == 400


def test_edit_the_missing_route(client, h):
    c = register_child(client, h["pwo"])
    resp = client.put(f"/api/child-patient/{c['id']}", json={"head_education": "Graduate", "mobile_no": "9000000001",
                                                             "local_address_line": "Sector 22"}, headers=h["pwo"])
    assert resp.status_code == 200, resp.get_json()
    got = resp.get_json()["data"]["childPatient"]
    assert got["head_education"] == "Graduate" and got["mobile_no"] == "9000000001"
    assert got["local_address_line"] == "Sector 22" and got["version"] == 2
    resp = client.put(f"/api/child-patient/{c['id']}", json={"age": 3}, headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["childPatient"]["age_group"] == "1 – 5 years"
    resp = client.put(f"/api/child-patient/{c['id']}", json={"religion": "Jedi"}, headers=h["pwo"])
    assert resp.status_code == 400
    assert client.put(f"/api/child-patient/{c['id']}", json={"age": 10}, headers=h["resident"]).status_code == 403


def test_list_filter_patient_type(client, h):
    c = register_child(client, h["pwo"])
    adult = register_patient(client, h["pwo"])
    rows = client.get("/api/patients?patient_type=child&limit=100", headers=h["faculty"]).get_json()["data"]["patients"]
    ids = {r["id"] for r in rows}
    assert c["id"] in ids and adult["id"] not in ids and all(r["patient_type"] == "child" for r in rows)
    rows = client.get("/api/patients?patient_type=adult&limit=100", headers=h["faculty"]).get_json()["data"]["patients"]
    assert adult["id"] in {r["id"] for r in rows} and c["id"] not in {r["id"] for r in rows}
    assert client.get("/api/patients?patient_type=teen", headers=h["faculty"]).status_code == 400


def test_register_with_room_and_add_to_today_queue_the_visit(client, h, users):
    r = room("C1")
    c = register_child(client, h["pwo"], assigned_room="c1")
    visit = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == c["id"])).scalar_one()
    assert visit.room_no == "C1" and visit.visit_date == today_ist() and visit.token_no
    other = register_child(client, h["pwo"], child_name="Gurleen Kaur", mobile_no="9876509999")
    seat(users["resident"], r)
    resp = client.post("/api/child-patient/add-to-today", json={"child_patient_id": other["id"]},
                       headers=h["resident"])
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert data["childPatient"]["assigned_room"] == "C1" and data["visit"]["room_no"] == "C1"
    from emrs.followups.models import FollowUp
    assert db.session.execute(select(func.count(FollowUp.id)).where(FollowUp.patient_id == other["id"])).scalar_one() == 0
    adult = register_patient(client, h["pwo"])
    assert client.post("/api/child-patient/add-to-today", json={"child_patient_id": adult["id"]},
                       headers=h["resident"]).status_code == 404
    assert client.post("/api/child-patient/add-to-today", json={}, headers=h["resident"]).status_code == 400
    # in Today's Patients, as a child
    rows = client.get(f"/api/patients?date={today_ist().isoformat()}&scope=all", headers=h["faculty"]).get_json()[
        "data"]["patients"]
    assert any(row.get("patient_type") == "child" for row in rows)


def test_documents_upload_and_remove(client, h):
    c = register_child(client, h["pwo"])
    resp = client.post(f"/api/child-patient/{c['id']}/documents",
                       data={"files": (io.BytesIO(png()), "school-report.png")}, content_type="multipart/form-data",
                       headers=h["pwo"])
    assert resp.status_code == 200, resp.get_json()
    docs = resp.get_json()["data"]["childPatient"]["documents"]
    assert len(docs) == 1
    resp = client.post(f"/api/child-patient/{c['id']}/documents", data={"files_to_remove": f'["{docs[0]}"]'},
                       content_type="multipart/form-data", headers=h["pwo"])
    assert resp.status_code == 200 and resp.get_json()["data"]["childPatient"]["documents"] == []
    bad = client.post(f"/api/child-patient/{c['id']}/documents",
                      data={"files": (io.BytesIO(b"MZ\x90\x00not a picture"), "x.png")},
                      content_type="multipart/form-data", headers=h["pwo"])
    assert 400 <= bad.status_code < 500


def test_register_multipart_with_a_file(client, h):
    form = {k: str(v) for k, v in CHILD.items()}
    resp = client.post("/api/child-patient/register", data={**form, "files": (io.BytesIO(png()), "card.png")},
                       content_type="multipart/form-data", headers=h["admin"])
    assert resp.status_code == 201, resp.get_json()
    assert len(resp.get_json()["data"]["childPatient"]["documents"]) == 1


def test_delete_archives_only_the_child_and_prescriptions_keep_their_patient(client, h):
    """The original's top defect: children and adults shared prescription ids, so an adult printed
    with a child's name and deleting a child deleted adults' prescriptions."""
    adult = register_patient(client, h["pwo"], name="Balwinder Singh")
    adult_pf = create_proforma(client, h["resident"], adult["id"])
    adult_rx = create_prescription(client, h["resident"], adult_pf["id"])
    c = register_child(client, h["pwo"])
    child_pf = create_proforma(client, h["resident"], c["id"])
    child_rx = create_prescription(client, h["resident"], child_pf["id"])
    assert c["id"] != adult["id"]  # one id space: no child can share an adult's id
    from emrs.prescriptions import pdf, printing
    row = db.session.get(Prescription, child_rx["id"])
    _pf, patient, _doctor = printing._gather(row)
    assert patient.name == "Simran Kaur"
    assert "Simran Kaur" in pdf.html(row, _pf, patient, _doctor) and "Balwinder" not in pdf.html(row, _pf, patient, _doctor)
    adult_list = client.get(f"/api/prescriptions/by-patient/{adult['id']}", headers=h["faculty"]).get_json()[
        "data"]["prescriptions"]
    assert [r["id"] for r in adult_list] == [adult_rx["id"]]
    assert client.delete(f"/api/child-patient/{c['id']}", headers=h["faculty"]).status_code == 403
    resp = client.delete(f"/api/child-patient/{c['id']}", headers=h["admin"])
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["deletedChildPatientId"] == str(c["id"]) and body["deletedChildPatientName"] == "Simran Kaur"
    assert body["archived"] is True and body["deleted"]["prescriptions"] == 0
    assert db.session.get(Patient, c["id"]).is_active is False
    assert db.session.get(Patient, adult["id"]).is_active is True
    assert db.session.get(Prescription, adult_rx["id"]) is not None and db.session.get(Prescription, child_rx["id"])
    assert client.get(f"/api/patients/{adult['id']}", headers=h["admin"]).status_code == 200
    assert client.get(f"/api/child-patient/{c['id']}", headers=h["admin"]).status_code == 404


def test_child_follow_ups_alias_and_list(client, h):
    c = register_child(client, h["pwo"])
    db.session.add(PatientVisit(patient_id=c["id"], visit_date=today_ist() - dt.timedelta(days=30),
                                visit_type="first_visit", visit_status="completed"))
    db.session.commit()
    resp = client.post("/api/follow-ups", json={"child_patient_id": c["id"], "clinical_assessment": "Calmer at school."},
                       headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["data"]["followup"]["patient_id"] == c["id"]
    assert client.get(f"/api/follow-ups/child-patient/{c['id']}", headers=h["pwo"]).status_code == 403
    listed = client.get(f"/api/follow-ups/child-patient/{c['id']}", headers=h["faculty"]).get_json()["data"]
    assert len(listed["followups"]) == 1 and listed["pagination"]["total"] == 1
    adult = register_patient(client, h["pwo"])
    assert client.post("/api/follow-ups", json={"child_patient_id": adult["id"], "clinical_assessment": "x"},
                       headers=h["resident"]).status_code == 404
    assert client.get(f"/api/follow-ups/child-patient/{adult['id']}", headers=h["resident"]).status_code == 404


def test_move_to_adult_at_18(client, h):
    young = register_child(client, h["pwo"], age=17)
    resp = client.post(f"/api/child-patient/{young['id']}/move-to-adult", headers=h["faculty"])
    assert resp.status_code == 400 and "at 18 or more" in resp.get_json()["message"]
    born = today_ist().replace(year=today_ist().year - 18) - dt.timedelta(days=1)
    c = register_child(client, h["pwo"], age=None, date_of_birth=born.isoformat(), child_name="Jaspreet Singh",
                       mobile_no="9876512345")
    assert client.post(f"/api/child-patient/{c['id']}/move-to-adult", headers=h["resident"]).status_code == 403
    assert client.post(f"/api/child-patient/{c['id']}/move-to-adult", headers=h["pwo"]).status_code == 403
    resp = client.post(f"/api/child-patient/{c['id']}/move-to-adult", headers=h["faculty"])
    assert resp.status_code == 200, resp.get_json()
    p = resp.get_json()["data"]["patient"]
    assert p["clinic"] == "adult" and p["adult_since"] == today_ist().isoformat()
    assert p["cr_no"] == c["cr_number"] and p["cgc_number"] == c["cgc_number"] and p["id"] == c["id"]
    assert db.session.execute(select(AuditLog).where(AuditLog.patient_id == c["id"],
                                                     AuditLog.action == "patient_to_adult_clinic")).scalar_one()
    assert client.get(f"/api/child-patient/{c['id']}", headers=h["faculty"]).status_code == 404
