"""Profile, password change, authenticator app, password reset and user admin pages."""
from __future__ import annotations

import re
import time

import pyotp
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.auth.models import User, UserSession
from emrs.extensions import db

from ..conftest import PASSWORD, browser_login


def test_profile_update_and_validation(role_client, users):
    c = role_client("resident")
    name = users["resident"].name  # the registered name and designation: only an Admin changes them
    designation = users["resident"].designation or ""
    resp = c.post("/profile", data={"name": name, "email": users["resident"].email, "mobile": "9876501234",
                                    "designation": designation})
    assert resp.status_code == 302
    assert "9876501234" in c.get("/profile").get_data(as_text=True)
    resp = c.post("/profile", data={"name": name, "email": users["resident"].email, "mobile": "",
                                    "designation": designation})
    assert resp.status_code == 302
    resp = c.post("/profile", data={"name": name, "email": users["admin"].email})
    assert resp.status_code == 422 and "Email already exists" in resp.get_data(as_text=True)
    resp = c.post("/profile", data={"name": name, "email": users["resident"].email, "mobile": "12ab"})
    assert resp.status_code == 422 and "Mobile must be 10 to 14 digits" in resp.get_data(as_text=True)
    assert db.session.get(User, users["resident"].id).mobile is None


def test_change_password_ends_other_sessions(app, outbox, users):
    user = users["faculty"]
    a, b = app.test_client(), app.test_client()
    browser_login(a, outbox, user)
    browser_login(b, outbox, user)
    resp = a.post("/profile/password", data={"current": "wrong-one1", "password": "NewPass123", "confirm": "NewPass123"})
    assert resp.status_code == 422 and "Current password is incorrect" in resp.get_data(as_text=True)
    resp = a.post("/profile/password", data={"current": PASSWORD, "password": "short", "confirm": "short"})
    assert resp.status_code == 422 and "at least 8 characters" in resp.get_data(as_text=True)
    resp = a.post("/profile/password", data={"current": PASSWORD, "password": "NewPass123", "confirm": "NewPass123"})
    assert resp.status_code == 302
    assert a.get("/").status_code == 200      # this session stays
    assert b.get("/").status_code == 302      # the other one was signed out
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    browser_login(fresh, outbox, user, password="NewPass123")


