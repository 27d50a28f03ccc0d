"""The OPD flow in Chromium: a welfare officer registers a patient in two steps,
finds them by a misspelled name, sends them to a doctor; the doctor sees them in
Today's Patients, opens the timeline, uploads a scan and completes the visit."""
from __future__ import annotations

import struct
import zlib

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def _png() -> bytes:
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xcc\x88\x44" * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_register_find_assign_see_upload_complete(live_app, browser, shot):
    base = live_app.config["LIVE_URL"]
    pwo_mail, doc_mail = "pwo.flow@browser.emrs.local", "doctor.flow@browser.emrs.local"
    _user(live_app, pwo_mail, "Psychiatric Welfare Officer")
    _user(live_app, doc_mail, "Resident")
    from emrs.auth.models import User
    from emrs.extensions import db
    from emrs.opd.models import Room
    with live_app.app_context():
        doctor_name = db.session.execute(db.select(User.name).where(User.email == doc_mail)).scalar_one()
        # Assignments name a real room once rooms exist (other browser tests add some).
        if db.session.execute(db.select(Room).where(Room.number_key == "r-12")).scalar_one_or_none() is None:
            db.session.add(Room(room_number="R-12", number_key="r-12", doctor_capacity=2))
            db.session.commit()

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, pwo_mail, "/")

    # Step 1: the out-patient card.
    page.click("nav.mainnav >> text=Register")
    page.wait_for_url(base + "/patients/new")
    page.fill("#f-name", "Baljinder Kaur Dhillon")
    page.fill("#f-age", "38")
    page.select_option("#f-sex", "F")
    page.fill("#f-contact_number", "9876001122")
    page.fill("#f-father_name", "Karnail Singh")
    page.fill("#f-pin_code", "160012")
    shot(page, "flow-card")
    page.click("main button[type=submit]")
    page.wait_for_url("**/record")
    assert "Out-patient card saved" in page.content()
    # Step 2: the out-patient record.
    page.fill("#f-allergies", "Sulfa drugs")
    page.select_option("#f-marital_status", "married")
    page.click("main button[type=submit]")
    page.wait_for_url("**/patients/*")
    patient_url = page.url
    assert "Sulfa drugs" in page.content()

    # Find her again by a misspelled name in the header search, as you type.
    page.goto(base + "/")
    page.fill("#qs", "Baljindar Kour")
    page.wait_for_selector("#qs-results .quick-list a", timeout=3000)
    shot(page, "flow-quick-search")
    page.click("#qs-results .quick-list a >> nth=0")
    page.wait_for_url(patient_url)

    # Send her to the doctor.
    page.select_option("#a-doc", label=f"{doctor_name} (Junior Resident)")
    page.fill("#a-room", "R-12")
    page.click("form.assign-form button[type=submit]")
    page.wait_for_url(patient_url)
    assert "Assigned to" in page.content()
    page.click("header button[type=submit]")  # sign out

    # The doctor: Today's Patients, the timeline, a scan, done.
    page.goto(base + "/login")
    _sign_in(page, live_app, doc_mail, "/")
    page.click("nav.mainnav >> text=Today's patients")
    page.wait_for_url(base + "/patients/today")
    assert "Baljinder Kaur Dhillon" in page.content() and "R-12" in page.content()
    shot(page, "flow-today")
    page.click("text=Baljinder Kaur Dhillon")
    page.wait_for_url(patient_url)
    page.click(".tl-visit .tl-more")
    page.wait_for_selector(".tl-detail dl", timeout=3000)
    assert "R-12" in page.inner_text(".tl-detail")
    page.wait_for_selector("#patient-files .pf-input", state="attached", timeout=5000)
    page.set_input_files("#patient-files .pf-input", files=[{"name": "referral-letter.png", "mimeType": "image/png",
                                                            "buffer": _png()}])
    page.click("#patient-files .pf-submit")
    page.wait_for_selector("#patient-files-list >> text=referral-letter.png", timeout=5000)
    shot(page, "flow-patient-page")
    page.once("dialog", lambda d: d.accept())  # the one-click change asks first
    page.click("text=/Mark visit of .* completed/")
    page.wait_for_url(patient_url)
    assert "marked as completed" in page.content()
    page.goto(base + "/patients/today")
    assert "Baljinder Kaur Dhillon" not in page.inner_text("table")
    ctx.close()
