"""The process's session cache (emrs/auth/session_cache.py), in one process: a signed-in
request reads no session row while its snapshot is fresh, and every revocation made through
the application (logout, "end sessions", deactivation, password change, role change) acts on
the very next request. Across processes: tests/auth/test_session_cache_processes.py."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from emrs.auth import session_cache
from emrs.auth.models import ADMIN, FACULTY, PWO
from emrs.extensions import db

from ..conftest import PASSWORD
from ..dbutil import base_url, is_pg

pytestmark = pytest.mark.skipif(not is_pg(base_url()), reason="the cache needs PostgreSQL (LISTEN/NOTIFY)")


class SessionReads:
    """Counts the statements that read a session row."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.n = 0
        event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, _conn, _cursor, statement, *_args):
        if "FROM user_sessions" in statement:
            self.n += 1

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._before)


@pytest.fixture
def reads(app):
    counter = SessionReads(app)
    yield counter
    counter.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_cache_is_on_and_listening(app, client, make_user, api_token):
    token = api_token(make_user(FACULTY, otp=False))
    assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
    cache = session_cache.for_app(app)
    assert cache is not None and cache.live()


def test_a_second_request_reads_no_session_row(client, make_user, api_token, reads):
    token = api_token(make_user(FACULTY, otp=False))
    assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
    before = reads.n
    for _ in range(3):
        resp = client.get("/api/users/profile", headers=bearer(token))
        assert resp.status_code == 200
    assert reads.n == before
    assert resp.get_json()["data"]["user"]["role"] == FACULTY


def test_browser_pages_read_no_session_row_either(client, make_user, reads):
    user = make_user(FACULTY, otp=False)
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302
    assert client.get("/patients/").status_code == 200
    before = reads.n
    page = client.get("/patients/")
    assert page.status_code == 200 and user.name.encode() in page.data
    assert reads.n == before


def test_without_a_listener_every_request_reads_its_row(app, client, make_user, api_token, reads):
    token = api_token(make_user(FACULTY, otp=False))
    assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
    listener = session_cache.for_app(app).listener
    listener.listening = False  # what a lost listening connection does
    try:
        before = reads.n
        assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
        assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
        assert reads.n == before + 2
    finally:
        listener.listening = True


def test_logout_ends_the_token_at_once(client, make_user, api_token):
    token = api_token(make_user(FACULTY, otp=False))
    assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
    assert client.post("/api/session/logout", headers=bearer(token)).status_code == 200
    assert client.get("/api/users/profile", headers=bearer(token)).status_code == 401


def test_deactivation_ends_the_token_at_once(client, make_user, api_token):
    admin, doctor = make_user(ADMIN, otp=False), make_user(FACULTY, otp=False)
    token, admin_token = api_token(doctor), api_token(admin)
    assert client.get("/api/users/profile", headers=bearer(token)).status_code == 200
    assert client.put(f"/api/users/{doctor.id}/deactivate", headers=bearer(admin_token)).status_code == 200
    resp = client.get("/api/users/profile", headers=bearer(token))
    assert resp.status_code == 401


def test_a_role_change_acts_on_the_next_request(client, make_user, api_token):
    admin, doctor = make_user(ADMIN, otp=False), make_user(FACULTY, otp=False)
    token, admin_token = api_token(doctor), api_token(admin)
    assert client.get("/api/clinical-proformas/my-proformas", headers=bearer(token)).status_code == 200
    resp = client.put(f"/api/users/{doctor.id}", json={"role": PWO}, headers=bearer(admin_token))
    assert resp.status_code == 200, resp.get_json()
    refused = client.get("/api/clinical-proformas/my-proformas", headers=bearer(token))
    assert refused.status_code == 403
    assert f"Your role: {PWO}" in refused.get_json()["message"]


def test_a_password_change_ends_the_other_sessions_at_once(client, make_user, api_token):
    doctor = make_user(FACULTY, otp=False)
    other, mine = api_token(doctor), api_token(doctor)
    assert client.get("/api/users/profile", headers=bearer(other)).status_code == 200
    resp = client.put("/api/users/change-password", headers=bearer(mine),
                      json={"currentPassword": PASSWORD, "newPassword": "An0ther-Long-Passphrase!"})
    assert resp.status_code == 200, resp.get_json()
    assert client.get("/api/users/profile", headers=bearer(other)).status_code == 401
    assert client.get("/api/users/profile", headers=bearer(mine)).status_code == 200


def test_ending_a_browser_session_from_the_admin_page_signs_it_out(app, make_user):
    admin, doctor = make_user(ADMIN, otp=False), make_user(FACULTY, otp=False)
    browser, admin_browser = app.test_client(), app.test_client()
    assert browser.post("/login", data={"email": doctor.email, "password": PASSWORD}).status_code == 302
    assert admin_browser.post("/login", data={"email": admin.email, "password": PASSWORD}).status_code == 302
    assert browser.get("/patients/").status_code == 200
    assert browser.get("/patients/").status_code == 200  # served from the snapshot
    resp = admin_browser.post(f"/admin/users/{doctor.id}/sessions/end")
    assert resp.status_code in (200, 302)
    after = browser.get("/patients/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


def test_a_row_read_before_a_change_is_not_kept_after_it(app, ctx, make_user):
    """The epoch: a drop that happens while a row is being read keeps that row out."""
    user = make_user(FACULTY, otp=False)
    cache = session_cache.SessionCache(ttl=30)

    class Live:
        listening = True
    cache.listener = Live()
    from emrs.auth.models import UserSession
    from emrs.models_base import utcnow
    from datetime import timedelta
    row = UserSession(user=user, kind="api", last_activity=utcnow(), expires_at=utcnow() + timedelta(hours=1))
    db.session.add(row)
    db.session.flush()
    db.session.refresh(row)  # every column loaded, as a request's read gives it

    def load_while_revoked():
        cache.drop(user.id)  # an announcement arrives while the row is being read
        return row
    assert cache.get(("id", row.id), load_while_revoked, lambda s: True) is row
    assert len(cache) == 0
    assert cache.get(("id", row.id), lambda: row, lambda s: True) is row
    assert len(cache) == 1
    served = cache.get(("id", row.id), lambda: pytest.fail("read again"), lambda s: True)
    assert served.id == row.id and served.user.email == user.email
    cache.drop(user.id)
    assert len(cache) == 0
