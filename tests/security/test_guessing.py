"""Guessing is stopped — measured, not assumed. Each test plays an attacker
and counts how many guesses the app actually evaluated; docs/security.md quotes these
figures (with LOGIN_MAX_FAILURES=5, LOGIN_LOCKOUT_MINUTES=15, RATELIMIT_AUTH=20/min,
RESET_CODES_PER_HOUR=5, 6-digit codes)."""
from __future__ import annotations

from sqlalchemy import func, select

from emrs.auth.models import PendingLogin
from emrs.extensions import db

from ..conftest import PASSWORD


def _addr(i: int) -> dict:
    return {"REMOTE_ADDR": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}


def test_password_guesses_per_account_are_capped_from_any_number_of_addresses(client, users):
    user = users["faculty"]
    answers = [client.post("/api/users/login", json={"email": user.email, "password": f"Guess{i}x1"},
                           environ_base=_addr(i)).status_code for i in range(100)]
    evaluated = answers.count(401)
    assert evaluated == 4 and answers[4] == 423 and set(answers[5:]) == {423}
    # Five wrong passwords (four refused, the fifth locks): the right one is refused too now.
    right = client.post("/api/users/login", json={"email": user.email, "password": PASSWORD},
                        environ_base=_addr(1000))
    assert right.status_code == 423 and "locked" in right.get_json()["message"]
    print(f"\nFIGURE password guesses evaluated per account per 15 min: {evaluated + 1} of 100 sent")


def _evaluated_code_guesses(user) -> int:
    """Wrong codes the app weighed: they count against the pending logins (only a correct
    password opens one); the answers themselves are all the same 401."""
    return db.session.scalar(select(func.coalesce(func.sum(PendingLogin.attempts), 0))
                             .where(PendingLogin.user_id == user.id))


def test_code_guesses_are_capped_even_with_the_right_password(client, users, outbox):
    user = users["resident"]
    locked_at = None
    for i in range(100):
        login = client.post("/api/users/login", json={"email": user.email, "password": PASSWORD},
                            environ_base=_addr(i))
        if login.status_code == 423:
            locked_at = i
            break
        token = login.get_json()["data"]["login_token"]
        code = outbox.last_code(user.email)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(10):
            resp = client.post("/api/users/verify-login-otp", json={"login_token": token, "otp": wrong},
                               environ_base=_addr(i))
            assert resp.status_code == 401 and resp.get_json()["message"] == "Invalid or expired OTP"
    guesses = _evaluated_code_guesses(user)
    # Five wrong codes close the pending login; the next password step is locked (423).
    assert guesses == 5 and locked_at == 1
    # The real code of the last login no longer works either.
    resp = client.post("/api/users/verify-login-otp", json={"login_token": token, "otp": outbox.last_code(user.email)})
    assert resp.status_code == 401
    print(f"\nFIGURE code guesses evaluated per account per 15 min (password known): {guesses}")


def test_code_guesses_without_the_password_are_never_evaluated(client, users, outbox):
    user = users["faculty"]
    answers = {client.post("/api/users/verify-login-otp", json={"user_id": user.id, "otp": f"{i:06d}"},
                           environ_base=_addr(i)).status_code for i in range(100)}
    assert answers == {401}
    evaluated = _evaluated_code_guesses(user)
    assert evaluated == 0
    # Nothing changed for the owner: password and code sign in.
    login = client.post("/api/users/login", json={"email": user.email, "password": PASSWORD})
    assert login.status_code == 200
    resp = client.post("/api/users/verify-login-otp", json={"user_id": user.id, "otp": outbox.last_code(user.email)})
    assert resp.status_code == 200
    print(f"\nFIGURE anonymous code guesses evaluated (no password): {evaluated} of 100 sent, account unaffected")


def test_password_spraying_from_one_address_is_rate_limited(app, client, make_user):
    victims = [make_user(email=f"spray{i}@test.emrs.local") for i in range(30)]
    old = app.config["RATELIMIT_AUTH"]
    app.config["RATELIMIT_AUTH"] = "20 per minute"
    try:
        answers = [client.post("/api/users/login", json={"email": v.email, "password": pw},
                               environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code
                   for pw in ("Welcome@123", "Pgimer@2025") for v in victims]
    finally:
        app.config["RATELIMIT_AUTH"] = old
    evaluated = sum(1 for s in answers if s != 429)
    assert evaluated == 20 and answers[20:] == [429] * 40
    print(f"\nFIGURE password-spraying attempts evaluated from one address per minute: {evaluated} of 60")


def test_reset_codes_per_account_are_capped(client, users, outbox):
    user = users["pwo"]
    answers = [client.post("/api/users/forgot-password", json={"email": user.email}, environ_base=_addr(i))
               for i in range(20)]
    assert {a.status_code for a in answers} == {200}
    assert {a.get_json()["message"] for a in answers} == {
        "If an account with this email exists, a password reset OTP has been sent."}
    assert all(len(a.get_json()["data"]["token"]) == 64 for a in answers)
    mailed = len(outbox.messages(user.email))
    assert mailed == 5
    print(f"\nFIGURE reset codes mailed per account per hour: {mailed} of 20 requests")
