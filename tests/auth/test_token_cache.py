"""Access tokens verified once per process (emrs.auth.tokens.verified_claims): what a caller
sees is unchanged — an expired token is refused when it expires, a changed token is refused,
and a revoked session or a deactivated user is refused at once (the session row is read on
every request; only the token's signature check is remembered)."""
from __future__ import annotations

import time

import jwt

from emrs.auth import tokens
from emrs.auth.models import User, UserSession
from emrs.extensions import db
from emrs.models_base import utcnow

from ..conftest import api_login

PROFILE = "/api/users/profile"


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_a_remembered_token_is_refused_once_it_expires(app, client, outbox, users, monkeypatch):
    token = api_login(client, outbox, users["resident"])
    assert client.get(PROFILE, headers=_auth(token)).status_code == 200
    assert (app.config["JWT_SECRET"], token) in tokens._VERIFIED
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(tokens.time, "time", lambda: exp + 1)
    resp = client.get(PROFILE, headers=_auth(token))
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Token expired"}
    monkeypatch.setattr(tokens.time, "time", lambda: exp - 1)  # one second before: still good
    assert client.get(PROFILE, headers=_auth(token)).status_code == 200


def test_a_changed_token_is_refused_after_the_original_was_remembered(client, outbox, users):
    token = api_login(client, outbox, users["resident"])
    assert client.get(PROFILE, headers=_auth(token)).status_code == 200
    head, body, sig = token.split(".")
    forged_sig = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    claims = jwt.decode(token, options={"verify_signature": False})
    other = jwt.encode({**claims, "userId": claims["userId"] + 1}, "not-the-secret-but-long-enough-0123456789",
                       algorithm="HS256").split(".")[1]
    for bad in (f"{head}.{body}.{forged_sig}", f"{head}.{other}.{sig}", token + "x"):
        resp = client.get(PROFILE, headers=_auth(bad))
        assert resp.status_code == 401, bad
        assert resp.get_json()["message"] == "Invalid token"


def test_a_remembered_token_of_an_ended_session_or_a_deactivated_user_is_refused_at_once(app, client, outbox, users):
    token = api_login(client, outbox, users["resident"])
    assert client.get(PROFILE, headers=_auth(token)).status_code == 200
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    with app.app_context():
        row = db.session.get(UserSession, sid)
        row.revoked_at, row.revoked_reason = utcnow(), "logout"
        db.session.commit()
    resp = client.get(PROFILE, headers=_auth(token))
    assert resp.status_code == 401 and resp.get_json()["message"] == "Invalid token"

    token = api_login(client, outbox, users["faculty"])
    assert client.get(PROFILE, headers=_auth(token)).status_code == 200
    with app.app_context():
        db.session.get(User, users["faculty"].id).is_active = False
        db.session.commit()
    resp = client.get(PROFILE, headers=_auth(token))
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Account is deactivated. Please contact administrator."


def test_the_memory_is_bounded(app, monkeypatch):
    monkeypatch.setattr(tokens, "_VERIFIED_MAX", 3)
    monkeypatch.setattr(tokens, "_VERIFIED", {})
    secret = "bounded-secret-0123456789abcdef0123456789"
    app.config["JWT_SECRET"], saved = secret, app.config["JWT_SECRET"]
    try:
        with app.app_context():
            made = [jwt.encode({"userId": 1, "sid": i, "exp": int(time.time()) + 60}, secret, algorithm="HS256")
                    for i in range(5)]
            for t in made:
                assert tokens.verified_claims(t)["sid"] == made.index(t)
            assert len(tokens._VERIFIED) == 3 and (secret, made[0]) not in tokens._VERIFIED
    finally:
        app.config["JWT_SECRET"] = saved
