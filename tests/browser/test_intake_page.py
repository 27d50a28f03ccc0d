"""The intake work-up page in Chromium, at 1366x768 and 390x844: the section index is a
compact list beside the sections (a short block of chips on a phone), the "N of 16 sections
filled" count follows each save, a complex decision's onset reads as words in the work-up,
and saving a section logs no console error (no content-security-policy refusal)."""
from __future__ import annotations

import pytest

from .test_login_flow import _sign_in, _user
from .test_record_room import _setup

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


@pytest.mark.parametrize("width,height,tag", [(1366, 768, "desktop"), (390, 844, "phone")])
def test_intake_sections_index_count_and_no_console_errors(live_app, browser, shot, width, height, tag):
    base = live_app.config["LIVE_URL"]
    mail = f"resident.intake.{tag}@browser.emrs.local"
    doctor_id = _user(live_app, mail, "Resident")
    record_id, _adl = _setup(live_app, doctor_id)
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/intake/{record_id}/edit")
    _sign_in(page, live_app, mail, f"/intake/{record_id}/edit")
    assert page.evaluate("document.documentElement.scrollWidth") == width  # nothing scrolls sideways
    index = page.locator("nav.wu-index")
    first, second = index.locator("li").nth(0).bounding_box(), index.locator("li").nth(1).bounding_box()
    box = index.bounding_box()
    if tag == "desktop":
        # a compact list: items left-aligned, one under the other, close together
        assert first["x"] - box["x"] < 40 and 0 < second["y"] - first["y"] < 40, (box, first, second)
    else:
        assert box["height"] < 420, box  # 16 sections as wrapping chips, not 1,100 px of links
    page.screenshot(path=f"test-artifacts/intake-top-{tag}.png")
    assert page.inner_text("#wu-count") == "0 of 16 sections filled"
    sec = page.locator("#sec-complaints")
    sec.locator("input[type=text]").first.fill("Low mood for six weeks")
    sec.get_by_role("button", name="Save “Complaints & duration”").click()
    page.wait_for_selector("#sec-complaints .flash-success")
    # the count and the index entry arrive as out-of-band swaps with the saved section: wait for them
    page.wait_for_selector("nav.wu-index #idx-complaints.wu-filled")
    assert page.inner_text("#wu-count") == "1 of 16 sections filled"
    shot(page, f"intake-edit-{tag}")
    # Typing in a section and leaving without saving it: the browser asks first.
    sec.locator("input[type=text]").first.fill("Typed but not saved")
    asked = []
    page.on("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    page.evaluate("() => { const a = document.createElement('a'); a.href = '/patients'; a.id = 'away'; a.textContent = 'away'; "
                  "document.body.appendChild(a); }")
    page.click("#away", no_wait_after=True)
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and "/intake/" in page.url
    assert errors == []
    ctx.close()


def test_proforma_and_intake_record_print_on_a4_with_header_and_page_numbers(live_app, browser, tmp_path):
    """The browser's print of the proforma and the intake record (Chromium's own PDF, as the
    print dialog makes it): A4, the hospital header, the patient strip and "Page x of y"."""
    import shutil
    import subprocess
    base = live_app.config["LIVE_URL"]
    mail = "resident.print@browser.emrs.local"
    doctor_id = _user(live_app, mail, "Resident")
    record_id, adl_no = _setup(live_app, doctor_id)
    from emrs.extensions import db
    from emrs.intake.models import IntakeRecord
    with live_app.app_context():
        proforma_id = db.session.get(IntakeRecord, record_id).clinical_proforma_id
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(f"{base}/intake/{record_id}")
    _sign_in(page, live_app, mail, f"/intake/{record_id}")
    for url, name in ((f"/intake/{record_id}", "intake"), (f"/clinical/proformas/{proforma_id}", "proforma")):
        page.goto(base + url)
        assert page.is_visible("button[data-print]")
        path = tmp_path / f"{name}.pdf"
        page.pdf(path=str(path), format="A4", prefer_css_page_size=True)
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                                  check=True).stdout
            assert live_app.config["HOSPITAL_NAME"] in text and "Paramjit Kaur Sandhu" in text, name
            assert "Page 1 of" in text and adl_no in text, name
            assert "Sign out" not in text and "Dashboard" not in text, name
            info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
            assert "(A4)" in info, info
    ctx.close()
