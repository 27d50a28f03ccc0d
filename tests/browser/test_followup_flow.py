"""A follow-up in Chromium: the patient page's Follow-up button → the note with a file →
"Follow-up visit 1 of 1" → Prescription from the follow-up → its page shows the latest
proforma's diagnosis → the note amended with a reason, the old text still readable."""
from __future__ import annotations

import datetime as dt

import pytest

from ..factories import patient_row
from .test_login_flow import _user, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _setup(app, resident_id):
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.patients.names import name_key
    from emrs.timeutil import today_ist
    with app.app_context():
        p = patient_row("Baljit Kaur Sidhu", name_key=name_key("Baljit Kaur Sidhu"), sex="F", age=52,
                        cr_no=f"CRFOLLOW{resident_id:04d}", assigned_doctor_id=resident_id)
        db.session.add(ClinicalProforma(patient_id=p.id, filled_by=resident_id,
                                        visit_date=today_ist() - dt.timedelta(days=28), visit_type="first_visit",
                                        diagnosis="Generalised anxiety disorder", doctor_decision="simple_case"))
        db.session.commit()
        return p.id


def test_follow_up_note_prescription_and_amendment(live_app, browser, shot, tmp_path):
    base = live_app.config["LIVE_URL"]
    addr = "resident.followup@browser.emrs.local"
    rid = _user(live_app, addr, "Resident")
    pid = _setup(live_app, rid)
    page, errors = signed_in_page(browser, live_app, addr)
    page.goto(f"{base}/patients/{pid}")
    page.click("nav.patient-actions >> text=Follow-up")
    page.wait_for_url(f"{base}/follow-ups/new?patient_id={pid}")
    assert "Patient information" in page.content()
    page.fill("#f-clinical_assessment", "Worry less, sleeping well. Continue escitalopram.")
    report = tmp_path / "thyroid.txt"
    report.write_text("TSH 2.1 mIU/L\n")
    page.set_input_files("#f-files", str(report))
    shot(page, "followup-form")
    page.click("#followup-form button[type=submit]")
    page.wait_for_url(f"{base}/follow-ups/*")
    body = page.content()
    assert "Follow-up visit 1 of 1" in body and "thyroid.txt" in body
    shot(page, "followup-note")
    page.click("text=Prescription")
    page.wait_for_url(f"{base}/prescriptions/follow-up/*")
    assert "Generalised anxiety disorder" in page.content()
    page.locator("input[name='lines-0-medicine']").fill("Escitalopram 10 mg")
    page.locator("input[name='lines-0-dosage']").fill("1-0-0")
    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_url(f"{base}/prescriptions/*")
    assert "Generalised anxiety disorder" in page.content() and "Escitalopram" in page.content()
    page.go_back()
    page.go_back()
    page.reload()
    page.click("text=Amend")
    page.fill("#f-clinical_assessment", "Worry less; plan to taper in 3 months.")
    page.fill("#f-amend_reason", "Plan agreed with the consultant")
    page.click("text=Save amendment")
    page.wait_for_url(f"{base}/follow-ups/*")
    page.click("text=Text of version 1")
    body = page.content()
    assert "plan to taper" in body and "Continue escitalopram" in body and "Plan agreed with the consultant" in body
    shot(page, "followup-amended")
    assert errors == []
    page.context.close()
