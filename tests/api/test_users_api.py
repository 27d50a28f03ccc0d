"""JSON API accounts: own profile, passwords, second factor, doctors list and the
Admin user administration (api-contract.md §3.4, §4)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from emrs.auth.models import PasswordResetToken, User, UserSession
from emrs.auth.security import check_password
from emrs.extensions import db

from ..conftest import PASSWORD, api_login

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

NEW_PASSWORD = "N3w-password-x"
FORGOT_MESSAGE = "If an account with this email exists, a password reset OTP has been sent."


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _login_status(app, email, password) -> int:
    return app.test_client().post("/api/users/login", json={"email": email, "password": password}).status_code


def _validation_error(resp, path=None):
    assert resp.status_code == 400, (resp.status_code, resp.get_json())
    body = resp.get_json()
    assert body["success"] is False and body["message"] == "Validation failed"
    assert isinstance(body["errors"], list) and body["errors"]
    e = body["errors"][0]
    assert set(e) >= {"type", "msg", "path", "location"}
    if path:
        assert path in [x["path"] for x in body["errors"]]
    return body


# ------------------------------------------------------------------ profile

def test_get_profile(client, users, bearer):
    user = users["faculty"]
    resp = client.get("/api/users/profile", headers=bearer(user))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True
    u = body["data"]["user"]
    assert {"id", "name", "role", "mobile", "email", "two_factor_enabled", "created_at"} <= set(u)
    assert "password_hash" not in u and "two_factor_secret" not in u
    assert (u["id"], u["email"], u["role"], u["name"]) == (user.id, user.email, user.role, user.name)


def test_user_timestamps_carry_their_utc_offset(client, users, bearer):
    """Regression (the OpenAPI client test): on SQLite created_at/last_login came without
    an offset, which is not an ISO-8601 timestamp in UTC."""
    from datetime import datetime, timedelta
    u = client.get("/api/users/profile", headers=bearer(users["faculty"])).get_json()["data"]["user"]
    for key in ("created_at", "last_login"):
        assert datetime.fromisoformat(u[key]).utcoffset() == timedelta(0), (key, u[key])


def test_update_profile(client, users, bearer):
    user = users["resident"]
    resp = client.put("/api/users/profile", headers=bearer(user),
                      json={"name": user.name, "email": "Renamed.Person@Test.EMRS.local", "mobile": "9876543210"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "Profile updated successfully"
    assert body["data"]["user"]["name"] == user.name  # the registered name: only an Admin changes it
    assert body["data"]["user"]["email"] == "renamed.person@test.emrs.local"
    assert body["data"]["user"]["mobile"] == "9876543210"
    row = db.session.get(User, user.id)
    assert row.email == "renamed.person@test.emrs.local"


def test_profile_cannot_change_own_role(client, users, bearer):
    user = users["resident"]
    resp = client.put("/api/users/profile", headers=bearer(user), json={"role": "Admin"})
    assert resp.status_code == 400
    assert resp.get_json()["success"] is False
    assert db.session.get(User, user.id).role == "Resident"


def test_profile_taken_email_is_409(client, users, bearer):
    resp = client.put("/api/users/profile", headers=bearer(users["resident"]),
                      json={"email": users["admin"].email.upper()})
    assert resp.status_code == 409
    assert resp.get_json() == {"success": False, "message": "Email already exists"}


def test_profile_own_email_unchanged_is_fine(client, users, bearer):
    user = users["pwo"]
    resp = client.put("/api/users/profile", headers=bearer(user), json={"email": user.email})
    assert resp.status_code == 200


@pytest.mark.parametrize("email", ["not-an-email", "", 42, None])
def test_profile_bad_email_is_400(client, users, bearer, email):
    _validation_error(client.put("/api/users/profile", headers=bearer(users["pwo"]), json={"email": email}),
                      "email")


def test_profile_bad_name_is_400(client, users, bearer):
    _validation_error(client.put("/api/users/profile", headers=bearer(users["pwo"]), json={"name": "x"}), "name")


def test_nul_in_a_name_is_400(client, users, bearer):
    """Regression (schemathesis on PostgreSQL): a name with NUL reached the database, a 500."""
    h = bearer(users["admin"])
    resp = client.post("/api/users/register", headers=h, json={"name": "Ram\x00 Lal", "email": "ram@test.emrs.local",
                                                               "role": "Faculty"})
    assert resp.status_code == 400 and "cannot be stored" in resp.get_json()["message"]
    resp = client.put("/api/users/profile", headers=h, json={"designation": "Consultant\x00"})
    assert resp.status_code == 400 and "cannot be stored" in resp.get_json()["message"]


def test_profile_malformed_json_is_400(client, users, bearer):
    resp = client.put("/api/users/profile", headers=bearer(users["pwo"]), data="{oops",
                      content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["success"] is False


# ------------------------------------------------------------------ change password

def test_change_password_wrong_current(app, client, users, bearer):
    user = users["faculty"]
    resp = client.put("/api/users/change-password", headers=bearer(user),
                      json={"currentPassword": "wrong-one1", "newPassword": NEW_PASSWORD})
    assert resp.status_code == 400
    assert resp.get_json() == {"success": False, "message": "Current password is incorrect"}
    assert _login_status(app, user.email, PASSWORD) == 200


@pytest.mark.parametrize("new", ["short1", "onlyletters", "1234567890", 12345678])
def test_change_password_weak_new_password(app, client, users, bearer, new):
    user = users["faculty"]
    _validation_error(client.put("/api/users/change-password", headers=bearer(user),
                                 json={"currentPassword": PASSWORD, "newPassword": new}), "newPassword")
    assert _login_status(app, user.email, PASSWORD) == 200


def test_change_password_revokes_other_sessions_only(app, client, outbox, users):
    user = users["resident"]
    other = app.test_client()
    other_token = api_login(other, outbox, user)
    mine = api_login(client, outbox, user)
    resp = client.put("/api/users/change-password", headers=_auth(mine),
                      json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 200
    assert resp.get_json() == {"success": True, "message": "Password changed successfully"}
    # old password no longer works, the new one does
    resp = app.test_client().post("/api/users/login", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 401 and resp.get_json()["message"] == "Invalid email or password"
    assert _login_status(app, user.email, NEW_PASSWORD) == 200
    # the other session is ended (access and refresh), the caller's stays valid
    assert other.get("/api/users/profile", headers=_auth(other_token)).status_code == 401
    assert other.post("/api/session/refresh").status_code == 401
    assert client.get("/api/users/profile", headers=_auth(mine)).status_code == 200
    assert client.post("/api/session/refresh").status_code == 200
    reasons = {s.revoked_reason for s in db.session.execute(
        select(UserSession).where(UserSession.user_id == user.id)).scalars()}
    assert "password_changed" in reasons and None in reasons


def test_change_password_requires_auth(client):
    resp = client.put("/api/users/change-password", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 401 and resp.get_json()["message"] == "Access token required"


# ------------------------------------------------------------------ forgot / verify / reset

def _forgot(client, email):
    resp = client.post("/api/users/forgot-password", json={"email": email})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["success"] is True and body["message"] == FORGOT_MESSAGE
    assert re.fullmatch(r"[0-9a-f]{64}", body["data"]["token"])
    assert body["data"]["expires_at"]
    return body["data"]["token"]


def test_password_reset_full_flow(app, client, outbox, users):
    user = users["pwo"]
    other = app.test_client()
    other_token = api_login(other, outbox, user)
    token = _forgot(client, user.email)
    msgs = outbox.messages(user.email)
    assert msgs[-1]["Subject"] == "EMRS password reset code"
    code = outbox.last_code(user.email)
    resp = client.post("/api/users/verify-otp", json={"token": token, "otp": code})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "OTP verified successfully"
    assert body["data"]["token"] == token
    assert body["data"]["user"] == {"name": user.name, "email": user.email}
    resp = client.post("/api/users/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"success": True,
                               "message": "Password reset successfully. You can now log in with your new password."}
    assert _login_status(app, user.email, PASSWORD) == 401
    assert _login_status(app, user.email, NEW_PASSWORD) == 200
    # all sessions end on a reset; a confirmation is mailed
    assert other.get("/api/users/profile", headers=_auth(other_token)).status_code == 401
    assert "Your EMRS password was changed" in [m["Subject"] for m in outbox.messages(user.email)]
    # the token is single use
    resp = client.post("/api/users/reset-password", json={"token": token, "newPassword": "An0ther-pass"})
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "Invalid or expired reset token"


def test_reset_without_verify_is_refused(app, client, outbox, users):
    user = users["faculty"]
    token = _forgot(client, user.email)
    resp = client.post("/api/users/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 400
    assert resp.get_json() == {"success": False, "message": "Invalid or expired reset token"}
    assert _login_status(app, user.email, PASSWORD) == 200


def test_verify_otp_wrong_code(client, outbox, users):
    user = users["faculty"]
    token = _forgot(client, user.email)
    code = outbox.last_code(user.email)
    wrong = "000000" if code != "000000" else "111111"
    resp = client.post("/api/users/verify-otp", json={"token": token, "otp": wrong})
    assert resp.status_code == 400
    assert resp.get_json() == {"success": False, "message": "Invalid or expired OTP"}
    # a failed verify does not unlock the reset
    resp = client.post("/api/users/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 400 and resp.get_json()["message"] == "Invalid or expired reset token"


def test_verify_otp_garbage_token(client):
    resp = client.post("/api/users/verify-otp", json={"token": "nope", "otp": "123456"})
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "Invalid or expired OTP"


def test_reset_with_weak_password_after_verify(app, client, outbox, users):
    user = users["resident"]
    token = _forgot(client, user.email)
    client.post("/api/users/verify-otp", json={"token": token, "otp": outbox.last_code(user.email)})
    _validation_error(client.post("/api/users/reset-password", json={"token": token, "newPassword": "short"}),
                      "newPassword")
    assert _login_status(app, user.email, PASSWORD) == 200


def test_forgot_for_unknown_email_looks_the_same(client, outbox, users):
    before = len(outbox.messages())
    token = _forgot(client, "nobody-here@test.emrs.local")
    assert len(outbox.messages()) == before
    assert db.session.execute(select(PasswordResetToken)).scalars().all() == []
    # the token leads nowhere
    resp = client.post("/api/users/verify-otp", json={"token": token, "otp": "123456"})
    assert resp.status_code == 400 and resp.get_json()["message"] == "Invalid or expired OTP"
    # same keys as for an existing account
    known = client.post("/api/users/forgot-password", json={"email": users["admin"].email}).get_json()
    unknown = client.post("/api/users/forgot-password", json={"email": "ghost@test.emrs.local"}).get_json()
    assert set(known) == set(unknown) and set(known["data"]) == set(unknown["data"])
    assert known["message"] == unknown["message"]


def test_forgot_bad_email_is_400(client):
    _validation_error(client.post("/api/users/forgot-password", json={"email": "bad"}), "email")


# ------------------------------------------------------------------ second factor

def test_enable_2fa(client, outbox, make_user):
    user = make_user("Faculty", otp=False)
    token = api_login(client, outbox, user)
    resp = client.post("/api/users/enable-2fa", headers=_auth(token))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["success"] is True and body["data"] == {"two_factor_enabled": True}
    assert db.session.get(User, user.id).two_factor_enabled is True
    again = client.post("/api/users/enable-2fa", headers=_auth(token))
    assert again.status_code == 400
    assert again.get_json()["message"] == "Two-factor authentication is already enabled"


@pytest.mark.parametrize("key", ["faculty", "resident", "pwo"])
def test_disable_2fa_refused_for_non_admin(client, users, bearer, key):
    user = users[key]
    resp = client.post("/api/users/disable-2fa", headers=bearer(user))
    assert resp.status_code == 403
    assert resp.get_json()["success"] is False
    assert db.session.get(User, user.id).two_factor_enabled is True


def test_disable_2fa_needs_the_current_password(client, users, bearer):
    """An access token alone does not remove the second factor."""
    admin = users["admin"]
    headers = bearer(admin)
    for body in (None, {}, {"currentPassword": "wrong-pass1"}):
        resp = client.post("/api/users/disable-2fa", headers=headers, json=body) if body is not None \
            else client.post("/api/users/disable-2fa", headers=headers)
        assert resp.status_code == 400, resp.get_json()
        assert resp.get_json()["success"] is False
        assert "current password" in resp.get_json()["message"].lower()
        assert db.session.get(User, admin.id).two_factor_enabled is True


def test_disable_2fa_as_admin(app, client, outbox, users, bearer):
    admin = users["admin"]
    resp = client.post("/api/users/disable-2fa", headers=bearer(admin), json={"currentPassword": PASSWORD})
    assert resp.status_code == 200
    assert resp.get_json()["data"]["two_factor_enabled"] is False
    assert db.session.get(User, admin.id).two_factor_enabled is False
    # next login returns tokens without a code
    resp = app.test_client().post("/api/users/login", json={"email": admin.email, "password": PASSWORD})
    assert resp.status_code == 200 and "accessToken" in resp.get_json()["data"]


# ------------------------------------------------------------------ doctors

def test_doctors_lists_only_faculty_and_residents(client, users, bearer, make_user):
    make_user("Faculty")
    inactive = make_user("Resident")
    row = db.session.get(User, inactive.id)
    row.is_active = False
    db.session.commit()
    resp = client.get("/api/users/doctors", headers=bearer(users["pwo"]))
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    roles = {u["role"] for u in data["users"]}
    assert roles == {"Faculty", "Resident"}
    ids = {u["id"] for u in data["users"]}
    assert users["faculty"].id in ids and users["resident"].id in ids
    assert users["admin"].id not in ids and users["pwo"].id not in ids and inactive.id not in ids
    assert all("password_hash" not in u for u in data["users"])
    p = data["pagination"]
    assert set(p) == {"page", "limit", "total", "pages"}
    assert p["page"] == 1 and p["limit"] == 100 and p["total"] == len(data["users"]) and p["pages"] == 1


def test_doctors_pagination(client, users, bearer):
    resp = client.get("/api/users/doctors?page=2&limit=1", headers=bearer(users["pwo"]))
    data = resp.get_json()["data"]
    assert data["pagination"] == {"page": 2, "limit": 1, "total": 2, "pages": 2}
    assert len(data["users"]) == 1


def test_doctors_requires_auth(client):
    assert client.get("/api/users/doctors").status_code == 401


# ------------------------------------------------------------------ administration

def test_admin_list_with_pagination_and_role_filter(client, users, bearer, make_user):
    for _ in range(3):
        make_user("Resident")
    h = bearer(users["admin"])
    resp = client.get("/api/users?page=1&limit=2", headers=h)
    assert resp.status_code == 200
    data = resp.get_json()["data"]
    assert data["pagination"] == {"page": 1, "limit": 2, "total": 7, "pages": 4}
    assert len(data["users"]) == 2
    assert {"id", "name", "role", "mobile", "email", "created_at"} <= set(data["users"][0])
    assert all("password_hash" not in u for u in data["users"])
    resp = client.get("/api/users?role=Resident", headers=h)
    data = resp.get_json()["data"]
    assert data["pagination"]["total"] == 4 and data["pagination"]["limit"] == 10
    assert {u["role"] for u in data["users"]} == {"Resident"}
    # legacy spelling is accepted
    assert client.get("/api/users?role=JR", headers=h).get_json()["data"]["pagination"]["total"] == 4
    # newest first
    all_ids = [u["id"] for u in client.get("/api/users?limit=100", headers=h).get_json()["data"]["users"]]
    assert all_ids[0] == max(all_ids)


def test_admin_list_bad_role_and_bad_pagination(client, users, bearer):
    h = bearer(users["admin"])
    _validation_error(client.get("/api/users?role=Janitor", headers=h), "role")
    _validation_error(client.get("/api/users?page=0", headers=h), "page")
    _validation_error(client.get("/api/users?limit=abc", headers=h), "limit")
    _validation_error(client.get("/api/users?limit=1001", headers=h), "limit")


def test_admin_stats(client, users, bearer, make_user):
    make_user("Faculty")
    resp = client.get("/api/users/stats", headers=bearer(users["admin"]))
    assert resp.status_code == 200
    stats = resp.get_json()["data"]["stats"]
    assert all(set(s) == {"role", "count"} for s in stats)
    counts = {s["role"]: int(s["count"]) for s in stats}
    assert counts == {"Admin": 1, "Faculty": 2, "Resident": 1, "Psychiatric Welfare Officer": 1}


def test_admin_get_user(client, users, bearer):
    target = users["resident"]
    resp = client.get(f"/api/users/{target.id}", headers=bearer(users["admin"]))
    assert resp.status_code == 200
    u = resp.get_json()["data"]["user"]
    assert u["id"] == target.id and u["email"] == target.email and "password_hash" not in u


def test_admin_update_user(client, users, bearer):
    target = users["resident"]
    resp = client.put(f"/api/users/{target.id}", headers=bearer(users["admin"]),
                      json={"name": "Promoted Person", "role": "Faculty", "mobile": "9123456780"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "User updated successfully"
    assert body["data"]["user"]["role"] == "Faculty"
    assert body["data"]["user"]["name"] == "Promoted Person"
    assert db.session.get(User, target.id).role == "Faculty"


def test_admin_update_bad_role_and_taken_email(client, users, bearer):
    h = bearer(users["admin"])
    target = users["resident"]
    _validation_error(client.put(f"/api/users/{target.id}", headers=h, json={"role": "Boss"}), "role")
    resp = client.put(f"/api/users/{target.id}", headers=h, json={"email": users["faculty"].email})
    assert resp.status_code == 409 and resp.get_json()["message"] == "Email already exists"


def test_admin_cannot_change_own_role(client, users, bearer):
    admin = users["admin"]
    resp = client.put(f"/api/users/{admin.id}", headers=bearer(admin), json={"role": "Resident"})
    assert resp.status_code == 400 and resp.get_json()["success"] is False
    assert db.session.get(User, admin.id).role == "Admin"


def test_admin_deactivate_and_activate(app, client, outbox, users, bearer):
    target = users["resident"]
    target_token = api_login(app.test_client(), outbox, target)
    h = bearer(users["admin"])
    resp = client.put(f"/api/users/{target.id}/deactivate", headers=h)
    assert resp.status_code == 200
    assert resp.get_json()["message"] == "User deactivated successfully"
    assert resp.get_json()["data"]["user"]["is_active"] is False
    # the deactivated user's token stops working and login is refused
    assert client.get("/api/users/profile", headers=_auth(target_token)).status_code == 401
    resp = app.test_client().post("/api/users/login", json={"email": target.email, "password": PASSWORD})
    assert resp.status_code == 401
    assert resp.get_json()["message"] == "Account is deactivated. Please contact administrator."
    resp = client.put(f"/api/users/{target.id}/activate", headers=h)
    assert resp.status_code == 200
    assert resp.get_json()["message"] == "User activated successfully"
    assert resp.get_json()["data"]["user"]["is_active"] is True
    assert _login_status(app, target.email, PASSWORD) == 200


def test_admin_delete_deactivates(client, users, bearer):
    target = users["pwo"]
    resp = client.delete(f"/api/users/{target.id}", headers=bearer(users["admin"]))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["message"] == "User deleted successfully"
    assert body["data"]["deactivated"] is True
    row = db.session.get(User, target.id)
    assert row is not None and row.is_active is False
    # still visible to the admin, as inactive
    resp = client.get(f"/api/users/{target.id}", headers=bearer(users["admin"]))
    assert resp.status_code == 200 and resp.get_json()["data"]["user"]["is_active"] is False


@pytest.mark.parametrize("method, suffix", [("put", "/activate"), ("put", "/deactivate"), ("delete", "")])
def test_admin_own_account_is_400(client, users, bearer, method, suffix):
    admin = users["admin"]
    resp = getattr(client, method)(f"/api/users/{admin.id}{suffix}", headers=bearer(admin))
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["success"] is False and "own account" in body["message"]
    assert db.session.get(User, admin.id).is_active is True


@pytest.mark.parametrize("method, suffix, payload", [
    ("get", "", None), ("put", "", {"name": "Someone Else"}), ("put", "/activate", None),
    ("put", "/deactivate", None), ("delete", "", None)])
def test_admin_unknown_id_is_404(client, users, bearer, method, suffix, payload):
    kw = {"json": payload} if payload else {}
    resp = getattr(client, method)(f"/api/users/999999{suffix}", headers=bearer(users["admin"]), **kw)
    assert resp.status_code == 404
    assert resp.get_json() == {"success": False, "message": "User not found"}


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "99999999999"])
@pytest.mark.parametrize("method, suffix", [("get", ""), ("put", ""), ("put", "/activate"),
                                            ("put", "/deactivate"), ("delete", "")])
def test_admin_invalid_id_is_400(client, users, bearer, bad, method, suffix):
    kw = {"json": {"name": "Someone Else"}} if (method, suffix) == ("put", "") else {}
    resp = getattr(client, method)(f"/api/users/{bad}{suffix}", headers=bearer(users["admin"]), **kw)
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    assert body["success"] is False and body["message"] == "Validation failed"
    assert body["errors"][0]["msg"] == "Valid integer ID is required"
    assert body["errors"][0]["location"] == "params"


def _setup_token(outbox, email) -> str:
    body = outbox.messages(email)[-1].get_content()
    m = re.search(r"/setup-password\?token=([0-9a-f]{64})", body)
    assert m, "no set-up link in the invitation"
    return m.group(1)


def test_register(app, client, users, bearer, outbox):
    """Invitation: no password in the body; the user sets it from the e-mailed link."""
    h = bearer(users["admin"])
    payload = {"name": "New Resident", "email": "new.resident@test.emrs.local", "sub_role": "Senior Resident",
               "role": "Resident", "mobile": "9000000001"}
    resp = client.post("/api/users/register", headers=h, json=payload)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["success"] is True and body["message"] == "User registered successfully"
    assert body["data"]["invitation_sent"] is True
    u = body["data"]["user"]
    assert u["email"] == "new.resident@test.emrs.local" and u["role"] == "Resident" and u["mobile"] == "9000000001"
    assert u["sub_role"] == "Senior Resident" and u["invitation_pending"] is True
    assert "password_hash" not in u and "password" not in u
    row = db.session.get(User, u["id"])
    assert row.grade == "SR" and row.password_set_at is None
    token = _setup_token(outbox, "new.resident@test.emrs.local")
    resp = client.post("/api/users/setup-password", json={"token": token, "newPassword": "Str0ng-pass"})
    assert resp.status_code == 200, resp.get_json()
    assert check_password(db.session.get(User, u["id"]).password_hash, "Str0ng-pass")
    assert _login_status(app, "new.resident@test.emrs.local", "Str0ng-pass") == 200
    # duplicate (case-insensitive)
    dup = client.post("/api/users/register", headers=h, json=payload | {"email": "NEW.resident@test.emrs.local",
                                                                         "mobile": None})
    assert dup.status_code == 409
    assert dup.get_json() == {"success": False, "message": "User with this email already exists"}


@pytest.mark.parametrize("override, field", [
    ({"role": "Janitor"}, "role"),
    ({"role": None}, "role"),
    ({"password": "Str0ng-pass"}, "password"),  # administrators never choose a user's password
    ({"email": "nope"}, "email"),
    ({"name": "A"}, "name"),
    ({"sub_role": "Junior Resident"}, "sub_role"),  # only Residents have a grade
    ({"role": "Resident"}, "sub_role"),  # ... and they must have one
    ({"role": "Resident", "sub_role": "Chief Resident"}, "sub_role"),
])
def test_register_validation(client, users, bearer, override, field, outbox):
    payload = {"name": "New Person", "email": "new.person@test.emrs.local", "role": "Faculty"} | override
    _validation_error(client.post("/api/users/register", headers=bearer(users["admin"]), json=payload), field)
    assert db.session.execute(select(User).where(User.email == "new.person@test.emrs.local")).first() is None
    assert outbox.messages("new.person@test.emrs.local") == []


ADMIN_ROUTES = [
    ("post", "/api/users/register", {"name": "X Person", "email": "x@test.emrs.local", "role": "Admin"}),
    ("get", "/api/users", None),
    ("get", "/api/users/stats", None),
    ("get", "/api/users/{id}", None),
    ("put", "/api/users/{id}", {"role": "Admin"}),
    ("put", "/api/users/{id}/activate", None),
    ("put", "/api/users/{id}/deactivate", None),
    ("delete", "/api/users/{id}", None),
]


@pytest.mark.parametrize("method, url, payload", ADMIN_ROUTES)
def test_admin_routes_refuse_resident(client, users, bearer, method, url, payload):
    resident = users["resident"]
    kw = {"json": payload} if payload else {}
    resp = getattr(client, method)(url.format(id=users["faculty"].id), headers=bearer(resident), **kw)
    assert resp.status_code == 403
    body = resp.get_json()
    assert body["success"] is False
    assert body["message"].startswith("Access denied. Required roles: Admin. Your role: Resident")
    assert db.session.get(User, users["faculty"].id).is_active is True
    assert db.session.get(User, users["faculty"].id).role == "Faculty"
    assert db.session.execute(select(User).where(User.email == "x@test.emrs.local")).first() is None


@pytest.mark.parametrize("method, url, payload", ADMIN_ROUTES)
def test_admin_routes_require_token(client, users, method, url, payload):
    kw = {"json": payload} if payload else {}
    resp = getattr(client, method)(url.format(id=users["faculty"].id), **kw)
    assert resp.status_code == 401
    assert resp.get_json() == {"success": False, "message": "Access token required"}
