"""Rating-scale pages as a user meets them: the picker and the form (a welfare officer gets the
self-report scales only), the live score fragment, saving with the visit, bad answers shown
beside their items with nothing stored, the saved assessment with its risk acknowledgement, the
patient page's banner and trend charts, Today's Patients' risk marker, and the kiosk."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select

from emrs.assessments.models import Assessment, KioskSession
from emrs.extensions import db
from emrs.timeutil import today_ist

from ..factories import patient_row
from ..opd.helpers import room, seat

HX = {"HX-Request": "true"}
PHQ9 = {"q1": 2, "q2": 2, "q3": 1, "q4": 2, "q5": 1, "q6": 1, "q7": 1, "q8": 1, "q9": 0}  # 11 Moderate


def _form(answers, instrument="phq9", **extra):
    return {"instrument": instrument, **{f"a-{k}": str(v) for k, v in answers.items()}, **extra}


def _count():
    return db.session.execute(select(func.count(Assessment.id))).scalar_one()


def test_picker_and_form_show_every_item_with_number_keyed_answers(role_client):
    p = patient_row("Baljit Kaur")
    doc = role_client("resident")
    page = unescape(doc.get(f"/patients/{p.id}/assessments/new").get_data(as_text=True))
    for name in ("PHQ-9", "GAD-7", "AUDIT", "HAM-D", "YMRS", "BPRS", "CGI"):
        assert name in page
    form = unescape(doc.get(f"/patients/{p.id}/assessments/new?instrument=phq9").get_data(as_text=True))
    assert form.count('type="radio" name="a-q') == 10 * 4  # nine scored items and the difficulty question
    assert "Little interest or pleasure in doing things" in form
    assert 'hx-post="/patients/%d/assessments/score"' % p.id in form and 'id="live-score"' in form
    assert "js/scale-form.js" in form
    assert doc.get(f"/patients/{p.id}/assessments/new?instrument=nope").status_code == 404


def test_welfare_officer_gets_self_report_scales_without_scores(role_client):
    p = patient_row("Kuldeep Singh")
    pwo = role_client("pwo")
    page = unescape(pwo.get(f"/patients/{p.id}/assessments/new").get_data(as_text=True))
    assert "PHQ-9" in page and "HAM-D" not in page and "BPRS" not in page
    assert pwo.get(f"/patients/{p.id}/assessments/new?instrument=hamd17").status_code == 404
    form = pwo.get(f"/patients/{p.id}/assessments/new?instrument=phq9").get_data(as_text=True)
    assert 'id="live-score"' not in form and "Hand the tablet to the patient" in form
    resp = pwo.post(f"/patients/{p.id}/assessments", data=_form({**PHQ9, "q9": 2}))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/patients/{p.id}")
    shown = unescape(pwo.get(resp.headers["Location"]).get_data(as_text=True))
    assert "PHQ-9 saved for a clinician to confirm." in shown
    assert "tell the doctor before the patient leaves" in shown
    row = db.session.scalars(select(Assessment).where(Assessment.patient_id == p.id)).one()
    assert (row.source, row.confirmed_at, row.risk_status) == ("staff", None, "open")
    assert pwo.get(f"/assessments/{row.id}").status_code == 403


def test_live_score_fragment_counts_missing_items_and_shows_the_flag(role_client):
    p = patient_row("Amandeep Kaur")
    doc = role_client("resident")
    frag = unescape(doc.post(f"/patients/{p.id}/assessments/score", data=_form({"q1": 3, "q9": 1}),
                             headers=HX).get_data(as_text=True))
    assert "<html" not in frag and "7 items to answer" in frag and "Risk item positive" in frag
    frag = unescape(doc.post(f"/patients/{p.id}/assessments/score", data=_form(PHQ9), headers=HX)
                    .get_data(as_text=True))
    assert "<strong>11</strong>" in frag and "Moderate" in frag and "to answer" not in frag


def test_save_links_the_visit_and_shows_the_score(role_client, users):
    p = patient_row("Gurpreet Singh")
    doc = role_client("resident")
    resp = doc.post(f"/patients/{p.id}/assessments", data=_form(PHQ9))
    assert resp.status_code == 302
    page = unescape(doc.get(resp.headers["Location"]).get_data(as_text=True))
    assert "PHQ-9 saved: 11 of 27 (Moderate)." in page and "Little interest" in page
    row = db.session.scalars(select(Assessment).where(Assessment.patient_id == p.id)).one()
    assert row.assessed_on == today_ist() and row.entered_by == users["resident"].id


def test_missing_and_bad_answers_are_shown_beside_the_items_and_nothing_is_saved(role_client):
    p = patient_row("Harpreet Kaur")
    doc = role_client("resident")
    before = _count()
    answers = dict(PHQ9)
    del answers["q4"]
    resp = doc.post(f"/patients/{p.id}/assessments", data=_form({**answers, "q2": 9}))
    page = unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422 and _count() == before
    assert 'id="item-q2"' in page and 'class="scale-item has-error" id="item-q2"' in page
    assert 'class="scale-item has-error" id="item-q4"' in page
    assert re.search(r'name="a-q1" value="2"\s+checked', page)  # the answers given are kept


def test_risk_banner_on_patient_page_and_today_until_acknowledged(role_client, users):
    r = room("31")
    seat(users["resident"], r)
    p = patient_row("Manpreet Kaur")
    role_client("pwo").post("/opd/counter/requeue", data={"patient_id": str(p.id), "room": "31"})
    doc = role_client("resident")
    doc.post(f"/patients/{p.id}/assessments", data=_form({**PHQ9, "q9": 1}))
    row = db.session.scalars(select(Assessment).where(Assessment.patient_id == p.id)).one()
    patient_page = unescape(doc.get(f"/patients/{p.id}").get_data(as_text=True))
    assert "Risk item not yet acknowledged." in patient_page and f"/assessments/{row.id}#acknowledge" in patient_page
    assert "PHQ-9 total" in patient_page and "<svg" in patient_page  # the trend chart
    today = unescape(doc.get("/patients/today").get_data(as_text=True))
    assert "Manpreet Kaur" in today and ">Risk item</a>" in today
    resp = doc.post(f"/assessments/{row.id}/acknowledge", data={"action": ""})
    assert resp.status_code == 422 and "Write the action taken" in unescape(resp.get_data(as_text=True))
    resp = doc.post(f"/assessments/{row.id}/acknowledge", data={"action": "Safety plan; seen by consultant"})
    assert resp.status_code == 302
    assert "Risk item not yet acknowledged." not in unescape(doc.get(f"/patients/{p.id}").get_data(as_text=True))
    assert ">Risk item</a>" not in unescape(doc.get("/patients/today").get_data(as_text=True))
    shown = unescape(doc.get(f"/assessments/{row.id}").get_data(as_text=True))
    assert "Acknowledged by " + users["resident"].name in shown and "Safety plan; seen by consultant" in shown


def test_patient_scales_page_lists_and_charts_every_score(role_client):
    p = patient_row("Jaspreet Kaur")
    doc = role_client("faculty")
    doc.post(f"/patients/{p.id}/assessments", data=_form(PHQ9))
    doc.post(f"/patients/{p.id}/assessments", data=_form({f"q{i}": 1 for i in range(1, 8)}, instrument="gad7"))
    page = unescape(doc.get(f"/patients/{p.id}/assessments").get_data(as_text=True))
    assert "PHQ-9 total" in page and "GAD-7 total" in page and page.count("<svg") >= 2
    assert "Moderate" in page
    only = unescape(doc.get(f"/patients/{p.id}/assessments?instrument=gad7").get_data(as_text=True))
    assert "GAD-7 total" in only and "PHQ-9 total" not in only


def test_kiosk_hands_one_scale_to_the_patient_and_ends_itself(app, role_client, users):
    p = patient_row("Simranjit Kaur Dhillon")
    pwo = role_client("pwo")
    resp = pwo.post(f"/patients/{p.id}/assessments/kiosk", data={"instrument": "hamd17"})
    assert resp.status_code == 302 and "assessments/new" in resp.headers["Location"]  # clinician-rated: refused
    resp = pwo.post(f"/patients/{p.id}/assessments/kiosk", data={"instrument": "phq9"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/kiosk")
    # the staff member is signed out on this browser: no patient data behind the kiosk
    assert pwo.get(f"/patients/{p.id}").status_code == 302
    page = unescape(pwo.get("/kiosk").get_data(as_text=True))
    assert "Simranjit, please answer these questions" in page and "Dhillon" not in page
    assert 'id="live-score"' not in page and p.cr_no not in page
    resp = pwo.post("/kiosk", data={f"a-q{i}": "1" for i in range(1, 4)})
    assert resp.status_code == 422 and "Please answer every question." in unescape(resp.get_data(as_text=True))
    resp = pwo.post("/kiosk", data={f"a-{k}": str(v) for k, v in PHQ9.items()})
    assert resp.status_code == 200 and "Your answers are saved for your doctor." in resp.get_data(as_text=True)
    row = db.session.scalars(select(Assessment).where(Assessment.patient_id == p.id)).one()
    assert (row.source, row.confirmed_at, row.total, row.entered_by) == ("kiosk", None, 11, users["pwo"].id)
    # ended: the form is gone
    assert pwo.get("/kiosk").status_code == 403
    kiosk = db.session.scalars(select(KioskSession).where(KioskSession.patient_id == p.id)).one()
    assert kiosk.end_reason == "submitted" and kiosk.assessment_id == row.id
    # a clinician sees it waiting for confirmation and confirms it
    doc = role_client("resident")
    assert "1 to confirm" in unescape(doc.get(f"/patients/{p.id}").get_data(as_text=True))
    doc.post(f"/assessments/{row.id}/confirm")
    assert db.session.get(Assessment, row.id).confirmed_by == users["resident"].id


def test_kiosk_without_a_session_shows_hand_back(client):
    before = _count()
    resp = client.get("/kiosk")
    assert resp.status_code == 403 and "hand the tablet back" in resp.get_data(as_text=True)
    resp = client.post("/kiosk", data={f"a-{k}": str(v) for k, v in PHQ9.items()})
    assert resp.status_code == 403 and _count() == before


def test_scored_from_the_proforma_and_the_follow_up_note_links_them(role_client, users):
    from emrs.clinical import service as proformas
    from emrs.followups import service as followups
    from flask import g
    p = patient_row("Rajwinder Kaur")
    doc = role_client("resident")
    with doc.application.test_request_context():
        g.principal = users["resident"]
        pf, _record, _rx = proformas.create({"patient_id": p.id, "visit_date": today_ist().isoformat(),
                                             "diagnosis": "Depressive episode"}, users["resident"])
        fu, _n, _t = followups.create({"patient_id": p.id, "clinical_assessment": "Better"}, users["resident"])
        pf_id, fu_id = pf.id, fu.id
    page = unescape(doc.get(f"/clinical/proformas/{pf_id}").get_data(as_text=True))
    link = f"/patients/{p.id}/assessments/new?proforma_id={pf_id}"
    assert link in page
    form = unescape(doc.get(link + "&instrument=gad7").get_data(as_text=True))
    assert f'name="proforma_id" value="{pf_id}"' in form
    doc.post(f"/patients/{p.id}/assessments", data=_form({f"q{i}": 2 for i in range(1, 8)}, instrument="gad7",
                                                        proforma_id=str(pf_id)))
    assert f"/patients/{p.id}/assessments/new?followup_id={fu_id}" in unescape(
        doc.get(f"/follow-ups/{fu_id}").get_data(as_text=True))
    doc.post(f"/patients/{p.id}/assessments", data=_form(PHQ9, followup_id=str(fu_id)))
    rows = {r.instrument: r for r in db.session.scalars(select(Assessment).where(Assessment.patient_id == p.id))}
    # each record's page lists the scales scored from it
    assert f'/assessments/{rows["gad7"].id}">GAD-7: 14 · Moderate' in unescape(
        doc.get(f"/clinical/proformas/{pf_id}").get_data(as_text=True))
    assert f'/assessments/{rows["phq9"].id}">PHQ-9: 11 · Moderate' in unescape(
        doc.get(f"/follow-ups/{fu_id}").get_data(as_text=True))
    assert rows["gad7"].proforma_id == pf_id and rows["gad7"].total == 14
    note_visit = db.session.get(type(fu), fu_id).visit_id
    assert note_visit is not None and (rows["phq9"].followup_id, rows["phq9"].visit_id) == (fu_id, note_visit)


def test_kiosk_hand_over_revokes_the_staff_session_and_expires_after_30_minutes(role_client, users):
    import datetime as dt

    from emrs.auth.models import UserSession
    p = patient_row("Paramjit Kaur")
    doc = role_client("resident")
    live_before = db.session.scalars(select(UserSession).where(UserSession.user_id == users["resident"].id,
                                                               UserSession.revoked_at.is_(None))).all()
    assert len(live_before) == 1
    doc.post(f"/patients/{p.id}/assessments/kiosk", data={"instrument": "gad7"})
    row = db.session.get(UserSession, live_before[0].id)
    assert row.revoked_at is not None and row.revoked_reason == "kiosk"
    kiosk = db.session.scalars(select(KioskSession).where(KioskSession.patient_id == p.id)).one()
    assert kiosk.instrument == "gad7" and kiosk.ended_at is None and len(kiosk.token_hash) == 64
    assert doc.get("/kiosk").status_code == 200
    kiosk.expires_at = kiosk.created_at - dt.timedelta(seconds=1)  # 30 minutes later
    db.session.commit()
    resp = doc.get("/kiosk")
    ended = unescape(resp.get_data(as_text=True))
    assert resp.status_code == 403 and "hand the tablet back" in ended
    assert "Paramjit" not in ended and "GAD-7" not in ended and 'type="radio"' not in ended  # nothing of the patient
    assert db.session.get(KioskSession, kiosk.id).end_reason == "expired"
    before = _count()
    assert doc.post("/kiosk", data={f"a-q{i}": "1" for i in range(1, 8)}).status_code == 403
    assert _count() == before


def test_todays_patients_banner_counts_patients_with_an_open_risk_item(role_client, users):
    from emrs.patients.models import PatientVisit
    r = room("32")
    seat(users["resident"], r)
    pwo = role_client("pwo")
    people = [patient_row(n) for n in ("Navjot Kaur", "Simran Gill", "Tejinder Pal")]
    for p in people:
        pwo.post("/opd/counter/requeue", data={"patient_id": str(p.id), "room": "32"})
    doc = role_client("resident")
    today = unescape(doc.get("/patients/today").get_data(as_text=True))
    assert "with an open risk item" not in today  # nobody yet
    doc.post(f"/patients/{people[0].id}/assessments", data=_form({**PHQ9, "q9": 1}))
    doc.post(f"/patients/{people[1].id}/assessments", data=_form({**PHQ9, "q9": 3}))
    doc.post(f"/patients/{people[1].id}/assessments", data=_form({**PHQ9, "q9": 2}))  # still one patient
    doc.post(f"/patients/{people[2].id}/assessments", data=_form(PHQ9))                # no risk item
    visits = {v.patient_id: v.id for v in db.session.scalars(select(PatientVisit).where(
        PatientVisit.patient_id.in_([p.id for p in people])))}
    for page in (doc.get("/patients/today"), doc.get("/opd/today/list")):  # the page and its 15 s poll
        html = unescape(page.get_data(as_text=True))
        banner = html[html.index('class="risk-banner today-risk"'):]
        banner = banner[:banner.index("</div>")]
        assert "2 patients with an open risk item" in banner
        assert f'href="#visit-{visits[people[0].id]}">Navjot Kaur</a>' in banner
        assert f'href="#visit-{visits[people[1].id]}">Simran Gill</a>' in banner
        assert "Tejinder Pal" not in banner
        assert f'<tr id="visit-{visits[people[0].id]}"' in html  # the link scrolls to the row
    # A welfare officer reads no scores: no banner, no badge.
    shown = unescape(pwo.get("/patients/today").get_data(as_text=True))
    assert "Navjot Kaur" in shown and "open risk item" not in shown and ">Risk item</a>" not in shown
    row = db.session.scalars(select(Assessment).where(Assessment.patient_id == people[0].id)).one()
    doc.post(f"/assessments/{row.id}/acknowledge", data={"action": "Seen by consultant; safety plan"})
    html = unescape(doc.get("/patients/today").get_data(as_text=True))
    assert "1 patient with an open risk item" in html


def _kiosk_screen(page: str) -> dict:
    """The data attributes of the kiosk page's screen (what static/js/kiosk.js reads)."""
    tag = re.search(r'<div id="kiosk-screen"([^>]*)>', page).group(1)
    return dict(re.findall(r'data-kiosk-([a-z-]+)="([^"]*)"', tag))


