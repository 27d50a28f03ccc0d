"""emrs.prepared: a read statement planned once per database connection gives the rows the
same statement gives through SQLAlchemy, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, func, select, text

from emrs.auth.models import User
from emrs.extensions import db
from emrs.prepared import Prepared


def _users_by_ids(postgresql: bool):
    ids = User.id == func.any(bindparam("ids")) if postgresql else User.id.in_(bindparam("ids", expanding=True))
    return (select(User.id, User.email, User.created_at, func.upper(User.role))
            .where(ids, User.name != bindparam("not_named")).order_by(User.id).limit(5))


USERS = Prepared("emrs_test_users", _users_by_ids, (("ids", "int[]"), ("not_named", "text")))


def test_prepared_rows_are_the_statements_rows(ctx, users):
    ids = sorted(u.id for u in users.values())
    values = {"ids": ids, "not_named": users["pwo"].name}
    plain = db.session.execute(_users_by_ids(False), values).all()
    assert [tuple(r) for r in USERS.rows(values)] == [tuple(r) for r in plain]
    assert len(plain) == 3 and users["pwo"].id not in [r[0] for r in plain]
    again = USERS.rows({"ids": ids[:1], "not_named": "nobody"})  # the same statement, run again
    assert [r[1] for r in again] == [users["admin"].email]
    if db.session.get_bind().dialect.name == "postgresql":
        prepared = db.session.execute(text("SELECT statement FROM pg_prepared_statements "
                                           "WHERE name = 'emrs_test_users'")).scalar_one()
        assert "any($1)" in prepared and "LIMIT 5" in prepared  # parameters by position, constants written in
        assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == "force_generic_plan"  # this transaction


def test_the_prepare_text_and_a_parameter_missing_from_the_statement():
    from sqlalchemy.dialects import postgresql
    sql = USERS._prepare_sql(postgresql.psycopg2.dialect())
    assert sql.startswith("PREPARE emrs_test_users (int[], text) AS SELECT")
    assert "users.id = any($1)" in sql and "users.name != $2" in sql and "LIMIT 5" in sql and "%(" not in sql
    broken = Prepared("emrs_test_broken", _users_by_ids, (("ids", "int[]"), ("nobody", "text")))
    with pytest.raises(ValueError, match="nobody"):
        broken._prepare_sql(postgresql.psycopg2.dialect())


def _named_with_constants(_postgresql: bool):
    """String constants (one with a quote and a percent sign) and labelled columns."""
    return (select(User.id.label("user_id"), User.email.label("mail"))
            .where(User.role != "it's 100% nobody", User.role == bindparam("role")).order_by(User.id))


NAMED = Prepared("emrs_test_named", _named_with_constants, (("role", "text"),), named=True)


def test_named_rows_and_string_constants_written_into_the_statement(ctx, users):
    rows = NAMED.rows({"role": users["pwo"].role})
    assert [(r.user_id, r.mail) for r in rows] == [(users["pwo"].id, users["pwo"].email)]
    from sqlalchemy.dialects import postgresql
    sql = NAMED._prepare_sql(postgresql.psycopg2.dialect())
    assert "users.role != 'it''s 100% nobody'" in sql and "users.role = $1" in sql


def test_a_string_constant_with_a_backslash_is_refused():
    from sqlalchemy.dialects import postgresql
    odd = Prepared("emrs_test_odd", lambda pg: select(User.id).where(User.role != "a\\b"), ())
    with pytest.raises(ValueError, match="neither listed nor an integer or a string"):
        odd._prepare_sql(postgresql.psycopg2.dialect())


def _active_emails(_postgresql: bool):
    return select(User.email).where(User.is_active.is_(True)).order_by(User.email)


NO_PARAMS = Prepared("emrs_test_no_params", _active_emails, ())


def test_a_statement_without_parameters(ctx, users):
    """PREPARE and EXECUTE take no parentheses when there are no parameters (PostgreSQL
    refuses `PREPARE name () AS …`); the rows are the statement's."""
    from sqlalchemy.dialects import postgresql
    sql = NO_PARAMS._prepare_sql(postgresql.psycopg2.dialect())
    assert sql.startswith("PREPARE emrs_test_no_params AS SELECT users.email") and "()" not in sql
    assert str(NO_PARAMS._execute_statement()).endswith("EXECUTE emrs_test_no_params")
    expected = sorted(u.email for u in users.values())
    assert [r[0] for r in NO_PARAMS.rows({})] == expected
    users["pwo"].is_active = False
    db.session.flush()
    assert [r[0] for r in NO_PARAMS.rows({})] == [e for e in expected if e != users["pwo"].email]


def _of_roles(_postgresql: bool):
    return select(User.email).where(User.role.in_(("Faculty", "Resident"))).order_by(User.email)


IN_CONSTANTS = Prepared("emrs_test_in_constants", _of_roles, ())


def test_an_in_list_of_constants_is_written_into_the_statement(ctx, users):
    from sqlalchemy.dialects import postgresql
    sql = IN_CONSTANTS._prepare_sql(postgresql.psycopg2.dialect())
    assert "users.role IN ('Faculty', 'Resident')" in sql and "POSTCOMPILE" not in sql
    assert [r[0] for r in IN_CONSTANTS.rows({})] == sorted(users[k].email for k in ("faculty", "resident"))
    listed = Prepared("emrs_test_in_listed", lambda _pg: select(User.email).where(
        User.id.in_(bindparam("ids", expanding=True))), ())
    with pytest.raises(ValueError, match="ids"):  # a list passed at run time must be listed, as = ANY
        listed._prepare_sql(postgresql.psycopg2.dialect())
