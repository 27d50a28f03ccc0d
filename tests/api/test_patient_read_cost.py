"""GET /api/patients/<id>: the patient, its audit row and the commit in as few round trips as
the dialect allows (PostgreSQL: the read statement inserts the audit row itself), with the
same audit row either way."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select

from emrs.audit.models import AuditLog
from emrs.extensions import db

from .test_patients_api import register


def _statements(app):
    seen = []
    with app.app_context():
        engine = db.engine

    def note(_conn, _cursor, statement, *_a):
        seen.append(" ".join(statement.split())[:80])
    event.listen(engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(engine, "before_cursor_execute", note)


def _views(pid):
    return db.session.execute(select(AuditLog).where(AuditLog.patient_id == pid, AuditLog.action == "patient_view")
                              .order_by(AuditLog.id)).scalars().all()


def test_by_id_audits_the_read_with_the_same_row_in_fewer_statements(app, client, h, users):
    pid = register(client, h["pwo"])["id"]
    with app.app_context():
        assert _views(pid) == []
    seen, stop = _statements(app)
    try:
        before = dt.datetime.now(dt.timezone.utc)
        resp = client.get(f"/api/patients/{pid}", headers={**h["resident"], "X-Request-ID": "read-cost-1",
                                                          "User-Agent": "cost-test/1"})
        after = dt.datetime.now(dt.timezone.utc)
    finally:
        stop()
    assert resp.status_code == 200
    patient = resp.get_json()["data"]["patient"]
    assert patient["id"] == pid and patient["name"] == "Mohinder Singh" and "name_key" not in patient
    with app.app_context():
        rows = _views(pid)
        assert len(rows) == 1
        row = rows[0]
        assert (row.user_id, row.action, row.entity, row.entity_id, row.patient_id, row.ip_address, row.request_id,
                row.user_agent, row.details) == (users["resident"].id, "patient_view", "registered_patient", str(pid),
                                                 pid, "127.0.0.1", "read-cost-1", "cost-test/1", None)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.timezone.utc)
        assert before <= created <= after
        postgresql = db.engine.dialect.name == "postgresql"
        if postgresql:  # stored as the ORM's JSON type stores None: JSON null, as every other read's row
            from sqlalchemy import text
            kinds = db.session.execute(text("SELECT DISTINCT jsonb_typeof(details) FROM audit_log "
                                            "WHERE action = 'patient_view'")).scalars().all()
            assert kinds == ["null"]
    reads = [s for s in seen if "INSERT INTO audit_log" in s or "EXECUTE emrs_patient" in s or "registered_patient" in s]
    if postgresql:  # the session's row, then one statement: the patient and its audit row
        assert not any(s.startswith("INSERT INTO audit_log") for s in seen), seen
        assert any("EXECUTE emrs_patient_read" in s for s in seen), seen
        assert len([s for s in seen if not s.startswith(("PREPARE", "SAVEPOINT", "RELEASE"))]) == 2, seen
    else:
        assert len(reads) == 2, seen


def test_an_archived_or_missing_patient_is_404_and_not_audited(app, client, h):
    pid = register(client, h["pwo"])["id"]
    with app.app_context():
        from emrs.patients.models import Patient
        db.session.get(Patient, pid).is_active = False
        db.session.commit()
    for target in (pid, pid + 100000):
        resp = client.get(f"/api/patients/{target}", headers=h["resident"])
        assert resp.status_code == 404
        assert resp.get_json()["message"] == "Patient not found"
    with app.app_context():
        assert _views(pid) == []