def test_authenticator_app_enrolment_and_use(app, client, outbox, users):
    user = users["resident"]
    browser_login(client, outbox, user)
    page = client.get("/profile/authenticator").get_data(as_text=True)
    assert "data:image/svg+xml" in page
    key = re.search(r'<code class="key">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    wrong = "000000" if pyotp.TOTP(key).now() != "000000" else "111111"
    resp = client.post("/profile/authenticator", data={"otp": wrong, "password": PASSWORD})
    assert resp.status_code == 422 and "does not match" in resp.get_data(as_text=True)
    resp = client.post("/profile/authenticator", data={"otp": pyotp.TOTP(key).now(), "password": PASSWORD})
    assert resp.status_code == 302
    assert db.session.get(User, user.id).totp_enabled
    # Next sign-in: the app's code works and no e-mail is sent.
    other = app.test_client()
    n_before = len(outbox.messages(user.email))
    resp = other.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"].endswith("/login/otp")
    assert "authenticator app" in other.get("/login/otp").get_data(as_text=True)
    assert len(outbox.messages(user.email)) == n_before
    # The code typed at set-up was used; the app's next code (30 s later, inside the accepted window) works.
    assert other.post("/login/otp", data={"otp": pyotp.TOTP(key).at(time.time() + 30)}).status_code == 302
    # Removing it needs the password.
    resp = client.post("/profile/authenticator/remove", data={"password": "wrong-pass1"}, follow_redirects=True)
    assert "Current password is incorrect" in resp.get_data(as_text=True)
    client.post("/profile/authenticator/remove", data={"password": PASSWORD})
    assert not db.session.get(User, user.id).totp_enabled


def test_password_reset_by_emailed_code(app, client, outbox, users):
    user = users["pwo"]
    resp = client.post("/forgot-password", data={"email": user.email})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/forgot-password/verify")
    code = outbox.last_code(user.email)
    # Skipping the code step does not work.
    resp = client.get("/reset-password")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/forgot-password")
    resp = client.post("/forgot-password/verify", data={"otp": "000000" if code != "000000" else "111111"})
    assert resp.status_code == 422
    assert client.post("/forgot-password/verify", data={"otp": code}).status_code == 302
    resp = client.post("/reset-password", data={"password": "Fresh-pass-9", "confirm": "Other-pass-9"})
    assert resp.status_code == 422 and "do not match" in resp.get_data(as_text=True)
    resp = client.post("/reset-password", data={"password": "Fresh-pass-9", "confirm": "Fresh-pass-9"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    # The sign-in page starts with the e-mail filled in and the cursor in the password.
    page = client.get("/login").get_data(as_text=True)
    assert f'value="{user.email}"' in page
    assert f'value="{user.email}"' not in client.get("/login").get_data(as_text=True)  # once only
    browser_login(app.test_client(), outbox, user, password="Fresh-pass-9")
    assert outbox.messages(user.email)[-2]["Subject"] == "Your EMRS password was changed"


def test_forgot_password_for_unknown_email_looks_the_same(client, outbox):
    resp = client.post("/forgot-password", data={"email": "nobody@test.emrs.local"}, follow_redirects=True)
    assert "If an account with this email exists" in resp.get_data(as_text=True)
    assert outbox.messages() == []


def test_admin_creates_edits_and_deactivates_users(role_client, users, outbox, app):
    c = role_client("admin")
    resp = c.post("/admin/users/new", data={"name": "Dr Gurpreet Kaur", "email": "g.kaur@test.emrs.local",
                                            "role": "Faculty", "two_factor_enabled": "y"})
    assert resp.status_code == 302
    # No password chosen by the administrator: the user sets it from the invitation link.
    link = re.search(r"/setup-password\?token=[0-9a-f]{64}", outbox.messages("g.kaur@test.emrs.local")[-1].get_content())
    resp = app.test_client().post(link.group(0), data={"token": link.group(0).split("=")[1],
                                                       "password": "Start-pass-1", "confirm": "Start-pass-1"})
    assert resp.status_code == 302
    listing = c.get("/admin/users?q=gurpreet").get_data(as_text=True)
    assert "Dr Gurpreet Kaur" in listing and "g.kaur@test.emrs.local" in listing
    new = db.session.execute(select(User).where(User.email == "g.kaur@test.emrs.local")).scalar_one()
    resp = c.post("/admin/users/new", data={"name": "Dup", "email": "g.kaur@test.emrs.local", "role": "Faculty"})
    assert resp.status_code == 422 and "already exists" in resp.get_data(as_text=True)
    resp = c.post(f"/admin/users/{new.id}/edit", data={"name": "Dr Gurpreet Kaur", "email": new.email,
                                                       "role": "Resident", "mobile": "", "designation": ""})
    assert resp.status_code == 422 and "required for a Resident" in resp.get_data(as_text=True)
    resp = c.post(f"/admin/users/{new.id}/edit", data={"name": "Dr Gurpreet Kaur", "email": new.email,
                                                       "role": "Resident", "sub_role": "SR", "mobile": "",
                                                       "designation": ""})
    assert resp.status_code == 302
    assert db.session.get(User, new.id).role == "Resident" and db.session.get(User, new.id).grade == "SR"
    assert "Senior Resident" in c.get("/admin/users?q=gurpreet").get_data(as_text=True)
    # Deactivate: they can no longer sign in.
    c.post(f"/admin/users/{new.id}/active", data={"active": "0"})
    assert db.session.get(User, new.id).is_active is False
    resp = app.test_client().post("/login", data={"email": new.email, "password": "Start-pass-1"})
    assert "Account is deactivated" in resp.get_data(as_text=True)
    # Not themselves.
    resp = c.post(f"/admin/users/{users['admin'].id}/active", data={"active": "0"}, follow_redirects=True)
    assert "cannot deactivate your own account" in resp.get_data(as_text=True)
    assert db.session.get(User, users["admin"].id).is_active


def test_admin_turns_login_code_off_for_a_service_account(role_client, users, app, outbox):
    c = role_client("admin")
    target = users["pwo"]
    c.post(f"/admin/users/{target.id}/otp", data={"enabled": "0"})
    assert db.session.get(User, target.id).two_factor_enabled is False
    resp = app.test_client().post("/login", data={"email": target.email, "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "user_2fa_off",
                                                     AuditLog.entity_id == str(target.id))).scalar_one()


def test_admin_ends_all_sessions_of_a_user(app, role_client, users, outbox):
    victim = app.test_client()
    browser_login(victim, outbox, users["resident"])
    assert victim.get("/").status_code == 200
    role_client("admin").post(f"/admin/users/{users['resident'].id}/sessions/end")
    assert victim.get("/").status_code == 302
    rows = db.session.execute(select(UserSession).where(UserSession.user_id == users["resident"].id)).scalars()
    assert all(r.revoked_reason == "ended_by_admin" for r in rows)


def test_dashboard_shows_real_figures(role_client, users):
    from datetime import timedelta

    from emrs.intake.models import IntakeRecord
    from emrs.patients.models import Patient, PatientVisit
    from emrs.web import today_ist

    c = role_client("resident")

    def figure(html, name):
        return int(re.search(rf'data-figure="{name}">(\d+)<', html).group(1))

    before = c.get("/").get_data(as_text=True)
    base = {k: figure(before, k) for k in ("registered_today", "visits_waiting", "files_out")}
    p = Patient(name="Test Patient One", sex="F", age=30, cr_no="CRTEST000001")
    q = Patient(name="Test Patient Two", sex="M", age=41, cr_no="CRTEST000002")
    db.session.add_all([p, q])
    db.session.flush()
    db.session.add(PatientVisit(patient_id=p.id, visit_date=today_ist(), visit_type="first_visit",
                                visit_status="scheduled", assigned_doctor_id=users["resident"].id))
    db.session.add(PatientVisit(patient_id=q.id, visit_date=today_ist() - timedelta(days=1),
                                visit_type="first_visit", visit_status="scheduled"))
    db.session.add(IntakeRecord(patient_id=p.id, adl_no="ADL2026TEST0001", file_status="retrieved",
                                file_created_date=today_ist()))
    db.session.commit()
    after = c.get("/").get_data(as_text=True)
    assert figure(after, "registered_today") == base["registered_today"] + 2
    assert figure(after, "visits_waiting") == base["visits_waiting"] + 1
    assert figure(after, "files_out") == base["files_out"] + 1
    assert "assigned to you" in after


def test_out_of_range_ids_are_404_not_500(role_client):
    c = role_client("admin")
    assert c.get("/admin/users/99999999999999999999/edit").status_code == 404
    assert c.get("/admin/users/2147483647/edit").status_code == 404
    assert c.post("/admin/users/99999999999999999999/active", data={"active": "0"}).status_code == 404
    assert c.get("/admin/users?page=abc").status_code == 200
    assert c.get("/audit/?user_id=abc&patient_id=99999999999999").status_code == 200
