"""JSON API sign-in: /api/users/login and /api/users/verify-login-otp
(api-contract.md §3.1–3.2), as an integrating client parses them."""
from __future__ import annotations

import jwt
import pytest
from sqlalchemy import select

from emrs.auth.models import LoginOTP, User
from emrs.extensions import db

from ..conftest import PASSWORD

LOGIN = "/api/users/login"
VERIFY = "/api/users/verify-login-otp"
USER_KEYS = {"id", "name", "role", "mobile", "email", "two_factor_enabled", "created_at"}


def _refresh_set_cookie(resp) -> str:
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("refreshToken=")]
    assert len(cookies) == 1, resp.headers.getlist("Set-Cookie")
    return cookies[0]


def _assert_login_complete(app, resp, user):
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["success"] is True
    assert body["message"] == "Login successful"
    data = body["data"]
    assert USER_KEYS <= set(data["user"])
    assert "password_hash" not in data["user"] and "password" not in data["user"]
    assert "two_factor_secret" not in data["user"]
    assert data["user"]["id"] == user.id
    assert data["user"]["email"] == user.email
    assert data["user"]["role"] == user.role
    assert data["user"]["name"] == user.name
    assert data["expiresIn"] == 300
    claims = jwt.decode(data["accessToken"], app.config["JWT_SECRET"], algorithms=["HS256"])
    assert claims["userId"] == user.id
    assert claims["email"] == user.email
    assert claims["role"] == user.role
    assert claims["type"] == "access"
    assert claims["exp"] - claims["iat"] == 300
    cookie = _refresh_set_cookie(resp)
    raw = cookie.split(";", 1)[0].split("=", 1)[1]
    assert len(raw) == 128 and all(c in "0123456789abcdef" for c in raw)
    attrs = [a.strip() for a in cookie.split(";")[1:]]
    assert "HttpOnly" in attrs
    assert "SameSite=Lax" in attrs
    assert "Path=/" in attrs
    assert "Max-Age=604800" in attrs
    assert "Secure" not in attrs
    return data


def _login_code(client, outbox, user):
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]["user_id"], outbox.last_code(user.email)


# ------------------------------------------------------------------ happy paths

def test_login_sends_otp(client, outbox, users):
    user = users["resident"]
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    assert body["message"] == "OTP sent to your email. Please check your inbox."
    assert body["data"]["user_id"] == user.id
    assert body["data"]["email"] == user.email
    assert body["data"]["expires_in"] == 300
    assert "accessToken" not in body["data"]
    assert not [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("refreshToken=")]
    msgs = outbox.messages(user.email)
    assert len(msgs) == 1 and msgs[0]["Subject"] == "Your EMRS login code"


def test_login_email_is_case_insensitive(client, outbox, users):
    user = users["faculty"]
    resp = client.post(LOGIN, json={"email": user.email.upper(), "password": PASSWORD})
    assert resp.status_code == 200
    assert resp.get_json()["data"]["user_id"] == user.id


def test_verify_login_otp_returns_tokens_and_cookie(app, client, outbox, users):
    user = users["faculty"]
    user_id, code = _login_code(client, outbox, user)
    resp = client.post(VERIFY, json={"user_id": user_id, "otp": code})
    data = _assert_login_complete(app, resp, user)
    # the access token works against an authenticated route
    prof = client.get("/api/users/profile", headers={"Authorization": f"Bearer {data['accessToken']}"})
    assert prof.status_code == 200
    assert prof.get_json()["data"]["user"]["id"] == user.id
    # last_login was recorded
    assert db.session.get(User, user.id).last_login is not None


def test_user_id_as_numeric_string_is_accepted(app, client, outbox, users):
    user = users["pwo"]
    user_id, code = _login_code(client, outbox, user)
    resp = client.post(VERIFY, json={"user_id": str(user_id), "otp": code})
    _assert_login_complete(app, resp, user)


def test_login_without_second_factor_returns_tokens_directly(app, client, outbox, make_user):
    user = make_user("Faculty", otp=False)
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    _assert_login_complete(app, resp, user)
    assert outbox.messages(user.email) == []


# ------------------------------------------------------------------ refusals

def test_wrong_password_and_unknown_email_answer_alike(client, users):
    a = client.post(LOGIN, json={"email": "nobody@test.emrs.local", "password": "whatever1"})
    b = client.post(LOGIN, json={"email": users["admin"].email, "password": "wrong-password1"})
    assert a.status_code == b.status_code == 401
    assert a.get_json() == b.get_json() == {"success": False, "message": "Invalid email or password"}


def test_deactivated_user_is_refused(client, outbox, users):
    user = db.session.get(User, users["resident"].id)
    user.is_active = False
    db.session.commit()
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False,
                               "message": "Account is deactivated. Please contact administrator."}
    assert outbox.messages(user.email) == []


def test_deactivated_between_password_and_otp(client, outbox, users):
    user = users["pwo"]
    user_id, code = _login_code(client, outbox, user)
    row = db.session.get(User, user.id)
    row.is_active = False
    db.session.commit()
    resp = client.post(VERIFY, json={"user_id": user_id, "otp": code})
    # The same answer as any refused code (no answer tells
    # an account's state by its id).
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Invalid or expired OTP"}


