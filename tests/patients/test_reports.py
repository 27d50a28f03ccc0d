"""Patient reports: one patient as an A4 PDF or an Excel workbook, many as one workbook;
who sees which sections (a welfare officer: details only), bulk for department-wide roles
only, every export audited."""
from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.intake.service import ensure_for_complex_case
from emrs.clinical.models import ClinicalProforma
from emrs.patients.models import Patient
from emrs.timeutil import today_ist

from ..factories import create_prescription, patient_row, prescribed, register_patient

LINES = [{"medicine": "Escitalopram", "strength": "10 mg", "form": "Tablet", "dosage": "1-0-0",
          "when_to_take": "After Breakfast", "frequency": "Once Daily", "duration": "1 Month"},
         {"medicine": "Clonazepam", "strength": "0.25 mg", "form": "Tablet", "dosage": "0-0-1",
          "when_to_take": "Bedtime", "frequency": "Once Daily", "duration": "14 Days"}]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def seen(client, h):
    """A patient registered by the PWO, seen by the resident, with a two-medicine prescription."""
    return prescribed(client, h, patient={"name": "Harjinder Kaur Sidhu"}, lines=LINES)


def _book(resp):
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == XLSX
    return load_workbook(io.BytesIO(resp.data))


def _sheet(book, name) -> list[dict]:
    rows = list(book[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def _exports(patient_id=None) -> list[AuditLog]:
    q = select(AuditLog).where(AuditLog.action == "patient_report_export")
    if patient_id is not None:
        q = q.where(AuditLog.patient_id == patient_id)
    return list(db.session.execute(q.order_by(AuditLog.id)).scalars())


# ------------------------------------------------------------------ one patient, Excel

def test_excel_lists_every_medicine_with_its_strength(client, h, seen, users):
    pid = seen["patient"]["id"]
    resp = client.get(f"/api/patients/{pid}/report?format=xlsx", headers=h["faculty"])
    assert "patient_Harjinder_Kaur_Sidhu_" in resp.headers["Content-Disposition"]
    book = _book(resp)
    assert book.sheetnames == ["Patient Details", "Clinical Proformas", "Intake Records", "Follow-Up Visits",
                               "Prescriptions", "Rating Scales"]
    (details,) = _sheet(book, "Patient Details")
    assert details["Patient ID"] == pid and details["Name"] == "Harjinder Kaur Sidhu"
    assert details["CR No"] == seen["patient"]["cr_no"]
    (proforma,) = _sheet(book, "Clinical Proformas")
    assert proforma["Diagnosis"] == "Depression" and proforma["Visit Type"] == "First visit"
    meds = _sheet(book, "Prescriptions")
    assert [(m["Medicine"], m["Strength"], m["Dose"], m["Frequency"], m["Duration"]) for m in meds] == [
        ("Escitalopram", "10 mg", "1-0-0", "Once Daily", "1 Month"),
        ("Clonazepam", "0.25 mg", "0-0-1", "Once Daily", "14 Days")]
    assert all(m["Prescription ID"] == seen["prescription"]["id"] for m in meds)
    assert meds[0]["Prescribed By"] == users["resident"].name and meds[0]["Prescriber Role"] == "Junior Resident"
    (row,) = _exports(pid)
    assert row.user_id == users["faculty"].id and row.details["format"] == "xlsx"
    assert row.details["sections"] == ["details", "proforma", "intake", "followups", "prescriptions", "ratings"]
    assert "Escitalopram" not in str(row.details)


def test_excel_cells_never_run_as_formulas(client, h):
    p = register_patient(client, h["pwo"], name="Formula Patient", occupation="=HYPERLINK(\"http://x\")")
    book = _book(client.get(f"/api/patients/{p['id']}/report?format=xlsx", headers=h["admin"]))
    (details,) = _sheet(book, "Patient Details")
    assert details["Occupation"].startswith("'=")


def test_welfare_officer_gets_demographics_only(client, h, seen, users):
    pid = seen["patient"]["id"]
    book = _book(client.get(f"/api/patients/{pid}/report?format=xlsx", headers=h["pwo"]))
    assert book.sheetnames == ["Patient Details"]
    data = client.get(f"/api/patients/{pid}/report?format=pdf", headers=h["pwo"]).data
    assert data.startswith(b"%PDF")
    rows = _exports(pid)
    assert [r.details["sections"] for r in rows] == [["details"], ["details"]]
    assert {r.user_id for r in rows} == {users["pwo"].id}


def test_bad_format_unknown_and_archived_patients(client, h, seen):
    pid = seen["patient"]["id"]
    resp = client.get(f"/api/patients/{pid}/report", headers=h["faculty"])  # no format: the PDF
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    resp = client.get(f"/api/patients/{pid}/report?format=docx", headers=h["faculty"])
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "format"
    resp = client.get("/api/patients/99999999/report?format=xlsx", headers=h["faculty"])
    assert resp.status_code == 404 and resp.get_json()["message"] == "Patient not found"
    assert client.get("/api/patients/abc/report", headers=h["faculty"]).status_code == 400
    archived = patient_row("Archived Person", is_active=False)
    assert client.get(f"/api/patients/{archived.id}/report?format=pdf", headers=h["admin"]).status_code == 404
    assert len(_exports()) == 1  # the PDF only
    assert client.get(f"/api/patients/{pid}/report?format=xlsx").status_code == 401


# ------------------------------------------------------------------ one patient, PDF

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


@needs_poppler
def test_pdf_report_reads_like_the_record(app, client, h, seen, users, tmp_path):
    pid = seen["patient"]["id"]
    with app.test_request_context():
        proforma = db.session.get(ClinicalProforma, seen["proforma"]["id"])
        ensure_for_complex_case(db.session.get(Patient, pid), proforma, users["resident"])
        db.session.commit()
    for fmt in ("pdf", "html"):
        resp = client.get(f"/api/patients/{pid}/report?format={fmt}", headers=h["resident"])
        assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    path = tmp_path / "report.pdf"
    path.write_bytes(resp.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("PGIMER Chandigarh", "Department of Psychiatry", "Patient report", "Harjinder Kaur Sidhu",
                     seen["patient"]["cr_no"], "Patient details", "Walk-in clinical proforma", "Depression",
                     "Out-patient intake record", "Prescriptions", "Escitalopram", "10 mg", "Clonazepam", "0.25 mg",
                     "Once Daily", "14 Days", "Computer-generated"):
        assert expected in text, expected
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile", str(path),
                    str(tmp_path / "page")], check=True)
    assert (tmp_path / "page.png").stat().st_size > 5000


@needs_poppler
def test_pdf_for_welfare_officer_has_no_clinical_cards(client, h, seen, tmp_path):
    pid = seen["patient"]["id"]
    path = tmp_path / "pwo.pdf"
    path.write_bytes(client.get(f"/api/patients/{pid}/report?format=pdf", headers=h["pwo"]).data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Harjinder Kaur Sidhu" in text and "Patient details" in text
    for hidden in ("Walk-in clinical proforma", "Escitalopram", "Depression", "Prescriptions"):
        assert hidden not in text, hidden


# ------------------------------------------------------------------ pages

def test_patient_page_buttons_and_downloads(role_client, seen):
    pid = seen["patient"]["id"]
    c = role_client("faculty")
    page = c.get(f"/patients/{pid}").get_data(as_text=True)
    assert "Report (PDF)" in page and f"/patients/{pid}/report?format=xlsx" in page
    resp = c.get(f"/patients/{pid}/report?format=xlsx")
    assert resp.status_code == 200 and resp.mimetype == XLSX and "attachment" in resp.headers["Content-Disposition"]
    resp = c.get(f"/patients/{pid}/report?format=pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert c.get("/patients/99999999/report?format=pdf").status_code == 404


def test_bulk_form_on_the_list_page(role_client, seen):
    c = role_client("faculty")
    page = c.get("/patients/").get_data(as_text=True)
    assert "Patient reports for many patients" in page
    today = today_ist().isoformat()
    resp = c.post("/patients/reports/bulk", data={"date_from": today, "date_to": today})
    book = _book(resp)
    assert seen["patient"]["id"] in [r["Patient ID"] for r in _sheet(book, "Patient Details")]
    assert f"patients_export_{today}_to_{today}.xlsx" in resp.headers["Content-Disposition"]
    # None registered then: back to the list with the reason.
    resp = c.post("/patients/reports/bulk", data={"date_from": "2001-01-01", "date_to": "2001-01-02"},
                  follow_redirects=True)
    assert "No patients match" in resp.get_data(as_text=True)
    # A Junior Resident has no bulk form, and a POST is sent back with the reason.
    jr = role_client("resident")
    listing = jr.get("/patients/")
    assert listing.status_code == 200 and "Patient reports for many patients" not in listing.get_data(as_text=True)
    resp = jr.post("/patients/reports/bulk", data={"date_from": today, "date_to": today}, follow_redirects=True)
    assert "Junior Resident" in resp.get_data(as_text=True)


# ------------------------------------------------------------------ bulk API

def test_bulk_by_ids_and_dates(client, h, seen, users):
    other = prescribed(client, h, patient={"name": "Baldev Raj"})
    ids = [seen["patient"]["id"], other["patient"]["id"]]
    resp = client.post("/api/patients/reports/bulk", headers=h["admin"], json={"format": "xlsx", "patient_ids": ids})
    book = _book(resp)
    assert [r["Patient ID"] for r in _sheet(book, "Patient Details")] == sorted(ids)
    meds = _sheet(book, "Prescriptions")
    assert {(m["Patient ID"], m["Medicine"]) for m in meds} >= {(ids[0], "Escitalopram"), (ids[0], "Clonazepam"),
                                                               (ids[1], "Escitalopram")}
    rows = _exports()
    assert sorted(r.patient_id for r in rows) == sorted(ids)
    assert all(r.details["bulk"] == 2 and r.user_id == users["admin"].id for r in rows)
    today = today_ist().isoformat()
    book = _book(client.post("/api/patients/reports/bulk", headers=h["faculty"],
                             json={"date_from": today, "date_to": today}))
    assert set(ids) <= {r["Patient ID"] for r in _sheet(book, "Patient Details")}


def test_bulk_for_welfare_officer_is_demographics_only(client, h, seen):
    book = _book(client.post("/api/patients/reports/bulk", headers=h["pwo"],
                             json={"patient_ids": [seen["patient"]["id"]]}))
    assert book.sheetnames == ["Patient Details"]


def test_bulk_refusals_change_nothing(client, h, seen, make_user, bearer):
    pid = seen["patient"]["id"]
    resp = client.post("/api/patients/reports/bulk", headers=h["resident"], json={"patient_ids": [pid]})
    assert resp.status_code == 403 and "Junior Resident" in resp.get_json()["message"]
    senior = make_user("Resident", grade="SR")
    assert client.post("/api/patients/reports/bulk", headers=bearer(senior),
                       json={"patient_ids": [pid]}).status_code == 200
    before = len(_exports())
    cases = [({"patient_ids": [99999999]}, 404), ({"date_from": "2001-01-01", "date_to": "2001-01-31"}, 404),
             ({"date_from": "2026-02-30"}, 400), ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, 400),
             ({"patient_ids": "1,2"}, 400), ({"patient_ids": list(range(1, 1002))}, 400),
             ({"format": "pdf", "patient_ids": [pid]}, 400)]
    for body, status in cases:
        resp = client.post("/api/patients/reports/bulk", headers=h["faculty"], json=body)
        assert resp.status_code == status, (body, resp.get_json())
        assert resp.get_json()["success"] is False and resp.get_json()["message"]
    assert len(_exports()) == before


def test_bulk_over_the_limit_is_refused(client, h, monkeypatch):
    from emrs.reports import service
    monkeypatch.setattr(service, "BULK_MAX", 2)
    day = dt.date(2020, 5, 5)
    for i in range(3):
        patient_row(f"Old Patient {i}", date=day)
    resp = client.post("/api/patients/reports/bulk", headers=h["faculty"],
                       json={"date_from": day.isoformat(), "date_to": day.isoformat()})
    assert resp.status_code == 400 and "More than 2 patients" in resp.get_json()["message"]
    assert _exports() == []


def test_sections_are_a_list_a_later_section_can_join(app, client, h, seen):
    """A new section (follow-up notes, say) is one Section appended to SECTIONS plus its card."""
    from emrs.reports import service
    extra = service.Section("details", "Extra", "Extra Sheet", service.records.PROFORMA, ("Patient ID", "Note"),
                            load=lambda ids: {i: "x" for i in ids}, rows=lambda p, d: [[p.id, d]],
                            card=lambda p, d: None)
    service.SECTIONS.append(extra)
    try:
        book = _book(client.get(f"/api/patients/{seen['patient']['id']}/report?format=xlsx", headers=h["faculty"]))
        assert _sheet(book, "Extra Sheet") == [{"Patient ID": seen["patient"]["id"], "Note": "x"}]
        assert "Extra Sheet" not in _book(client.get(f"/api/patients/{seen['patient']['id']}/report?format=xlsx",
                                                     headers=h["pwo"])).sheetnames
    finally:
        service.SECTIONS.remove(extra)


def test_the_report_lists_follow_up_notes_for_clinicians_only(app, ctx, users):
    """The workbook has a Follow-Up Visits sheet with the note's text for a doctor; a welfare
    officer's report has no such sheet."""
    import io
    from openpyxl import load_workbook
    from emrs.followups import service as followups
    from emrs.patients.models import PatientVisit
    from emrs.reports import render, service
    from emrs.timeutil import today_ist
    from tests.factories import patient_row
    import datetime as dt
    p = patient_row("Follow Report Patient")
    from emrs.extensions import db
    db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist() - dt.timedelta(days=30),
                                visit_type="first_visit", visit_status="completed"))
    db.session.commit()
    followups.create({"patient_id": p.id, "clinical_assessment": "Sleeping better on the new dose"},
                     users["faculty"])
    wb = load_workbook(io.BytesIO(render.to_xlsx(service.patient_report(p.id, users["faculty"], "xlsx"))))
    sheet = wb["Follow-Up Visits"]
    assert any("Sleeping better on the new dose" in str(c.value) for row in sheet.iter_rows() for c in row)
    wb = load_workbook(io.BytesIO(render.to_xlsx(service.patient_report(p.id, users["pwo"], "xlsx"))))
    assert "Follow-Up Visits" not in wb.sheetnames


def test_control_characters_in_stored_text_still_export(app, ctx, users):
    """A terminal escape in a stored name cannot be written to a worksheet as is: the export
    answers, with U+FFFD in its place, instead of failing."""
    import io
    from openpyxl import load_workbook
    from emrs.reports import render, service
    from tests.factories import patient_row
    p = patient_row("Esc \x1b[31mred\x1b[0m Patient")
    wb = load_workbook(io.BytesIO(render.to_xlsx(service.patient_report(p.id, users["pwo"], "xlsx"))))
    names = [c.value for row in wb["Patient Details"].iter_rows() for c in row if c.value and "Esc" in str(c.value)]
    assert names == ["Esc \ufffd[31mred\ufffd[0m Patient"]