def test_kiosk_page_carries_its_expiry_for_the_tablets_timer(app, role_client):
    import datetime as dt
    p = patient_row("Hardeep Kaur Bains")
    doc = role_client("resident")
    doc.post(f"/patients/{p.id}/assessments/kiosk", data={"instrument": "phq9"})
    kiosk = db.session.scalars(select(KioskSession).where(KioskSession.patient_id == p.id)).one()
    page = unescape(doc.get("/kiosk").get_data(as_text=True))
    screen = _kiosk_screen(page)
    expires = kiosk.expires_at.replace(tzinfo=dt.timezone.utc) if kiosk.expires_at.tzinfo is None else kiosk.expires_at
    assert screen["expires-at"] == expires.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 1790 <= int(screen["seconds-left"]) <= 1800  # 30 minutes by default
    assert (expires - kiosk.created_at.replace(tzinfo=expires.tzinfo)) == dt.timedelta(minutes=30)
    assert screen["ended-url"] == "/kiosk" and "js/kiosk.js" in page
    # The form and the patient's first name are inside the screen the timer clears.
    inside = page[page.index('<div id="kiosk-screen"'):page.index("js/kiosk.js")]
    assert "Hardeep, please answer" in inside and 'action="/kiosk"' in inside


def test_kiosk_duration_is_a_setting(app, role_client):
    p = patient_row("Kamaljit Singh Brar")
    doc = role_client("resident")
    app.config["KIOSK_SESSION_SECONDS"] = 90
    try:
        doc.post(f"/patients/{p.id}/assessments/kiosk", data={"instrument": "gad7"})
    finally:
        app.config["KIOSK_SESSION_SECONDS"] = 1800
    kiosk = db.session.scalars(select(KioskSession).where(KioskSession.patient_id == p.id)).one()
    assert (kiosk.expires_at - kiosk.created_at).total_seconds() == 90
    assert 85 <= int(_kiosk_screen(unescape(doc.get("/kiosk").get_data(as_text=True)))["seconds-left"]) <= 90


