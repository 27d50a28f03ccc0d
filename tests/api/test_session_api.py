"""JSON API session: refresh (rotating, with reuse detection), activity, info,
logout, inactivity, and the bearer-token failures (api-contract.md §1, §3.1, §3.3)."""
from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import RefreshToken, User, UserSession
from emrs.extensions import db
from emrs.models_base import utcnow

from ..conftest import api_login

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

REFRESH = "/api/session/refresh"
ACTIVITY = "/api/session/activity"
INFO = "/api/session/info"
LOGOUT = "/api/session/logout"
PROFILE = "/api/users/profile"


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _cookie(client) -> str | None:
    c = client.get_cookie("refreshToken")
    return c.value if c is not None else None


def _set_cookie_header(resp) -> str | None:
    found = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("refreshToken=")]
    assert len(found) <= 1
    return found[0] if found else None


def _assert_cookie_cleared(resp):
    header = _set_cookie_header(resp)
    assert header is not None, "the refresh cookie must be cleared"
    assert header.startswith("refreshToken=;")
    assert "Max-Age=0" in header or "Expires=Thu, 01 Jan 1970" in header


def _session_row(user) -> UserSession:
    return db.session.execute(select(UserSession).where(UserSession.user_id == user.id,
                                                        UserSession.kind == "api")).scalars().one()


def _go_idle(app, user):
    idle = timedelta(milliseconds=app.config["SESSION_INACTIVITY_TIMEOUT_MS"] + 1000)
    row = _session_row(user)
    row.last_activity = utcnow() - idle
    db.session.commit()
    return row


@pytest.fixture
def signed_in(app, client, outbox, users):
    """(user, access token); the client holds the refresh cookie."""
    user = users["resident"]
    token = api_login(client, outbox, user)
    assert _cookie(client)
    return user, token


# ------------------------------------------------------------------ refresh & rotation

def test_refresh_returns_new_access_token_and_rotates_cookie(app, client, signed_in):
    user, _ = signed_in
    old = _cookie(client)
    resp = client.post(REFRESH)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["success"] is True
    assert body["data"]["expiresIn"] == 300
    claims = jwt.decode(body["data"]["accessToken"], app.config["JWT_SECRET"], algorithms=["HS256"])
    assert claims["userId"] == user.id and claims["type"] == "access" and claims["role"] == user.role
    header = _set_cookie_header(resp)
    assert header and "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    new = _cookie(client)
    assert new and new != old and len(new) == 128
    # the new access token works
    assert client.get(PROFILE, headers=_auth(body["data"]["accessToken"])).status_code == 200
    # and the new refresh token can itself be rotated again
    again = client.post(REFRESH)
    assert again.status_code == 200
    assert _cookie(client) not in (old, new)


def test_refresh_bumps_last_activity(app, client, signed_in):
    user, _ = signed_in
    row = _session_row(user)
    row.last_activity = utcnow() - timedelta(minutes=10)
    db.session.commit()
    assert client.post(REFRESH).status_code == 200
    row = _session_row(user)
    last = row.last_activity if row.last_activity.tzinfo else row.last_activity.replace(tzinfo=utcnow().tzinfo)
    assert utcnow() - last < timedelta(minutes=1)


def test_reusing_a_rotated_refresh_token_revokes_the_family(client, signed_in):
    user, access = signed_in
    old = _cookie(client)
    assert client.post(REFRESH).status_code == 200
    newest = _cookie(client)
    newest_access = client.post(REFRESH).get_json()["data"]["accessToken"]
    newest = _cookie(client)
    # an attacker replays the first (already rotated) token
    client.set_cookie("refreshToken", old)
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Invalid or expired refresh token"}
    # the legitimate newest token is now refused too
    client.set_cookie("refreshToken", newest)
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid or expired refresh token"
    # and access tokens of that session stop working
    for token in (access, newest_access):
        resp = client.get(PROFILE, headers=_auth(token))
        assert resp.status_code == 401
        assert resp.get_json()["success"] is False
    row = _session_row(user)
    assert row.revoked_at is not None and row.revoked_reason == "refresh_reuse"
    assert all(t.is_revoked for t in db.session.execute(
        select(RefreshToken).where(RefreshToken.session_id == row.id)).scalars())
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "refresh_token_reuse",
                                                      AuditLog.user_id == user.id)).scalars().all()
    assert len(audit) == 1 and audit[0].entity_id == str(row.id)


