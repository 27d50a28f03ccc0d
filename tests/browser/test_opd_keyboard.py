"""The OPD day by keyboard only, counting key presses (docs/opd.md quotes the figures):
the counter registers a new patient into a room and shows the slip (≤ 40 presses),
re-queues a returning patient by CR number (≤ 12), and a doctor picks a room, sees the
patient in Today's Patients and opens the proforma."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


class Keys:
    """Keyboard input that counts: every character typed and every key pressed is one."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def type(self, text: str):
        for ch in text:
            self.page.keyboard.press(ch)
            self.count += 1

    def press(self, key: str, times: int = 1):
        for _ in range(times):
            self.page.keyboard.press(key)
            self.count += 1


def _rooms(app):
    from emrs.extensions import db
    from emrs.opd.models import Room
    with app.app_context():
        for number in ("7", "8"):
            if db.session.execute(db.select(Room).where(Room.number_key == number)).scalar_one_or_none() is None:
                db.session.add(Room(room_number=number, number_key=number, doctor_capacity=2))
        db.session.commit()


def _focused(page) -> str:
    return page.evaluate("(document.activeElement && (document.activeElement.id || "
                         "document.activeElement.textContent || '')).trim()")


def test_counter_and_doctor_by_keyboard(live_app, browser, shot):
    base = live_app.config["LIVE_URL"]
    pwo_mail, doc_mail = "pwo.keys@browser.emrs.local", "doctor.keys@browser.emrs.local"
    _user(live_app, pwo_mail, "Psychiatric Welfare Officer")
    _user(live_app, doc_mail, "Resident")
    _rooms(live_app)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, pwo_mail, "/")

    # 1. A new patient: name, sex, age, room, mobile; Enter; the slip.
    page.goto(base + "/opd/counter")
    assert _focused(page) == "rq-q"  # the counter opens in the returning-patient box
    k = Keys(page)
    k.press("Tab", 3)                # box -> room -> Queue -> the new patient's name
    assert _focused(page) == "f-name"
    k.type("Asha Rani")
    k.press("Tab")
    k.type("F")                      # the sex select: typing picks "Female"
    k.press("Tab")
    k.type("34")
    k.press("Tab")
    k.type("8")                      # the room select: typing the number picks the room
    k.press("Tab")
    k.type("9876501234")
    k.press("Enter")
    page.wait_for_url("**/opd/visits/*/slip")
    text = page.inner_text("main")
    assert "Asha Rani" in text and "room 8" in text and "token 1" in text
    new_patient_keys = k.count
    shot(page, "opd-slip-page")
    assert new_patient_keys <= 40, new_patient_keys

    # 2. She comes back: the CR number typed (digits only) and Enter; her last room.
    from emrs.extensions import db
    from emrs.patients.models import Patient
    with live_app.app_context():
        cr = db.session.execute(db.select(Patient.cr_no).where(Patient.name == "Asha Rani")).scalars().first()
    page.goto(base + "/opd/counter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'rq-q'")
    k = Keys(page)
    k.type(cr[2:])
    assert page.input_value("#rq-q") == cr[2:], (cr, page.input_value("#rq-q"))  # no key lost
    k.press("Enter")
    page.wait_for_url("**/opd/visits/*/slip")
    assert "room 8" in page.inner_text("main")
    requeue_keys = k.count
    assert requeue_keys <= 12, requeue_keys
    page.click("header button[type=submit]")  # sign out

    # 3. The doctor: pick the room, see her, open the proforma.
    page.goto(base + "/login")
    _sign_in(page, live_app, doc_mail, "/")
    page.goto(base + "/patients/today")
    assert "Which room are you sitting in today?" in page.content()
    k = Keys(page)
    if _focused(page) != "room_id":
        page.focus("input[name=room_id]:checked")
    k.press("ArrowDown")             # room 7 is first; the patient is in room 8
    with page.expect_navigation():
        k.press("Enter")             # Enter on the radio submits the form
    page.wait_for_load_state()
    assert "You are in room 8 today" in page.content() and "Asha Rani" in page.content()
    shot(page, "opd-today-doctor")
    for _ in range(40):
        k.press("Tab")
        if _focused(page) == "Proforma":
            break
    assert _focused(page) == "Proforma"
    k.press("Enter")
    page.wait_for_url("**/clinical/proformas/new*")
    doctor_keys = k.count
    # Back on the list: complete (htmx, asks first), then undo; the filter box keeps its text.
    page.goto(base + "/patients/today")
    page.fill("#t-q", "asha")
    page.wait_for_timeout(600)
    page.once("dialog", lambda d: d.accept())
    page.locator("tr", has_text="Asha Rani").get_by_role("button", name="Mark completed").click()
    page.wait_for_selector("#today-list >> text=Undo", timeout=5000)
    assert "visit is completed" in page.inner_text("#today-list")
    page.click("#today-list >> text=Undo")
    page.wait_for_selector("#today-list >> text=is back in the queue", timeout=5000)
    assert "Asha Rani" in page.inner_text("#today-list") and page.input_value("#t-q") == "asha"
    print(f"\nOPD key presses: new patient {new_patient_keys}, re-queue by CR {requeue_keys}, "
          f"doctor to proforma {doctor_keys}")
    ctx.close()
