"""Backup and restore: the restore drill (seed, back up, wipe, restore, compare row
counts) on the test database's backend, and the CLI's refusals."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from emrs import create_app
from emrs.backup import BackupError, backup, restore, schema_from_engine_options
from emrs.extensions import db

from ..conftest import make_config
from ..dbutil import base_url, drop_database, is_pg

pytestmark = pytest.mark.no_rollback


def _counts() -> dict[str, int]:
    names = sorted(inspect(db.engine).get_table_names())
    return {n: db.session.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar() for n in names}


def _release(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_restore_drill(tmp_path):
    if is_pg(base_url()) and (shutil.which("pg_dump") is None or shutil.which("pg_restore") is None):
        pytest.skip("pg_dump/pg_restore are not installed (Debian: postgresql-client)")
    app = create_app(make_config("backupdrill"))
    try:
        with app.app_context():
            upgrade()
        with app.test_request_context():
            from emrs.audit import service as audit
            from emrs.seed import seed_demo
            seed_demo()
            audit.record("backup_drill", "users", 1)
            db.session.commit()
            before = _counts()
        assert before["users"] >= 4 and before["registered_patient"] >= 1 and before["audit_log"] >= 1
        _release(app)

        runner = app.test_cli_runner()
        target = tmp_path / "drill.backup"
        result = runner.invoke(args=["backup", "--output", str(target)])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == str(target.resolve()) and target.stat().st_size > 0

        # Wipe: every table dropped. Emptying the tables is not possible: the audit trail
        # refuses TRUNCATE (and DELETE) at the database; dropping it is a DBA's act.
        with app.app_context():
            if db.engine.dialect.name == "postgresql":
                with pytest.raises(Exception, match="append-only"):
                    db.session.execute(text("TRUNCATE audit_log"))
                db.session.rollback()
                names = ", ".join(f'"{n}"' for n in before)
                db.session.execute(text(f"DROP TABLE {names} CASCADE"))
                db.session.commit()
            else:
                db.drop_all()
                db.session.execute(text("DROP TABLE alembic_version"))
                db.session.commit()
            assert inspect(db.engine).get_table_names() == []
        _release(app)

        refused = runner.invoke(args=["restore", str(target)])
        assert refused.exit_code != 0 and "--yes" in refused.output
        result = runner.invoke(args=["restore", str(target), "--yes"])
        assert result.exit_code == 0, result.output

        with app.app_context():
            assert _counts() == before
            # The append-only triggers came back with the table.
            refused = ["DELETE FROM audit_log", "UPDATE audit_log SET action = 'x'"]
            if db.engine.dialect.name == "postgresql":
                refused.append("TRUNCATE audit_log")
            for sql in refused:
                with pytest.raises(Exception, match="append-only"):
                    db.session.execute(text(sql))
                    db.session.flush()
                db.session.rollback()
    finally:
        _release(app)
        drop_database("backupdrill")


def test_restore_refuses_a_missing_file(tmp_path):
    app = create_app(make_config("backupmissing", database=False,
                                 SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.sqlite'}"))
    result = app.test_cli_runner().invoke(args=["restore", str(tmp_path / "nope.dump"), "--yes"])
    assert result.exit_code != 0 and "does not exist" in result.output
    with pytest.raises(BackupError, match="does not exist"):
        restore(f"sqlite:///{tmp_path / 'x.sqlite'}", tmp_path / "nope.dump")


def test_restore_refuses_a_file_that_is_not_a_sqlite_backup(tmp_path):
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not a database")
    with pytest.raises(BackupError, match="not a SQLite database"):
        restore(f"sqlite:///{tmp_path / 'x.sqlite'}", bogus)


def test_backup_errors_are_clear(tmp_path):
    with pytest.raises(BackupError, match="in-memory"):
        backup("sqlite://", tmp_path / "m.sqlite")
    with pytest.raises(BackupError, match="does not exist"):
        backup(f"sqlite:///{tmp_path / 'absent.sqlite'}", tmp_path / "a.sqlite")
    with pytest.raises(BackupError, match="mysql"):
        backup("mysql://u@h/db", tmp_path / "x")


def test_schema_from_engine_options():
    assert schema_from_engine_options({"connect_args": {"options": "-csearch_path=emrs_a_1,public"}}) == "emrs_a_1"
    assert schema_from_engine_options({"connect_args": {"options": "-c search_path=s2"}}) == "s2"
    assert schema_from_engine_options({"connect_args": {"connect_timeout": 3}}) is None
    assert schema_from_engine_options(None) is None