def test_reuse_does_not_touch_other_sessions_of_the_user(app, client, outbox, signed_in):
    user, _ = signed_in
    other = app.test_client()
    other_access = api_login(other, outbox, user)
    old = _cookie(client)
    assert client.post(REFRESH).status_code == 200
    _after_grace(app, user)
    client.set_cookie("refreshToken", old)
    assert client.post(REFRESH).status_code == 401
    assert other.get(PROFILE, headers=_auth(other_access)).status_code == 200
    assert other.post(REFRESH).status_code == 200


def _after_grace(app, user):
    """Time travel: every rotated token of the user was rotated longer ago than the grace window."""
    past = utcnow() - timedelta(seconds=app.config["REFRESH_GRACE_SECONDS"] + 1)
    for row in db.session.execute(select(RefreshToken).where(RefreshToken.user_id == user.id,
                                                             RefreshToken.rotated_at.is_not(None))).scalars():
        row.rotated_at = past
    db.session.commit()


def test_two_refreshes_at_once_both_succeed_with_the_same_new_token(app, client, signed_in):
    """Two tabs (or a retried request) refresh with the same cookie: not token theft."""
    user, _ = signed_in
    old = _cookie(client)
    first = client.post(REFRESH)
    assert first.status_code == 200, first.get_json()
    new = _cookie(client)
    client.set_cookie("refreshToken", old)
    second = client.post(REFRESH)
    assert second.status_code == 200, second.get_json()
    assert _cookie(client) == new and new != old
    for resp in (first, second):
        token = resp.get_json()["data"]["accessToken"]
        assert client.get(PROFILE, headers=_auth(token)).status_code == 200
    row = _session_row(user)
    assert row.revoked_at is None
    # The shared new token goes on working (and rotates as usual).
    assert client.post(REFRESH).status_code == 200
    assert _cookie(client) not in (old, new)


def test_reuse_after_the_grace_window_revokes_the_family(app, client, signed_in):
    user, access = signed_in
    old = _cookie(client)
    assert client.post(REFRESH).status_code == 200
    new = _cookie(client)
    _after_grace(app, user)
    client.set_cookie("refreshToken", old)
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Invalid or expired refresh token"}
    client.set_cookie("refreshToken", new)
    assert client.post(REFRESH).status_code == 401
    assert client.get(PROFILE, headers=_auth(access)).status_code == 401
    assert _session_row(user).revoked_reason == "refresh_reuse"


def test_refresh_without_cookie(client):
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Refresh token required"}


@pytest.mark.parametrize("value", ["garbage", "a" * 128, "0" * 127])
def test_refresh_with_garbage_cookie(client, value):
    client.set_cookie("refreshToken", value)
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Invalid or expired refresh token"}
    _assert_cookie_cleared(resp)


def test_refresh_for_deactivated_user(client, signed_in):
    user, _ = signed_in
    row = db.session.get(User, user.id)
    row.is_active = False
    db.session.commit()
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "User not found or inactive"


def test_expired_refresh_token_is_refused(client, signed_in):
    user, _ = signed_in
    tok = db.session.execute(select(RefreshToken).where(RefreshToken.user_id == user.id)).scalars().one()
    tok.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid or expired refresh token"


# ------------------------------------------------------------------ inactivity

def test_idle_session_refresh_then_bearer(app, client, signed_in):
    user, access = signed_in
    _go_idle(app, user)
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Session expired due to inactivity",
                               "code": "SESSION_EXPIRED"}
    _assert_cookie_cleared(resp)
    assert _cookie(client) is None
    row = _session_row(user)
    assert row.revoked_reason == "inactivity"
    # the access token has not expired yet, but its session has
    resp = client.get(PROFILE, headers=_auth(access))
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "SESSION_EXPIRED"
    assert resp.get_json()["message"] == "Session expired due to inactivity"


def test_idle_session_bearer_then_refresh(app, client, signed_in):
    user, access = signed_in
    _go_idle(app, user)
    resp = client.get(PROFILE, headers=_auth(access))
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Session expired due to inactivity",
                               "code": "SESSION_EXPIRED"}
    assert _session_row(user).revoked_reason == "inactivity"
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "SESSION_EXPIRED"
    _assert_cookie_cleared(resp)


def test_idle_session_activity_is_refused(app, client, signed_in):
    user, _ = signed_in
    _go_idle(app, user)
    resp = client.post(ACTIVITY)
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "SESSION_EXPIRED"


def test_session_just_inside_the_timeout_still_refreshes(app, client, signed_in):
    user, _ = signed_in
    row = _session_row(user)
    row.last_activity = utcnow() - timedelta(milliseconds=app.config["SESSION_INACTIVITY_TIMEOUT_MS"] - 60_000)
    db.session.commit()
    assert client.post(REFRESH).status_code == 200


# ------------------------------------------------------------------ activity & info

