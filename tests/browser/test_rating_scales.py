"""Rating scales in Chromium: a resident fills PHQ-9 by keyboard alone (a number key answers
the focused item and moves to the next), sees the score, severity and the item-9 flag appear
live, saves it; the patient page shows the risk banner until it is acknowledged, and the trend
chart with both visits' scores and the prescription change between them; the same at 390 px."""
from __future__ import annotations

import datetime as dt

import pytest

from .test_login_flow import _sign_in, _user, signed_in_page
from .test_opd_keyboard import Keys

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _patient(app, doctor_id):
    """A patient scored 20 weeks ago (PHQ-9 = 20, severe) and prescribed sertraline since."""
    from emrs.assessments import service as scales
    from emrs.auth.models import User
    from emrs.extensions import db
    from emrs.patients.models import Patient
    from emrs.patients.names import name_key
    from emrs.prescriptions.models import Prescription
    from emrs.timeutil import today_ist
    with app.app_context(), app.test_request_context():
        p = Patient(name="Navjot Kaur Sidhu", name_key=name_key("Navjot Kaur Sidhu"), sex="F", age=34,
                    cr_no=f"CR{8800000 + doctor_id}")
        db.session.add(p)
        db.session.commit()
        doctor = db.session.get(User, doctor_id)
        first = {**{f"q{i}": 2 for i in range(1, 9)}, "q9": 0, "q1": 3, "q2": 3, "q3": 3, "q4": 3}  # 20
        scales.create(p.id, {"instrument": "phq9", "answers": first,
                             "assessed_on": (today_ist() - dt.timedelta(weeks=20)).isoformat()}, doctor)
        from emrs.clinical.models import ClinicalProforma
        pf = ClinicalProforma(patient_id=p.id, filled_by=doctor_id, visit_date=today_ist() - dt.timedelta(weeks=18),
                              visit_type="first_visit", diagnosis="Depressive episode", doctor_decision="simple_case")
        db.session.add(pf)
        db.session.flush()
        rx = Prescription(patient_id=p.id, clinical_proforma_id=pf.id, lines=[{"medicine": "Sertraline", "strength": "50 mg", "dosage": "1-0-0"}],
                          created_by=doctor_id)
        db.session.add(rx)
        db.session.commit()
        rx.created_at = rx.created_at - dt.timedelta(weeks=18)
        db.session.commit()
        return p.id


@pytest.mark.parametrize("width,height,tag", [(1366, 768, "desktop"), (390, 844, "phone")])
def test_phq9_by_keyboard_with_live_flag_banner_and_trend(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    addr = f"resident.scales.{tag}@browser.emrs.local"
    doctor_id = _user(live_app, addr, "Resident")
    pid = _patient(live_app, doctor_id)
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, addr, "/")
    page.goto(f"{base}/patients/{pid}/assessments/new?instrument=phq9")
    keys = Keys(page)
    # The first item has the focus; nine number keys answer the nine scored items.
    for answer in "111100001":  # 5 points ... and item 9 "several days"
        keys.press(answer)
    live = page.locator("#live-score")
    live.get_by_text("Risk item positive").wait_for()
    assert "5" in live.locator(".scale-total strong").inner_text()
    assert "Mild" in live.inner_text() and "Item 9 answered 1: Thoughts of being better off dead" in live.inner_text()
    shot(page, f"scales-form-{tag}")
    # The optional difficulty question is next; the focus then goes to Save.
    keys.press("0")
    assert page.evaluate("document.activeElement.textContent").strip().startswith("Save PHQ-9")
    with page.expect_navigation():
        keys.press("Enter")
    assert keys.count == 11  # nine items, the difficulty question, Enter
    assert "PHQ-9 saved: 5 of 27 (Mild)." in page.inner_text("main")
    shot(page, f"scales-saved-{tag}")
    # The patient page: the banner until acknowledged, and the trend with the sertraline start.
    page.goto(f"{base}/patients/{pid}")
    banner = page.locator(".risk-banner")
    assert "Risk item not yet acknowledged." in banner.inner_text()
    chart = page.locator("svg#trend-phq9")
    chart.wait_for()
    desc = chart.locator("desc").text_content()
    assert "20" in desc and "5" in desc and "Sertraline" in desc
    assert chart.locator("circle, path.trend-marker, .trend-marker").count() >= 2
    assert "Down 15 points (−75 %) since the first score: response" in page.inner_text("main")
    shot(page, f"scales-trend-{tag}")
    banner.get_by_role("link").click()
    page.fill("#ack-action", "Asked about plans: none. Safety plan with her sister; review in 1 week.")
    with page.expect_navigation():
        page.click("#acknowledge button[type=submit]")
    page.goto(f"{base}/patients/{pid}")
    assert page.locator(".risk-banner").count() == 0
    ctx.close()


def test_abandoned_kiosk_clears_itself_at_expiry(live_app, browser, shot):
    """A tablet handed to the patient and left: at the session's end the page removes the
    patient's first name and ticked answers and shows "hand the tablet back" (the server ended
    the session as expired), with no form to go back to."""
    from sqlalchemy import select

    from emrs.assessments.models import KioskSession
    from emrs.extensions import db
    base = live_app.config["LIVE_URL"]
    addr = "resident.kiosk@browser.emrs.local"
    doctor_id = _user(live_app, addr, "Resident")
    pid = _patient(live_app, doctor_id)
    page, _errors = signed_in_page(browser, live_app, addr, 800, 1280)
    page.goto(f"{base}/patients/{pid}/assessments/new?instrument=phq9")
    live_app.config["KIOSK_SESSION_SECONDS"] = 4
    try:
        with page.expect_navigation():
            page.get_by_role("button", name="Hand the tablet to the patient").click()
    finally:
        live_app.config["KIOSK_SESSION_SECONDS"] = 1800
    assert page.url == base + "/kiosk"
    assert "Navjot, please answer these questions" in page.inner_text("main")
    page.locator('input[name="a-q1"][value="2"]').check()
    shot(page, "kiosk-before-expiry")
    page.get_by_text("This tablet session has ended").wait_for(timeout=15000)
    page.wait_for_load_state()
    text = page.inner_text("body")
    assert "hand the tablet back" in text.lower()
    assert "Navjot" not in text and page.locator('input[type="radio"]').count() == 0
    assert page.url == base + "/kiosk"
    shot(page, "kiosk-after-expiry")
    page.go_back()  # replace(): the form is not in the history
    assert "Navjot, please answer" not in page.inner_text("body")
    with live_app.app_context():
        row = db.session.scalars(select(KioskSession).where(KioskSession.patient_id == pid)).one()
        assert row.end_reason == "expired"
    page.context.close()
