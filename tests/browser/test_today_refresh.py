"""Today's Patients refreshes itself; what a user is typing or has chosen in a row survives
the refresh (static/js/today-list.js skips the refresh while a row's box is in use), and the
refresh resumes once the row's action is sent."""
from __future__ import annotations

import pytest

from .test_login_flow import _user, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _setup(app, admin_id):
    """Rooms 31 and 32, and a patient waiting in room 31 today."""
    from emrs.extensions import db
    from emrs.opd import queue
    from emrs.opd.models import Room
    from emrs.patients.models import Patient
    from emrs.patients.names import name_key
    from emrs.auth.models import User
    with app.app_context():
        for number in ("31", "32"):
            if db.session.execute(db.select(Room).where(Room.number_key == number)).scalar_one_or_none() is None:
                db.session.add(Room(room_number=number, number_key=number, doctor_capacity=2))
        db.session.commit()
        p = Patient(name="Refresh Testpatient", name_key=name_key("Refresh Testpatient"), sex="F", age=33,
                    cr_no="CR7790001")
        db.session.add(p)
        db.session.flush()
        visit = queue.queue(p, "31", db.session.get(User, admin_id))
        return visit.id


def _polls(page):
    """Count the list's own refresh requests that reach the server."""
    seen = []
    page.on("request", lambda r: seen.append(r.url) if "/opd/today/list" in r.url and r.method == "GET" else None)
    return seen


def test_typed_room_survives_the_refresh_and_the_list_refreshes_after_sending(live_app, browser):
    base = live_app.config["LIVE_URL"]
    addr = "admin.refresh@browser.emrs.local"
    admin_id = _user(live_app, addr, "Admin")
    visit_id = _setup(live_app, admin_id)
    live_app.config["OPD_LIST_REFRESH_SECONDS"] = 1
    try:
        page, errors = signed_in_page(browser, live_app, addr)
        page.goto(base + "/patients/today")
        assert page.locator("#today-list").get_attribute("hx-trigger") == "every 1s"
        polls = _polls(page)
        page.wait_for_timeout(2500)
        assert polls, "the list refreshes itself while nobody types"

        box = page.locator(f"#cr-{visit_id}")
        box.fill("32")
        page.locator("#t-q").focus()  # leave the box: the typed value alone keeps the rows
        before = len(polls)
        page.wait_for_timeout(3000)  # three refresh periods
        assert len(polls) == before, "no refresh reaches the server while a row's box holds text"
        assert page.locator(f"#cr-{visit_id}").input_value() == "32"
        assert page.locator("#today-paused").is_visible()
        assert "Automatic refresh paused" in page.locator("#today-paused").inner_text()

        # Emptied: the refresh resumes.
        page.locator(f"#cr-{visit_id}").fill("")
        page.locator("#t-q").focus()
        page.wait_for_timeout(2500)
        assert len(polls) > before
        assert not page.locator("#today-paused").is_visible()

        # Typed again and sent: the list answers with the row moved, then refreshes again.
        page.locator(f"#cr-{visit_id}").fill("32")
        page.locator(f"#cr-{visit_id}").press("Enter")
        panel = page.locator("#today-list section.room-panel[aria-label='Room 32']")
        panel.locator("tr", has_text="Refresh Testpatient").wait_for()
        assert page.locator(f"#cr-{visit_id}").input_value() == ""  # the rows came back fresh
        page.locator("#t-q").focus()
        after_send = len(polls)
        page.wait_for_timeout(2500)
        assert len(polls) > after_send, "the refresh resumes once the row's action is sent"
        assert errors == []
    finally:
        live_app.config["OPD_LIST_REFRESH_SECONDS"] = 15