def test_hand_back_without_finishing_ends_the_kiosk_and_shows_nothing_of_the_patient(role_client, users):
    from emrs.audit.models import AuditLog
    p = patient_row("Jasvir Kaur Grewal")
    doc = role_client("pwo")
    doc.post(f"/patients/{p.id}/assessments/kiosk", data={"instrument": "phq9"})
    assert "Jasvir, please answer" in unescape(doc.get("/kiosk").get_data(as_text=True))
    before = _count()
    resp = doc.post("/kiosk/end", data={"a-q1": "2"})  # answers ticked on the way are not kept
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    kiosk = db.session.scalars(select(KioskSession).where(KioskSession.patient_id == p.id)).one()
    assert kiosk.end_reason == "handed_back" and kiosk.ended_at is not None and kiosk.assessment_id is None
    assert _count() == before
    ends = db.session.scalars(select(AuditLog).where(AuditLog.action == "kiosk_end",
                                                     AuditLog.entity_id == str(kiosk.id))).all()
    assert [(e.details or {}).get("reason") for e in ends] == ["handed_back"]
    for page in (doc.get("/login"), doc.get("/kiosk"), doc.get(f"/patients/{p.id}", follow_redirects=True)):
        html = unescape(page.get_data(as_text=True))
        assert "Jasvir" not in html and "Grewal" not in html and p.cr_no not in html
    assert doc.get("/kiosk").status_code == 403
    assert doc.post("/kiosk", data={f"a-{k}": str(v) for k, v in PHQ9.items()}).status_code == 403
    assert _count() == before


