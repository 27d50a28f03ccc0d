"""Prescribing in Chromium: a follow-up starts from "repeat last", adds a brand found by
typing, is warned about lithium with ibuprofen, overrides with a reason, and prints an
A5 PDF whose Hindi and Punjabi instructions survive (checked in the PDF's text)."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _setup(app, doctor_id):
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.patients.models import Patient
    from emrs.prescriptions.models import Prescription
    from emrs.timeutil import today_ist
    with app.app_context():
        p = Patient(name="Sukhdev Singh Bains", sex="M", age=52, cr_no=f"CRBROWSERRX{doctor_id:03d}")
        db.session.add(p)
        db.session.flush()
        old = ClinicalProforma(patient_id=p.id, filled_by=doctor_id, visit_date=today_ist() - dt.timedelta(days=28),
                               visit_type="first_visit", diagnosis="Bipolar disorder", icd_code="F31.3")
        new = ClinicalProforma(patient_id=p.id, filled_by=doctor_id, visit_date=today_ist(), visit_type="follow_up",
                               diagnosis="Bipolar disorder", icd_code="F31.3")
        db.session.add_all([old, new])
        db.session.flush()
        db.session.add(Prescription(patient_id=p.id, clinical_proforma_id=old.id, created_by=doctor_id, lines=[
            {"id": 1, "medicine": "Lithium Carbonate 300 mg", "dosage": "1-0-1", "when_to_take": "After Food",
             "frequency": "", "duration": "1 Month", "quantity": "60", "details": "", "notes": ""},
            {"id": 2, "medicine": "Clonazepam 0.25 mg", "dosage": "0-0-1", "when_to_take": "Bedtime",
             "frequency": "", "duration": "1 Month", "quantity": "30", "details": "", "notes": ""}]))
        db.session.commit()
        return new.id


def test_prescribe_with_override_and_print(live_app, browser, shot, tmp_path):
    base = live_app.config["LIVE_URL"]
    mail = "doctor.rx@browser.emrs.local"
    uid = _user(live_app, mail, "Faculty")
    proforma_id = _setup(live_app, uid)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, mail, "/")
    page.goto(f"{base}/prescriptions/proforma/{proforma_id}")
    page.click("text=Repeat last prescription")
    page.wait_for_url("**repeat=1")
    # The earlier line "Lithium Carbonate 300 mg" comes back as medicine + strength.
    assert page.input_value("input[name='lines-0-medicine']") == "Lithium Carbonate"
    assert page.input_value("input[name='lines-0-strength']") == "300 mg"
    # A brand found by typing (formulary picker).
    page.click("#rx-add")
    med = page.locator(".rx-line").nth(3).locator("input[name$='-medicine']")
    med.fill("nexit")
    page.wait_for_selector(".med-results .med-option", timeout=5000)
    page.click(".med-results .med-option >> nth=0")
    assert med.input_value() == "Nexito"
    page.locator(".rx-line").nth(3).locator("input[name$='-dosage']").fill("0-0-1")
    # Ibuprofen on the blank line: the live check warns about lithium.
    page.locator(".rx-line").nth(2).locator("input[name$='-medicine']").fill("Ibuprofen 400 mg")
    page.locator(".rx-line").nth(2).locator("input[name$='-dosage']").fill("SOS")
    page.locator(".rx-line").nth(2).locator("input[name$='-dosage']").dispatch_event("change")
    page.wait_for_selector("#rx-warnings .rx-warnings", timeout=5000)
    assert "ithium" in page.inner_text("#rx-warnings")
    shot(page, "rx-warning")
    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_selector("textarea[name=override_reason]", timeout=5000)
    page.fill("textarea[name=override_reason]", "Three days only; lithium level normal last week")
    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_url("**/prescriptions/*")
    content = page.content()
    assert "Saved over drug-safety warnings" in content and "Nexito" in content
    shot(page, "rx-saved")
    pdf_url = page.get_attribute("text=Print (A5 PDF)", "href")
    resp = page.request.get(base + pdf_url)
    assert resp.status == 200 and resp.headers["content-type"] == "application/pdf"
    body = resp.body()
    assert body.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        path = tmp_path / "rx.pdf"
        path.write_bytes(body)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "Sukhdev Singh Bains" in text and "गोली" in text and "ਗੋਲੀ" in text
    ctx.close()
