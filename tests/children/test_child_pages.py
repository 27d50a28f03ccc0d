"""Child pages: register a child (with a room: the slip), edit, the patient page's Child badge,
CGC number and guardian, the move to the adult clinic with its timeline entry, badges in lists;
the report and FHIR carry the child's numbers."""
from __future__ import annotations

import datetime as dt
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from emrs.extensions import db
from emrs.patients.models import Patient, PatientVisit
from emrs.timeutil import today_ist

from ..opd.helpers import room
from .test_child_api import register_child

FORM = {"name": "Navjot Kaur", "contact_number": "9812345678", "age": "11", "sex": "F",
        "head_name": "Kuldeep Singh", "head_relationship": "Father", "head_education": "Senior Secondary",
        "head_income_band": "Below ₹5,000", "referred_by": "Self"}


def test_register_page_queues_and_opens_the_slip(role_client):
    room("K1")
    c = role_client("pwo")
    page = c.get("/children/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Child Guidance Clinic" in html and "Senior Secondary" in html and "15 – 18 years" in html
    resp = c.post("/children/new", data={**FORM, "queue_room": "K1"})
    assert resp.status_code == 302 and "/slip" in resp.headers["Location"]
    child = db.session.execute(select(Patient).where(Patient.name == "Navjot Kaur")).scalar_one()
    assert child.clinic == "child" and child.cgc_number.startswith("CGC") and child.age_group == "10 – 15 years"
    slip = c.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Navjot Kaur" in slip and child.cr_no in slip and "K1" in slip
    visit = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == child.id)).scalar_one()
    assert visit.room_no == "K1" and visit.visit_date == today_ist()


def test_register_page_errors_are_shown_and_nothing_saved(role_client):
    c = role_client("admin")
    resp = c.post("/children/new", data={"name": "Navjot Kaur", "contact_number": "12", "age": "25"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "exactly 10 digits" in html and "between 0 and 18" in html
    assert db.session.execute(select(Patient).where(Patient.name == "Navjot Kaur")).first() is None
    assert role_client("resident").get("/children/new").status_code == 403


def test_patient_page_shows_child_badge_cgc_and_guardian_and_pwo_sees_no_clinical_cards(client, h, role_client):
    child = register_child(client, h["pwo"])
    html = role_client("pwo").get(f"/patients/{child['id']}").get_data(as_text=True)
    assert 'badge-child' in html and ">Child<" in html and child["cgc_number"] in html
    assert "Harpreet Singh" in html and "(Father)" in html
    assert "New walk-in proforma" not in html and "Prescribe" not in html and "Turning 18" not in html
    assert f"/children/{child['id']}/edit" in html and f"/patients/{child['id']}/card" not in html
    fac = role_client("faculty").get(f"/patients/{child['id']}").get_data(as_text=True)
    assert "New walk-in proforma" in fac and "Turning 18" in fac


def test_edit_page_saves_and_checks_the_version(client, h, role_client):
    child = register_child(client, h["pwo"])
    c = role_client("pwo")
    page = c.get(f"/children/{child['id']}/edit").get_data(as_text=True)
    assert "Simran Kaur" in page and 'value="Senior Secondary" selected' in page
    form = {"name": "Simran Kaur", "contact_number": "9876501234", "age": "9", "sex": "F", "head_name": "Harpreet Singh",
            "head_education": "Graduate", "version": "1"}
    resp = c.post(f"/children/{child['id']}/edit", data=form)
    assert resp.status_code == 302
    assert db.session.get(Patient, child["id"]).head_education == "Graduate"
    stale = c.post(f"/children/{child['id']}/edit", data={**form, "head_education": "Primary"})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    for form_page in ("card", "record"):  # the adult forms send a child to the child's form
        resp = c.get(f"/patients/{child['id']}/{form_page}")
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/children/{child['id']}/edit")
    adult = client.post("/api/patients/register-complete", json={"name": "Adult One", "age": 30},
                        headers=h["pwo"]).get_json()["data"]["patient"]
    assert c.get(f"/children/{adult['id']}/edit").status_code == 404


def test_move_to_adult_page_button_and_timeline(client, h, role_client):
    young = register_child(client, h["pwo"], age=15)
    c = role_client("faculty")
    resp = c.post(f"/children/{young['id']}/move-to-adult", data={"confirm": "yes"}, follow_redirects=True)
    assert "at 18 or more" in resp.get_data(as_text=True)
    assert db.session.get(Patient, young["id"]).clinic == "child"
    born = today_ist().replace(year=today_ist().year - 19)
    old = register_child(client, h["pwo"], age=18, child_name="Manpreet Singh", mobile_no="9876511111")
    db.session.get(Patient, old["id"]).date_of_birth = born
    db.session.commit()
    resp = c.post(f"/children/{old['id']}/move-to-adult", data={}, follow_redirects=True)
    assert "Tick the confirmation" in resp.get_data(as_text=True)
    resp = c.post(f"/children/{old['id']}/move-to-adult", data={"confirm": "yes"}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "moved from the child clinic to the adult clinic" in html
    assert "Moved from the child clinic to the adult clinic" in html  # the timeline entry
    p = db.session.get(Patient, old["id"])
    assert p.clinic == "adult" and p.adult_since == today_ist() and p.cr_no == old["cr_number"]
    assert role_client("resident").post(f"/children/{old['id']}/move-to-adult",
                                        data={"confirm": "yes"}).status_code == 403


def test_child_badge_in_search_results_and_todays_list(client, h, role_client, users):
    room("K2")
    child = register_child(client, h["pwo"], assigned_room="K2")
    c = role_client("faculty")
    results = c.get("/patients/?q=Simran", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Simran Kaur" in results and "badge-child" in results
    quick = c.get("/patients/quick-search?q=Simran").get_data(as_text=True)
    assert "badge-child" in quick
    today = c.get("/opd/today/list?scope=all").get_data(as_text=True)
    assert "Simran Kaur" in today and "badge-child" in today
    listed = c.get("/patients/?patient_type=child").get_data(as_text=True)
    assert child["cr_number"] in listed


def test_duplicate_warning_works_for_a_child(client, h, role_client):
    register_child(client, h["pwo"])
    html = role_client("pwo").get("/patients/check-duplicates?name=Simran+Kaur&contact_number=9876501234&age=9"
                                  ).get_data(as_text=True)
    assert "Simran Kaur" in html


def test_report_shows_cgc_and_guardian(client, h, role_client):
    child = register_child(client, h["pwo"])
    resp = role_client("faculty").get(f"/patients/{child['id']}/report?format=xlsx")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    cells = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert child["cgc_number"] in cells and "Child Guidance Clinic" in cells
    assert any(v.startswith("Harpreet Singh (Father") for v in cells)


def test_fhir_patient_carries_the_cgc_number_and_is_found_by_it(client, h):
    child = register_child(client, h["pwo"])
    from emrs.fhir.service import CGC_SYSTEM
    res = client.get(f"/fhir/Patient/{child['id']}", headers=h["faculty"]).get_json()
    from ..fhir.conftest import assert_r4
    assert_r4(res)
    assert {"system": CGC_SYSTEM, "value": child["cgc_number"]}.items() <= next(
        i for i in res["identifier"] if i["system"] == CGC_SYSTEM).items()
    bundle = client.get(f"/fhir/Patient?identifier={CGC_SYSTEM}|{child['cgc_number']}", headers=h["faculty"]).get_json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == [str(child["id"])]
    bundle = client.get(f"/fhir/Patient?identifier={child['cgc_number'].lower()}", headers=h["faculty"]).get_json()
    assert bundle["total"] == 1