def _picker(page: str) -> list[str]:
    """The instruments of the picker, in order, as their short names."""
    section = page[page.index("Choose an instrument"):]
    section = section[:section.index("</ul>")]
    return re.findall(r"<strong>([^<]+)</strong>", section)


def test_picker_puts_the_scales_for_the_patients_age_first(role_client):
    teen = patient_row("Gurleen Kaur Teen", clinic="child", age=14, sex="F")
    adult = patient_row("Balwinder Singh Adult", age=45)
    unknown = patient_row("Age Unknown Person", age=None)
    doc = role_client("resident")
    page = unescape(doc.get(f"/patients/{teen.id}/assessments/new").get_data(as_text=True))
    order = _picker(page)
    assert order[0] == "PHQ-A" and order.index("CGI-S") < order.index("PHQ-9")
    assert "suggested for age 14 (ages 11–17)" in page and "made for ages 18+" in page
    assert re.search(r'class="btn btn-primary" href="[^"]*instrument=phqa', page)  # the first choice stands out
    # A hint, not a refusal: an adult scale still opens for the child.
    assert doc.get(f"/patients/{teen.id}/assessments/new?instrument=phq9").status_code == 200
    page = unescape(doc.get(f"/patients/{adult.id}/assessments/new").get_data(as_text=True))
    order = _picker(page)
    assert order[0] == "PHQ-9" and order[-1] == "PHQ-A" and "suggested for age 45 (ages 18+)" in page
    assert "made for ages 11–17" in page
    assert doc.get(f"/patients/{adult.id}/assessments/new?instrument=phqa").status_code == 200
    page = unescape(doc.get(f"/patients/{unknown.id}/assessments/new").get_data(as_text=True))
    assert _picker(page)[:3] == ["PHQ-9", "GAD-7", "PHQ-A"] and "suggested for" not in page
    # A welfare officer gets the same order among the self-report scales.
    pwo_page = unescape(role_client("pwo").get(f"/patients/{teen.id}/assessments/new").get_data(as_text=True))
    assert _picker(pwo_page)[0] == "PHQ-A" and "HAM-D" not in _picker(pwo_page)


