"""/health answers from a database check at most HEALTH_MAX_AGE seconds old (per process),
and a database that stops answering shows as disconnected within that time."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from emrs import create_app, health
from emrs.extensions import db

from ..conftest import make_config


def _select_ones(app):
    seen = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_a):
        if statement.strip().upper() == "SELECT 1":
            seen.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(engine, "before_cursor_execute", count)


@pytest.mark.no_rollback
def test_health_reuses_a_check_younger_than_a_second_then_checks_again():
    app = create_app({**make_config("health_age"), "HEALTH_MAX_AGE": 0.3})
    client = app.test_client()
    seen, stop = _select_ones(app)
    try:
        answers = [client.get("/health") for _ in range(5)]
        assert [r.status_code for r in answers] == [200] * 5
        assert {r.get_json()["database"] for r in answers} == {"connected"}
        assert len(seen) == 1  # one real check for five answers
        time.sleep(0.35)
        assert client.get("/health").status_code == 200
        assert len(seen) == 2  # older than HEALTH_MAX_AGE: checked again
    finally:
        stop()


@pytest.mark.no_rollback
def test_a_failing_database_shows_within_the_age_limit(monkeypatch):
    app = create_app({**make_config("health_fail"), "HEALTH_MAX_AGE": 0.3})
    client = app.test_client()
    assert client.get("/health").status_code == 200
    real = db.session.execute

    def broken(statement, *a, **kw):
        raise OperationalError(str(statement), {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(db.session, "execute", broken, raising=False)
    time.sleep(0.35)
    resp = client.get("/health")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "disconnected" and resp.get_json()["success"] is False
    monkeypatch.setattr(db.session, "execute", real, raising=False)
    assert client.get("/health").status_code == 503  # the failed check is reused too …
    time.sleep(0.35)
    assert client.get("/health").status_code == 200  # … and the recovery shows as fast


@pytest.mark.no_rollback
def test_concurrent_requests_share_one_check(monkeypatch):
    app = create_app({**make_config("health_threads"), "HEALTH_MAX_AGE": 1.0})
    calls = []
    real = health._check

    def slow_check():
        calls.append(threading.get_ident())
        time.sleep(0.2)  # threads arriving meanwhile wait for this result
        return real()
    monkeypatch.setattr(health, "_check", slow_check)
    statuses = []

    def ask():
        statuses.append(app.test_client().get("/health").status_code)
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert statuses == [200] * 8
    assert len(calls) == 1


@pytest.mark.no_rollback
def test_health_with_max_age_zero_checks_every_time():
    app = create_app({**make_config("health_zero"), "HEALTH_MAX_AGE": 0})
    seen, stop = _select_ones(app)
    try:
        client = app.test_client()
        for _ in range(3):
            assert client.get("/health").status_code == 200
        assert len(seen) == 3
    finally:
        stop()


@pytest.mark.parametrize("raw, expected", [(None, 1.0), ("", 1.0), ("0.25", 0.25), ("2", 2.0), ("0", 0.0)])
def test_health_max_age_comes_from_the_environment(monkeypatch, raw, expected):
    from emrs.config import from_environment
    monkeypatch.setenv("SECRET_KEY", "health-test")  # no instance/secret_key written
    if raw is None:
        monkeypatch.delenv("HEALTH_MAX_AGE", raising=False)
    else:
        monkeypatch.setenv("HEALTH_MAX_AGE", raw)
    assert from_environment()["HEALTH_MAX_AGE"] == expected


@pytest.mark.parametrize("raw", ["one", "-1", "nan", "inf", "1s"])
def test_a_bad_health_max_age_stops_start_up(monkeypatch, raw):
    from emrs.config import from_environment
    monkeypatch.setenv("SECRET_KEY", "health-test")
    monkeypatch.setenv("HEALTH_MAX_AGE", raw)
    with pytest.raises(ValueError, match="HEALTH_MAX_AGE"):
        from_environment()