def test_activity_updates_last_activity(client, signed_in):
    user, _ = signed_in
    row = _session_row(user)
    before = utcnow() - timedelta(minutes=5)
    row.last_activity = before
    db.session.commit()
    resp = client.post(ACTIVITY)
    assert resp.status_code == 200
    assert resp.get_json() == {"success": True, "message": "Activity updated"}
    row = _session_row(user)
    last = row.last_activity if row.last_activity.tzinfo else row.last_activity.replace(tzinfo=before.tzinfo)
    assert last > before + timedelta(minutes=4)


def test_activity_without_cookie(client):
    resp = client.post(ACTIVITY)
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Refresh token required"


def test_session_info(app, client, signed_in):
    _, access = signed_in
    resp = client.get(INFO, headers=_auth(access) | {"User-Agent": "pytest-agent/1.0"})
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert set(data) >= {"lastActivity", "sessionExpiresAt", "secondsUntilExpiry", "deviceInfo"}
    timeout_s = app.config["SESSION_INACTIVITY_TIMEOUT_MS"] // 1000
    assert timeout_s - 60 <= data["secondsUntilExpiry"] <= timeout_s
    from datetime import datetime
    last = datetime.fromisoformat(data["lastActivity"])
    expires = datetime.fromisoformat(data["sessionExpiresAt"])
    assert expires - last == timedelta(seconds=timeout_s)


def test_session_info_requires_bearer(client, signed_in):
    resp = client.get(INFO)
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Access token required"


# ------------------------------------------------------------------ logout

def test_logout_revokes_access_and_refresh(client, signed_in):
    user, access = signed_in
    resp = client.post(LOGOUT, headers=_auth(access))
    assert resp.status_code == 200
    assert resp.get_json() == {"success": True, "message": "Logged out successfully"}
    _assert_cookie_cleared(resp)
    resp = client.get(PROFILE, headers=_auth(access))
    assert resp.status_code == 401
    assert resp.get_json()["success"] is False
    assert client.post(LOGOUT, headers=_auth(access)).status_code == 401
    assert client.post(REFRESH).status_code == 401  # cookie gone
    assert _session_row(user).revoked_reason == "logout"


def test_logout_revokes_a_kept_copy_of_the_refresh_token(client, signed_in):
    _, access = signed_in
    kept = _cookie(client)
    assert client.post(LOGOUT, headers=_auth(access)).status_code == 200
    client.set_cookie("refreshToken", kept)
    resp = client.post(REFRESH)
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid or expired refresh token"


def test_logout_requires_bearer(client):
    resp = client.post(LOGOUT)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Access token required"}


# ------------------------------------------------------------------ bearer failures

def _claims_like(app, access):
    return jwt.decode(access, app.config["JWT_SECRET"], algorithms=["HS256"])


def test_expired_access_token(app, client, signed_in):
    _, access = signed_in
    claims = _claims_like(app, access)
    now = utcnow()
    claims["iat"] = now - timedelta(minutes=10)
    claims["exp"] = now - timedelta(minutes=5)
    token = jwt.encode(claims, app.config["JWT_SECRET"], algorithm="HS256")
    resp = client.get(PROFILE, headers=_auth(token))
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Token expired"}


def test_token_signed_with_another_secret(app, client, signed_in):
    _, access = signed_in
    token = jwt.encode(_claims_like(app, access), "some-other-secret-of-decent-length!", algorithm="HS256")
    resp = client.get(PROFILE, headers=_auth(token))
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Invalid token"}


@pytest.mark.parametrize("header", ["Bearer not.a.jwt", "Bearer ", "Bearer abc"])
def test_garbage_token(client, header):
    resp = client.get(PROFILE, headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.get_json()["message"] in ("Invalid token", "Access token required")
    assert resp.get_json()["success"] is False


def test_alg_none_token_is_refused(app, client, signed_in):
    _, access = signed_in
    token = jwt.encode(_claims_like(app, access), None, algorithm="none")
    resp = client.get(PROFILE, headers=_auth(token))
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid token"


def test_token_for_another_user_id_is_refused(app, client, signed_in, users):
    _, access = signed_in
    claims = _claims_like(app, access)
    claims["userId"] = users["admin"].id
    claims["email"] = users["admin"].email
    claims["role"] = "Admin"
    token = jwt.encode(claims, app.config["JWT_SECRET"], algorithm="HS256")
    resp = client.get("/api/users", headers=_auth(token))
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid token - user not found"


def test_no_authorization_header(client):
    resp = client.get(PROFILE)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Access token required"}


def test_non_bearer_scheme(client, signed_in):
    _, access = signed_in
    resp = client.get(PROFILE, headers={"Authorization": f"Token {access}"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Access token required"
