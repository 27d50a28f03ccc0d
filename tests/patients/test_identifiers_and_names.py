"""Item 11: record numbers keep to their character set, every file EMRS sends has a
Content-Disposition that stored text cannot break, names are NFC without invisible
direction characters, and a user cannot rename themselves (the prescriber printed is the
account's registered name, which only an Admin changes)."""
from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import unquote

import pytest
from sqlalchemy import select, update

from emrs.auth.models import User
from emrs.extensions import db
from emrs.patients.models import Patient
from emrs.timeutil import today_ist

BAD_NUMBERS = ["CR2025\n000123", 'CR"; filename="evil.exe', "CR 2025", "CR2025\u202e", "ＣＲ2025", "<b>CR</b>",
               "-CR2025"]


def _register(client, h, **over):
    return client.post("/api/patients/register-complete", headers=h["pwo"],
                       json={"name": "Harpreet Kaur", "age": 33, "sex": "F", **over})


def _errors(resp) -> dict:
    return {e["path"]: e["msg"] for e in resp.get_json().get("errors", [])}


# ------------------------------------------------------------------ CR / PSY / ADL numbers

@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_api_refuses_record_numbers_outside_their_character_set(client, h, bad):
    for key in ("cr_no", "psy_no"):
        resp = _register(client, h, **{key: bad})
        assert resp.status_code == 400, (key, bad, resp.get_json())
        assert "only letters" in _errors(resp)[key]
    assert db.session.execute(select(Patient.id).where(Patient.name == "Harpreet Kaur")).first() is None


def test_numbers_in_the_documented_set_are_kept(client, h):
    resp = _register(client, h, cr_no="CR2025000999", psy_no="PSY/2025/0456")
    assert resp.status_code == 201, resp.get_json()
    p = resp.get_json()["data"]["patient"]
    assert (p["cr_no"], p["psy_no"]) == ("CR2025000999", "PSY/2025/0456")
    resp = client.put(f"/api/patients/{p['id']}", headers=h["pwo"], json={"psy_no": "PSY-2025\r\n1"})
    assert resp.status_code == 400 and "psy_no" in _errors(resp)


def test_adl_numbers_are_checked_on_every_door(client, h):
    pid = _register(client, h).get_json()["data"]["patient"]["id"]
    resp = client.post("/api/adl-files", headers=h["resident"], json={"patient_id": pid, "adl_no": "ADL\n2025"})
    assert resp.status_code == 400 and "adl_no" in _errors(resp)
    resp = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": pid, "visit_date": today_ist().isoformat(), "doctor_decision": "complex_case",
        "diagnosis": "Bipolar affective disorder", "adl_no": 'ADL"2025'})
    assert resp.status_code == 400 and "adl_no" in _errors(resp)
    resp = client.post("/api/adl-files", headers=h["resident"], json={"patient_id": pid, "adl_no": "adl/2025-7"})
    assert resp.status_code == 201 and resp.get_json()["data"]["adl_file"]["adl_no"] == "ADL/2025-7"


def test_registration_page_refuses_a_line_break_in_the_cr_number(role_client):
    c = role_client("pwo")
    resp = c.post("/patients/new", data={"name": "Harpreet Kaur", "age": "33", "sex": "F", "cr_no": "CR2025\n1"})
    assert resp.status_code == 422
    assert "may contain only letters" in resp.get_data(as_text=True)
    assert db.session.execute(select(Patient.id).where(Patient.name == "Harpreet Kaur")).first() is None


# ------------------------------------------------------------------ file names in Content-Disposition

