"""ICD-11 in the proforma's picker (Chromium), keyboard only: type words, ArrowDown + Enter picks
the ICD-11 entry (listed before ICD-10, tagged); then open "Browse the ICD-11 chapters", expand
chapter 06 with Enter and Tab to a code, Enter picks it; the saved proforma shows the code, its
title and the release it was taken from."""
from __future__ import annotations

import pytest

from ..factories import patient_row
from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _patient(app, resident_id):
    from emrs.patients.names import name_key
    with app.app_context():
        return patient_row("Balwinder Icdsingh", name_key=name_key("Balwinder Icdsingh"), sex="M", age=41,
                           cr_no=f"CRICD{resident_id:05d}", assigned_doctor_id=resident_id).id


def test_pick_an_icd11_code_by_keyboard_from_search_and_from_the_tree(live_app, browser, shot):
    base = live_app.config["LIVE_URL"]
    mail = "resident.icd11@browser.emrs.local"
    pid = _patient(live_app, _user(live_app, mail, "Resident"))
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    url = f"/clinical/proformas/new?patient_id={pid}"
    page.goto(base + url)
    _sign_in(page, live_app, mail, url)

    # 1. Search: words, arrow key, Enter.
    page.click("#icd_query")
    page.keyboard.type("depress")
    page.wait_for_selector(".icd-results .icd-option", timeout=5000)
    first = page.locator(".icd-results .icd-option").first
    assert first.get_attribute("data-icd-system") == "ICD-11"
    assert "ICD-11" in first.locator(".icd-tag").inner_text()
    assert page.locator(".icd-results .icd-tag-10").count() > 0  # ICD-10 still offered
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("#f-icd_code") == "6A70"
    assert page.input_value("#f-icd_title") == "Single episode depressive disorder"
    assert page.input_value("input[name=icd_system]") == "ICD-11"
    assert page.locator(".icd-results .icd-option").count() == 0  # the list closed

    # 2. The tree: open it, expand chapter 06, Tab to a code, Enter.
    page.focus(".icd11-browse > summary")
    page.keyboard.press("Enter")
    toggle = page.locator(".icd11-tree .icd11-chapter .icd11-toggle").first
    toggle.wait_for(timeout=5000)
    # htmx binds the toggle's "click once" loader when it processes the swapped-in tree; a press
    # before that (a loaded CI machine) would open an empty box. Wait for htmx, as a person would.
    page.wait_for_function(
        "() => { const t = document.querySelector('.icd11-tree .icd11-chapter .icd11-toggle');"
        " return !!(t && t['htmx-internal-data'] && t['htmx-internal-data'].initHash); }", timeout=5000)
    toggle.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".icd11-tree .icd11-kids [data-icd-code='6A02']", timeout=5000)
    assert toggle.get_attribute("aria-expanded") == "true"
    page.keyboard.press("Tab")  # the first code under the chapter
    assert page.evaluate("document.activeElement.getAttribute('data-icd-code')") == "6A00"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('data-icd-code')") == "6A02"
    shot(page, "icd11-tree-picker")
    page.keyboard.press("Enter")
    assert page.input_value("#f-icd_code") == "6A02"
    assert page.input_value("#f-icd_title") == "Autism spectrum disorder"
    assert page.input_value("input[name=icd_system]") == "ICD-11"
    page.focus(".icd11-tree .icd11-chapter .icd11-toggle")
    page.keyboard.press("ArrowLeft")  # closes the chapter again
    assert toggle.get_attribute("aria-expanded") == "false"

    # 3. Saved: code, title and release on the proforma page.
    page.fill("#t-diagnosis", "Autism, keyboard test")
    page.click("#proforma-form button[type=submit]")
    page.wait_for_url("**/clinical/proformas/*")
    text = page.inner_text("main")
    assert "6A02 (ICD-11)" in text and "Autism spectrum disorder" in text and "ICD-11 MMS release 2026-01" in text
    assert not [e for e in errors if "Content Security Policy" in e], errors
