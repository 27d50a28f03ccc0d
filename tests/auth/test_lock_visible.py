"""A login code that cannot lock its owner by surprise: after a
wrong code the field is empty and the page says how many tries are left; a locked account is told
plainly until when (India time); the admin users page shows locked accounts with an audited
Unlock action."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import User
from emrs.extensions import db
from emrs.models_base import utcnow
from emrs.timeutil import IST

from ..conftest import PASSWORD, browser_login


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _hhmm_near(minutes: int) -> set[str]:
    """The IST clock times a lock of ``minutes`` from now may show (the minute may turn)."""
    now = utcnow()
    return {(now + timedelta(minutes=minutes, seconds=s)).astimezone(IST).strftime("%H:%M") for s in (-60, 0, 60)}


def _lock_by_codes(client, outbox, user):
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    for _ in range(4):
        client.post("/login/otp", data={"otp": _wrong(code)})
    return client.post("/login/otp", data={"otp": _wrong(code)}), code


def test_a_wrong_code_clears_the_field_and_says_what_is_left(client, outbox, users):
    user = users["resident"]
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    code = outbox.last_code(user.email)
    resp = client.post("/login/otp", data={"otp": _wrong(code)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "That code is not valid or has expired" in html and "4 more tries before this sign-in closes" in html
    field = re.search(r"<input[^>]*name=\"otp\"[^>]*>", html).group(0)
    assert 'value=""' in field and _wrong(code) not in field  # the refused digits are gone
    assert 'data-refused="1"' in field
    # The right code still signs in.
    resp = client.post("/login/otp", data={"otp": code})
    assert resp.status_code == 302 and client.get("/").status_code == 200


def test_the_code_page_says_locked_and_until_when(client, outbox, users):
    user = users["faculty"]
    resp, code = _lock_by_codes(client, outbox, user)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 423
    shown = re.search(r"locked until (\d\d:\d\d) \(India time\)", html)
    assert shown and shown.group(1) in _hhmm_near(15), html[:2000]
    assert 'name="otp"' not in html and "Back to sign in" in html  # no field to spend more tries in
    # The right code does not help now, and the password step says the same.
    client.post("/login/otp", data={"otp": code})
    assert client.get("/").status_code == 302
    again = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert again.status_code == 422 and "locked until" in again.get_data(as_text=True)


def test_admin_sees_locked_accounts_and_unlocks_them(app, client, outbox, users, role_client):
    user = users["resident"]
    _lock_by_codes(client, outbox, user)
    pwd_locked = users["pwo"]
    for _ in range(5):
        app.test_client().post("/login", data={"email": pwd_locked.email, "password": "not-the-password1"})
    admin = role_client("admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert page.count("Locked until") == 2
    assert f'action="/admin/users/{user.id}/unlock"' in page and f'action="/admin/users/{pwd_locked.id}/unlock"' in page
    assert f'action="/admin/users/{users["faculty"].id}/unlock"' not in page

    resp = admin.post(f"/admin/users/{user.id}/unlock", follow_redirects=True)
    assert f"{user.name} unlocked." in resp.get_data(as_text=True)
    assert admin.post(f"/admin/users/{pwd_locked.id}/unlock").status_code == 302
    assert "Locked until" not in admin.get("/admin/users").get_data(as_text=True)
    rows = db.session.execute(select(AuditLog).where(AuditLog.action == "account_unlock")).scalars().all()
    assert {r.entity_id for r in rows} == {str(user.id), str(pwd_locked.id)}  # whose account
    assert all(r.user_id == users["admin"].id and r.details["locked_until"] for r in rows)  # who unlocked it
    # Both sign in again at once.
    browser_login(app.test_client(), outbox, user)
    browser_login(app.test_client(), outbox, pwd_locked)
    assert db.session.get(User, pwd_locked.id).locked_until is None


def test_only_an_admin_unlocks(app, client, outbox, users, role_client):
    user = users["resident"]
    _lock_by_codes(client, outbox, user)
    for key in ("faculty", "pwo"):
        assert role_client(key).post(f"/admin/users/{user.id}/unlock").status_code == 403
    assert app.test_client().post(f"/admin/users/{user.id}/unlock").status_code in (302, 401)
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "account_unlock")).first() is None
    again = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD})
    assert "locked until" in again.get_data(as_text=True)


def test_api_unlock_is_admin_only_and_audited(app, client, outbox, users, bearer):
    user = users["resident"]
    _lock_by_codes(client, outbox, user)
    for key in ("faculty", "resident", "pwo"):
        if key == "resident":
            continue  # locked: cannot sign in
        resp = client.put(f"/api/users/{user.id}/unlock", headers=bearer(users[key]))
        assert resp.status_code == 403
    admin = bearer(users["admin"])
    resp = client.put(f"/api/users/{user.id}/unlock", headers=admin)
    body = resp.get_json()
    assert resp.status_code == 200 and body["message"] == "User unlocked successfully"
    assert body["data"]["user"]["id"] == user.id and body["data"]["was_locked_until"]
    again = client.put(f"/api/users/{user.id}/unlock", headers=admin).get_json()
    assert again["message"] == "User was not locked" and again["data"]["was_locked_until"] is None
    assert client.put("/api/users/999999/unlock", headers=admin).status_code == 404
    rows = db.session.execute(select(AuditLog).where(AuditLog.action == "account_unlock")).scalars().all()
    assert len(rows) == 2 and all(r.user_id == users["admin"].id and r.entity_id == str(user.id) for r in rows)
    browser_login(app.test_client(), outbox, user)
