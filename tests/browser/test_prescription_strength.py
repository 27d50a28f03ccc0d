"""A strength on every line, in Chromium, on a desktop (1366×768) and a phone (390×844):
type "escit", pick Escitalopram with the keyboard, choose 10 mg from the strengths it offers,
see the live check count the quantity and refuse "300mg" in Dosage, save, and find
"Escitalopram 10 mg" on the saved page and in the PDF. The editor never scrolls sideways."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]

VIEWPORTS = {"desktop": (1366, 768), "phone": (390, 844)}


def _proforma(app, doctor_id, tag):
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.patients.models import Patient
    from emrs.timeutil import today_ist
    with app.app_context():
        p = Patient(name=f"Gurpreet Kaur Dhillon {tag}", sex="F", age=29, cr_no=f"CRSTRENGTH{tag.upper()}{doctor_id:03d}")
        db.session.add(p)
        db.session.flush()
        pf = ClinicalProforma(patient_id=p.id, filled_by=doctor_id, visit_date=today_ist() - dt.timedelta(days=1),
                              visit_type="first_visit", diagnosis="Depressive episode", icd_code="F32.1")
        db.session.add(pf)
        db.session.commit()
        return pf.id


def _no_sideways_scroll(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width == viewport, f"the page is {width}px wide in a {viewport}px viewport"


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_pick_escitalopram_choose_10_mg_save_and_print(live_app, browser, shot, tmp_path, size):
    base = live_app.config["LIVE_URL"]
    mail = f"doctor.strength.{size}@browser.emrs.local"
    uid = _user(live_app, mail, "Resident")
    proforma_id = _proforma(live_app, uid, size)
    w, h = VIEWPORTS[size]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    page = ctx.new_page()
    page.goto(base + "/login")
    _sign_in(page, live_app, mail, "/")
    page.goto(f"{base}/prescriptions/proforma/{proforma_id}")
    _no_sideways_scroll(page)

    line = page.locator(".rx-line").first
    med = line.locator("input[name$='-medicine']")
    med.click()
    med.type("escit", delay=30)
    page.wait_for_selector(".rx-line >> nth=0 >> .med-results .med-option", timeout=5000)
    med.press("ArrowDown")
    med.press("Enter")  # the keyboard picks the first option: the generic
    assert med.input_value() == "Escitalopram"
    strength = line.locator("input[name$='-strength']")
    assert page.evaluate("document.activeElement.name") == strength.get_attribute("name")  # focus moved on
    offered = line.locator("datalist option").evaluate_all("os => os.map(o => o.value)")
    assert offered == ["5 mg", "10 mg", "20 mg"]
    assert line.locator("select[name$='-form']").input_value() == "tablet"
    strength.fill("10 mg")

    # A strength typed into Dosage is refused while typing, with the reason.
    dosage = line.locator("input[name$='-dosage']")
    dosage.fill("300mg 1-0-1")
    dosage.dispatch_event("change")
    page.wait_for_selector("#l0-hint.has-error", timeout=5000)
    assert "Strength field" in page.inner_text("#l0-hint")

    dosage.fill("0-0-1")
    line.locator("select[name$='-when_to_take']").select_option("After Food")
    line.locator("input[name$='-duration_value']").fill("30")
    line.locator("select[name$='-duration_unit']").select_option("days")
    line.locator("input[name$='-duration_value']").dispatch_event("change")
    page.wait_for_selector("#l0-hint:has-text('quantity 30')", timeout=5000)
    assert "Take 1 tablet at night, after food, for 30 days." in page.inner_text("#l0-hint")
    _no_sideways_scroll(page)
    shot(page, f"rx-strength-editor-{size}")

    page.click("#rx-form button[type=submit] >> text=Save prescription")
    page.wait_for_url("**/prescriptions/*")
    content = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    assert "Escitalopram 10 mg" in content and "(tablet)" in content and "30 Days" in content
    shot(page, f"rx-strength-saved-{size}")
    _no_sideways_scroll(page)

    pdf_url = page.get_attribute("text=Print (A5 PDF)", "href")
    resp = page.request.get(base + pdf_url)
    assert resp.status == 200 and resp.body().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        path = tmp_path / "rx.pdf"
        path.write_bytes(resp.body())
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Escitalopram 10 mg" in text and "गोली" in text and "ਗੋਲੀ" in text
    ctx.close()
