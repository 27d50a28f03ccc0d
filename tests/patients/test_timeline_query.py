"""The patient page's timeline comes from one statement (a UNION ALL of every domain's
rows), with the same entries the domains built one query each before: titles, summaries,
visit numbers, section counts — and the same record-level rules (a welfare officer sees no
prescriptions, no scores and no clinical text)."""
from __future__ import annotations

import datetime as dt

from flask import g
from sqlalchemy import event

from emrs import timeline
from emrs.assessments.models import Assessment
from emrs.extensions import db
from emrs.followups import service as followups
from emrs.intake import service as intake
from emrs.intake.models import IntakeRecord
from emrs.timeutil import today_ist

from ..factories import create_prescription, register_patient

NOTE = ("Sleeping better, appetite back; still worries about work most days and avoids the market. "
        "No thoughts of self-harm. Family supportive; wife came along today.")
PHQ9 = {f"q{i}": 2 for i in range(1, 10)}  # 18, item 9 positive


def _seen(client, h) -> dict:
    """A patient with a complex-case proforma 60 days ago (so an intake record), its
    prescription, two follow-up notes and a PHQ-9."""
    p = register_patient(client, h["pwo"], name="Harjinder Singh Timeline")
    earlier = (today_ist() - dt.timedelta(days=60)).isoformat()
    resp = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": p["id"], "visit_date": earlier, "doctor_decision": "complex_case",
        "diagnosis": "Moderate depressive episode", "icd_code": "F32.1"})
    assert resp.status_code == 201, resp.get_json()
    pf = resp.get_json()["data"]["clinical_proforma"]  # a complex case answers with its intake file too
    rx = create_prescription(client, h["resident"], pf["id"])
    notes = []
    for days_ago, text in ((30, "Better."), (0, NOTE)):
        resp = client.post("/api/follow-ups", headers=h["resident"], json={
            "patient_id": p["id"], "clinical_assessment": text,
            "visit_date": (today_ist() - dt.timedelta(days=days_ago)).isoformat()})
        assert resp.status_code == 201, resp.get_json()
        notes.append(resp.get_json()["data"])
    resp = client.post(f"/api/patients/{p['id']}/assessments", headers=h["resident"],
                       json={"instrument": "phq9", "answers": PHQ9})
    assert resp.status_code == 201, resp.get_json()
    return {"patient": p, "proforma": pf, "prescription": rx, "notes": notes,
            "assessment": resp.get_json()["data"]["assessment"]}


def _entries_as(app, user, patient_id):
    """timeline.entries() as the page calls it for ``user``, and the statements it sent."""
    sent = []

    def note(conn, cursor, statement, *args):
        if not statement.startswith("PREPARE "):  # once per pooled connection (emrs/prepared.py)
            sent.append(statement)

    with app.test_request_context("/"):
        g.principal = db.session.merge(user)
        assert g.principal.role  # loaded before counting
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            got = timeline.entries(patient_id, 50)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
    return got, sent


def _union_sql(statement: str) -> str:
    """The UNION behind the statement sent: itself, or on PostgreSQL the prepared statement
    that ``EXECUTE emrs_timeline_…`` runs."""
    for prepared in timeline._UNIONS.values():
        if f"EXECUTE {prepared.name}(" in statement:
            return str(prepared.statement(True))
    return statement


def test_every_kind_comes_from_one_statement(app, client, h, users):
    seen = _seen(client, h)
    pid = seen["patient"]["id"]
    got, sent = _entries_as(app, users["faculty"], pid)
    assert len(sent) == 1 and _union_sql(sent[0]).count("UNION ALL") >= 5
    assert _union_sql(sent[0]).count("FROM adl_files") == 1  # the intake and CAP kinds share one read
    by_kind = {}
    for e in got:
        by_kind.setdefault(e.kind, []).append(e)
    assert {"visit", "proforma", "prescription", "follow_up", "assessment", "intake"} <= set(by_kind)

    rx = by_kind["prescription"][0]
    assert rx.id == seen["prescription"]["id"]
    assert rx.title == "Prescription · 1 medicine" and rx.summary == "Escitalopram 10 mg"
    assert rx.url == f"/prescriptions/{rx.id}" and rx.badges == []

    pf = by_kind["proforma"][0]
    assert pf.summary == "F32.1 · Moderate depressive episode" and pf.badges == ["complex"]

    latest, first = by_kind["follow_up"]  # newest first
    day = today_ist().strftime("%d %b %Y")
    assert latest.title == f"Follow-up visit 2 of 2 · {day}" and latest.badges == ["visit 2"]
    assert latest.summary == NOTE[:120] + " …"
    assert first.title.startswith("Follow-up visit 1 of 2") and first.summary == "Better."
    assert followups.numbering(pid) == {first.id: 1, latest.id: 2}

    score = by_kind["assessment"][0]
    assert score.title == "PHQ-9: 18 / 27 · Moderately severe" and score.badges == ["risk item"]  # a clinician's: confirmed

    db.session.get(Assessment, score.id).confirmed_at = None  # as a self-report from the kiosk
    db.session.flush()
    again, _ = _entries_as(app, users["faculty"], pid)
    assert [e.badges for e in again if e.kind == "assessment"] == [["risk item", "to confirm"]]

    record = db.session.get(IntakeRecord, by_kind["intake"][0].id)
    filled = intake.section_filled(record)
    assert by_kind["intake"][0].summary.startswith(f"{sum(filled.values())} of {len(filled)} sections filled")

    assert [e.when for e in got] == sorted((e.when for e in got), reverse=True)


