"""Amending someone else's prescription in Chromium: a Faculty member opens a Resident's
prescription, is asked why, saves a new version signed by them; the page lists both versions
and shows the old one read-only; the Resident can no longer rewrite it. The Admin then
withdraws it and restores it from the Withdrawn page. Screenshots at 1366 and 390 px."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _resident_prescription(app, resident_id):
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.models_base import utcnow
    from emrs.patients.models import Patient
    from emrs.prescriptions.models import Prescription
    from emrs.timeutil import today_ist
    with app.app_context():
        p = Patient(name="Harpreet Kaur Gill", sex="F", age=29, cr_no=f"CRBROWSERAM{resident_id:03d}")
        db.session.add(p)
        db.session.flush()
        pf = ClinicalProforma(patient_id=p.id, filled_by=resident_id, visit_date=today_ist(), visit_type="first_visit",
                              diagnosis="Generalised anxiety disorder", icd_code="F41.1")
        db.session.add(pf)
        db.session.flush()
        rx = Prescription(patient_id=p.id, clinical_proforma_id=pf.id, created_by=resident_id, signed_by=resident_id,
                          signed_at=utcnow(), lines=[
                              {"id": 1, "medicine": "Escitalopram 5 mg", "dosage": "0-0-1", "when_to_take": "After Food",
                               "frequency": "", "duration": "1 Month", "quantity": "30", "details": "", "notes": ""}])
        db.session.add(rx)
        db.session.commit()
        return pf.id, rx.id


@pytest.mark.parametrize("width,height,tag", [(1366, 768, "desktop"), (390, 844, "phone")])
def test_faculty_amends_a_residents_prescription_as_a_new_version(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    faculty_mail, resident_mail = f"amend.faculty.{tag}@browser.emrs.local", f"amend.resident.{tag}@browser.emrs.local"
    admin_mail = f"amend.admin.{tag}@browser.emrs.local"
    _user(live_app, faculty_mail, "Faculty")
    resident_id = _user(live_app, resident_mail, "Resident")
    _user(live_app, admin_mail, "Admin")
    proforma_id, rx_id = _resident_prescription(live_app, resident_id)

    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/login")
    _sign_in(page, live_app, faculty_mail, "/")
    page.goto(f"{base}/prescriptions/proforma/{proforma_id}")
    assert page.is_visible("#f-change_reason")
    assert page.input_value("input[name='lines-0-medicine']") == "Escitalopram"  # "Escitalopram 5 mg", split
    page.locator("input[name='lines-0-strength']").fill("10 mg")
    page.fill("#f-change_reason", "Dose raised at the consultant's review")
    shot(page, f"rx-amend-reason-{tag}")
    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_url(f"**/prescriptions/{rx_id}")
    text = page.inner_text("main")
    assert "version 2" in text and "Dose raised at the consultant's review" in text
    assert "Version 1" in text and "Dr Amend Resident" in text
    shot(page, f"rx-versions-{tag}")
    # The proforma page with its prescription fits the screen (nothing scrolls sideways).
    page.goto(f"{base}/clinical/proformas/{proforma_id}")
    assert "Escitalopram 10 mg" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") == width
    page.goto(f"{base}/prescriptions/{rx_id}")
    page.click("text=Version 1")
    page.wait_for_url(f"**/prescriptions/{rx_id}?version=1")
    old = page.inner_text(".rx-old-version")
    assert "Escitalopram 5 mg" in old and "not printed" in old
    ctx.close()

    # The Resident can no longer rewrite the Faculty-signed version: sent back with the reason.
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, resident_mail, "/")
    page.goto(f"{base}/prescriptions/proforma/{proforma_id}")
    page.wait_for_url(f"**/prescriptions/{rx_id}")
    assert "You cannot change this prescription" in page.inner_text("body")
    ctx.close()

    # The Admin withdraws it through the API door's rule, then restores it from the page.
    from emrs.extensions import db
    from emrs.models_base import utcnow
    from emrs.prescriptions.models import Prescription
    with live_app.app_context():
        row = db.session.get(Prescription, rx_id)
        row.withdrawn_at, row.withdrawal_reason = utcnow(), "Entered for the wrong visit"
        db.session.commit()
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, admin_mail, "/")
    page.goto(base + "/clinical/withdrawn")
    assert "Entered for the wrong visit" in page.inner_text("main")
    shot(page, f"withdrawn-{tag}")
    page.click(f"button[aria-label='Restore prescription {rx_id}']")
    page.wait_for_url("**/clinical/withdrawn")
    assert "The prescription was restored." in page.inner_text("body")
    assert errors == []
    ctx.close()
