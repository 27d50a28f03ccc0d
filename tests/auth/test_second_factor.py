"""A second factor never stands alone, and anonymous
requests have no lever over someone else's account. Played from the client's side: the
JSON API (/api/users/...) and the pages (/login, /login/otp, /profile/authenticator)."""
from __future__ import annotations

import re
import time

import pyotp
import pytest

from emrs.auth.models import User
from emrs.extensions import db

from ..conftest import PASSWORD

LOGIN = "/api/users/login"
VERIFY = "/api/users/verify-login-otp"
RESEND = "/api/users/resend-login-otp"
GENERIC = {"success": False, "message": "Invalid or expired OTP"}
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}


def _with_authenticator(user) -> str:
    row = db.session.get(User, user.id)
    row.two_factor_secret = pyotp.random_base32()
    row.totp_enabled = True
    db.session.commit()
    return row.two_factor_secret


def _refresh_cookie(resp) -> str | None:
    found = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("refreshToken=")]
    return found[0] if found else None


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# ------------------------------------------------------------------ the second factor never alone

def test_authenticator_code_without_password_does_not_sign_in(client, make_user):
    user = make_user("Faculty")
    key = _with_authenticator(user)
    resp = client.post(VERIFY, json={"user_id": user.id, "otp": pyotp.TOTP(key).now()})
    assert resp.status_code == 401 and resp.get_json() == GENERIC
    assert _refresh_cookie(resp) is None
    assert "accessToken" not in resp.get_data(as_text=True)


def test_authenticator_code_is_accepted_once_per_time_step(app, client, make_user):
    user = make_user("Resident")
    key = _with_authenticator(user)
    assert client.post(LOGIN, json={"email": user.email, "password": PASSWORD}).get_json()["data"]["method"] == "totp"
    code = pyotp.TOTP(key).now()
    assert client.post(VERIFY, json={"user_id": user.id, "otp": code}).status_code == 200
    # Someone who watched the code (and knows the password) replays it in its window.
    other = app.test_client()
    assert other.post(LOGIN, json={"email": user.email, "password": PASSWORD}).status_code == 200
    resp = other.post(VERIFY, json={"user_id": user.id, "otp": code})
    assert resp.status_code == 401 and resp.get_json() == GENERIC
    # The next time-step's code (within the accepted window) still works.
    later = pyotp.TOTP(key).at(time.time() + 30)
    assert other.post(VERIFY, json={"user_id": user.id, "otp": later}).status_code == 200


def test_login_answer_carries_the_pending_login_token_and_cookie(client, outbox, users):
    user = users["resident"]
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    data = resp.get_json()["data"]
    assert {"user_id", "email", "method", "expires_in", "login_token"} <= set(data)
    assert re.fullmatch(r"[0-9a-f]{64}", data["login_token"])
    cookie = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("loginToken=")]
    assert len(cookie) == 1
    attrs = [a.strip() for a in cookie[0].split(";")]
    assert attrs[0] == f"loginToken={data['login_token']}"
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/api/users" in attrs
    # The token alone (another client, no cookie, no user_id) completes the login.
    fresh = client.application.test_client()
    done = fresh.post(VERIFY, json={"login_token": data["login_token"], "otp": outbox.last_code(user.email)})
    assert done.status_code == 200 and done.get_json()["data"]["user"]["id"] == user.id
    # ... once: the pending login is closed.
    again = fresh.post(VERIFY, json={"login_token": data["login_token"], "otp": outbox.last_code(user.email)})
    assert again.status_code == 401 and again.get_json() == GENERIC


def test_original_body_works_after_a_real_password_step(app, client, outbox, users):
    """The original client sends {user_id, otp} (no token): accepted only after the password."""
    user = users["pwo"]
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    user_id = resp.get_json()["data"]["user_id"]
    no_cookie = app.test_client()  # same address, no login cookie
    done = no_cookie.post(VERIFY, json={"user_id": user_id, "otp": outbox.last_code(user.email)})
    assert done.status_code == 200 and done.get_json()["message"] == "Login successful"


