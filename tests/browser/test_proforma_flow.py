"""The walk-in proforma in Chromium: Today's Patients → a follow-up proforma pre-filled
from the last one → logged out by inactivity halfway → every character back after
signing in → ICD-10 by typing "F32" (ICD-11 has its own test) → complex case → one intake record → a second
resident's stale save refused with 409."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from ..factories import patient_row
from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _setup(app, resident_id):
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.patients.models import PatientVisit
    from emrs.patients.names import name_key
    from emrs.timeutil import today_ist
    with app.app_context():
        p = patient_row("Tejinder Pal Singh", name_key=name_key("Tejinder Pal Singh"), sex="M", age=47,
                        cr_no=f"CRBROWSER{resident_id:04d}", assigned_doctor_id=resident_id)
        db.session.add(ClinicalProforma(patient_id=p.id, filled_by=resident_id, visit_date=today_ist() - dt.timedelta(days=30),
                                        visit_type="first_visit", past_history="Alcohol dependence since 2015",
                                        mood="Sad", doctor_decision="simple_case"))
        db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="follow_up",
                                    visit_status="scheduled", assigned_doctor_id=resident_id, room_no="R-5"))
        db.session.commit()
        return p.id


def _expire_sessions(app, user_email):
    from emrs.auth.models import User, UserSession
    from emrs.extensions import db
    from emrs.models_base import utcnow
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.email == user_email)).scalar_one()
        for row in db.session.execute(select(UserSession).where(UserSession.user_id == uid)).scalars():
            row.last_activity = utcnow() - dt.timedelta(hours=1)
        db.session.commit()


def test_follow_up_proforma_survives_timeout_and_becomes_complex(live_app, browser, shot):
    from emrs.extensions import db
    from emrs.intake.models import IntakeRecord
    base = live_app.config["LIVE_URL"]
    a_mail, b_mail = "resident.a@browser.emrs.local", "faculty.b@browser.emrs.local"
    a_id = _user(live_app, a_mail, "Resident")
    _user(live_app, b_mail, "Faculty")
    pid = _setup(live_app, a_id)

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, a_mail, "/")
    page.goto(base + "/patients/today")
    page.click(f"tr:has-text('Tejinder Pal Singh') >> text=Proforma")
    page.wait_for_url("**/clinical/proformas/new?patient_id=*")
    assert "Started from the proforma of" in page.content()
    assert page.input_value("#t-past_history") == "Alcohol dependence since 2015"
    assert page.is_checked("input[name=mood][value=Sad]")
    page.fill("#t-gpe", "BP 124/82, pulse 88")
    page.wait_for_selector("[data-autosave-status]:has-text('Draft saved')", timeout=10000)
    # Half-way: the session ends for inactivity; she keeps typing.
    _expire_sessions(live_app, a_mail)
    page.fill("#t-diagnosis", "Recurrent depressive disorder, typed after the timeout")
    page.wait_for_url(lambda u: "/login?next=" in u, timeout=15000)
    assert "session ended after a period of inactivity" in page.content()
    _sign_in(page, live_app, a_mail, "/clinical/proformas/new?patient_id=" + str(pid) + "&prefill=1")
    page.wait_for_selector(".draft-banner", timeout=5000)
    assert page.input_value("#t-gpe") == "BP 124/82, pulse 88"
    assert page.input_value("#t-diagnosis") == "Recurrent depressive disorder, typed after the timeout"
    shot(page, "proforma-restored")
    # Code the diagnosis in ICD-10 (still offered beside ICD-11) by typing its code.
    page.fill("#icd_query", "F32")
    page.wait_for_selector(".icd-results .icd-option", timeout=5000)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("#f-icd_code").startswith("F32")
    page.check("input[name=doctor_decision][value=complex_case]")
    page.fill("#t-adl_reasoning", "Needs detailed work-up now")
    page.click("#proforma-form button[type=submit]")
    page.wait_for_url("**/clinical/proformas/*")
    assert "Complex case" in page.content() and "Intake record" in page.content()
    shot(page, "proforma-saved")
    proforma_url = page.url
    with live_app.app_context():
        assert db.session.execute(select(func.count(IntakeRecord.id)).where(IntakeRecord.patient_id == pid)
                                  ).scalar_one() == 1

    # The resident and her consultant edit the same proforma: the second save is refused.
    # (Another resident may not change it at all; Faculty may, saying why.)
    other = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    other.goto(base + "/login")
    _sign_in(other, live_app, b_mail, "/")
    other.goto(proforma_url + "/edit")
    page.goto(proforma_url + "/edit")
    page.fill("#t-gpe", "BP 120/80 (resident A)")
    page.click("#proforma-form button[type=submit]")
    page.wait_for_url(proforma_url)
    other.fill("#t-gpe", "BP 140/90 (resident B, stale)")
    other.fill("#f-change_reason", "Examined again on the consultant's round")
    other.click("#proforma-form button[type=submit]")
    other.wait_for_load_state()
    assert "changed by someone else" in other.content()
    assert other.input_value("#t-gpe") == "BP 140/90 (resident B, stale)"
    shot(other, "proforma-409")
    page.goto(proforma_url)
    assert "BP 120/80 (resident A)" in page.content()
    ctx.close()
