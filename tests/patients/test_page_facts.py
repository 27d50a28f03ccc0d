"""The patient page's small facts (an open visit, the proforma "Prescribe" starts from, "seen
before?", how many scores) come from one statement (emrs/facts.py), each fact written by its
own domain: they must be what the domains answer, and what the page shows."""
from __future__ import annotations

import datetime as dt

from flask import url_for
from sqlalchemy import event, select

from emrs import facts
from emrs.clinical.models import ClinicalProforma
from emrs.extensions import db
from emrs.followups import service as followups
from emrs.patients.models import PatientVisit
from emrs.timeutil import today_ist

from ..factories import create_proforma, register_patient

PHQ9 = {f"q{i}": 1 for i in range(1, 10)}


def _open_visit(pid):
    """The newest scheduled or in-progress visit, asked the plain way."""
    return db.session.execute(select(PatientVisit.id, PatientVisit.visit_date).where(
        PatientVisit.patient_id == pid, PatientVisit.visit_status.in_(("scheduled", "in_progress")))
        .order_by(PatientVisit.visit_date.desc(), PatientVisit.id.desc()).limit(1)).first()


def _expand(statement: str) -> str:
    """The SQL behind a statement sent: itself, or on PostgreSQL the prepared statement that
    ``EXECUTE emrs_facts_…`` runs."""
    for prepared in facts._STATEMENTS.values():
        if f"EXECUTE {prepared.name}(" in statement:
            return str(prepared.statement(True))
    return statement


def _facts(app, pid):
    with app.test_request_context("/"):
        return facts.read(pid, facts.known())


def _page(c, pid):
    sent = []

    def note(conn, cursor, statement, *args):
        # Not the test's own transaction; not a PREPARE (sent once per pooled connection, on
        # its first use: emrs/prepared.py).
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "PREPARE ")):
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        resp = c.get(f"/patients/{pid}")
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert resp.status_code == 200
    return resp.get_data(as_text=True), sent


def test_the_facts_are_what_each_domain_answers(app, client, h, users):
    p = register_patient(client, h["pwo"], name="Jaswinder Kaur Facts")
    pid = p["id"]
    first = _facts(app, pid)
    visit = _open_visit(pid)
    assert (first.open_visit_id, first.open_visit_date) == ((visit.id, visit.visit_date) if visit else (None, None))
    assert first.latest_proforma is None and first.scored == 0
    assert bool(first.seen_before) is followups.returning(pid) is False  # registered today, never seen

    earlier = today_ist() - dt.timedelta(days=40)
    old = create_proforma(client, h["resident"], pid, visit_date=earlier.isoformat())
    assert bool(_facts(app, pid).seen_before) is followups.returning(pid) is True  # seen 40 days ago
    assert _facts(app, pid).latest_proforma == old["id"]
    newer = create_proforma(client, h["resident"], pid, visit_date=(earlier + dt.timedelta(days=10)).isoformat())
    assert _facts(app, pid).latest_proforma == newer["id"]  # by visit date
    db.session.get(ClinicalProforma, newer["id"]).is_active = False  # withdrawn: no longer the one
    db.session.commit()
    assert _facts(app, pid).latest_proforma == old["id"]

    resp = client.post(f"/api/patients/{pid}/assessments", headers=h["resident"],
                       json={"instrument": "phq9", "answers": PHQ9})
    assert resp.status_code == 201, resp.get_json()
    assert _facts(app, pid).scored == 1


def test_the_page_shows_the_facts_and_asks_for_them_once(app, client, h, users, role_client):
    p = register_patient(client, h["pwo"], name="Baldev Singh Facts")
    pid = p["id"]
    admin = role_client("admin")
    html, sent = _page(admin, pid)
    with app.test_request_context("/"):
        follow_up = url_for("followups.new", patient_id=pid)
    assert follow_up not in html and "Prescribe" not in html
    # The session row, the record with its audit row (one prepared statement on PostgreSQL,
    # two elsewhere), the audit panel, the facts, the timeline and the doctors of the assign form.
    assert len(sent) == (6 if db.engine.dialect.name == "postgresql" else 7), [q[:80] for q in sent]
    with_facts = [_expand(q) for q in sent if "AS latest_proforma" in _expand(q)]
    assert len(with_facts) == 1 and "AS open_visit_id" in with_facts[0] and "AS scored" in with_facts[0]
    assert not any(_expand(q).lstrip().startswith(("SELECT patient_visits.", "SELECT clinical_proforma.",
                                                    "SELECT assessments.")) for q in sent)
    visit = _open_visit(pid)
    if visit is not None:
        assert f"Mark visit of {visit.visit_date.strftime('%d %b')} completed" in html

    pf = create_proforma(client, h["resident"], pid,
                         visit_date=(today_ist() - dt.timedelta(days=20)).isoformat())
    faculty = role_client("faculty")
    html, _ = _page(faculty, pid)
    with app.test_request_context("/"):
        prescribe = url_for("prescriptions.edit", proforma_id=pf["id"])
    assert f'href="{follow_up}"' in html and f'href="{prescribe}"' in html

    pwo, _ = _page(role_client("pwo"), pid)  # may write neither: offered neither
    assert follow_up not in pwo and prescribe not in pwo


def test_the_send_to_doctor_list_is_every_active_doctor(client, h, users, role_client):
    """The assign form's choices (a prepared statement without parameters on PostgreSQL): each
    active Faculty member and Resident with the grade or role, nobody deactivated or else."""
    from emrs.auth import users as accounts

    p = register_patient(client, h["pwo"], name="Choices Page")
    admin = role_client("admin")
    html, _ = _page(admin, p["id"])
    doctors = accounts.active_doctors()
    assert {u.role for u in doctors} == {"Faculty", "Resident"}
    for u in doctors:
        assert f'<option value="{u.id}" >{u.name} ({u.sub_role or u.role})</option>' in html \
            or f'<option value="{u.id}" selected>{u.name} ({u.sub_role or u.role})</option>' in html
    assert f'<option value="{users["pwo"].id}"' not in html.split('id="assign-h"')[1].split("</form>")[0]
    users["faculty"].is_active = False
    db.session.commit()
    form = _page(admin, p["id"])[0].split('id="assign-h"')[1].split("</form>")[0]
    assert f'<option value="{users["faculty"].id}"' not in form
    assert f'<option value="{users["resident"].id}"' in form
