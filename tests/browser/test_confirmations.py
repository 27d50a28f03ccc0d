"""One-click actions that change an account or a visit ask first (Chromium): Deactivate and
Turn login code off on the users page, Mark completed on Today's patients; dismissing the
question changes nothing. Add user starts with no role chosen."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _state(app, user_id):
    from emrs.auth.models import User
    from emrs.extensions import db
    with app.app_context():
        u = db.session.get(User, user_id)
        return u.is_active, u.two_factor_enabled


def test_account_changes_ask_first_and_add_user_has_no_role(live_app, browser):
    base = live_app.config["LIVE_URL"]
    admin = "admin.confirm@browser.emrs.local"
    _user(live_app, admin, "Admin")
    target = _user(live_app, "target.confirm@browser.emrs.local", "Resident")
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(base + "/admin/users?q=target.confirm")
    _sign_in(page, live_app, admin, "/admin/users?q=target.confirm")
    questions = []
    answer = {"accept": False}

    def on_dialog(d):
        questions.append(d.message)
        d.accept() if answer["accept"] else d.dismiss()
    page.on("dialog", on_dialog)
    row = page.locator("tr", has_text="target.confirm@browser.emrs.local")
    row.get_by_role("button", name="Deactivate").click()
    page.wait_for_timeout(300)
    assert "Deactivate Dr Target Confirm?" in questions[-1] and _state(live_app, target) == (True, True)
    row.get_by_role("button", name="Turn login code off").click()
    page.wait_for_timeout(300)
    assert "password alone" in questions[-1] and _state(live_app, target) == (True, True)
    answer["accept"] = True
    row.get_by_role("button", name="Deactivate").click()
    page.wait_for_load_state()
    page.wait_for_timeout(300)
    assert _state(live_app, target) == (False, True)
    page.goto(base + "/admin/users/new")
    assert page.locator("select[name=role]").input_value() == ""
    page.fill("input[name=name]", "Dr No Role")
    page.fill("input[name=email]", "norole@browser.emrs.local")
    page.click("main button[type=submit]")
    assert "Choose a role." in page.inner_text("main")


def test_mark_completed_asks_first(live_app, browser):
    from emrs.extensions import db
    from emrs.patients.models import Patient, PatientVisit
    from emrs.timeutil import today_ist
    base = live_app.config["LIVE_URL"]
    mail = "resident.confirm@browser.emrs.local"
    doctor = _user(live_app, mail, "Resident")
    with live_app.app_context():
        p = Patient(name="Confirm Visit Patient", sex="F", age=33, cr_no="CRCONFIRM0001", assigned_doctor_id=doctor)
        db.session.add(p)
        db.session.flush()
        v = PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="follow_up", visit_status="scheduled",
                         assigned_doctor_id=doctor, room_no="R-3")
        db.session.add(v)
        db.session.commit()
        visit_id = v.id
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(base + "/patients/today")
    _sign_in(page, live_app, mail, "/patients/today")
    seen = []
    page.once("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    page.locator("tr", has_text="Confirm Visit Patient").get_by_role("button", name="Mark completed").click()
    page.wait_for_timeout(300)
    with live_app.app_context():
        assert db.session.get(PatientVisit, visit_id).visit_status == "scheduled"
    assert seen and "Confirm Visit Patient" in seen[0]
    page.once("dialog", lambda d: d.accept())
    page.locator("tr", has_text="Confirm Visit Patient").get_by_role("button", name="Mark completed").click()
    page.wait_for_load_state()
    page.wait_for_timeout(300)
    with live_app.app_context():
        db.session.expire_all()
        assert db.session.get(PatientVisit, visit_id).visit_status == "completed"
