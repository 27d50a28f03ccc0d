"""The one migration chain builds the whole schema and removes it again."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from emrs import create_app
from emrs.extensions import db

from ..conftest import make_config
from ..dbutil import drop_database

TABLES = {
    "users", "user_sessions", "refresh_tokens", "login_otps", "password_reset_tokens", "audit_log",
    "registered_patient", "patient_visits", "patient_files", "clinical_proforma", "clinical_options",
    "adl_files", "file_movements", "prescriptions", "medicines", "prescription_templates", "drafts",
    "number_sequences", "idempotency_keys",
}


@pytest.mark.no_rollback
def test_upgrade_then_downgrade_base():
    app = create_app(make_config("migrations"))
    try:
        with app.app_context():
            upgrade()
            names = set(inspect(db.engine).get_table_names())
            assert TABLES <= names
            cols = {c["name"] for c in inspect(db.engine).get_columns("clinical_proforma")}
            assert "version" in cols and "doctor_decision" in cols
            uniques = {tuple(u["column_names"]) for u in inspect(db.engine).get_unique_constraints("registered_patient")}
            assert ("cr_no",) in uniques
            if db.engine.dialect.name == "sqlite":  # table rebuilds of later migrations keep it
                names = {n for (n,) in db.session.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'medicines'"))}
                assert "uq_medicines_generic_name_ci" in names
            downgrade(revision="base")
            left = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
            assert left == set()
            upgrade()  # and up again, cleanly
            assert TABLES <= set(inspect(db.engine).get_table_names())
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database("migrations")


def test_audit_log_is_append_only_in_the_database(app, ctx):
    from emrs.audit import service as audit
    row = audit.record("test_event", "users", 1)
    db.session.commit()
    with pytest.raises(Exception) as exc:
        db.session.execute(text("UPDATE audit_log SET action = 'changed' WHERE id = :id"), {"id": row.id})
        db.session.flush()
    assert "append-only" in str(exc.value)
    db.session.rollback()
    with pytest.raises(Exception) as exc:
        db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": row.id})
    assert "append-only" in str(exc.value)
    db.session.rollback()


def test_name_words_has_fine_statistics_on_postgresql(app):
    """Migration 0009: a misspelt word nobody has must be planned as rare (GIN index), not
    as a walk over the whole register (bench/README.md)."""
    from sqlalchemy import text

    from emrs.extensions import db
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() >= "0009"
            return
        target = db.session.execute(text(
            "SELECT a.attstattarget FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.oid = 'registered_patient'::regclass AND a.attname = 'name_words'")).scalar()
        assert target == 1000