def test_child_proforma_and_cap_workup_offer_a_rating_scale(role_client):
    child = patient_row("Harnoor Kaur Child", clinic="child", age=13, sex="F")
    doc = role_client("resident")
    resp = doc.post(f"/clinical/child/new?patient_id={child.id}", data={
        "visit_date": today_ist().isoformat(), "reliability": "Good", "school_type": "Private",
        "presenting_complaints": "Low mood, not going to school", "provisional_diagnosis": "Depressive episode",
        "icd_code": "F32.1", "high_risk_management": "No"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    show = resp.headers["Location"]
    pf_id = int(re.search(r"/(\d+)$", show).group(1))
    page = unescape(doc.get(show).get_data(as_text=True))
    link = f"/patients/{child.id}/assessments/new?proforma_id={pf_id}"
    assert f'href="{link}">Rating scale</a>' in page
    picker = unescape(doc.get(link).get_data(as_text=True))
    assert _picker(picker)[0] == "PHQ-A"
    phqa = {**{f"q{i}": 1 for i in range(1, 10)}, "q10": 1, "q12": 0, "q13": 0}  # 9, mild
    resp = doc.post(f"/patients/{child.id}/assessments", data=_form(phqa, instrument="phqa", proforma_id=str(pf_id)))
    assert resp.status_code == 302
    row = db.session.scalars(select(Assessment).where(Assessment.patient_id == child.id)).one()
    assert row.proforma_id == pf_id and row.total == 9
    assert f'/assessments/{row.id}">PHQ-A: 9 · Mild' in unescape(doc.get(show).get_data(as_text=True))
    # The CAP work-up page links the picker too.
    opened = doc.post("/cap/open", data={"patient_id": str(child.id)})
    rid = int(re.search(r"/cap/(\d+)/edit", opened.headers["Location"]).group(1))
    cap = unescape(doc.get(f"/cap/{rid}").get_data(as_text=True))
    assert f'href="/patients/{child.id}/assessments/new">Rating scale</a>' in cap


def test_instruments_with_unconfirmed_terms_are_marked_in_the_picker_and_on_the_form(role_client, client, h):
    p = patient_row("Terms Check Person", age=30)
    doc = role_client("faculty")
    page = unescape(doc.get(f"/patients/{p.id}/assessments/new").get_data(as_text=True))
    section = page[page.index("Choose an instrument"):]
    items = {re.search(r"<strong>([^<]+)</strong>", li).group(1): li
             for li in re.findall(r"<li.*?</li>", section, re.S)}
    marked = {name for name, li in items.items() if "terms to be confirmed by the hospital" in li}
    assert marked == {"PHQ-A", "YMRS"}
    for code, shown in (("ymrs", True), ("phqa", True), ("phq9", False), ("hamd17", False)):
        form = unescape(doc.get(f"/patients/{p.id}/assessments/new?instrument={code}").get_data(as_text=True))
        assert ("Terms to be confirmed by the hospital." in form) is shown, code
    # Offered, not refused: the hospital decides; the API carries the same licence.
    data = client.get("/api/instruments/ymrs", headers=h["faculty"]).get_json()["data"]["instrument"]
    assert data["licence"]["electronic_record"] is False
    assert data["licence"]["terms"].startswith("Terms to be confirmed by the hospital.")
