"""Fixtures: the app from the factory on a migrated database, a transaction rolled
back after every test, and signed-in clients per role (browser and API)."""
from __future__ import annotations

import email
import re
import tempfile
from email import policy
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import event

from emrs import create_app
from emrs.auth.models import ADMIN, FACULTY, PWO, RESIDENT
from emrs.extensions import db
from flask import has_app_context
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSession

from .dbutil import drop_database, fresh_database

PASSWORD = "Passw0rd-test"
ROLE_KEYS = {"admin": ADMIN, "faculty": FACULTY, "resident": RESIDENT, "pwo": PWO}


def make_config(name: str, database: bool = True, **extra) -> dict:
    """Test settings; ``database=False`` when the caller supplies its own database URL."""
    url, engine_options = fresh_database(name) if database else ("sqlite://", {})
    tmp = Path(tempfile.mkdtemp(prefix=f"emrs-{name}-files-"))
    cfg = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "JWT_SECRET": "test-jwt-secret-0123456789abcdef0123456789",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "MAIL_OUTBOX_DIR": str(tmp / "outbox"),
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "LOG_DIR": str(tmp / "logs"),
        "EMAIL_HOST": None,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_AUTH": "1000 per minute",
        "RATELIMIT_OTP_RESEND": "1000 per minute",
        "RATELIMIT_API": "100000 per minute",
        "RATELIMIT_STORAGE_URI": "memory://",
        "PDF_CACHE_DIR": str(tmp / "pdf-cache"),
        "PDF_PRERENDER": False,  # tests/prescriptions/test_print_worker.py turns it on
    }
    cfg.update(extra)
    return cfg


class FreshContextClient(FlaskClient):
    """Each request gets its own application context (fresh ``g`` and session), as in
    production, even while the test holds one open; afterwards the test's session
    forgets what it had loaded so it sees what the request wrote."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            resp = super().open(*args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return resp


@pytest.fixture(scope="session")
def app():
    app = create_app(make_config("test"))
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade()
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            _sqlite_savepoints(db.engine)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database("test")


def _sqlite_savepoints(engine):
    """pysqlite needs this for SAVEPOINT-based rollback per test (SQLAlchemy docs)."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    engine.dispose()


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks the engine itself; in tests it must use the
    one connection that holds the outer transaction."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app):
    """Each test starts with empty rate-limit counters: the session app's in-memory limiter
    would otherwise count every sign-in of the whole run (1000 a minute is reachable)."""
    from emrs.extensions import limiter
    with app.app_context():
        limiter.reset()
    yield


@pytest.fixture(autouse=True)
def _rollback(request, app):
    """Every test runs inside one outer transaction that is rolled back; the app's
    own commits become savepoints."""
    if "no_rollback" in request.keywords:
        yield
        return
    with app.app_context():
        conn = db.engine.connect()
        outer = conn.begin()
        original = db.session
        db.session = db._make_scoped_session({"bind": conn, "join_transaction_mode": "create_savepoint", "expire_on_commit": False,
                                              "class_": _ConnectionBoundSession})
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            conn.close()


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(autouse=True)
def _fresh_upload_folder(app, tmp_path):
    """Files on disk are not rolled back with the database: each test gets its own folder."""
    previous = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    yield
    app.config["UPLOAD_FOLDER"] = previous


@pytest.fixture(autouse=True)
def outbox(app):
    """The mail outbox, emptied before each test."""
    box = Outbox(Path(app.config["MAIL_OUTBOX_DIR"]))
    if box.path.exists():
        for f in box.path.glob("*.eml"):
            f.unlink()
    return box


class Outbox:
    """Reads the messages the app really wrote to the mail outbox."""

    def __init__(self, path: Path):
        self.path = path

    def messages(self, to: str | None = None) -> list[email.message.EmailMessage]:
        from emrs.mail import wait_for_background_mail
        wait_for_background_mail()  # forgot-password mails go out in the background
        if not self.path.exists():
            return []
        out = []
        for f in sorted(self.path.glob("*.eml")):
            msg = email.message_from_bytes(f.read_bytes(), policy=policy.default)
            if to is None or msg["To"] == to:
                out.append(msg)
        return out

    def last_code(self, to: str) -> str:
        msgs = self.messages(to)
        assert msgs, f"no mail to {to}"
        body = msgs[-1].get_content()
        m = re.search(r"\b(\d{6})\b", body)
        assert m, "no 6-digit code in the message"
        return m.group(1)


@pytest.fixture
def make_user(app):
    from emrs.auth import service

    counter = {"n": 0}

    def _make(role=RESIDENT, email=None, otp=True, **extra):
        counter["n"] += 1
        with app.test_request_context():
            user = service.create_user({
                "email": email or f"user{counter['n']}-{role.split()[0].lower()}@test.emrs.local",
                "name": extra.pop("name", f"Test {role} {counter['n']}"),
                "role": role, "password": PASSWORD, "two_factor_enabled": otp, **extra})
            return db.session.get(type(user), user.id)
    return _make


@pytest.fixture
def users(make_user):
    return {key: make_user(role) for key, role in ROLE_KEYS.items()}


def browser_login(client, outbox, user, password=PASSWORD, next_url=None):
    """The real flow: password, then the code read from the e-mail the app sent."""
    url = "/login" + (f"?next={next_url}" if next_url else "")
    resp = client.post(url, data={"email": user.email, "password": password})
    if user.two_factor_enabled:
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/otp"), resp.status_code
        resp = client.post("/login/otp", data={"otp": outbox.last_code(user.email)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp


@pytest.fixture
def login(client, outbox):
    def _login(user, **kw):
        return browser_login(client, outbox, user, **kw)
    return _login


@pytest.fixture
def role_client(app, users, outbox):
    """role_client('admin') -> a test client signed in (with OTP) as that role."""
    def _client(key):
        c = app.test_client()
        browser_login(c, outbox, users[key])
        return c
    return _client


def api_login(client, outbox, user, password=PASSWORD):
    resp = client.post("/api/users/login", json={"email": user.email, "password": password})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    if "accessToken" not in body["data"]:
        resp = client.post("/api/users/verify-login-otp",
                           json={"user_id": body["data"]["user_id"], "otp": outbox.last_code(user.email)})
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
    return body["data"]["accessToken"]


@pytest.fixture
def api_token(client, outbox):
    def _token(user):
        return api_login(client, outbox, user)
    return _token


@pytest.fixture
def bearer(api_token):
    def _headers(user):
        return {"Authorization": f"Bearer {api_token(user)}"}
    return _headers


@pytest.fixture
def h(users, bearer):
    """API headers per role: ``h["resident"]`` -> ``{"Authorization": "Bearer …"}``."""
    return {k: bearer(u) for k, u in users.items()}
