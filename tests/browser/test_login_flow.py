"""Sign in with an e-mailed code in Chromium and reach the dashboard, at desktop
and phone widths; inactivity sends the user back to the page they were on."""
from __future__ import annotations

import email
import re
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]

PASSWORD = "Browser-pass-1"


def _code(app, to: str) -> str:
    box = Path(app.config["MAIL_OUTBOX_DIR"])
    for f in sorted(box.glob("*.eml"), reverse=True):
        msg = email.message_from_bytes(f.read_bytes(), policy=policy.default)
        if msg["To"] == to:
            return re.search(r"\b(\d{6})\b", msg.get_content()).group(1)
    raise AssertionError(f"no code mailed to {to}")


def _user(app, email_addr, role):
    """A user of the live app; the name comes from the e-mail so that names are unique."""
    from emrs.auth import service
    name = "Dr " + " ".join(w.capitalize() for w in email_addr.split("@")[0].split("."))
    with app.app_context():
        user = service.find_by_email(email_addr)
        if user is None:
            user = service.create_user({"email": email_addr, "name": name, "role": role,
                                        "password": PASSWORD})
        return user.id


def _sign_in(page, app, addr, expect_url):
    base = app.config["LIVE_URL"]
    page.fill("#email", addr)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/login/otp")
    page.fill("#otp", _code(app, addr))  # the sixth digit submits the form (static/js/app.js)
    page.wait_for_url(base + expect_url)


def signed_in_page(browser, app, addr, width=1366, height=900, expect_url="/"):
    """A new browser page signed in as ``addr``, and the list its console errors go to."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(app.config["LIVE_URL"] + "/login")
    _sign_in(page, app, addr, expect_url)
    return page, errors


@pytest.mark.parametrize("width,height,tag", [(1366, 768, "desktop"), (390, 844, "phone")])
def test_login_with_otp_reaches_dashboard(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    addr = f"admin.{tag}@browser.emrs.local"
    _user(live_app, addr, "Admin")
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    shot(page, f"login-{tag}")
    page.fill("#email", addr)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/login/otp")
    assert "We e-mailed a 6-digit code" in page.content()
    shot(page, f"otp-{tag}")
    # Typing the sixth digit submits the form (static/js/app.js).
    page.fill("#otp", _code(live_app, addr))
    page.wait_for_url(base + "/")
    assert page.locator("h1").inner_text().startswith("Welcome")
    for name in ("registered_today", "visits_waiting", "files_out"):
        assert re.fullmatch(r"\d+", page.locator(f'[data-figure="{name}"]').inner_text())
    shot(page, f"dashboard-{tag}")
    page.goto(base + "/admin/users")
    assert page.locator("table").count() == 1
    shot(page, f"users-{tag}")
    page.goto(base + "/profile")
    shot(page, f"profile-{tag}")
    page.click("header button[type=submit]")  # Sign out
    page.wait_for_url(base + "/login")
    assert "You have signed out." in page.content()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    ctx.close()


def test_inactivity_sends_user_back_after_login(live_app, browser):
    from emrs.auth.models import UserSession
    from emrs.extensions import db
    from emrs.models_base import utcnow

    base = live_app.config["LIVE_URL"]
    addr = "resident.idle@browser.emrs.local"
    uid = _user(live_app, addr, "Resident")
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, addr, "/")
    page.goto(base + "/profile")
    with live_app.app_context():
        for row in db.session.execute(select(UserSession).where(UserSession.user_id == uid)).scalars():
            row.last_activity = utcnow() - timedelta(hours=1)
        db.session.commit()
    page.goto(base + "/profile/password")
    assert page.url.startswith(base + "/login?next=")
    assert "session ended after a period of inactivity" in page.content()
    _sign_in(page, live_app, addr, "/profile/password")
    assert page.locator("h1").inner_text() == "Change password"
    ctx.close()
