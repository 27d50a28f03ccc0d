"""Revocation reaches another process at once, although that process keeps the session rows it
has checked in memory (emrs/auth/session_cache.py, migration 0027).

Process A is this test's application (its test client); process B is a real waitress server
on the same database, started as a child process. Each case: a token (or browser cookie) is
used at B until B serves it from its cache, the session is ended or changed through A (or by
plain SQL from a third connection), and B must refuse it. B is asked again every 10 ms for at
most a second; the time to its first refusal is printed (it is the first request in practice:
PostgreSQL's announcement arrives with A's COMMIT).
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from emrs import create_app
from emrs.auth import service as auth_service
from emrs.auth.models import ADMIN, FACULTY, PWO
from emrs.auth.session_cache import LISTENER_NAME
from emrs.extensions import db

from ..conftest import PASSWORD, make_config
from ..dbutil import base_url, drop_database, is_pg

pytestmark = [pytest.mark.no_rollback,
              pytest.mark.skipif(not is_pg(base_url()), reason="the cache needs PostgreSQL (LISTEN/NOTIFY)")]

NAME = "cacheproc"
SERVER = """
import json, os, sys
from waitress import serve
from emrs import create_app
app = create_app(json.loads(os.environ["EMRS_TEST_CONFIG"]))
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=4, _quiet=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location"), resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def two_processes():
    config = make_config(NAME)
    app = create_app(config)
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()
    with app.test_request_context():
        for email, role in (("admin@cache.emrs.local", ADMIN), ("doctor@cache.emrs.local", FACULTY),
                            ("second@cache.emrs.local", FACULTY)):
            auth_service.create_user({"name": f"Dr {role} Cache", "email": email, "password": PASSWORD,
                                      "role": role, "two_factor_enabled": False})
        db.session.commit()
    port = _free_port()
    env = {**os.environ, "EMRS_TEST_CONFIG": json.dumps(config)}
    log = open(os.path.join(config["LOG_DIR"].rsplit("/", 1)[0], "server-b.log"), "w")
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _request(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "process B did not start"
            time.sleep(0.1)
        yield app, port
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database(NAME)


def _token(client, email, password=PASSWORD):
    resp = client.post("/api/users/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['data']['accessToken']}"}


def _user_id(client, headers):
    return client.get("/api/users/profile", headers=headers).get_json()["data"]["user"]["id"]


def _served_at_b(port, headers, path="/api/users/profile"):
    for _ in range(3):  # the first reads the row and keeps it; the others come from memory
        status, _, body = _request(port, "GET", path, headers)
        assert status == 200, body


def _refused_at_b(port, headers, expected, path="/api/users/profile") -> float:
    started = time.monotonic()
    while True:
        status, location, body = _request(port, "GET", path, headers)
        if status == expected:
            elapsed = time.monotonic() - started
            print(f"process B refused {path} with {status} after {elapsed * 1000:.1f} ms")
            return elapsed
        assert status == 200, body
        assert time.monotonic() - started < 1.0, f"process B still answers {path} a second after the revocation"
        time.sleep(0.01)


def test_process_b_keeps_sessions_and_listens(two_processes):
    app, port = two_processes
    client = app.test_client()
    headers = _token(client, "doctor@cache.emrs.local")
    _served_at_b(port, headers)
    engine = create_engine(base_url())
    with engine.connect() as conn:
        listeners = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"),
                                 {"n": LISTENER_NAME}).scalar()
    engine.dispose()
    assert listeners >= 1


def test_logout_in_a_reaches_b(two_processes):
    app, port = two_processes
    client = app.test_client()
    headers = _token(client, "doctor@cache.emrs.local")
    _served_at_b(port, headers)
    assert client.post("/api/session/logout", headers=headers).status_code == 200
    _refused_at_b(port, headers, 401)


def test_an_admin_ending_sessions_in_a_reaches_b(two_processes):
    app, port = two_processes
    browser = app.test_client()
    assert browser.post("/login", data={"email": "doctor@cache.emrs.local", "password": PASSWORD}).status_code == 302
    cookie = {"Cookie": f"emrs_session={browser.get_cookie('emrs_session').value}"}
    _served_at_b(port, cookie, "/patients/")
    admin = app.test_client()
    assert admin.post("/login", data={"email": "admin@cache.emrs.local", "password": PASSWORD}).status_code == 302
    doctor_id = _user_id(app.test_client(), _token(app.test_client(), "doctor@cache.emrs.local"))
    assert admin.post(f"/admin/users/{doctor_id}/sessions/end").status_code in (200, 302)
    _refused_at_b(port, cookie, 302, "/patients/")
    assert "/login" in _request(port, "GET", "/patients/", cookie)[1]


def test_deactivation_and_role_change_in_a_reach_b(two_processes):
    app, port = two_processes
    client = app.test_client()
    admin = _token(client, "admin@cache.emrs.local")
    doctor = _token(client, "second@cache.emrs.local")
    doctor_id = _user_id(client, doctor)
    _served_at_b(port, doctor, "/api/clinical-proformas/my-proformas")
    resp = client.put(f"/api/users/{doctor_id}", json={"role": PWO}, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    _refused_at_b(port, doctor, 403, "/api/clinical-proformas/my-proformas")
    _served_at_b(port, doctor)  # still signed in, with the new role
    assert client.put(f"/api/users/{doctor_id}/deactivate", headers=admin).status_code == 200
    _refused_at_b(port, doctor, 401)
    assert client.put(f"/api/users/{doctor_id}/activate", headers=admin).status_code == 200


def test_a_password_change_in_a_reaches_b(two_processes):
    app, port = two_processes
    client = app.test_client()
    other, mine = _token(client, "doctor@cache.emrs.local"), _token(client, "doctor@cache.emrs.local")
    _served_at_b(port, other)
    resp = client.put("/api/users/change-password", headers=mine,
                      json={"currentPassword": PASSWORD, "newPassword": "An0ther-Long-Passphrase!"})
    assert resp.status_code == 200, resp.get_json()
    _refused_at_b(port, other, 401)
    resp = client.put("/api/users/change-password", headers=mine,
                      json={"currentPassword": "An0ther-Long-Passphrase!", "newPassword": PASSWORD})
    assert resp.status_code == 200, resp.get_json()


def test_a_session_ended_by_plain_sql_reaches_b(two_processes):
    """No application code at all: an administrator's UPDATE in psql is announced too."""
    app, port = two_processes
    client = app.test_client()
    headers = _token(client, "doctor@cache.emrs.local")
    _served_at_b(port, headers)
    schema_options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
    engine = create_engine(base_url(), connect_args={"options": schema_options})
    with engine.begin() as conn:
        session_id = conn.execute(text("SELECT max(id) FROM user_sessions")).scalar()  # the sign-in above
        conn.execute(text("UPDATE user_sessions SET revoked_at = now(), revoked_reason = 'dba' WHERE id = :id"),
                     {"id": session_id})
    engine.dispose()
    _refused_at_b(port, headers, 401)


def test_when_b_loses_its_listening_connection_it_still_refuses_at_once(two_processes):
    app, port = two_processes
    client = app.test_client()
    headers = _token(client, "doctor@cache.emrs.local")
    _served_at_b(port, headers)
    engine = create_engine(base_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                            {"n": LISTENER_NAME}).scalars().all()
        killed = sum(conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() for pid in pids)
    engine.dispose()
    assert killed >= 1
    assert client.post("/api/session/logout", headers=headers).status_code == 200
    _refused_at_b(port, headers, 401)
    fresh = _token(client, "doctor@cache.emrs.local")
    _served_at_b(port, fresh)  # and B serves again once it listens again
