"""Account set-up by invitation (an Admin never chooses a user's password) and Resident grades
(sub_role) in user administration, the API, the profile and the printed prescription."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import User, UserInvitation
from emrs.auth.security import check_password
from emrs.extensions import db
from emrs.models_base import utcnow

from ..conftest import PASSWORD

NEW_PASSWORD = "Chosen-pass-7"


def _link(outbox, email) -> str:
    body = outbox.messages(email)[-1].get_content()
    m = re.search(r"https?://\S+/setup-password\?token=([0-9a-f]{64})", body)
    assert m, body
    return m.group(1)


def _invite(client, h, **extra):
    payload = {"name": "Dr Naveen Kumar", "email": "naveen@test.emrs.local", "role": "Resident",
               "sub_role": "Junior Resident"} | extra
    resp = client.post("/api/users/register", headers=h["admin"], json=payload)
    assert resp.status_code == 201, resp.get_json()
    return db.session.get(User, resp.get_json()["data"]["user"]["id"])


def _actions(user_id) -> list[str]:
    return [r.action for r in db.session.execute(select(AuditLog).where(AuditLog.entity_id == str(user_id),
                                                                        AuditLog.entity == "users")
                                                 .order_by(AuditLog.id)).scalars()]


# ------------------------------------------------------------------ the invitation e-mail

def test_admin_page_invites_and_the_email_has_a_link_but_no_password(role_client, outbox, app):
    c = role_client("admin")
    page = c.get("/admin/users/new").get_data(as_text=True)
    assert "Resident grade" in page and 'name="password"' not in page and "No password here" in page
    resp = c.post("/admin/users/new", data={"name": "Dr Simran Gill", "email": "simran@test.emrs.local",
                                            "role": "Resident", "sub_role": "SR", "two_factor_enabled": "y"},
                  follow_redirects=True)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "invitation to set their password was e-mailed" in text
    user = db.session.execute(select(User).where(User.email == "simran@test.emrs.local")).scalar_one()
    assert user.grade == "SR" and user.password_set_at is None and user.invitation_pending
    (msg,) = outbox.messages("simran@test.emrs.local")
    body = msg.get_content()
    assert msg["Subject"] == "Set up your EMRS account password"
    assert "Senior Resident" in body and "24 hours" in body and "works once" in body
    assert re.search(r"http://localhost/setup-password\?token=[0-9a-f]{64}", body)
    assert "password:" not in body.lower() and PASSWORD not in body
    # The token is stored as an HMAC only.
    token = _link(outbox, user.email)
    row = db.session.execute(select(UserInvitation).where(UserInvitation.user_id == user.id)).scalar_one()
    assert row.token_hash != token and token not in row.token_hash
    # Listed as invited, with a resend button.
    listing = c.get("/admin/users?q=simran").get_data(as_text=True)
    assert "Invited, password not set" in listing and "Resend invitation" in listing and "Senior Resident" in listing


def test_invited_user_cannot_sign_in_and_login_says_why_without_telling_who(app, client, h, outbox):
    user = _invite(client, h)
    for password in ("", "anything-1", PASSWORD):
        if not password:
            continue
        resp = app.test_client().post("/login", data={"email": user.email, "password": password})
        text = resp.get_data(as_text=True)
        assert resp.status_code == 422 and "Invalid email or password" in text
        assert "link in your invitation e-mail" in text
    # An unknown e-mail gets exactly the same page text.
    other = app.test_client().post("/login", data={"email": "nobody@test.emrs.local", "password": "anything-1"})
    assert "link in your invitation e-mail" in other.get_data(as_text=True)
    api = app.test_client().post("/api/users/login", json={"email": user.email, "password": "anything-1"})
    assert api.status_code == 401 and api.get_json()["message"] == "Invalid email or password"
    assert db.session.get(User, user.id).failed_login_attempts == 0  # no lockout of a pending account
    assert "login_refused" in _actions(user.id)


# ------------------------------------------------------------------ the set-up page

def test_setup_page_sets_the_password_once(app, client, h, outbox):
    user = _invite(client, h)
    token = _link(outbox, user.email)
    c = app.test_client()
    page = c.get(f"/setup-password?token={token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Dr Naveen Kumar" in text and user.email in text
    # Mismatch and policy: nothing changes, the link still works.
    resp = c.post("/setup-password", data={"token": token, "password": NEW_PASSWORD, "confirm": "other-pass-1"})
    assert resp.status_code == 422 and "do not match" in resp.get_data(as_text=True)
    resp = c.post("/setup-password", data={"token": token, "password": "short", "confirm": "short"})
    assert resp.status_code == 422 and "at least 8 characters" in resp.get_data(as_text=True)
    assert db.session.get(User, user.id).password_set_at is None
    resp = c.post("/setup-password", data={"token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    fresh = db.session.get(User, user.id)
    assert fresh.password_set_at is not None and check_password(fresh.password_hash, NEW_PASSWORD)
    # The confirmation carries no secret.
    confirmation = outbox.messages(user.email)[-1]
    assert confirmation["Subject"] == "Your EMRS account is ready"
    assert token not in confirmation.get_content() and NEW_PASSWORD not in confirmation.get_content()
    # Used: the link is dead, with a clear message, and a second POST changes nothing.
    again = c.get(f"/setup-password?token={token}")
    assert again.status_code == 410 and "not valid any more" in again.get_data(as_text=True)
    resp = c.post("/setup-password", data={"token": token, "password": "Other-pass-2", "confirm": "Other-pass-2"})
    assert resp.status_code == 410
    assert check_password(db.session.get(User, user.id).password_hash, NEW_PASSWORD)
    # And they can sign in now.
    resp = app.test_client().post("/api/users/login", json={"email": user.email, "password": NEW_PASSWORD})
    assert resp.status_code == 200
    assert {"user_create", "invitation_created", "password_setup"} <= set(_actions(user.id))


def test_setup_page_without_or_with_a_bad_token(app):
    c = app.test_client()
    assert c.get("/setup-password").status_code == 404
    resp = c.get("/setup-password?token=" + "ab" * 32)
    assert resp.status_code == 410 and "not valid any more" in resp.get_data(as_text=True)
    assert c.get("/setup-password?token=" + "x" * 500).status_code == 404


def test_expired_link_is_refused(app, client, h, outbox):
    user = _invite(client, h)
    token = _link(outbox, user.email)
    row = db.session.execute(select(UserInvitation).where(UserInvitation.user_id == user.id)).scalar_one()
    row.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    resp = client.post("/api/users/setup-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 400 and "not valid any more" in resp.get_json()["message"]
    assert db.session.get(User, user.id).password_set_at is None


# ------------------------------------------------------------------ API

def test_api_setup_password_shapes(client, h, outbox):
    user = _invite(client, h)
    token = _link(outbox, user.email)
    resp = client.post("/api/users/setup-password", json={"token": token, "newPassword": "weak"})
    body = resp.get_json()
    assert resp.status_code == 400 and body["message"] == "Validation failed"
    assert body["errors"][0]["path"] == "newPassword"
    resp = client.post("/api/users/setup-password", json={"token": "nope", "newPassword": NEW_PASSWORD})
    assert resp.status_code == 400 and resp.get_json()["success"] is False
    resp = client.post("/api/users/setup-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 200 and resp.get_json()["success"] is True
    resp = client.post("/api/users/setup-password", json={"token": token, "newPassword": "Another-pass-3"})
    assert resp.status_code == 400
    assert check_password(db.session.get(User, user.id).password_hash, NEW_PASSWORD)


def test_resend_invalidates_the_earlier_link(client, h, outbox, role_client):
    user = _invite(client, h)
    first = _link(outbox, user.email)
    resp = client.post(f"/api/users/{user.id}/resend-invitation", headers=h["admin"])
    assert resp.status_code == 200 and resp.get_json()["data"]["invitation_sent"] is True
    second = _link(outbox, user.email)
    assert first != second
    resp = client.post("/api/users/setup-password", json={"token": first, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 400 and db.session.get(User, user.id).password_set_at is None
    # The page's button does the same.
    c = role_client("admin")
    resp = c.post(f"/admin/users/{user.id}/invitation", follow_redirects=True)
    assert "A new invitation was e-mailed" in resp.get_data(as_text=True)
    third = _link(outbox, user.email)
    assert client.post("/api/users/setup-password", json={"token": second, "newPassword": NEW_PASSWORD}).status_code == 400
    assert client.post("/api/users/setup-password", json={"token": third, "newPassword": NEW_PASSWORD}).status_code == 200
    # Once the password is set there is nothing to resend.
    resp = client.post(f"/api/users/{user.id}/resend-invitation", headers=h["admin"])
    assert resp.status_code == 409 and "already set a password" in resp.get_json()["message"]
    assert "invitation_resent" in _actions(user.id)


def test_resend_is_admin_only(client, h, users):
    user_id = users["faculty"].id
    for key in ("faculty", "resident", "pwo"):
        resp = client.post(f"/api/users/{user_id}/resend-invitation", headers=h[key])
        assert resp.status_code == 403
    assert client.post(f"/api/users/{user_id}/resend-invitation").status_code == 401


def test_no_token_or_password_in_the_audit_trail(client, h, outbox):
    user = _invite(client, h)
    token = _link(outbox, user.email)
    client.post("/api/users/setup-password", json={"token": token, "newPassword": NEW_PASSWORD})
    rows = db.session.execute(select(AuditLog).where(AuditLog.entity_id == str(user.id))).scalars().all()
    dump = " ".join(str(r.details) for r in rows)
    assert token not in dump and NEW_PASSWORD not in dump


def test_forgot_password_also_sets_up_an_invited_account(client, h, outbox):
    user = _invite(client, h)
    first = _link(outbox, user.email)
    token = client.post("/api/users/forgot-password", json={"email": user.email}).get_json()["data"]["token"]
    from emrs.mail import wait_for_background_mail
    wait_for_background_mail()
    client.post("/api/users/verify-otp", json={"token": token, "otp": outbox.last_code(user.email)})
    resp = client.post("/api/users/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
    assert resp.status_code == 200
    assert db.session.get(User, user.id).password_set_at is not None
    # The invitation link closed with it.
    assert client.post("/api/users/setup-password", json={"token": first, "newPassword": "Other-pass-2"}).status_code == 400


# ------------------------------------------------------------------ grades

def test_grade_on_update_and_cleared_when_the_role_changes(client, h):
    user = _invite(client, h, email="grade@test.emrs.local")
    resp = client.put(f"/api/users/{user.id}", headers=h["admin"], json={"sub_role": "SR"})
    assert resp.status_code == 200 and resp.get_json()["data"]["user"]["sub_role"] == "Senior Resident"
    resp = client.put(f"/api/users/{user.id}", headers=h["admin"], json={"sub_role": "Registrar"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["path"] == "sub_role"
    resp = client.put(f"/api/users/{user.id}", headers=h["admin"], json={"role": "Faculty", "sub_role": "SR"})
    assert resp.status_code == 400 and "only for Residents" in resp.get_json()["errors"][0]["msg"]
    resp = client.put(f"/api/users/{user.id}", headers=h["admin"], json={"role": "Faculty"})
    assert resp.status_code == 200 and resp.get_json()["data"]["user"]["sub_role"] is None
    assert db.session.get(User, user.id).grade is None
    resp = client.put(f"/api/users/{user.id}", headers=h["admin"], json={"role": "Resident"})
    assert resp.status_code == 400 and "required for a Resident" in resp.get_json()["errors"][0]["msg"]
    resp = client.put(f"/api/users/{user.id}", headers=h["admin"], json={"role": "Resident", "sub_role": "Junior Resident"})
    assert resp.status_code == 200 and db.session.get(User, user.id).grade == "JR"


def test_users_cannot_change_their_own_grade(client, h, users):
    resp = client.put("/api/users/profile", headers=h["resident"], json={"sub_role": "Senior Resident"})
    assert resp.status_code == 400
    assert db.session.get(User, users["resident"].id).grade == "JR"


def test_grade_in_user_json_profile_and_list(client, h, users, role_client):
    resp = client.get("/api/users/profile", headers=h["resident"])
    assert resp.get_json()["data"]["user"]["sub_role"] == "Junior Resident"
    assert client.get("/api/users/profile", headers=h["faculty"]).get_json()["data"]["user"]["sub_role"] is None
    assert "Junior Resident" in role_client("resident").get("/profile").get_data(as_text=True)


def test_list_scope_follows_the_grade(make_user):
    from emrs.auth.permissions import DEPARTMENT, OWN_AND_ROOM, list_scope
    assert list_scope(make_user("Resident", grade="JR")) == OWN_AND_ROOM
    assert list_scope(make_user("Resident", sub_role="Senior Resident")) == DEPARTMENT
    assert list_scope(make_user("Faculty")) == DEPARTMENT


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_prescription_prints_the_grade_when_no_designation(app, tmp_path):
    from emrs.clinical.models import ClinicalProforma
    from emrs.patients.models import Patient
    from emrs.prescriptions import pdf
    from emrs.prescriptions.models import Prescription
    with app.app_context():
        rx = Prescription(lines=[{"medicine": "Escitalopram", "strength": "10 mg", "dosage": "1-0-0"}])
        proforma = ClinicalProforma(visit_date=dt.date(2026, 1, 5))
        patient = Patient(name="Test Patient", age=30, sex="M", cr_no="CR2026000001")
        senior = User(name="Dr Kabir Bedi", role="Resident", grade="SR", email="k@test.emrs.local")
        path = tmp_path / "rx.pdf"
        path.write_bytes(pdf.render(rx, proforma, patient, senior))
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "Dr Kabir Bedi" in text and "Senior Resident" in text
        faculty = User(name="Dr Gill", role="Faculty", designation="Associate Professor", email="g@test.emrs.local")
        assert "Associate Professor" in pdf.html(rx, proforma, patient, faculty)


def test_a_mail_failure_keeps_the_account_and_says_so(client, h, outbox, monkeypatch):
    from emrs.auth import service
    from emrs.mail import MailError

    def broken(*_a, **_k):
        raise MailError("down")
    monkeypatch.setattr(service, "send_mail", broken)
    resp = client.post("/api/users/register", headers=h["admin"],
                       json={"name": "Dr Mail Down", "email": "maildown@test.emrs.local", "role": "Faculty"})
    body = resp.get_json()
    assert resp.status_code == 201 and body["data"]["invitation_sent"] is False and "resend" in body["message"]
    user_id = body["data"]["user"]["id"]
    monkeypatch.undo()
    resp = client.post(f"/api/users/{user_id}/resend-invitation", headers=h["admin"])
    assert resp.status_code == 200 and _link(outbox, "maildown@test.emrs.local")


def test_resend_refused_for_a_deactivated_account(client, h):
    user = _invite(client, h, email="gone@test.emrs.local")
    client.put(f"/api/users/{user.id}/deactivate", headers=h["admin"])
    resp = client.post(f"/api/users/{user.id}/resend-invitation", headers=h["admin"])
    assert resp.status_code == 409 and "deactivated" in resp.get_json()["message"]
