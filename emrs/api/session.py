"""/api/session — refresh (rotating), activity, info, logout."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request

from ..audit import service as audit
from ..auth import service, tokens
from ..auth.models import User
from ..errors import AuthFailed
from ..extensions import db
from ..client import user_agent
from ..doors import envelope_error
from . import bp
from .envelope import ok
from .openapi_schema import DATETIME, INT, STR, null, obj, Op

COOKIE = "refreshToken"


def _client():
    return request.remote_addr, user_agent()


def set_refresh_cookie(resp, raw: str):
    cfg = current_app.config
    resp.set_cookie(COOKIE, raw, max_age=cfg["REFRESH_TOKEN_COOKIE_MAX_AGE_MS"] // 1000, httponly=True,
                    samesite="Lax", secure=cfg["REFRESH_COOKIE_SECURE"], path="/")
    return resp


def clear_refresh_cookie(resp):
    resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")
    return resp


def login_complete_response(user: User):
    ip, ua = _client()
    sess, _ = service.complete_login(user, "api", ip, ua)
    raw = tokens.issue_refresh_token(sess, ip, ua)
    db.session.commit()
    access, lifetime = tokens.issue_access_token(user, sess)
    resp = ok({"user": user.public(), "accessToken": access, "expiresIn": lifetime}, "Login successful")
    return set_refresh_cookie(resp, raw)


def _auth_failure(exc: AuthFailed):
    resp = envelope_error(exc.message, 401, code=exc.code)
    if exc.code == tokens.SESSION_EXPIRED or exc.message.startswith("Invalid or expired"):
        clear_refresh_cookie(resp)
    return resp


@bp.post("/session/refresh", endpoint="session_refresh")
def session_refresh():
    ip, ua = _client()
    try:
        user, sess, new_raw = tokens.rotate(request.cookies.get(COOKIE), ip, ua)
    except AuthFailed as exc:
        return _auth_failure(exc)
    access, lifetime = tokens.issue_access_token(user, sess)
    return set_refresh_cookie(ok({"accessToken": access, "expiresIn": lifetime}), new_raw)


@bp.post("/session/activity", endpoint="session_activity")
def session_activity():
    try:
        tokens.record_activity(request.cookies.get(COOKIE))
    except AuthFailed as exc:
        return _auth_failure(exc)
    return ok(message="Activity updated")


@bp.get("/session/info", endpoint="session_info")
def session_info():
    sess = getattr(g, "api_session", None)
    if sess is None:
        return envelope_error("No active session", 401)
    last = service._aware(sess.last_activity)
    timeout = timedelta(milliseconds=current_app.config["SESSION_INACTIVITY_TIMEOUT_MS"])
    expires = min(last + timeout, service._aware(sess.expires_at))
    from ..models_base import utcnow
    return ok({"lastActivity": last.isoformat(), "sessionExpiresAt": expires.isoformat(),
               "secondsUntilExpiry": max(0, int((expires - utcnow()).total_seconds())),
               "deviceInfo": sess.device_info})


@bp.post("/session/logout", endpoint="session_logout")
def session_logout():
    sess = g.api_session
    service.revoke_session(sess, "logout")
    audit.record("logout", "users", sess.user_id)
    db.session.commit()
    return clear_refresh_cookie(ok(message="Logged out successfully"))


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- session
    "session_refresh": Op("Session", "New access token from the refresh cookie",
                          obj({"accessToken": STR, "expiresIn": INT}), security="cookie", errors=(401,),
                          description="Rotates the refresh token (a new cookie is set). A rotated token "
                                      "presented again revokes the whole session. 401 with code "
                                      "SESSION_EXPIRED after inactivity."),
    "session_activity": Op("Session", "Record activity (keeps the session alive)", message="Activity updated",
                           security="cookie", errors=(401,)),
    "session_info": Op("Session", "The current session", obj({
        "lastActivity": DATETIME, "sessionExpiresAt": DATETIME, "secondsUntilExpiry": INT,
        "deviceInfo": null(STR)})),
    "session_logout": Op("Session", "Log out", message="Logged out successfully",
                         description="Revokes the session (its access tokens stop working at once) and "
                                     "clears the refresh cookie."),
}
