"""static/js/autosave.js in Chromium against the live app: typing is saved as a draft;
after the session ends, the next keystrokes are kept in the tab, the user signs in again,
comes back and finds them restored and saved; leaving the page sends the last typing by
beacon; "My unsaved drafts" discards.

The product has no test page: the form is added to the real "My unsaved drafts" page
(/drafts/, which loads autosave.js) and attached with window.EMRSAutosave.attach()."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from .test_login_flow import _sign_in, _user

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]

WAIT_MS = 45_000  # the machine may be busy: be generous
KEY = "proforma:new"

INJECT = """(pid) => {
  const f = document.createElement('form');
  f.id = 'as-form';
  f.method = 'post';
  f.action = '/drafts/';
  f.setAttribute('data-autosave-key', 'proforma:new');
  f.setAttribute('data-autosave-patient', String(pid));
  f.setAttribute('data-autosave-url', '/drafts/save');
  f.innerHTML = `
    <input type="hidden" name="csrf_token" value="ignored">
    <label>Complaint <input id="t-complaint" name="chief_complaint"></label>
    <label>History <textarea id="t-history" name="history"></textarea></label>
    <label>Mood <select id="t-mood" name="mood"><option value="">—</option>
      <option value="euthymic">Euthymic</option><option value="low">Low</option></select></label>
    <label><input type="checkbox" id="t-s-sleep" name="symptoms" value="sleep"> sleep</label>
    <label><input type="checkbox" id="t-s-appetite" name="symptoms" value="appetite"> appetite</label>
    <label><input type="checkbox" id="t-s-energy" name="symptoms" value="energy"> energy</label>
    <label><input type="radio" id="t-risk-low" name="risk" value="low"> low</label>
    <label><input type="radio" id="t-risk-high" name="risk" value="high"> high</label>
    <p class="autosave-status" data-autosave-status></p>`;
  document.querySelector('main').appendChild(f);
  return !!window.EMRSAutosave.attach(f);
}"""

STATUS = "document.querySelector('#as-form [data-autosave-status]').textContent"


def _patient(app) -> int:
    from emrs.extensions import db
    from emrs.patients.models import Patient
    with app.app_context():
        p = db.session.execute(select(Patient).where(Patient.cr_no == "CRAUTOSAVE001")).scalar_one_or_none()
        if p is None:
            p = Patient(name="Simranjit Kaur Brar", name_key="smrnjt kr brr", cr_no="CRAUTOSAVE001")
            db.session.add(p)
            db.session.commit()
        return p.id


def _draft_data(app, uid: int, pid: int):
    from emrs.drafts.models import Draft
    from emrs.extensions import db
    with app.app_context():
        row = db.session.execute(select(Draft).where(Draft.user_id == uid, Draft.patient_id == pid,
                                                     Draft.form_key == KEY)).scalar_one_or_none()
        return None if row is None else dict(row.data)


def _wait_for_draft(app, uid, pid, check, seconds=45):
    deadline = time.monotonic() + seconds
    data = None
    while time.monotonic() < deadline:
        data = _draft_data(app, uid, pid)
        if data is not None and check(data):
            return data
        time.sleep(0.3)
    raise AssertionError(f"draft not as expected: {data!r}")


def _wait_saved(page):
    # (wait_for_function would eval() a string in the page, which the CSP rightly forbids)
    from playwright.sync_api import expect
    expect(page.locator("#as-form [data-autosave-status]")).to_have_text(
        re.compile(r"^Draft saved \d\d:\d\d$"), timeout=WAIT_MS)
    return page.evaluate(STATUS)


def test_typing_survives_session_timeout_and_reload(live_app, browser, shot):
    from emrs.auth.models import UserSession
    from emrs.extensions import db
    from emrs.models_base import utcnow

    base = live_app.config["LIVE_URL"]
    addr = "resident.autosave@browser.emrs.local"
    uid = _user(live_app, addr, "Resident")
    pid = _patient(live_app)
    stash = f"emrs-draft:u{uid}:{KEY}:{pid}"

    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(base + "/login?next=/drafts/")
    _sign_in(page, live_app, addr, "/drafts/")
    assert "You have no unsaved drafts." in page.content()

    # 1. Typing is saved (debounced) as a server-side draft of this user, patient and form.
    assert page.evaluate(INJECT, pid) is True
    page.fill("#t-complaint", "Low mood")
    page.fill("#t-history", "Low mood for three months")
    page.select_option("#t-mood", "low")
    page.check("#t-s-sleep")
    page.check("#t-s-energy")
    page.check("#t-risk-high")
    _wait_saved(page)
    data = _wait_for_draft(live_app, uid, pid, lambda d: d.get("risk") == "high")
    assert data == {"chief_complaint": "Low mood", "history": "Low mood for three months", "mood": "low",
                    "symptoms": ["sleep", "energy"], "risk": "high"}
    shot(page, "autosave-saved")

    # 2. The session ends (inactivity); the user goes on typing.
    with live_app.app_context():
        for row in db.session.execute(select(UserSession).where(UserSession.user_id == uid)).scalars():
            row.last_activity = utcnow() - timedelta(hours=1)
        db.session.commit()
    page.evaluate("""() => {
      for (const [id, on] of [['t-s-energy', false], ['t-s-appetite', true]]) {
        const box = document.getElementById(id);
        box.checked = on;
        box.dispatchEvent(new Event('change', {bubbles: true}));
      }
    }""")
    page.fill("#t-history", "Low mood for three months; early morning waking")
    page.wait_for_url("**/login?next=**", timeout=WAIT_MS)
    assert page.url == base + "/login?next=/drafts/"
    assert "session ended after a period of inactivity" in page.content()
    kept = page.evaluate(f"JSON.parse(sessionStorage.getItem('{stash}'))")
    assert kept["fields"]["history"] == "Low mood for three months; early morning waking" and kept["t"] > 0
    # The server still has the draft from before the timeout.
    assert _draft_data(live_app, uid, pid)["history"] == "Low mood for three months"

    # 3. Sign in again: back on the page; the form comes back with what was typed after
    #    the timeout, and it is saved to the server at once.
    _sign_in(page, live_app, addr, "/drafts/")
    assert "Simranjit Kaur Brar" in page.content()  # the draft is listed
    assert page.evaluate(INJECT, pid) is True
    assert page.input_value("#t-history") == "Low mood for three months; early morning waking"
    assert page.input_value("#t-complaint") == "Low mood"
    assert page.input_value("#t-mood") == "low"
    assert page.is_checked("#t-s-sleep") and page.is_checked("#t-s-appetite") and not page.is_checked("#t-s-energy")
    assert page.is_checked("#t-risk-high")
    _wait_saved(page)
    data = _wait_for_draft(live_app, uid, pid, lambda d: "early morning" in d.get("history", ""))
    assert data["symptoms"] == ["sleep", "appetite"] and data["risk"] == "high"
    assert page.evaluate(f"sessionStorage.getItem('{stash}')") is None
    shot(page, "autosave-restored")

    # 4. Leaving the page right after typing (before the debounce): the beacon carries it.
    page.fill("#t-history", "Typed just before leaving")
    page.goto(base + "/drafts/")
    _wait_for_draft(live_app, uid, pid, lambda d: d.get("history") == "Typed just before leaving")

    # 5. "My unsaved drafts": discard it; nothing brings it back.
    assert "Simranjit Kaur Brar" in page.content() and "CRAUTOSAVE001" in page.content()
    page.click("tr[data-draft-id] button[type=submit]")
    page.wait_for_selector("text=Draft discarded.", timeout=WAIT_MS)
    assert "You have no unsaved drafts." in page.content()
    assert _draft_data(live_app, uid, pid) is None
    assert page.evaluate(f"sessionStorage.getItem('{stash}')") is None
    assert not [e for e in errors if "Content Security Policy" in e], errors
    ctx.close()


def test_submit_stops_autosave(live_app, browser):
    base = live_app.config["LIVE_URL"]
    addr = "faculty.autosave@browser.emrs.local"
    uid = _user(live_app, addr, "Faculty")
    pid = _patient(live_app)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login?next=/drafts/")
    _sign_in(page, live_app, addr, "/drafts/")
    assert page.evaluate(INJECT, pid) is True
    page.fill("#t-complaint", "Anxiety")
    _wait_saved(page)
    # Typing then submitting: autosave stops (the page's own save clears the draft).
    page.evaluate("""() => {
      const f = document.getElementById('as-form');
      f.addEventListener('submit', (e) => e.preventDefault());  // stay on the page to watch
      f.setAttribute('hx-post', '/nowhere');                    // as an htmx form would
    }""")
    page.fill("#t-complaint", "Anxiety, panic attacks")  # schedules a save in 1.5 s ...
    page.evaluate("document.getElementById('as-form').requestSubmit()")  # ... the submit cancels it
    page.wait_for_timeout(4000)  # longer than the debounce
    assert _draft_data(live_app, uid, pid)["chief_complaint"] == "Anxiety"
    assert page.evaluate("window.EMRSAutosave.controllers()[0].dirty()") is False  # paused
    ctx.close()


STASHES = """() => [sessionStorage, localStorage].flatMap(s => Object.keys(s)).filter(k => k.startsWith('emrs-draft:'))"""


def test_a_shared_computer_never_gives_one_users_typing_to_the_next(live_app, browser):
    """Item 12: user A types, A's session ends (typing kept in the tab); user B signs in on
    the same browser and opens the same form: nothing of A's appears, nothing is saved as
    B's, and A's copy is gone. Then B signs out: no copy of anybody's typing is left."""
    from emrs.auth.models import UserSession
    from emrs.extensions import db
    from emrs.models_base import utcnow

    base = live_app.config["LIVE_URL"]
    a_addr, b_addr = "resident.shared-a@browser.emrs.local", "resident.shared-b@browser.emrs.local"
    a_uid, b_uid = _user(live_app, a_addr, "Resident"), _user(live_app, b_addr, "Resident")
    pid = _patient(live_app)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    page.goto(base + "/login?next=/drafts/")
    _sign_in(page, live_app, a_addr, "/drafts/")
    assert page.evaluate(INJECT, pid) is True
    page.fill("#t-complaint", "Secret of user A")
    _wait_saved(page)
    _wait_for_draft(live_app, a_uid, pid, lambda d: d.get("chief_complaint") == "Secret of user A")

    # A's session ends while A goes on typing: the typing is kept in this tab for A.
    with live_app.app_context():
        for row in db.session.execute(select(UserSession).where(UserSession.user_id == a_uid)).scalars():
            row.last_activity = utcnow() - timedelta(hours=1)
        db.session.commit()
    page.fill("#t-history", "Typed by A after the timeout")
    page.wait_for_url("**/login?next=**", timeout=WAIT_MS)
    stashes = page.evaluate(STASHES)
    assert len(stashes) == 1 and "Typed by A" in page.evaluate(f"sessionStorage.getItem('{stashes[0]}')")
    assert stashes == [f"emrs-draft:u{a_uid}:{KEY}:{pid}"]  # kept for A only

    # B signs in on the same browser and opens the same form for the same patient.
    _sign_in(page, live_app, b_addr, "/drafts/")
    assert page.evaluate(INJECT, pid) is True
    assert page.input_value("#t-complaint") == "" and page.input_value("#t-history") == ""
    page.wait_for_timeout(4000)  # longer than the autosave debounce
    assert _draft_data(live_app, b_uid, pid) is None  # nothing was saved as B's
    assert page.evaluate(STASHES) == []  # A's copy was dropped, not offered
    assert _draft_data(live_app, a_uid, pid)["chief_complaint"] == "Secret of user A"  # A's own draft stays A's

    # B types and signs out: the typing is saved as B's draft, no copy stays in the browser.
    page.fill("#t-complaint", "Typed by B")
    page.evaluate("""() => sessionStorage.setItem('emrs-draft:u999999:proforma:new:1', '{"fields": {}}')""")
    page.click("form[data-emrs-logout] button[type=submit]")
    page.wait_for_url(base + "/login", timeout=WAIT_MS)
    assert page.evaluate(STASHES) == []
    _wait_for_draft(live_app, b_uid, pid, lambda d: d.get("chief_complaint") == "Typed by B")
    ctx.close()
