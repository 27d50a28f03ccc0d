"""A welfare officer registers a child of the Child Guidance Clinic by keyboard, queues the
child in a room and sees the OPD slip; the patient page shows the Child badge and the CGC number."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user
from .test_opd_keyboard import Keys, _focused

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _room(app, number="C9"):
    from emrs.extensions import db
    from emrs.opd.models import Room
    with app.app_context():
        if db.session.execute(db.select(Room).where(Room.number_key == number.lower())).scalar_one_or_none() is None:
            db.session.add(Room(room_number=number, number_key=number.lower(), doctor_capacity=2))
        db.session.commit()


def test_pwo_registers_a_child_by_keyboard_queues_and_sees_the_slip(live_app, browser, shot):
    base = live_app.config["LIVE_URL"]
    mail = "pwo.child@browser.emrs.local"
    _user(live_app, mail, "Psychiatric Welfare Officer")
    _room(live_app)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, mail, "/")

    page.goto(base + "/children/new")
    assert _focused(page) == "f-name"  # the child's name first: the clerk types at once
    k = Keys(page)
    k.type("Mehak Preet")
    k.press("Tab")
    k.type("F")                        # sex: typing picks Female
    k.press("Tab")
    k.type("8")
    k.press("Tab")
    assert _focused(page) == "f-queue_room"
    k.type("C9")                       # the room select: typing the number picks the room
    k.press("Tab")
    assert _focused(page) == "f-contact_number"
    k.type("9876512340")               # the guardian's mobile
    k.press("Enter")
    page.wait_for_url("**/opd/visits/*/slip")
    text = page.inner_text("main")
    assert "Mehak Preet" in text and "room C9" in text
    shot(page, "child-registration-slip")
    assert k.count <= 40, k.count

    from emrs.extensions import db
    from emrs.patients.models import Patient
    with live_app.app_context():
        child = db.session.execute(db.select(Patient).where(Patient.name == "Mehak Preet")).scalar_one()
        child_id, cgc, cr = child.id, child.cgc_number, child.cr_no
        assert child.clinic == "child" and child.age_group == "5 – 10 years"
    page.goto(base + f"/patients/{child_id}")
    header = page.inner_text(".patient-header")
    assert "Child" in header and cgc in header and cr in header
    assert page.locator(".patient-header .badge-child").count() == 1
    assert page.get_by_text("New walk-in proforma").count() == 0  # a welfare officer sees registration only
    shot(page, "child-patient-page")