def test_a_welfare_officer_gets_no_prescriptions_scores_or_clinical_text(app, client, h, users):
    seen = _seen(client, h)
    got, sent = _entries_as(app, users["pwo"], seen["patient"]["id"])
    assert len(sent) == 1
    kinds = {e.kind for e in got}
    assert "prescription" not in kinds and "assessment" not in kinds
    sql = _union_sql(sent[0])
    assert "FROM patient_visits" in sql  # the union itself is checked, not a wrapper
    assert "FROM prescriptions" not in sql and "FROM assessments" not in sql
    for e in got:
        if e.kind in ("proforma", "follow_up"):
            assert e.summary == "" and e.url is None
    assert not any("Moderate depressive" in e.summary or "Better." in e.summary for e in got)


def test_the_database_counts_filled_sections_as_section_filled_does(app, client, h, users):
    seen = _seen(client, h)
    record = db.session.get(IntakeRecord, intake.for_patient(seen["patient"]["id"]).id)
    # Empty in every way the Python check knows: "", 0, False, [] — and some filled fields.
    empties = {"informants": [], "family_history_father_age": 0, "family_history_father_deceased": False,
               "physical_pallor": False}
    for name, value in empties.items():
        setattr(record, name, value)
    record.complaints_patient = [{"complaint": "low mood", "duration": "3 months"}]
    record.personal_birth_date = dt.date(1980, 5, 1)
    record.physical_oedema = True
    db.session.flush()
    row = db.session.execute(intake.timeline_rows(), {"patient_id": record.patient_id}).one()
    filled = intake.section_filled(record)
    assert row.num1 == sum(filled.values()) and row.num2 == len(filled)
    assert 0 < row.num1 < row.num2


HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(1)> & 'quotes'"


def test_an_entry_is_escaped_where_people_wrote_it():
    """An entry writes its own item (TimelineEntry.__html__): whatever a person or another
    system wrote, and every link, is escaped; kinds are identifiers or refused."""
    import pytest
    from markupsafe import Markup, escape

    e = timeline.TimelineEntry(kind="follow_up", id=7, when=dt.datetime(2025, 3, 5, 4, 0, tzinfo=dt.timezone.utc),
                               title=HOSTILE, summary=HOSTILE, url='/x?a=1&b="2"', detail_url="/d?<x>",
                               badges=[HOSTILE])
    html = str(Markup(escape(e)))
    assert "<script>" not in html and "<img" not in html and HOSTILE not in html
    assert html.count(str(escape(HOSTILE))) == 3  # title, summary, badge
    assert 'href="/x?a=1&amp;b=&#34;2&#34;"' in html and 'hx-get="/d?&lt;x&gt;"' in html
    assert '<time datetime="2025-03-05T04:00:00+00:00">05 Mar 2025</time>' in html
    assert 'aria-controls="tl-d-follow_up-7"' in html and 'id="tl-d-follow_up-7"' in html
    with pytest.raises(ValueError):
        timeline.TimelineEntry(kind='visit" onclick="x', id=1, when=e.when, title="t")


def test_the_page_shows_a_hostile_note_as_text(client, h, role_client):
    p = register_patient(client, h["pwo"], name="Escape Timeline")
    earlier = (today_ist() - dt.timedelta(days=30)).isoformat()
    resp = client.post("/api/clinical-proformas", headers=h["resident"], json={
        "patient_id": p["id"], "visit_date": earlier, "diagnosis": "Adjustment disorder"})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/follow-ups", headers=h["resident"], json={
        "patient_id": p["id"], "clinical_assessment": HOSTILE, "visit_date": today_ist().isoformat()})
    assert resp.status_code == 201, resp.get_json()
    html = role_client("faculty").get(f"/patients/{p['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert 'class="tl tl-follow_up"' in html and 'class="tl tl-proforma"' in html
