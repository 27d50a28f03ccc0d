"""The record room in Chromium: a welfare officer stores a new intake file with its
shelf, finds it under "To retrieve for today", bulk-retrieves it, sees it out of the
room, returns it, and the movement history shows created → stored → retrieved → returned."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _setup(app, doctor_id):
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.intake.service import ensure_for_complex_case
    from emrs.patients.models import Patient, PatientVisit
    from emrs.patients.names import name_key
    from emrs.timeutil import today_ist
    from emrs.auth.models import User
    with app.app_context():
        doctor = db.session.get(User, doctor_id)
        p = Patient(name="Paramjit Kaur Sandhu", name_key=name_key("Paramjit Kaur Sandhu"), sex="F", age=39,
                    cr_no=f"CRROOM{doctor_id:05d}", assigned_doctor_id=doctor_id)
        db.session.add(p)
        db.session.flush()
        proforma = ClinicalProforma(patient_id=p.id, filled_by=doctor_id, assigned_doctor=doctor_id,
                                    visit_date=today_ist(), visit_type="first_visit", doctor_decision="complex_case")
        db.session.add(proforma)
        db.session.flush()
        record, _created = ensure_for_complex_case(p, proforma, doctor)
        db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="follow_up",
                                    visit_status="scheduled", assigned_doctor_id=doctor_id, room_no="R-11"))
        db.session.commit()
        return record.id, record.adl_no


@pytest.mark.parametrize("width,height,tag", [(1366, 768, "desktop"), (390, 844, "phone")])
def test_welfare_officer_moves_a_file_through_the_record_room(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    pwo_mail = f"pwo.room.{tag}@browser.emrs.local"
    _user(live_app, pwo_mail, "Psychiatric Welfare Officer")
    doctor_id = _user(live_app, f"resident.room.{tag}@browser.emrs.local", "Resident")
    record_id, adl_no = _setup(live_app, doctor_id)

    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/intake/record-room")
    _sign_in(page, live_app, pwo_mail, "/intake/record-room")

    # 1. the new file is waiting to be put away: store it with its shelf
    new_row = page.locator("#new-files tr", has_text=adl_no)
    new_row.locator("input[name=location]").fill("Rack P-7")
    new_row.get_by_role("button", name="Store").click()
    page.wait_for_url(base + "/intake/record-room")
    assert "is now in the record room (Rack P-7)" in page.locator(".flashes").inner_text()

    # 2. it is listed under "To retrieve for today" with the doctor's room and the shelf
    row = page.locator("#to-retrieve tr", has_text=adl_no)
    assert "Rack P-7" in row.inner_text() and "R-11" in row.inner_text()
    shot(page, f"record-room-{tag}")
    # "Select all" ticks every file of the list (and clears them again).
    page.locator("[data-select-all=bulk-retrieve]").check()
    assert all(b.is_checked() for b in page.locator("input[form=bulk-retrieve]").all())
    page.locator("[data-select-all=bulk-retrieve]").uncheck()
    assert not any(b.is_checked() for b in page.locator("input[form=bulk-retrieve]").all())
    row.locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Retrieve selected").click()
    page.wait_for_url(base + "/intake/record-room/bulk-retrieve")
    assert "✓" in page.locator(".rr-results").inner_text() and adl_no in page.locator(".rr-results").inner_text()
    shot(page, f"record-room-bulk-{tag}")
    page.get_by_role("link", name="Back to the record room").click()

    # 3. out of the record room, with the doctor of today's visit (not the clerk who fetched it)
    out_row = page.locator("#out-of-room tr", has_text=adl_no)
    assert f"Dr Resident Room {tag.capitalize()}" in out_row.inner_text()
    assert page.locator("#to-retrieve tr", has_text=adl_no).count() == 0
    out_row.get_by_role("button", name="Return").click()
    page.wait_for_url(base + "/intake/record-room")
    assert "returned to the record room" in page.locator(".flashes").inner_text()
    assert page.locator("#out-of-room tr", has_text=adl_no).count() == 0

    # 4. the history, newest first
    page.locator("#to-retrieve tr", has_text=adl_no).get_by_role("link", name="History").click()
    page.wait_for_url(base + f"/intake/{record_id}/movements")
    moves = page.locator(".rr-history tbody tr td[data-label=Move]").all_inner_texts()
    assert [m.strip() for m in moves] == ["returned", "retrieved", "stored", "created"]
    assert "Room R-11" in page.locator(".rr-history").inner_text()
    shot(page, f"record-room-history-{tag}")
    assert not errors, errors
    ctx.close()