def test_lockout_after_five_wrong_passwords(client, outbox, users):
    user = users["faculty"]
    for _ in range(4):
        resp = client.post(LOGIN, json={"email": user.email, "password": "not-the-password1"})
        assert resp.status_code == 401
        assert resp.get_json()["message"] == "Invalid email or password"
    resp = client.post(LOGIN, json={"email": user.email, "password": "not-the-password1"})
    assert resp.status_code == 423
    body = resp.get_json()
    assert body["success"] is False and "locked" in body["message"]
    # the right password is refused while locked, and no code is mailed
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 423
    assert resp.get_json()["success"] is False and "locked" in resp.get_json()["message"]
    assert outbox.messages(user.email) == []


def test_wrong_otp_is_refused(client, outbox, users):
    user = users["resident"]
    user_id, code = _login_code(client, outbox, user)
    wrong = "000000" if code != "000000" else "111111"
    resp = client.post(VERIFY, json={"user_id": user_id, "otp": wrong})
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Invalid or expired OTP"}
    assert not [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("refreshToken=")]
    # the right code still works after one mistake
    assert client.post(VERIFY, json={"user_id": user_id, "otp": code}).status_code == 200


def test_otp_is_single_use(client, outbox, users):
    user = users["resident"]
    user_id, code = _login_code(client, outbox, user)
    assert client.post(VERIFY, json={"user_id": user_id, "otp": code}).status_code == 200
    again = client.post(VERIFY, json={"user_id": user_id, "otp": code})
    assert again.status_code == 401
    assert again.get_json()["message"] == "Invalid or expired OTP"
    row = db.session.execute(select(LoginOTP).where(LoginOTP.user_id == user.id)).scalars().one()
    assert row.used and code not in row.otp_hash


def test_new_login_invalidates_previous_code(app, client, outbox, users):
    user = users["admin"]
    user_id, first = _login_code(client, outbox, user)
    _, second = _login_code(app.test_client(), outbox, user)
    if first != second:
        resp = client.post(VERIFY, json={"user_id": user_id, "otp": first})
        assert resp.status_code == 401 and resp.get_json()["message"] == "Invalid or expired OTP"
    assert client.post(VERIFY, json={"user_id": user_id, "otp": second}).status_code == 200


def test_otp_for_unknown_user_or_user_without_2fa(client, make_user):
    resp = client.post(VERIFY, json={"user_id": 999999, "otp": "123456"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid or expired OTP"
    user = make_user("Faculty", otp=False)
    resp = client.post(VERIFY, json={"user_id": user.id, "otp": "123456"})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Invalid or expired OTP"


# ------------------------------------------------------------------ bad input: 400, never 500

def _assert_400(resp):
    assert resp.status_code == 400, (resp.status_code, resp.get_data(as_text=True)[:300])
    body = resp.get_json()
    assert body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.mark.parametrize("url", [LOGIN, VERIFY])
def test_malformed_json_is_400(client, url):
    resp = client.post(url, data='{"email": "a@b.c", "password": ', content_type="application/json")
    _assert_400(resp)


@pytest.mark.parametrize("url", [LOGIN, VERIFY])
@pytest.mark.parametrize("payload", ['["a", "b"]', '"text"', "42", "null", "true"])
def test_non_object_json_is_400(client, url, payload):
    resp = client.post(url, data=payload, content_type="application/json")
    _assert_400(resp)


@pytest.mark.parametrize("url", [LOGIN, VERIFY])
def test_missing_content_type_is_400(client, users, url):
    resp = client.post(url, data='{"email": "%s", "password": "%s"}' % (users["admin"].email, PASSWORD))
    body = _assert_400(resp)
    assert body["message"] == "Content-Type must be application/json"


def test_form_encoded_body_is_400(client, users):
    resp = client.post(LOGIN, data={"email": users["admin"].email, "password": PASSWORD})
    _assert_400(resp)


def test_empty_body_is_400(client):
    _assert_400(client.post(LOGIN, data="", content_type="application/json"))


@pytest.mark.parametrize("payload, field", [
    ({"email": 12345, "password": PASSWORD}, "email"),
    ({"email": ["a@b.co"], "password": PASSWORD}, "email"),
    ({"email": "not-an-email", "password": PASSWORD}, "email"),
    ({"password": PASSWORD}, "email"),
])
def test_login_bad_email_is_validation_error(client, payload, field):
    body = _assert_400(client.post(LOGIN, json=payload))
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == field
    assert body["errors"][0]["msg"] == "Valid email is required"


@pytest.mark.parametrize("password", [None, "", 12345678, ["x"]])
def test_login_bad_password_type_is_400(client, users, password):
    body = _assert_400(client.post(LOGIN, json={"email": users["admin"].email, "password": password}))
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == "password"


@pytest.mark.parametrize("payload, field", [
    ({"user_id": "abc", "otp": "123456"}, "user_id"),
    ({"user_id": 1.5, "otp": "123456"}, "user_id"),
    ({"user_id": True, "otp": "123456"}, "user_id"),
    ({"user_id": 0, "otp": "123456"}, "user_id"),
    ({"user_id": -3, "otp": "123456"}, "user_id"),
    ({"user_id": None, "otp": "123456"}, "user_id"),
    ({"otp": "123456"}, "user_id"),
    ({"user_id": 1, "otp": ["1", "2"]}, "otp"),
    ({"user_id": 1, "otp": {"code": "123456"}}, "otp"),
    ({"user_id": 1}, "otp"),
])
def test_verify_otp_wrong_types_are_400(client, payload, field):
    body = _assert_400(client.post(VERIFY, json=payload))
    assert body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == field
