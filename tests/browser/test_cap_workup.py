"""A doctor fills two sections of a child's CAP work-up by keyboard — the administrative
section and the physical examination with height and weight — and sees the WHO growth chart
(SVG) with the child's point, at 1366x768, with no console error (no CSP refusal)."""
from __future__ import annotations

import datetime as dt

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _child(app) -> int:
    from emrs.extensions import db
    from emrs.patients.models import Patient
    from emrs.timeutil import today_ist
    with app.app_context():
        row = Patient(name="Browser Child", sex="M", age=9, clinic="child", cr_no="CRBROWSERCAP1",
                      cgc_number="CGC-BR-1", date_of_birth=today_ist() - dt.timedelta(days=9 * 365 + 60))
        db.session.add(row)
        db.session.commit()
        return row.id


def test_keyboard_two_sections_and_growth_chart(live_app, browser, shot):
    base = live_app.config["LIVE_URL"]
    mail = "resident.cap@browser.emrs.local"
    _user(live_app, mail, "Resident")
    child_id = _child(live_app)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/patients/{child_id}")
    _sign_in(page, live_app, mail, f"/patients/{child_id}")
    start = page.get_by_role("button", name="Start CAP work-up")
    start.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/cap/*/edit")
    assert "CGC-BR-1" in page.inner_text("#sec-registration")
    # Section 1 by keyboard: school type (a select), the reason for referral, Enter on Save.
    page.focus("#c-school_type")
    page.keyboard.press("ArrowDown")  # → Government
    page.keyboard.press("ArrowDown")  # → Private
    page.keyboard.press("Tab")
    page.keyboard.type("Poor attention in class")
    save = page.get_by_role("button", name="Save “Administrative & identification”")
    save.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#sec-administrative .flash-success")
    # The physical examination: height, Tab, weight, Enter submits the section.
    page.focus("#c-gpe_height_length_cm")
    page.keyboard.type("133")
    page.keyboard.press("Tab")
    page.keyboard.type("28")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sec-physical_exam .flash-success")
    page.wait_for_selector("#cap-growth svg.chart-growth")
    assert page.locator("#cap-growth .chart-child-point").count() >= 2  # height, weight, BMI charts
    caption = page.inner_text("#cap-growth figcaption >> nth=0")
    assert "Height-for-age, latest" in caption and "z = " in caption
    assert "15.8 kg/m²" in page.inner_text("#sec-physical_exam")
    assert page.inner_text("#wu-count").startswith("2 of 20")
    page.locator("#cap-growth").scroll_into_view_if_needed()
    page.screenshot(path="test-artifacts/cap-growth-desktop.png")
    shot(page, "cap-workup-desktop")
    assert errors == []
    ctx.close()
