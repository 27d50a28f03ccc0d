"""Patient pages: two-step registration, duplicate warning, edit with version check,
search, patient page with timeline, assignment, Today's Patients, export."""
from __future__ import annotations

import csv
import io
import re

from openpyxl import load_workbook
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.patients.models import Patient, PatientVisit


def _register(c, **over):
    data = {"name": "Gurpreet Kaur", "age": "34", "sex": "F", "contact_number": "9876512345",
            "father_name": "Sukhdev Singh", "pin_code": "160012", "city": "Mohali", **over}
    resp = c.post("/patients/new", data=data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    pid = int(re.search(r"/patients/(\d+)/record", resp.headers["Location"]).group(1))
    return pid


def test_two_step_registration(role_client, users):
    c = role_client("pwo")
    page = c.get("/patients/new").get_data(as_text=True)
    assert "Step 1 of 2: Out Patient Card" in page and 'name="cr_no"' in page
    pid = _register(c)
    p = db.session.get(Patient, pid)
    assert p.cr_no.startswith("CR") and p.filled_by == users["pwo"].id and p.name_key == "grprt kr"
    record = c.get(f"/patients/{pid}/record").get_data(as_text=True)
    assert "Step 2 of 2" in record
    resp = c.post(f"/patients/{pid}/record", data={
        "version": str(p.version), "psy_no": "psy2025000010", "marital_status": "married",
        "occupation": "others", "occupation__other": "Tailor", "patient_income": "12000",
        "allergies": "Penicillin", "assigned_doctor_id": str(users["resident"].id), "assigned_room": "R-3"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/patients/{pid}"
    p = db.session.get(Patient, pid)
    assert (p.psy_no, p.marital_status, p.occupation, p.allergies) == ("PSY2025000010", "married", "Tailor", "Penicillin")
    assert p.assigned_doctor_id == users["resident"].id
    show = c.get(f"/patients/{pid}").get_data(as_text=True)
    assert "Drug allergies:" in show and "Penicillin" in show and "PSY2025000010" in show
    assert 'hx-history="false"' in show


def test_registration_errors_are_shown_and_nothing_saved(role_client):
    c = role_client("pwo")
    before = db.session.execute(select(db.func.count(Patient.id))).scalar_one()
    resp = c.post("/patients/new", data={"name": "A", "age": "151", "pin_code": "12ab", "sex": "X"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for msg in ("Name must be 2 to 255 characters", "Age must be between 0 and 150",
                "PIN code must be exactly 6 digits", "Sex must be one of: M, F, Other"):
        assert msg in html
    assert 'value="151"' in html  # what was typed stays in the form
    assert db.session.execute(select(db.func.count(Patient.id))).scalar_one() == before


def test_duplicate_cr_is_a_clear_message(role_client):
    c = role_client("pwo")
    _register(c, cr_no="CR2025555001")
    resp = c.post("/patients/new", data={"name": "Someone Else", "cr_no": "cr2025555001"})
    assert resp.status_code == 422 and "CR number is already registered" in resp.get_data(as_text=True)


def test_duplicate_warning_while_typing(role_client):
    c = role_client("pwo")
    pid = _register(c, name="Mohinder Singh", age="46", sex="M", contact_number="9811111111")
    html = c.get("/patients/check-duplicates", query_string={"name": "Mahinder Singh", "sex": "M", "age": "45"},
                 headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Possibly already registered" in html and f"/patients/{pid}" in html
    html = c.get("/patients/check-duplicates", query_string={"contact_number": "9811111111"}).get_data(as_text=True)
    assert f"/patients/{pid}" in html
    html = c.get("/patients/check-duplicates", query_string={"name": "Mahinder Singh", "sex": "F", "age": "45"}
                 ).get_data(as_text=True)
    assert "Possibly already registered" not in html


def test_stale_edit_gets_409_and_keeps_typed_values(app, role_client, users, outbox):
    c = role_client("pwo")
    pid = _register(c)
    v = db.session.get(Patient, pid).version
    other = role_client("resident")
    assert other.post(f"/patients/{pid}/card", data={"version": str(v), "name": "Gurpreet Kaur Sidhu",
                                                     "age": "34", "sex": "F"}).status_code == 302
    resp = c.post(f"/patients/{pid}/card", data={"version": str(v), "name": "Gurpreet K. Sandhu", "age": "35",
                                                 "sex": "F"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "changed by someone else" in html and "Gurpreet K. Sandhu" in html
    assert db.session.get(Patient, pid).name == "Gurpreet Kaur Sidhu"


def test_search_pages_and_quick_search(role_client):
    c = role_client("resident")
    pid = _register(role_client("pwo"), name="Harjeet Singh Sandhu", cr_no="CR2025777001")
    full = c.get("/patients/", query_string={"q": "harjit sandhoo"}).get_data(as_text=True)
    assert f"/patients/{pid}" in full and "<html" in full
    frag = c.get("/patients/", query_string={"q": "CR2025777"}, headers={"HX-Request": "true"})
    assert "<html" not in frag.get_data(as_text=True) and f"/patients/{pid}" in frag.get_data(as_text=True)
    assert "HX-Request" in frag.headers["Vary"]
    quick = c.get("/patients/quick-search", query_string={"q": "harjeet"}).get_data(as_text=True)
    assert "Harjeet Singh Sandhu" in quick and "CR2025777001" in quick
    assert c.get("/patients/quick-search", query_string={"q": "h"}).get_data(as_text=True).strip() == ""
    none = c.get("/patients/", query_string={"q": "zzqqxx"}).get_data(as_text=True)
    assert "No patient matches" in none


def test_assign_today_complete(role_client, users):
    pwo = role_client("pwo")
    pid = _register(pwo)
    resp = pwo.post(f"/patients/{pid}/assign", data={"assigned_doctor_id": str(users["resident"].id), "room_no": "R-9"},
                    follow_redirects=True)
    assert "Assigned to" in resp.get_data(as_text=True)
    doc = role_client("resident")
    today = doc.get("/patients/today").get_data(as_text=True)
    assert "Gurpreet Kaur" in today and "New" in today and "R-9" in today
    other_doc = role_client("faculty")
    assert "Gurpreet Kaur" not in other_doc.get("/patients/today").get_data(as_text=True)
    assert "Gurpreet Kaur" in other_doc.get("/patients/today?all=1").get_data(as_text=True)
    # The counter sees the whole day's queue too (grouped by room; this visit has no room).
    assert "Gurpreet Kaur" in pwo.get("/patients/today").get_data(as_text=True)
    show = doc.get(f"/patients/{pid}").get_data(as_text=True)
    assert "First visit" in show and "Timeline" in show
    visit = db.session.execute(select(PatientVisit).where(PatientVisit.patient_id == pid)).scalar_one()
    detail = doc.get(f"/patients/{pid}/visits/{visit.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "R-9" in detail and users["resident"].name in detail
    resp = doc.post(f"/patients/{pid}/visits/complete", data={"back": "/patients/today"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/patients/today"
    after = doc.get("/patients/today").get_data(as_text=True)
    assert f'href="/patients/{pid}"' not in after and "No patients waiting for you today" in after
    resp = doc.post(f"/patients/{pid}/visits/complete", follow_redirects=True)
    assert "already marked as completed" in resp.get_data(as_text=True)


def test_patient_page_is_audited_and_admin_sees_access(role_client, users):
    pid = _register(role_client("pwo"))
    role_client("resident").get(f"/patients/{pid}")
    rows = db.session.execute(select(AuditLog).where(AuditLog.patient_id == pid,
                                                     AuditLog.action == "patient_view")).scalars().all()
    assert any(r.user_id == users["resident"].id for r in rows)
    admin_page = role_client("admin").get(f"/patients/{pid}")
    assert "Recent access" in admin_page.get_data(as_text=True)
    assert admin_page.headers["Cache-Control"] == "no-store"
    assert "Recent access" not in role_client("resident").get(f"/patients/{pid}").get_data(as_text=True)


def test_archive_is_admin_only(role_client):
    pid = _register(role_client("pwo"))
    assert role_client("pwo").post(f"/patients/{pid}/archive").status_code == 403
    resp = role_client("admin").post(f"/patients/{pid}/archive")
    assert resp.status_code == 302
    assert db.session.get(Patient, pid).is_active is False
    assert role_client("admin").get(f"/patients/{pid}").status_code == 404


def test_export_csv_and_xlsx(role_client):
    c = role_client("pwo")
    _register(c, name="Export Person One", cr_no="CR2025888001")
    _register(c, name="=HYPERLINK(\"x\")", cr_no="CR2025888002")
    resp = c.get("/patients/export.csv", query_string={"q": "CR2025888"})
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["CR No.", "PSY No.", "ADL No.", "Name"]
    names = {r[3] for r in rows[1:]}
    assert "Export Person One" in names and "'=HYPERLINK(\"x\")" in names  # formula neutralised
    resp = c.get("/patients/export.xlsx", query_string={"q": "CR2025888"})
    ws = load_workbook(io.BytesIO(resp.data)).active
    values = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert values[0][3] == "Name" and len(values) == 3


def test_out_of_range_and_unknown_ids(role_client):
    c = role_client("pwo")
    assert c.get("/patients/99999999999").status_code == 404
    assert c.get("/patients/2147483646").status_code == 404
    assert c.get("/patients/abc").status_code == 404
