"""Keyboard at the counter (Chromium): the registration page starts with the cursor in its
first field, and the header search's results are walked with the arrow keys and opened
with Enter — no mouse needed."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _patients(app, names):
    from emrs.extensions import db
    from emrs.patients.models import Patient
    from emrs.patients.names import name_key
    with app.app_context():
        rows = [Patient(name=n, name_key=name_key(n), sex="M", age=40 + i, cr_no=f"CRKEYS{i:05d}")
                for i, n in enumerate(names)]
        db.session.add_all(rows)
        db.session.commit()
        return [r.id for r in rows]


def test_register_focus_and_arrow_keys_in_the_header_search(live_app, browser):
    base = live_app.config["LIVE_URL"]
    mail = "pwo.keys@browser.emrs.local"
    _user(live_app, mail, "Psychiatric Welfare Officer")
    ids = _patients(live_app, ["Kulwinder Keyboardsingh", "Kuldeep Keyboardsingh"])
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(base + "/patients/new")
    _sign_in(page, live_app, mail, "/patients/new")
    first = page.locator("#card-form input:not([type=hidden]), #card-form select").first
    assert page.evaluate("document.activeElement.name") == first.get_attribute("name")
    page.keyboard.type("Ravi")  # typing goes straight into the first field
    assert first.input_value() == "Ravi"

    page.goto(base + "/patients")
    page.click("#qs")
    page.keyboard.type("Keyboardsingh")
    page.wait_for_selector("#qs-results .quick-list li > a")
    links = page.locator("#qs-results .quick-list li > a")
    assert links.count() == 2
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.locator("#qs-results li.is-active").count() == 1
    target = page.locator("#qs-results li.is-active > a").get_attribute("href")
    assert target == links.nth(1).get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(base + target)
    assert int(target.rstrip("/").split("/")[-1]) in ids
