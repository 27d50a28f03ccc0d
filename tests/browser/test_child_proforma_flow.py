"""The child walk-in proforma in Chromium: a seated doctor opens a child from Today's Patients,
fills the child form by keyboard, prescribes an antidepressant (the under-18 suicidality warning
is shown and needs an override reason) and prints the PDF, which carries the child's own name and
the strength (checked with pdftotext). The whole first visit of one child: a welfare officer
registers the child on the page and queues it in a room, then the doctor of that room does the rest."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]

CHILD = "Manpreet Kaur Child"


def _setup(app, doctor_id, pwo_id):
    from flask import g

    from emrs.auth.models import User
    from emrs.extensions import db
    from emrs.opd import queue, rooms
    from emrs.opd.models import Room
    from emrs.patients.models import Patient
    with app.test_request_context():
        room = db.session.execute(db.select(Room).where(Room.number_key == "c9")).scalar_one_or_none()
        if room is None:
            room = Room(room_number="C9", number_key="c9", doctor_capacity=2)
            db.session.add(room)
            db.session.commit()
        child = Patient(name=CHILD, sex="F", age=14, clinic="child", cr_no="CRBROWSERCHILD1", cgc_number="CGC-B-1")
        db.session.add(child)
        db.session.commit()
        doctor, pwo = db.session.get(User, doctor_id), db.session.get(User, pwo_id)
        g.principal = doctor
        rooms.sit(doctor, room)
        db.session.commit()
        g.principal = pwo
        queue.queue(child, room, pwo)
        db.session.commit()
        return child.id, child.cr_no


def test_child_proforma_prescription_and_pdf(live_app, browser, shot, tmp_path):
    base = live_app.config["LIVE_URL"]
    doc_mail = "doctor.child@browser.emrs.local"
    doc_id = _user(live_app, doc_mail, "Resident")
    pwo_id = _user(live_app, "pwo.child@browser.emrs.local", "Psychiatric Welfare Officer")
    child_id, cr = _setup(live_app, doc_id, pwo_id)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, doc_mail, "/")
    _first_visit(page, base, CHILD, child_id, cr, shot, tmp_path)
    ctx.close()


def _seat(app, doctor_id, number):
    """The doctor sits in room `number` today (made when missing), as the room page does."""
    from flask import g

    from emrs.auth.models import User
    from emrs.extensions import db
    from emrs.opd import rooms
    from emrs.opd.models import Room
    with app.test_request_context():
        room = db.session.execute(db.select(Room).where(Room.number_key == number.lower())).scalar_one_or_none()
        if room is None:
            room = Room(room_number=number, number_key=number.lower(), doctor_capacity=2)
            db.session.add(room)
            db.session.commit()
        g.principal = db.session.get(User, doctor_id)
        rooms.sit(g.principal, room)
        db.session.commit()


def test_one_child_from_registration_on_the_page_to_the_prescription_pdf(live_app, browser, shot, tmp_path):
    """Registration (welfare officer, /children/new, queued in room C7) -> Today's Patients of the
    doctor seated in C7 -> child proforma -> prescription with the under-18 warning -> PDF."""
    base = live_app.config["LIVE_URL"]
    name = "Jasleen Kaur Walkthrough"
    doc_mail = "doctor.walk@browser.emrs.local"
    pwo_mail = "pwo.walk@browser.emrs.local"
    doc_id = _user(live_app, doc_mail, "Resident")
    _user(live_app, pwo_mail, "Psychiatric Welfare Officer")
    _seat(live_app, doc_id, "C7")

    pwo_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    desk = pwo_ctx.new_page()
    desk.goto(base + "/login")
    _sign_in(desk, live_app, pwo_mail, "/")
    desk.goto(base + "/children/new")
    desk.fill("#f-name", name)
    desk.select_option("#f-sex", label="Female")
    desk.fill("#f-age", "14")
    desk.fill("#f-contact_number", "9876512399")
    desk.fill("#f-head_name", "Gurpreet Kaur")
    desk.select_option("#f-head_relationship", "Mother")
    desk.select_option("#f-queue_room", "C7")
    desk.click("#child-form button[type=submit] >> text=Register child")
    desk.wait_for_url("**/opd/visits/*/slip")
    slip = desk.inner_text("main")
    assert name in slip and "room C7" in slip
    shot(desk, "child-walk-slip")
    pwo_ctx.close()

    from emrs.extensions import db
    from emrs.patients.models import Patient
    with live_app.app_context():
        child = db.session.execute(db.select(Patient).where(Patient.name == name)).scalar_one()
        assert child.clinic == "child" and child.cgc_number and child.age == 14
        child_id, cr = child.id, child.cr_no

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, doc_mail, "/")
    _first_visit(page, base, name, child_id, cr, shot, tmp_path, tag="child-walk")
    ctx.close()


def _first_visit(page, base, name, child_id, cr, shot, tmp_path, tag="child"):
    """A seated doctor: Today's Patients -> the child proforma by keyboard -> fluoxetine with the
    under-18 warning and an override reason -> the PDF with the child's name, CR and strength."""
    # Today's Patients: the child's row, "Proforma" by keyboard.
    page.goto(base + "/patients/today")
    assert name in page.content()
    row = page.locator("tr", has_text=name)
    row.get_by_role("button", name="Proforma").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/clinical/child/new?patient_id={child_id}")
    assert "Child walk-in clinical proforma" in page.content()
    assert page.input_value("#f-age") == "14"  # the registered age

    # The form by keyboard: text, a radio, checkboxes, the diagnosis; Enter on the save button.
    page.focus("#f-informant_relationship")
    page.keyboard.type("Mother")
    page.focus("input[name=reliability][value=Good]")
    page.keyboard.press("Space")
    page.focus("#f-presenting_complaints")
    page.keyboard.type("Low mood and crying spells for three months")
    for value in ("sadness", "sleep_disturbance"):
        page.focus(f"input[name=emotional_psychological_symptoms][value={value}]")
        page.keyboard.press("Space")
    page.focus("#f-mse_mood_affect")
    page.keyboard.type("Sad, restricted affect")
    page.focus("#f-provisional_diagnosis")
    page.keyboard.type("Moderate depressive episode")
    page.focus("#f-icd_code")
    page.keyboard.type("F32.1")
    page.focus("#child-proforma-form button[type=submit]")
    page.keyboard.press("Enter")
    # (the form's own URL, /clinical/child/new?…, would match a glob: wait for the saved proforma's page)
    page.wait_for_url(lambda u: u.split("?")[0].rstrip("/").rsplit("/", 1)[-1].isdigit())
    text = page.inner_text("main")
    assert "Sadness, Sleep disturbance" in text and "F32.1" in text and "Mother" in text
    shot(page, f"{tag}-proforma-show")

    # Prescribe fluoxetine: the under-18 warning; saving asks for the override reason.
    page.click("text=Prescribe")
    page.wait_for_url("**/prescriptions/proforma/*")
    page.fill("input[name='lines-0-medicine']", "Fluoxetine")
    page.fill("input[name='lines-0-strength']", "10 mg")
    page.fill("input[name='lines-0-dosage']", "1-0-0")
    page.locator("input[name='lines-0-dosage']").dispatch_event("change")
    page.wait_for_selector("#rx-warnings .rx-warnings", timeout=5000)
    warning = page.inner_text("#rx-warnings")
    assert "under 18" in warning and "suicidal" in warning
    shot(page, f"{tag}-rx-warning")
    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_selector("textarea[name=override_reason]", timeout=5000)
    page.fill("textarea[name=override_reason]", "Moderate depression, CBT not enough; weekly review with parents")
    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_url("**/prescriptions/*")
    assert "Saved over drug-safety warnings" in page.content()
    pdf_url = page.get_attribute("text=Print (A5 PDF)", "href")
    resp = page.request.get(base + pdf_url)
    assert resp.status == 200 and resp.body().startswith(b"%PDF")
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is needed to read the PDF"
    path = tmp_path / f"{tag}-rx.pdf"
    path.write_bytes(resp.body())
    pdf_text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert name in pdf_text and cr in pdf_text and "10 mg" in pdf_text
