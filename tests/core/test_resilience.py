"""The app recovers by itself when the database goes away and comes back —
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
from emrs.resilience import RetryIdempotentReads

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


class DatabaseGoesAway:
    """From the first statement that contains ``marker`` on, every statement fails as on a
    database that has just shut down (the rest of the request, the error handler, retries)."""

    def __init__(self, engine, marker):
        self.engine, self.marker, self.gone = engine, marker, False
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, *args):
        self.gone = self.gone or self.marker in statement
        if self.gone:
            orig = self.engine.dialect.dbapi.OperationalError("the database system is shutting down")
            raise exc.OperationalError(statement, None, orig, connection_invalidated=True)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._before)


def test_a_write_whose_database_goes_away_gets_the_503_envelope_not_a_500(fresh_app):
    """Found by bench/faults.py restart: after the error handler's rollback the request log
    line read the signed-in user's id, which reloaded the user from the vanished database."""
    client = fresh_app.test_client()
    headers = _token(client)
    with fresh_app.app_context():
        gone = DatabaseGoesAway(db.engine, "UPDATE users")
    try:
        resp = client.put("/api/users/profile", json={"mobile": "9876512345"}, headers=headers)
        assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
        assert resp.get_json() == {"success": False, "message": "Database connection timeout. Please try again."}
        assert resp.headers["Retry-After"] == "5"
    finally:
        gone.close()
    assert client.get("/api/users/profile", headers=headers).get_json()["data"]["user"]["name"] == "Dr Retry"


def test_a_page_whose_database_goes_away_gets_the_503_page_not_a_500(fresh_app):
    """The same for pages: the 503 page is drawn without the menu, which would need the user."""
    client = fresh_app.test_client()
    resp = client.post("/login", data={"email": "retry@test.emrs.local", "password": PASSWORD})
    assert resp.status_code == 302
    assert client.get("/patients/").status_code == 200
    with fresh_app.app_context():
        gone = DatabaseGoesAway(db.engine, "registered_patient")
    try:
        resp = client.get("/patients/")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 503, html[:300]
        assert "Database unavailable" in html and "Please try again in a few seconds" in html
        assert resp.headers["Retry-After"] == "5"
    finally:
        gone.close()
    assert client.get("/patients/").status_code == 200


def test_a_connection_that_dies_after_the_last_statement_does_not_turn_the_answer_into_a_500(fresh_app,
                                                                                             monkeypatch):
    """Found by bench/faults.py restart: the rollback that ends the request failed on the dead
    connection and the exception escaped the application (the server answered 500)."""
    client = fresh_app.test_client()
    headers = _token(client)
    with fresh_app.app_context():
        dialect = db.engine.dialect
    failed = []

    def dying_rollback(dbapi_connection):
        failed.append(1)
        raise dialect.dbapi.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(dialect, "do_rollback", dying_rollback)
    resp = client.get("/api/users/profile", headers=headers)
    monkeypatch.undo()
    assert failed
    assert resp.status_code == 200 and resp.get_json()["data"]["user"]["email"] == "retry@test.emrs.local"
    assert client.get("/api/users/profile", headers=headers).status_code == 200


def test_an_exhausted_connection_pool_is_a_503_not_a_500():
    """Found by bench/opd_load.py (100 sign-ins at once, 16 server threads, 15 pooled
    connections): the pool's timeout was an unhandled error."""
    cfg = make_config("pool")
    app = create_app({**cfg, "SQLALCHEMY_ENGINE_OPTIONS": {**cfg["SQLALCHEMY_ENGINE_OPTIONS"], "pool_size": 1,
                                                          "max_overflow": 0, "pool_timeout": 0.2}})
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()
        auth_service.create_user({"name": "Dr Pool", "email": "pool@test.emrs.local", "password": PASSWORD,
                                  "role": FACULTY, "two_factor_enabled": False})
        db.session.commit()
        db.session.remove()
    try:
        client = app.test_client()
        resp = client.post("/api/users/login", json={"email": "pool@test.emrs.local", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {resp.get_json()['data']['accessToken']}"}
        assert client.post("/login", data={"email": "pool@test.emrs.local", "password": PASSWORD}).status_code == 302
        with app.app_context():
            held = db.engine.connect()  # the only connection, busy elsewhere
        try:
            api = client.get("/api/users/profile", headers=headers)
            assert api.status_code == 503 and api.headers["Retry-After"] == "5"
            assert api.get_json() == {"success": False, "message": "Database connection timeout. Please try again."}
            page = client.get("/patients/")
            assert page.status_code == 503 and "The server is very busy" in page.get_data(as_text=True)
        finally:
            held.close()
        assert client.get("/api/users/profile", headers=headers).status_code == 200
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database("pool")


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


def _kill_pool_connections(app) -> int:
    """Terminate every server connection this app's pool holds (and a few more: this app's only),
    as a restart does."""
    with app.app_context():
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
    return killed


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
    killed = _kill_pool_connections(fresh_app)
    assert killed == 3
    for _ in range(3):
        again = client.get(f"/api/patients/{pid}", headers=headers)
        assert again.status_code == 200, again.get_json()
        assert again.get_json()["data"]["patient"] == first.get_json()["data"]["patient"]


class CountPings:
    def __init__(self, app, monkeypatch):
        with app.app_context():
            dialect = db.engine.dialect
        self.n = 0
        original = dialect.do_ping

        def counted(dbapi_connection):
            self.n += 1
            return original(dbapi_connection)
        monkeypatch.setattr(dialect, "do_ping", counted)


@pytest.mark.skipif(not is_pg(base_url()), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_the_pool_pings_before_a_write_but_not_before_a_read_that_can_be_retried(fresh_app, monkeypatch):
    """The ping is a round trip on every request; a read that meets a dead connection is
    retried anyway, so only writes (and reads on their last attempt) are pinged."""
    client = fresh_app.test_client()
    headers = _token(client)
    resp = client.post("/api/patients", json={"name": "Gurpreet Kaur", "sex": "F", "age": 31}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    path = f"/api/patients/{resp.get_json()['data']['patient']['id']}"  # a read that reaches the database
    pings = CountPings(fresh_app, monkeypatch)
    assert client.get(path, headers=headers).status_code == 200
    assert pings.n == 0
    resp = client.post("/api/patients", json={"name": "Harpreet Kaur", "sex": "F", "age": 33}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    after_write = pings.n
    assert after_write >= 1  # every lending of the write (it commits, then reads the new record)
    retry = fresh_app.wsgi_app.wsgi_app  # behind the /health fast path
    assert isinstance(retry, RetryIdempotentReads)
    retry.attempts = 0  # no retry left: the read is pinged as a write is
    try:
        assert client.get(path, headers=headers).status_code == 200
    finally:
        retry.attempts = 2
    assert pings.n == after_write + 1


@pytest.mark.skipif(not is_pg(base_url()), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_after_every_connection_died_a_write_still_succeeds_and_a_read_still_answers(fresh_app):
    client = fresh_app.test_client()
    headers = _token(client)
    assert _kill_pool_connections(fresh_app) == 3
    resp = client.post("/api/patients", json={"name": "Harjit Singh", "sex": "M", "age": 40}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    pid = resp.get_json()["data"]["patient"]["id"]
    assert _kill_pool_connections(fresh_app) == 3
    again = client.get(f"/api/patients/{pid}", headers=headers)
    assert again.status_code == 200 and again.get_json()["data"]["patient"]["name"] == "Harjit Singh"