def _prescribed(client, h, **patient):
    p = _register(client, h, **patient).get_json()["data"]["patient"]
    pro = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": p["id"], "visit_date": today_ist().isoformat(), "diagnosis": "Depression"})
    proforma = pro.get_json()["data"]["proforma"]
    rx = client.post("/api/prescriptions", headers=h["resident"], json={
        "patient_id": p["id"], "clinical_proforma_id": proforma["id"],
        "prescription": [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1"}]})
    assert rx.status_code == 201, rx.get_json()
    return p, rx.get_json()["data"]["prescription"]


def _check_disposition(value: str, expected_name: str):
    assert "\n" not in value and "\r" not in value
    m = re.fullmatch(r'(inline|attachment); filename="([ -~]*)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)', value)
    assert m, value
    assert '"' not in m.group(2) and "\\" not in m.group(2)
    assert unquote(m.group(3)) == expected_name


def test_pdf_of_a_patient_whose_stored_cr_has_a_line_break_and_quotes(client, h, role_client):
    p, rx = _prescribed(client, h)
    stored = 'CR2025\r\n"x"; evil=1'  # written before the rule, by an older import
    db.session.execute(update(Patient).where(Patient.id == p["id"]).values(cr_no=stored))
    db.session.commit()
    for resp in (client.get(f"/api/prescriptions/{rx['id']}/pdf", headers=h["resident"]),
                 role_client("resident").get(f"/prescriptions/{rx['id']}/pdf")):
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        value = resp.headers["Content-Disposition"]
        assert value.startswith("inline;") and "evil=1\"" not in value
        m = re.search(r"filename\*=UTF-8''(\S+)", value)
        assert m and unquote(m.group(1)).startswith("prescription-CR2025")
        assert "\n" not in unquote(m.group(1)) and "\r" not in unquote(m.group(1))
        assert re.search(r'filename="prescription-CR2025[^"]*\.pdf";', value)


def test_unicode_and_quoted_upload_names_download_safely(client, h, role_client):
    from io import BytesIO

    from emrs.patients.models import PatientFile
    pid = _register(client, h).get_json()["data"]["patient"]["id"]
    pdf_bytes = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    resp = client.post("/api/patient-files/create", headers=h["resident"],
                       data={"patient_id": str(pid), "files": (BytesIO(pdf_bytes), "रिपोर्ट.pdf")},
                       content_type="multipart/form-data")
    assert resp.status_code in (200, 201), resp.get_json()
    name = 'रिपोर्ट "final"; filename=evil.exe.pdf'  # a browser sends a quote in a file name as %22
    db.session.execute(update(PatientFile).where(PatientFile.patient_id == pid).values(original_name=name))
    db.session.commit()
    path = client.get(f"/api/patient-files/{pid}", headers=h["resident"]).get_json()["data"]["files"][0]
    stored = path.rsplit("/", 1)[-1]
    api = client.get(path, headers=h["resident"])
    page = role_client("resident").get(f"/patients/{pid}/files/{stored}")
    for resp in (api, page):
        assert resp.status_code == 200, resp.status_code
        _check_disposition(resp.headers["Content-Disposition"], name)


def test_exports_use_the_same_header(role_client):
    admin = role_client("admin")
    for url in ("/patients/export.csv", "/audit/export.csv"):
        resp = admin.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        value = resp.headers["Content-Disposition"]
        assert re.fullmatch(r'attachment; filename="[\w.-]+"; filename\*=UTF-8\'\'[\w.%-]+', value), value


# ------------------------------------------------------------------ names

INVISIBLES = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d", "\u200f", "\ufeff", "\u2060"]


@pytest.mark.parametrize("ch", INVISIBLES)
def test_names_with_invisible_direction_characters_are_refused(client, h, ch):
    for field in ("name", "father_name"):
        resp = _register(client, h, **{field: f"Harpreet{ch} Kaur"})
        assert resp.status_code == 400, (field, repr(ch))
        assert "invisible or text-direction" in _errors(resp)[field]
    resp = client.post("/api/users/register", headers=h["admin"], json={
        "name": f"Dr Evil{ch}", "email": "evil@test.emrs.local", "role": "Resident", "password": "Passw0rd-test"})
    assert resp.status_code == 400 and "invisible or text-direction" in _errors(resp)["name"]


def test_names_are_stored_nfc(client, h, role_client):
    decomposed = "Jose\u0301 Marti\u0301nez"
    resp = _register(client, h, name=decomposed, father_name="Rene\u0301")
    assert resp.status_code == 201
    p = resp.get_json()["data"]["patient"]
    assert p["name"] == "José Martínez" and p["father_name"] == "René"
    c = role_client("pwo")
    resp = c.post("/patients/new", data={"name": "Ame\u0301lie Kaur", "age": "30", "sex": "F"})
    assert resp.status_code == 302
    assert db.session.execute(select(Patient.id).where(Patient.name == "Amélie Kaur")).first()
    resp = c.post("/patients/new", data={"name": "Amelie\u202e Kaur", "age": "30", "sex": "F"})
    assert resp.status_code == 422 and "invisible or text-direction" in resp.get_data(as_text=True)


# ------------------------------------------------------------------ own name

def test_user_cannot_rename_themselves_only_admin_can(client, h, users, role_client, bearer):
    res = users["resident"]
    other = users["faculty"].name
    resp = client.put("/api/users/profile", headers=h["resident"], json={"name": other})
    assert resp.status_code == 400, resp.get_json()
    assert "only an administrator can change it" in _errors(resp)["name"]
    assert db.session.get(User, res.id).name == f"{res.name}"
    # Unchanged name with other changes is fine.
    resp = client.put("/api/users/profile", headers=h["resident"], json={"name": res.name, "mobile": "9876543210"})
    assert resp.status_code == 200, resp.get_json()
    c = role_client("resident")
    resp = c.post("/profile", data={"name": other, "email": res.email})
    assert resp.status_code == 422 and "administrator" in resp.get_data(as_text=True)
    assert db.session.get(User, res.id).name == res.name
    # An Admin changes it through user administration.
    resp = client.put(f"/api/users/{res.id}", headers=h["admin"], json={"name": "Dr Registered Name"})
    assert resp.status_code == 200
    assert db.session.get(User, res.id).name == "Dr Registered Name"


def test_designation_printed_under_the_name_is_changed_by_an_admin_only(client, h, users, role_client):
    res = users["resident"]
    resp = client.put("/api/users/profile", headers=h["resident"], json={"designation": "Professor & Head"})
    assert resp.status_code == 400 and "only an administrator" in _errors(resp)["designation"]
    c = role_client("resident")
    resp = c.post("/profile", data={"name": res.name, "email": res.email, "designation": "Professor & Head"})
    assert resp.status_code == 422
    assert db.session.get(User, res.id).designation != "Professor & Head"
    assert client.put(f"/api/users/{res.id}", headers=h["admin"], json={"designation": "Senior Resident"}
                      ).status_code == 200
    # Sending it unchanged with other changes is fine.
    assert client.put("/api/users/profile", headers=h["resident"], json={"designation": "Senior Resident",
                                                                        "mobile": "9876543211"}).status_code == 200


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
def test_pdf_prints_the_authors_registered_name(client, h, users, tmp_path):
    _p, rx = _prescribed(client, h)
    client.put("/api/users/profile", headers=h["resident"], json={"name": "Dr Impostor Faculty"})
    data = client.get(f"/api/prescriptions/{rx['id']}/pdf", headers=h["faculty"]).data
    (tmp_path / "rx.pdf").write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "rx.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert users["resident"].name in text and "Impostor" not in text


def test_informant_and_relative_names_in_the_intake_record(client, h):
    pid = _register(client, h).get_json()["data"]["patient"]["id"]
    resp = client.post("/api/adl-files", headers=h["resident"], json={
        "patient_id": pid, "informants": [{"relationship": "Father", "name": "Gurdev\u202e Singh"}]})
    assert resp.status_code == 400 and "invisible or text-direction" in _errors(resp)["informants"]
    resp = client.post("/api/adl-files", headers=h["resident"], json={
        "patient_id": pid, "informants": [{"relationship": "Father", "name": "Rene\u0301 Singh"}],
        "living_residents": [{"name": "Jose\u0301", "relationship": "Brother", "age": 30}]})
    assert resp.status_code == 201, resp.get_json()
    record = resp.get_json()["data"]["adl_file"]
    assert record["informants"][0]["name"] == "René Singh" and record["living_residents"][0]["name"] == "José"
