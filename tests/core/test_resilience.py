"""Issue 8 §2: the app recovers by itself when the database goes away and comes back —
idempotent reads are retried, writes are not, and the client sees the 503 envelope only
when every attempt failed."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import event, exc, text

from emrs import create_app
from emrs.auth import service as auth_service
from emrs.auth.models import FACULTY
from emrs.extensions import db

from ..conftest import PASSWORD, make_config
from ..dbutil import base_url, drop_database, is_pg

pytestmark = pytest.mark.no_rollback


@pytest.fixture
def fresh_app():
    app = create_app({**make_config("resilience"), "DB_READ_RETRIES": 2, "DB_RETRY_DELAY_MS": 20})
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()
    with app.test_request_context():
        auth_service.create_user({"name": "Dr Retry", "email": "retry@test.emrs.local", "password": PASSWORD,
                                  "role": FACULTY, "two_factor_enabled": False})
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database("resilience")


def _token(client):
    resp = client.post("/api/users/login", json={"email": "retry@test.emrs.local", "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['data']['accessToken']}"}


class DropStatements:
    """Make the next ``n`` SQL statements fail as a dropped connection does."""

    def __init__(self, engine):
        self.engine, self.left, self.failed = engine, 0, 0
        event.listen(engine, "before_cursor_execute", self._before)

    def arm(self, n):
        self.left = n

    def _before(self, conn, cursor, statement, *args):
        if self.left > 0:
            self.left -= 1
            self.failed += 1
            orig = self.engine.dialect.dbapi.OperationalError("server closed the connection unexpectedly")
            raise exc.OperationalError(statement, None, orig, connection_invalidated=True)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._before)


def test_a_read_that_hits_a_dead_connection_is_retried(fresh_app):
    client = fresh_app.test_client()
    headers = _token(client)
    with fresh_app.app_context():
        drops = DropStatements(db.engine)
    try:
        drops.arm(1)
        resp = client.get("/api/users/profile", headers=headers)
        assert resp.status_code == 200 and resp.get_json()["data"]["user"]["email"] == "retry@test.emrs.local"
        assert drops.failed == 1
        assert "X-EMRS-Retry-Read" not in resp.headers
    finally:
        drops.close()


def test_a_write_is_never_retried(fresh_app):
    client = fresh_app.test_client()
    headers = _token(client)
    with fresh_app.app_context():
        drops = DropStatements(db.engine)
    try:
        drops.arm(1)
        resp = client.put("/api/users/profile", json={"name": "Dr Retried"}, headers=headers)
        assert resp.status_code == 503
        assert resp.get_json() == {"success": False, "message": "Database connection timeout. Please try again."}
        assert drops.failed == 1
        assert client.get("/api/users/profile", headers=headers).get_json()["data"]["user"]["name"] == "Dr Retry"
    finally:
        drops.close()


def test_a_read_gets_503_only_after_every_attempt_failed(fresh_app):
    client = fresh_app.test_client()
    headers = _token(client)
    with fresh_app.app_context():
        drops = DropStatements(db.engine)
    try:
        drops.arm(100)
        started = time.perf_counter()
        resp = client.get("/api/users/profile", headers=headers)
        elapsed = time.perf_counter() - started
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
        assert "X-EMRS-Retry-Read" not in resp.headers
        assert drops.failed == 3            # the first attempt and DB_READ_RETRIES=2 more
        assert elapsed >= 0.06              # paused 20 ms, then 40 ms
        drops.arm(0)
        assert client.get("/api/users/profile", headers=headers).status_code == 200
    finally:
        drops.close()


@pytest.mark.skipif(not is_pg(base_url()), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_every_server_connection_killed_the_next_read_still_answers(fresh_app):
    """What a PostgreSQL restart does to the pool: every connection it holds is dead."""
    client = fresh_app.test_client()
    headers = _token(client)
    assert client.get("/api/users/profile", headers=headers).status_code == 200
    with fresh_app.app_context():
        pids = [r[0] for r in db.session.execute(text("SELECT pg_backend_pid()"))]
        db.session.remove()
    from sqlalchemy import create_engine
    admin = create_engine(base_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text("SELECT count(*) FROM pg_stat_activity a "
                                   "WHERE a.pid = ANY(:pids) AND pg_terminate_backend(a.pid)"),
                              {"pids": pids}).scalar()
    admin.dispose()
    assert killed >= 1
    for _ in range(3):
        resp = client.get("/api/users/profile", headers=headers)
        assert resp.status_code == 200, resp.get_json()


@pytest.mark.skipif(not is_pg(base_url()), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_patient_reads_prepare_their_statements_again_on_new_connections(fresh_app):
    """Patient reads run statements prepared once per connection (emrs/prepared.py): after a
    restart every connection is new, and the statements are prepared again."""
    client = fresh_app.test_client()
    headers = _token(client)
    resp = client.post("/api/patients", json={"name": "Gurpreet Kaur", "sex": "F", "age": 31}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    pid = resp.get_json()["data"]["patient"]["id"]
    first = client.get(f"/api/patients/{pid}", headers=headers)
    assert first.status_code == 200
    with fresh_app.app_context():  # every connection the pool holds (and a few more): this app's only
        held = [db.engine.connect() for _ in range(3)]
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in held]
        for c in held:
            c.close()
    from sqlalchemy import create_engine
    admin = create_engine(base_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.execute(text("SELECT count(*) FROM unnest(CAST(:pids AS int[])) AS p(pid) "
                                   "WHERE pg_terminate_backend(p.pid)"), {"pids": pids}).scalar()
    admin.dispose()
    assert killed == 3
    for _ in range(3):
        again = client.get(f"/api/patients/{pid}", headers=headers)
        assert again.status_code == 200, again.get_json()
        assert again.get_json()["data"]["patient"] == first.get_json()["data"]["patient"]
