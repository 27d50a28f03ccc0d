"""/health answers from a database check at most HEALTH_MAX_AGE seconds old (per process),
and a database that stops answering shows as disconnected within that time. Exactly GET/HEAD
/health is answered before Flask (health.HealthFastPath) with the Flask route's answer; a query
string (``/health?via=flask``) takes the Flask route, so both paths are tested here."""
from __future__ import annotations

import json
import logging
import re
import threading
import time

import pytest
from flask import Flask
from flask.wrappers import Response
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from werkzeug.test import Client

from emrs import create_app, health
from emrs.extensions import db

from ..conftest import make_config

FAST, FLASK = "/health", "/health?via=flask"


@pytest.fixture
def flask_calls(monkeypatch):
    """How many requests entered Flask's dispatch (any app)."""
    calls = []
    real = Flask.full_dispatch_request

    def counted(self):
        calls.append(self)
        return real(self)
    monkeypatch.setattr(Flask, "full_dispatch_request", counted)
    return calls


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
@pytest.mark.parametrize("path", [FAST, FLASK])
def test_a_failing_database_shows_within_the_age_limit(monkeypatch, flask_calls, path):
    app = create_app({**make_config("health_fail"), "HEALTH_MAX_AGE": 0.3})
    client = app.test_client()
    get = client.get
    client.get = lambda _p: get(path)
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
    assert len(flask_calls) == (0 if path == FAST else 4)


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


# ------------------------------------------------------------------ the fast path


def _flask_only(app) -> Client:
    """A client of what the fast path passes everything else on to (the rest of the WSGI stack
    and Flask)."""
    assert isinstance(app.wsgi_app, health.HealthFastPath)
    return Client(app.wsgi_app.wsgi_app, Response)


@pytest.fixture(scope="module")
def fast_app():
    app = create_app({**make_config("health_fast"), "HEALTH_MAX_AGE": 60})
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.no_rollback
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("connected", [True, False])
@pytest.mark.parametrize("sent_id", ["lb-check.7:a", "not a token!", "x" * 65, None])
def test_the_fast_answer_is_the_flask_routes(fast_app, flask_calls, method, connected, sent_id):
    check = health.database_check(fast_app)
    check._started, check._ok = time.monotonic(), connected  # a fresh cached result
    headers = {"X-Request-ID": sent_id} if sent_id is not None else {}
    fast = fast_app.test_client().open(FAST, method=method, headers=headers)
    assert flask_calls == []  # answered before Flask
    flask = _flask_only(fast_app).open(FAST, method=method, headers=headers)
    assert len(flask_calls) == 1  # ... and this one by the Flask route
    assert fast.status == flask.status == ("200 OK" if connected else "503 SERVICE UNAVAILABLE")
    fast_headers, flask_headers = fast.headers.to_wsgi_list(), flask.headers.to_wsgi_list()
    if sent_id == "lb-check.7:a":
        assert fast.headers["X-Request-ID"] == flask.headers["X-Request-ID"] == sent_id
    else:  # not a plain token, or none: a fresh id each
        for resp in (fast, flask):
            assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"])
        assert fast.headers["X-Request-ID"] != flask.headers["X-Request-ID"]
        fast_headers = [(k, "<id>" if k == "X-Request-ID" else v) for k, v in fast_headers]
        flask_headers = [(k, "<id>" if k == "X-Request-ID" else v) for k, v in flask_headers]
    assert fast_headers == flask_headers  # the same headers, values and order
    assert {k for k, _ in fast_headers} >= {"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy",
                                            "X-Frame-Options", "Permissions-Policy", "X-Request-ID", "Vary",
                                            "Cache-Control", "Content-Type", "Content-Length"}
    assert fast.headers["Vary"] == "HX-Request, Cookie" and fast.headers["Cache-Control"] == "no-store"
    assert fast.headers["Content-Type"] == "application/json"
    if method == "HEAD":
        assert fast.get_data() == flask.get_data() == b""
        assert int(fast.headers["Content-Length"]) > 100  # the GET's length
        return
    assert int(fast.headers["Content-Length"]) == len(fast.get_data())
    fast_body, flask_body = json.loads(fast.get_data()), json.loads(flask.get_data())
    assert fast_body.pop("timestamp").endswith("Z") and flask_body.pop("timestamp").endswith("Z")
    assert fast_body == flask_body == {"success": connected, "service": "emrs", "status": "running",
                                       "database": "connected" if connected else "disconnected"}


