from __future__ import annotations

from sqlalchemy import func, select

from emrs.auth.models import User
from emrs.extensions import db
from emrs.patients.models import Patient


def test_users_create_prints_id_and_refuses_duplicates(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "cli.user@test.emrs.local", "--name", "Cli User",
                                 "--role", "Faculty", "--password", "Cli-pass-123"])
    assert result.exit_code == 0, result.output
    new_id = int(result.output.strip())
    assert db.session.get(User, new_id).role == "Faculty"
    again = runner.invoke(args=["users", "create", "--email", "cli.user@test.emrs.local", "--name", "Cli User",
                                "--role", "Faculty", "--password", "Cli-pass-123"])
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(args=["users", "create", "--email", "x2@test.emrs.local", "--name", "X",
                              "--role", "Nurse", "--password", "Cli-pass-123"])
    assert bad.exit_code != 0 and "Role must be one of" in bad.output


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@emrs.local" in first.output and "instance/outbox" in first.output
    users = db.session.execute(select(func.count(User.id))).scalar_one()
    patients = db.session.execute(select(func.count(Patient.id))).scalar_one()
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "exists" in second.output
    assert db.session.execute(select(func.count(User.id))).scalar_one() == users
    assert db.session.execute(select(func.count(Patient.id))).scalar_one() == patients
    roles = set(db.session.execute(select(User.role).where(User.email.like("%@emrs.local"))).scalars())
    assert roles == {"Admin", "Faculty", "Resident", "Psychiatric Welfare Officer"}
