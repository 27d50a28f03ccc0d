"""The login code in Chromium: a wrong code empties the field and
says so; the same digits are never sent by themselves twice; the right code signs in; five wrong
codes show "locked until HH:MM"; an Admin unlocks the account from the users page."""
from __future__ import annotations

import re

import pytest

from .test_login_flow import PASSWORD, _code, _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]

SIZES = [(1366, 768, "desktop"), (390, 844, "phone")]


def _wrongs(right: str):
    return [f"{n:06d}" for n in range(100001, 100010) if f"{n:06d}" != right]


def _password_step(page, base, addr):
    page.goto(base + "/login")
    page.fill("#email", addr)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/login/otp")


def _type_and_wait(page, digits):
    """Type the code key by key; the sixth digit submits it (static/js/app.js)."""
    with page.expect_navigation():
        page.locator("#otp").press_sequentially(digits, delay=20)


@pytest.mark.parametrize("width,height,tag", SIZES)
def test_wrong_code_clears_the_field_then_the_right_code_signs_in(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    addr = f"resident.code.{tag}@browser.emrs.local"
    _user(live_app, addr, "Resident")
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and r.url.endswith("/login/otp") else None)
    _password_step(page, base, addr)
    right = _code(live_app, addr)
    wrong = _wrongs(right)[0]
    _type_and_wait(page, wrong)
    assert page.locator("#otp").input_value() == ""  # the refused digits are gone
    alert = page.locator("[role=alert]").inner_text()
    assert "That code is not valid" in alert and "4 more tries" in alert
    assert page.evaluate("document.activeElement && document.activeElement.id") == "otp"
    shot(page, f"otp-wrong-{tag}")
    # The same six digits again are not sent by themselves (each wrong try counts).
    page.locator("#otp").press_sequentially(wrong, delay=20)
    page.wait_for_timeout(800)
    assert len(posts) == 1 and page.url == base + "/login/otp"
    # A seventh key press does not send anything either; correcting the code does.
    page.locator("#otp").press("5")
    page.wait_for_timeout(300)
    assert len(posts) == 1
    page.locator("#otp").fill("")
    _type_and_wait(page, right)
    page.wait_for_url(base + "/")
    assert page.locator("h1").inner_text().startswith("Welcome")
    assert len(posts) == 2
    assert not [e for e in errors if "Content Security Policy" in e], errors
    ctx.close()


@pytest.mark.parametrize("width,height,tag", SIZES)
def test_locked_account_says_until_when_and_admin_unlocks_it(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    addr = f"resident.locked.{tag}@browser.emrs.local"
    _user(live_app, addr, "Resident")
    admin_addr = f"admin.unlock.{tag}@browser.emrs.local"
    _user(live_app, admin_addr, "Admin")
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    _password_step(page, base, addr)
    right = _code(live_app, addr)
    for wrong in _wrongs(right)[:5]:
        _type_and_wait(page, wrong)
    alert = page.locator("[role=alert]").inner_text()
    assert re.search(r"locked until \d\d:\d\d \(India time\)", alert), alert
    assert page.locator("#otp").count() == 0  # nothing left to type into
    shot(page, f"otp-locked-{tag}")
    # The password alone does not get past the lock either.
    page.click("text=Back to sign in")
    page.fill("#email", addr)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    assert re.search(r"locked until \d\d:\d\d", page.locator("[role=alert]").inner_text())

    admin_ctx = browser.new_context(viewport={"width": width, "height": height})
    admin = admin_ctx.new_page()
    admin.goto(base + "/login")
    _sign_in(admin, live_app, admin_addr, "/")
    admin.goto(base + "/admin/users?q=" + addr)
    row = admin.locator("tr", has_text=addr)
    assert re.search(r"Locked until \d\d:\d\d", row.inner_text())
    shot(admin, f"users-locked-{tag}")
    row.get_by_role("button", name=re.compile("^Unlock")).click()
    admin.wait_for_load_state()
    assert "unlocked." in admin.content()
    assert "Locked until" not in admin.locator("tr", has_text=addr).inner_text()
    shot(admin, f"users-unlocked-{tag}")
    admin_ctx.close()

    page.goto(base + "/login")
    _sign_in(page, live_app, addr, "/")
    assert page.locator("h1").inner_text().startswith("Welcome")
    ctx.close()
