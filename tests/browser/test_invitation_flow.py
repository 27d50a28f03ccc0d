"""Add user by invitation in Chromium: the Resident grade shows only for Residents; the invited
user follows the e-mailed link, chooses a password and signs in."""
from __future__ import annotations

import re

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def test_invite_a_senior_resident_who_sets_a_password(live_app, browser):
    from emrs.auth.models import User
    from emrs.extensions import db
    base = live_app.config["LIVE_URL"]
    admin = "admin.invite@browser.emrs.local"
    _user(live_app, admin, "Admin")
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(base + "/admin/users/new")
    _sign_in(page, live_app, admin, "/admin/users/new")
    grade = page.locator("select[name=sub_role]")
    assert not grade.is_visible()
    page.select_option("select[name=role]", "Resident")
    assert grade.is_visible()
    page.select_option("select[name=role]", "Faculty")
    assert not grade.is_visible()
    page.select_option("select[name=role]", "Resident")
    page.select_option("select[name=sub_role]", "SR")
    page.fill("input[name=name]", "Dr Invited Senior")
    page.fill("input[name=email]", "invited.senior@browser.emrs.local")
    assert page.locator("input[name=password]").count() == 0
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "invitation to set their password was e-mailed" in page.inner_text("main")
    with live_app.app_context():
        user = db.session.execute(db.select(User).where(User.email == "invited.senior@browser.emrs.local")).scalar_one()
        assert user.grade == "SR" and user.password_set_at is None
    from pathlib import Path
    outbox = Path(live_app.config["MAIL_OUTBOX_DIR"])
    import email
    from email import policy
    bodies = [email.message_from_bytes(p.read_bytes(), policy=policy.default).get_content()
              for p in sorted(outbox.glob("*.eml"))]
    link = [m.group(0) for b in bodies for m in [re.search(r"/setup-password\?token=[0-9a-f]{64}", b)] if m][-1]
    other = browser.new_context().new_page()
    other.goto(base + link)
    assert "Dr Invited Senior" in other.inner_text("main")
    other.fill("input[name=password]", "Chosen-pass-7")
    other.fill("input[name=confirm]", "Chosen-pass-7")
    other.click("main button[type=submit]")
    other.wait_for_load_state()
    assert "Your password is set" in other.inner_text("main")
    assert other.locator("input[name=email]").input_value() == "invited.senior@browser.emrs.local"
