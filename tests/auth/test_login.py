"""Browser sign-in: password, e-mailed code, lockout, inactivity, reset."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import LoginOTP, User, UserSession
from emrs.extensions import db
from emrs.models_base import utcnow

from ..conftest import PASSWORD, browser_login


def test_login_page_renders(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html
    assert "Forgot your password?" in html


def test_login_with_emailed_code_reaches_dashboard(client, outbox, users):
    user = users["resident"]
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/otp")
    msgs = outbox.messages(user.email)
    assert len(msgs) == 1 and msgs[0]["Subject"] == "Your EMRS login code"
    code = outbox.last_code(user.email)
    page = client.get("/login/otp").get_data(as_text=True)
    assert "We e-mailed a 6-digit code" in page
    resp = client.post("/login/otp", data={"otp": code})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    dash = client.get("/").get_data(as_text=True)
    assert "Patients registered today" in dash and user.name in dash
    # The code is stored hashed, never in clear.
    row = db.session.execute(select(LoginOTP).where(LoginOTP.user_id == user.id)).scalars().one()
    assert code not in row.otp_hash and row.used


def test_code_is_single_use(app, client, outbox, users):
    user = users["pwo"]
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    assert client.post("/login/otp", data={"otp": code}).status_code == 302
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD})
    # a new code was sent; the old one no longer works
    resp = other.post("/login/otp", data={"otp": code})
    assert resp.status_code == 422
    assert "not valid or has expired" in resp.get_data(as_text=True)


def test_expired_code_is_refused(client, outbox, users):
    user = users["faculty"]
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    row = db.session.execute(select(LoginOTP).where(LoginOTP.user_id == user.id)).scalars().one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = client.post("/login/otp", data={"otp": code})
    assert resp.status_code == 422
    assert client.get("/").status_code == 302


def test_five_wrong_codes_burn_the_code(client, outbox, users):
    user = users["resident"]
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert client.post("/login/otp", data={"otp": wrong}).status_code == 422
    # The fifth wrong code closes the sign-in and locks the account: the page says so (423).
    fifth = client.post("/login/otp", data={"otp": wrong})
    assert fifth.status_code == 423 and "locked until" in fifth.get_data(as_text=True)
    # The pending login is closed: the right code does not work, the password step starts again.
    resp = client.post("/login/otp", data={"otp": code})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login", "the right code must not work after 5 wrong tries"
    assert client.get("/").status_code == 302
    failures = db.session.execute(select(AuditLog).where(AuditLog.action == "otp_failed",
                                                         AuditLog.user_id == user.id)).scalars().all()
    assert len(failures) >= 5


def test_send_new_code(client, outbox, users):
    user = users["resident"]
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    first = outbox.last_code(user.email)
    resp = client.post("/login/otp/resend")
    assert resp.status_code == 302
    assert len(outbox.messages(user.email)) == 2
    second = outbox.last_code(user.email)
    if first != second:
        assert client.post("/login/otp", data={"otp": first}).status_code == 422
    assert client.post("/login/otp", data={"otp": second}).status_code == 302


def test_unknown_email_and_wrong_password_same_message(client, users):
    a = client.post("/login", data={"email": "nobody@test.emrs.local", "password": "whatever1"})
    b = client.post("/login", data={"email": users["admin"].email, "password": "wrong-password1"})
    assert a.status_code == b.status_code == 422
    for resp in (a, b):
        assert "Invalid email or password" in resp.get_data(as_text=True)


def test_lockout_after_five_wrong_passwords(client, outbox, users):
    user = users["faculty"]
    for _ in range(4):
        resp = client.post("/login", data={"email": user.email, "password": "not-the-password1"})
        assert "Invalid email or password" in resp.get_data(as_text=True)
    resp = client.post("/login", data={"email": user.email, "password": "not-the-password1"})
    assert "locked until" in resp.get_data(as_text=True) and "15 more minutes" in resp.get_data(as_text=True)
    # Even the right password is refused while locked, and no code is sent.
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 422 and "locked" in resp.get_data(as_text=True)
    assert outbox.messages(user.email) == []
    actions = [a.action for a in db.session.execute(
        select(AuditLog).where(AuditLog.user_id == user.id)).scalars()]
    assert actions.count("login_failed") == 5 and "account_locked" in actions and "login_locked" in actions
    # After the lock expires the right password works again.
    u = db.session.get(User, user.id)
    u.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302


def test_deactivated_user_cannot_sign_in(client, users):
    user = users["resident"]
    user = db.session.get(User, user.id)
    user.is_active = False
    db.session.commit()
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert "Account is deactivated" in resp.get_data(as_text=True)


def test_user_without_second_factor_signs_in_with_password(client, make_user, outbox):
    user = make_user("Faculty", otp=False)
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert outbox.messages(user.email) == []


def test_inactivity_timeout_returns_to_page_after_login(app, client, outbox, users):
    user = users["admin"]
    browser_login(client, outbox, user)
    assert client.get("/admin/users").status_code == 200
    # Nothing happens for longer than SESSION_INACTIVITY_TIMEOUT_MS.
    idle = timedelta(milliseconds=app.config["SESSION_INACTIVITY_TIMEOUT_MS"] + 1000)
    row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars().one()
    row.last_activity = utcnow() - idle
    db.session.commit()
    resp = client.get("/admin/users?q=verma")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/admin/users?q%3Dverma"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "session ended after a period of inactivity" in page
    assert f'value="{user.email}"' in page  # the same account is offered again
    row = db.session.get(UserSession, row.id)
    assert row.revoked_reason == "inactivity"
    # Signing in again goes back where the user was.
    resp = browser_login(client, outbox, user, next_url="/admin/users?q%3Dverma")
    assert resp.headers["Location"] == "/admin/users?q=verma"


def test_htmx_request_after_timeout_gets_hx_redirect(app, client, outbox, users):
    user = users["resident"]
    browser_login(client, outbox, user)
    row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars().one()
    row.last_activity = utcnow() - timedelta(hours=1)
    db.session.commit()
    resp = client.get("/profile", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/profile"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"] == "/login?next=/profile"
    assert "<form" not in resp.get_data(as_text=True)


def test_absolute_session_lifetime(client, outbox, users):
    user = users["resident"]
    browser_login(client, outbox, user)
    row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars().one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_logout_ends_the_session(client, outbox, users):
    user = users["pwo"]
    browser_login(client, outbox, user)
    cookie = client.get_cookie("emrs_session").value
    resp = client.post("/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert user.email not in client.get("/login").get_data(as_text=True)  # signing out leaves no trace
    assert client.get("/").status_code == 302
    # Replaying the old cookie does not bring the session back.
    client.set_cookie("emrs_session", cookie)
    assert client.get("/").status_code == 302
    row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars().one()
    assert row.revoked_reason == "logout"


def test_open_redirect_is_refused(client, outbox, users):
    resp = browser_login(client, outbox, users["pwo"], next_url="//evil.example/x")
    assert resp.headers["Location"] == "/"


def test_login_events_are_audited(client, outbox, users):
    user = users["resident"]
    browser_login(client, outbox, user)
    actions = [a.action for a in db.session.execute(
        select(AuditLog).where(AuditLog.user_id == user.id).order_by(AuditLog.id)).scalars()]
    assert "otp_sent" in actions and actions[-1] == "login"