def test_emailed_code_without_a_password_step_is_refused(app, client, outbox, users):
    user = users["faculty"]
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    # From another address, without the pending login's token, the right code is refused.
    thief = app.test_client()
    resp = thief.post(VERIFY, json={"user_id": user.id, "otp": code}, environ_base=ATTACKER)
    assert resp.status_code == 401 and resp.get_json() == GENERIC
    assert _refresh_cookie(resp) is None
    # The real client still completes its own login.
    assert client.post(VERIFY, json={"user_id": user.id, "otp": code}).status_code == 200


def test_enrolling_an_authenticator_needs_the_current_password(login, client, users):
    user = users["resident"]
    login(user)
    page = client.get("/profile/authenticator").get_data(as_text=True)
    assert 'name="password"' in page
    key = re.search(r'<code class="key">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    resp = client.post("/profile/authenticator", data={"otp": pyotp.TOTP(key).now()})
    assert resp.status_code == 422 and "current password" in resp.get_data(as_text=True).lower()
    assert not db.session.get(User, user.id).totp_enabled
    resp = client.post("/profile/authenticator", data={"otp": pyotp.TOTP(key).now(), "password": "wrong-pass1"})
    assert resp.status_code == 422 and "Current password is incorrect" in resp.get_data(as_text=True)
    assert not db.session.get(User, user.id).totp_enabled
    resp = client.post("/profile/authenticator", data={"otp": pyotp.TOTP(key).now(), "password": PASSWORD})
    assert resp.status_code == 302
    assert db.session.get(User, user.id).totp_enabled


def test_removing_the_authenticator_needs_the_current_password(login, client, make_user):
    user = make_user("Faculty")
    key = _with_authenticator(user)
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert client.post("/login/otp", data={"otp": pyotp.TOTP(key).now()}).status_code == 302
    resp = client.post("/profile/authenticator/remove", data={}, follow_redirects=True)
    assert "Enter your current password" in resp.get_data(as_text=True)
    assert db.session.get(User, user.id).totp_enabled
    client.post("/profile/authenticator/remove", data={"password": PASSWORD})
    assert not db.session.get(User, user.id).totp_enabled


def test_page_code_step_needs_the_password_step_of_this_browser(app, client, outbox, users):
    user = users["resident"]
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    other = app.test_client()
    resp = other.post("/login/otp", data={"otp": code})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert other.get("/").status_code == 302
    assert client.post("/login/otp", data={"otp": code}).status_code == 302


# ------------------------------------------------------------------ no anonymous lever

def test_anonymous_wrong_codes_do_not_lock_the_account(app, client, outbox, users):
    user = users["faculty"]
    thief = app.test_client()
    for _ in range(20):
        resp = thief.post(VERIFY, json={"user_id": user.id, "otp": "123456"}, environ_base=ATTACKER)
        assert resp.status_code == 401 and resp.get_json() == GENERIC
    # The owner signs in normally afterwards.
    resp = client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    assert client.post(VERIFY, json={"user_id": user.id, "otp": outbox.last_code(user.email)}).status_code == 200


def test_anonymous_wrong_codes_do_not_burn_a_login_in_progress(app, client, outbox, users):
    user = users["resident"]
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    thief = app.test_client()
    for _ in range(10):
        resp = thief.post(VERIFY, json={"user_id": user.id, "otp": _wrong(code)}, environ_base=ATTACKER)
        assert resp.status_code == 401 and resp.get_json() == GENERIC
    assert client.post(VERIFY, json={"user_id": user.id, "otp": code}).status_code == 200


def test_code_answers_are_the_same_for_every_id(app, client, outbox, users, make_user):
    no_factor = make_user("Faculty", otp=False)
    gone = make_user("Resident")
    row = db.session.get(User, gone.id)
    row.is_active = False
    db.session.commit()
    locked = make_user("Resident")
    for _ in range(5):
        client.post(LOGIN, json={"email": locked.email, "password": "not-the-password1"})
    totp_user = make_user("Faculty")
    _with_authenticator(totp_user)
    ids = [999999, no_factor.id, gone.id, locked.id, totp_user.id, users["admin"].id]
    answers = set()
    for uid in ids:
        resp = app.test_client().post(VERIFY, json={"user_id": uid, "otp": "123456"}, environ_base=ATTACKER)
        answers.add((resp.status_code, resp.get_data(as_text=True)))
    assert len(answers) == 1, answers
    status, body = answers.pop()
    assert status == 401 and app.json.loads(body) == GENERIC


def test_deactivated_between_password_and_code_gets_the_generic_answer(client, outbox, users):
    user = users["pwo"]
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    row = db.session.get(User, user.id)
    row.is_active = False
    db.session.commit()
    resp = client.post(VERIFY, json={"user_id": user.id, "otp": code})
    assert resp.status_code == 401 and resp.get_json() == GENERIC


def test_wrong_codes_close_the_pending_login(client, outbox, users):
    user = users["admin"]
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    for _ in range(5):
        assert client.post(VERIFY, json={"user_id": user.id, "otp": _wrong(code)}).get_json() == GENERIC
    resp = client.post(VERIFY, json={"user_id": user.id, "otp": code})
    assert resp.status_code == 401 and resp.get_json() == GENERIC


def test_anonymous_resend_changes_nothing(app, client, outbox, users):
    user = users["resident"]
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    thief = app.test_client()
    for body in ({"user_id": user.id}, {"user_id": user.id, "login_token": "0" * 64}, {"user_id": 999999}):
        resp = thief.post(RESEND, json=body, environ_base=ATTACKER)
        assert resp.status_code == 401
        assert resp.get_json() == {"success": False, "message": "Please sign in with your email and password first"}
    assert len(outbox.messages(user.email)) == 1
    assert client.post(VERIFY, json={"user_id": user.id, "otp": code}).status_code == 200


def test_resend_from_the_pending_login(client, outbox, users):
    user = users["faculty"]
    token = client.post(LOGIN, json={"email": user.email, "password": PASSWORD}).get_json()["data"]["login_token"]
    first = outbox.last_code(user.email)
    resp = client.post(RESEND, json={"user_id": user.id})  # the cookie names the pending login
    assert resp.status_code == 200 and resp.get_json()["data"]["expires_in"] == 300
    second = outbox.last_code(user.email)
    assert len(outbox.messages(user.email)) == 2
    bare = client.application.test_client()
    resp = bare.post(RESEND, json={"login_token": token})  # or the token in the body
    assert resp.status_code == 200
    third = outbox.last_code(user.email)
    if third not in (first, second):
        assert client.post(VERIFY, json={"user_id": user.id, "otp": second}).get_json() == GENERIC
    assert client.post(VERIFY, json={"user_id": user.id, "otp": third}).status_code == 200


@pytest.mark.parametrize("via", ["page", "api"])
def test_page_and_api_share_the_pending_login_rules(app, client, outbox, users, via):
    """Five wrong codes in the page flow close that browser's pending login too."""
    user = users["pwo"]
    if via == "page":
        client.post("/login", data={"email": user.email, "password": PASSWORD})
        code = outbox.last_code(user.email)
        for _ in range(4):
            assert client.post("/login/otp", data={"otp": _wrong(code)}).status_code == 422
        assert client.post("/login/otp", data={"otp": _wrong(code)}).status_code == 423  # "locked until HH:MM"
        resp = client.post("/login/otp", data={"otp": code})
        assert resp.status_code in (302, 422)
        assert client.get("/").status_code == 302
    else:
        client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
        code = outbox.last_code(user.email)
        for _ in range(5):
            client.post(VERIFY, json={"user_id": user.id, "otp": _wrong(code)})
        assert client.post(VERIFY, json={"user_id": user.id, "otp": code}).status_code == 401


def test_old_pending_logins_are_tidied_by_the_next_password_step(client, outbox, users):
    from datetime import timedelta

    from sqlalchemy import func, select

    from emrs.auth.models import PendingLogin
    from emrs.models_base import utcnow
    user = users["faculty"]
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    row = db.session.execute(select(PendingLogin).where(PendingLogin.user_id == user.id)).scalars().one()
    row.created_at = utcnow() - timedelta(days=2)
    db.session.commit()
    client.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert db.session.scalar(select(func.count()).select_from(PendingLogin)
                             .where(PendingLogin.user_id == user.id)) == 1