@pytest.mark.no_rollback
def test_a_fresh_result_needs_no_app_context_and_a_stale_one_checks_once(fast_app, monkeypatch):
    check = health.database_check(fast_app)
    check._started = float("-inf")  # stale
    pushed, checks, pool = [], [], {"out": 0, "in": 0}
    real_context, real_check = fast_app.app_context, health._check
    monkeypatch.setattr(fast_app, "app_context", lambda: pushed.append(1) or real_context())
    monkeypatch.setattr(health, "_check", lambda: checks.append(1) or real_check())
    with real_context():
        engine = db.engine
    out = lambda *_a: pool.__setitem__("out", pool["out"] + 1)  # noqa: E731
    back = lambda *_a: pool.__setitem__("in", pool["in"] + 1)  # noqa: E731
    event.listen(engine, "checkout", out)
    event.listen(engine, "checkin", back)
    try:
        client = fast_app.test_client()
        answers = [client.get(FAST) for _ in range(20)]
    finally:
        event.remove(engine, "checkout", out)
        event.remove(engine, "checkin", back)
    assert [r.status_code for r in answers] == [200] * 20
    assert checks == [1] and pushed == [1]  # one check, one app context, for twenty answers
    assert pool["out"] == pool["in"] == 1  # its session ended: the connection went back to the pool


@pytest.mark.no_rollback
@pytest.mark.parametrize("method, path, status", [("GET", "/health/", 404), ("GET", "/healthz", 404),
                                                  ("POST", "/health", 405), ("PUT", "/health", 405),
                                                  ("DELETE", "/health", 405), ("GET", "/health?x=1", 200),
                                                  ("OPTIONS", "/health", 200)])
def test_anything_else_goes_to_flask(fast_app, flask_calls, method, path, status):
    resp = fast_app.test_client().open(path, method=method)
    assert resp.status_code == status
    assert len(flask_calls) == 1


@pytest.mark.no_rollback
@pytest.mark.parametrize("path", [FAST, FLASK])
def test_the_request_log_line_is_the_same_on_both_paths(fast_app, caplog, path):
    caplog.set_level(logging.INFO, logger="emrs")
    fast_app.test_client().get(path, headers={"X-Request-ID": "probe-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "emrs.request"]
    assert len(lines) == 1
    line = lines[0]
    assert isinstance(line.pop("duration_ms"), float)
    assert line == {"request_id": "probe-1", "method": "GET", "route": "/health", "status": 200, "user_id": None}


@pytest.mark.no_rollback
def test_no_request_line_when_info_is_off(fast_app, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="emrs")
    from emrs import web
    monkeypatch.setattr(web.json, "dumps", lambda *_a, **_k: pytest.fail("a log line was built"))
    assert fast_app.test_client().get(FAST).status_code == 200
    assert [r for r in caplog.records if r.name == "emrs.request"] == []


@pytest.mark.no_rollback
@pytest.mark.parametrize("services, expected", [("prescription", "prescription"), ("user", "user"),
                                                ("user,prescription", "emrs")])
def test_every_service_answers_health_before_flask(flask_calls, services, expected):
    app = create_app({**make_config("health_svc"), "EMRS_SERVICES": services})
    try:
        client = app.test_client()
        assert client.get(FAST).get_json()["service"] == expected
        assert flask_calls == []
        assert client.get(FLASK).get_json()["service"] == expected
    finally:
        with app.app_context():
            db.engine.dispose()
