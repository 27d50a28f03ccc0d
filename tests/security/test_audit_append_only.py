"""The audit trail is append-only: the application's session refuses to change or
delete an audit row (before_flush and bulk-statement guards), and the database refuses
UPDATE, DELETE and emptying the table (triggers of migrations 0001 and 0007). Every
route of the app runs with these guards on in the route matrix and audit walks, so a
code path that touched an audit row would show there as a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update

from emrs.audit import service as audit
from emrs.audit.models import AuditAppendOnly, AuditLog
from emrs.extensions import db


def _row() -> AuditLog:
    row = audit.record("append_only_check", "users", 1, details={"fields": ["name"]})
    db.session.commit()
    return row


def _stored(row_id: int) -> tuple:
    db.session.expire_all()
    return db.session.execute(select(AuditLog.action, AuditLog.details).where(AuditLog.id == row_id)).one()


def test_the_session_refuses_to_change_an_audit_row(app, ctx):
    row = _row()
    row.action = "rewritten"
    with pytest.raises(AuditAppendOnly, match="cannot be changed"):
        db.session.flush()
    db.session.rollback()
    assert _stored(row.id) == ("append_only_check", {"fields": ["name"]})


def test_the_session_refuses_to_delete_an_audit_row(app, ctx):
    row = _row()
    db.session.delete(row)
    with pytest.raises(AuditAppendOnly, match="cannot be deleted"):
        db.session.commit()
    db.session.rollback()
    assert _stored(row.id)[0] == "append_only_check"


@pytest.mark.parametrize("statement", [
    lambda rid: update(AuditLog).where(AuditLog.id == rid).values(action="rewritten"),
    lambda rid: delete(AuditLog).where(AuditLog.id == rid),
    lambda rid: delete(AuditLog),
], ids=["bulk update", "bulk delete", "delete all"])
def test_the_session_refuses_bulk_statements_on_audit_rows(app, ctx, statement):
    row = _row()
    with pytest.raises(AuditAppendOnly, match="bulk UPDATE/DELETE"):
        db.session.execute(statement(row.id))
    db.session.rollback()
    assert _stored(row.id)[0] == "append_only_check"


def test_new_rows_and_other_tables_are_unaffected(app, ctx, users):
    row = _row()
    user = users["resident"]
    user.name = "Renamed Resident"  # an ordinary update in the same session still works
    audit.record("second_event", "users", user.id)
    db.session.commit()
    assert db.session.execute(select(AuditLog.action).where(AuditLog.id > row.id)).scalars().all() == ["second_event"]


def _refused(sql: str, params=None):
    with pytest.raises(Exception) as exc:
        db.session.execute(text(sql), params or {})
        db.session.flush()
    db.session.rollback()
    return str(exc.value)


def test_the_database_refuses_update_delete_and_emptying_the_table(app, ctx, users):
    row = _row()
    assert "append-only" in _refused("UPDATE audit_log SET action = 'rewritten' WHERE id = :id", {"id": row.id})
    assert "append-only" in _refused("DELETE FROM audit_log WHERE id = :id", {"id": row.id})
    if db.engine.dialect.name == "postgresql":
        message = _refused("TRUNCATE audit_log")
        assert "append-only" in message and "TRUNCATE" in message
        # Emptying a table that audit rows point at would cascade into the trail: refused too.
        assert "append-only" in _refused("TRUNCATE users CASCADE")
    else:
        # SQLite has no TRUNCATE; its equivalent, DELETE without WHERE, meets the row trigger.
        assert "append-only" in _refused("DELETE FROM audit_log")
    assert _stored(row.id)[0] == "append_only_check"
    assert db.session.get(type(users["admin"]), users["admin"].id) is not None
