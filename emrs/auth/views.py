"""Browser pages: sign in with a second factor, password reset, profile, user admin.
Thin: parse the form, call auth.service, turn domain errors into messages."""
from __future__ import annotations

import pyotp
import segno
from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from ..errors import DomainError, ValidationError
from ..extensions import db, limiter
from ..client import user_agent
from ..doors import page_error
from ..pages import error_messages, page_number
from . import bp, service
from .forms import (ChangePasswordForm, EmailForm, EmptyForm, LoginForm, OTPForm, PasswordConfirmForm,
                    ProfileForm, ResetForm, SetupPasswordForm, TOTPEnrolForm, UserForm)
from .guard import principal, safe_next
from .models import User


def _auth_limit():
    return current_app.config["RATELIMIT_AUTH"]


def _client():
    return request.remote_addr, user_agent()


def _finish_login(user: User, nxt: str | None):
    ip, ua = _client()
    row, raw = service.complete_login(user, "web", ip, ua)
    session.clear()
    session["sid"] = raw
    session.permanent = False
    login_user(user)
    g.principal = user
    return redirect(safe_next(nxt) or url_for("dashboard.index"))


# ------------------------------------------------------------------ sign in

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def login():
    if principal() is not None:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    nxt = safe_next(request.values.get("next"))
    error = None
    if form.validate_on_submit():
        ip, _ua = _client()
        try:
            start = service.start_login(form.email.data, form.password.data, ip)
        except DomainError as exc:
            error = " ".join(error_messages(exc)) if not isinstance(exc, ValidationError) else service.INVALID_LOGIN
            # A mail failure after the password step: the page says so (503), nothing else changes.
            status = 503 if getattr(exc, "status", None) == 503 else 422
            # Said to everyone whose password was not accepted (it tells nobody who has an account).
            hint = service.NOT_SET_UP if error == service.INVALID_LOGIN else None
            return render_template("auth/login.html", form=form, error=error, hint=hint, next=nxt), status
        if start.method is None:
            return _finish_login(start.user, nxt)
        # The browser holds the pending login's raw token (in the signed session), never a bare id.
        session["pending_2fa"] = {"token": start.token, "next": nxt, "method": start.method}
        return redirect(url_for("auth.login_otp"))
    if request.method == "GET" and not form.email.data:
        # After a password reset or a session that timed out, the e-mail is filled in already.
        form.email.data = session.pop("login_email", None)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error, next=nxt), status


def _pending():
    """(pending login row, its user) of this browser's password step, or (None, None)."""
    state = session.get("pending_2fa")
    token = state.get("token") if isinstance(state, dict) else None
    row = service.find_pending_login(token=token) if token else None
    user = db.session.get(User, row.user_id) if row is not None else None
    if row is None or user is None or not user.is_active:
        session.pop("pending_2fa", None)
        return None, None
    return row, user


@bp.route("/login/otp", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def login_otp():
    row, user = _pending()
    if row is None:
        flash("Please sign in with your e-mail and password first.", "info")
        return redirect(url_for("auth.login"))
    pending = session["pending_2fa"]
    form = OTPForm()
    error, closed = None, False
    if form.validate_on_submit():
        try:
            service.verify_second_factor(row, form.otp.data)
        except DomainError:
            refusal = service.code_refusal(row)
            error, closed = refusal.message, refusal.closed
            if closed:
                session.pop("pending_2fa", None)
        else:
            return _finish_login(user, pending.get("next"))
    elif request.method == "POST":
        error = " ".join(e for errs in form.errors.values() for e in errs)
    if request.method == "POST":
        form.otp.data = ""  # a refused code never stays in the field (it would be sent again)
    status = (423 if closed and "locked" in (error or "") else 422) if request.method == "POST" else 200
    return render_template("auth/otp.html", form=form, error=error, method=pending.get("method"),
                           masked=_mask(user.email), resend_form=EmptyForm(), closed=closed), status


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:2] + "•" * max(1, len(local) - 2)) + "@" + domain


@bp.post("/login/otp/resend")
@limiter.limit(lambda: current_app.config["RATELIMIT_OTP_RESEND"])
def resend_otp():
    row, _user = _pending()
    if row is None:
        return redirect(url_for("auth.login"))
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            service.resend_login_otp(row)
            session["pending_2fa"] = {**session["pending_2fa"], "method": "email"}
            flash("A new code was sent. Earlier codes no longer work.", "success")
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(url_for("auth.login_otp"))


@bp.post("/logout")
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        row = getattr(g, "web_session", None)
        if row is not None:
            service.revoke_session(row, "logout")
            from ..audit import service as audit
            audit.record("logout", "users", row.user_id, user_id=row.user_id)
            db.session.commit()
        logout_user()
        session.clear()
        flash("You have signed out.", "success")
    return redirect(url_for("auth.login"))


# ------------------------------------------------------------------ password reset

@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def forgot_password():
    form = EmailForm()
    if form.validate_on_submit():
        try:
            token, _expires = service.request_password_reset(form.email.data)
        except DomainError as exc:
            flash(exc.message, "error")
        else:
            session["reset"] = {"token": token, "verified": False}
            flash(service.FORGOT_MESSAGE, "info")
            return redirect(url_for("auth.forgot_verify"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/forgot-password/verify", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def forgot_verify():
    state = session.get("reset")
    if not state:
        return redirect(url_for("auth.forgot_password"))
    form = OTPForm()
    error = None
    if form.validate_on_submit():
        try:
            reset_user = service.verify_reset_code(state["token"], form.otp.data.replace(" ", ""))
        except DomainError:
            error = "That code is not valid or has expired."
        else:
            session["reset"] = {**state, "verified": True, "email": reset_user.email}
            return redirect(url_for("auth.reset_password"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot_verify.html", form=form, error=error), status


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def reset_password():
    state = session.get("reset")
    if not state or not state.get("verified"):
        flash("Enter the code from the e-mail first.", "info")
        return redirect(url_for("auth.forgot_password"))
    form = ResetForm()
    errors: list[str] = []
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            errors.append("The two passwords do not match.")
        else:
            try:
                service.reset_password(state["token"], form.password.data)
            except DomainError as exc:
                errors.extend(error_messages(exc))
            else:
                done = session.pop("reset", None) or {}
                if done.get("email"):
                    session["login_email"] = done["email"]  # the sign-in page starts at the password
                flash("Password reset. You can now sign in with your new password.", "success")
                return redirect(url_for("auth.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form, errors=errors), status


# ------------------------------------------------------------------ account set-up (invitation)

@bp.route("/setup-password", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def setup_password():
    """The invitation link: GET shows the form (or why the link is not valid), POST sets the
    password. The token comes in the link's query string and goes back in the form."""
    token = request.values.get("token") or ""
    token = token if len(token) <= 128 else ""
    invitee = service.invitation_user(token)
    form = SetupPasswordForm()
    errors: list[str] = []
    if invitee is None:
        status = 410 if token else 404
        return render_template("auth/setup_password.html", form=form, errors=[service.INVITATION_INVALID],
                               invitee=None, token=""), status
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            errors.append("The two passwords do not match.")
        else:
            try:
                user = service.setup_password(token, form.password.data)
            except DomainError as exc:
                errors.extend(error_messages(exc))
            else:
                session["login_email"] = user.email
                flash("Your password is set. Sign in with your e-mail and the new password.", "success")
                return redirect(url_for("auth.login"))
    elif request.method == "POST":
        errors.extend(e for errs in form.errors.values() for e in errs)
    status = 422 if errors else 200
    return render_template("auth/setup_password.html", form=form, errors=errors, invitee=invitee,
                           token=token), status


# ------------------------------------------------------------------ own profile

@bp.route("/profile", methods=["GET", "POST"])
def profile():
    user = principal()
    form = ProfileForm(obj=user)
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            service.update_user(user, {"name": form.name.data, "email": form.email.data,
                                       "mobile": form.mobile.data, "designation": form.designation.data},
                                actor=user, own_profile=True)
        except DomainError as exc:
            errors.extend(error_messages(exc))
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("auth.profile"))
    elif request.method == "POST":
        errors.extend(e for errs in form.errors.values() for e in errs)
    status = 422 if errors else 200
    return render_template("auth/profile.html", form=form, errors=errors, user=user,
                           sessions=service.active_sessions(user), current=getattr(g, "web_session", None),
                           empty=EmptyForm()), status


@bp.route("/profile/password", methods=["GET", "POST"])
def change_password():
    user = principal()
    form = ChangePasswordForm()
    errors: list[str] = []
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            errors.append("The two new passwords do not match.")
        else:
            try:
                current = getattr(g, "web_session", None)
                service.change_password(user, form.current.data, form.password.data,
                                        keep_session_id=current.id if current else None)
            except DomainError as exc:
                errors.extend(error_messages(exc))
            else:
                flash("Password changed. Your other sessions were signed out.", "success")
                return redirect(url_for("auth.profile"))
    elif request.method == "POST":
        errors.extend(e for errs in form.errors.values() for e in errs)
    status = 422 if errors else 200
    return render_template("auth/change_password.html", form=form, errors=errors), status


@bp.route("/profile/authenticator", methods=["GET", "POST"])
def totp_setup():
    user = principal()
    form = TOTPEnrolForm()
    error = None
    secret = session.get("totp_pending")
    if request.method == "GET" or not secret:
        secret = pyotp.random_base32()
        session["totp_pending"] = secret
    if form.validate_on_submit():
        try:
            service.enrol_totp(user, secret, form.otp.data, form.password.data)
        except DomainError as exc:
            error = exc.message
        else:
            session.pop("totp_pending", None)
            flash("Authenticator app set up. At sign-in, type the code it shows.", "success")
            return redirect(url_for("auth.profile"))
    uri = service.totp_uri(user, secret)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/totp.html", form=form, error=error, qr=qr, secret=grouped), status


@bp.post("/profile/authenticator/remove")
def totp_remove():
    form = PasswordConfirmForm()
    if form.validate_on_submit():
        try:
            service.remove_totp(principal(), form.password.data)
            flash("Authenticator app removed. Codes will come by e-mail.", "success")
        except DomainError as exc:
            flash(exc.message, "error")
    else:
        flash("Enter your current password to remove the authenticator app.", "error")
    return redirect(url_for("auth.profile"))


@bp.post("/profile/sessions/end-others")
def end_other_sessions():
    if EmptyForm().validate_on_submit():
        current = getattr(g, "web_session", None)
        n = service.end_all_sessions(principal(), "ended_by_user", keep_id=current.id if current else None)
        db.session.commit()
        flash(f"Signed out {n} other session{'s' if n != 1 else ''}.", "success")
    return redirect(url_for("auth.profile"))


# ------------------------------------------------------------------ user administration

PAGE_SIZE = 25


@bp.get("/admin/users")
def users():
    page = page_number()
    q = (request.args.get("q") or "").strip()[:100]
    role = request.args.get("role") or None
    rows, total = service.list_users(page, PAGE_SIZE, role=role, search=q or None)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template("auth/users.html", users=rows, total=total, page=page, pages=pages, q=q,
                           role=role, empty=EmptyForm(), locked=_lock_times(service.locked_accounts(rows)))


def _lock_times(locked: dict) -> dict:
    """{user id: 'HH:MM'} in India time ('05 Dec, HH:MM' when not today)."""
    from ..timeutil import IST, ist_text, today_ist
    return {uid: ist_text(t, "%H:%M" if t.astimezone(IST).date() == today_ist() else "%d %b, %H:%M")
            for uid, t in locked.items()}


@bp.route("/admin/users/new", methods=["GET", "POST"])
def user_new():
    form = UserForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            user, sent = service.invite_user({"name": form.name.data, "email": form.email.data,
                                              "mobile": form.mobile.data, "designation": form.designation.data,
                                              "role": form.role.data, "sub_role": form.sub_role.data or None,
                                              "two_factor_enabled": form.two_factor_enabled.data},
                                             actor=principal())
        except DomainError as exc:
            errors.extend(error_messages(exc))
        else:
            if sent:
                flash(f"User {user.name} created. An invitation to set their password was e-mailed to "
                      f"{user.email} (the link works for {current_app.config['INVITATION_HOURS']} hours).", "success")
            else:
                flash(f"User {user.name} created, but the invitation e-mail could not be sent. "
                      "Use “Resend invitation” when mail works again.", "error")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        errors.extend(e for errs in form.errors.values() for e in errs)
    status = 422 if errors else 200
    return render_template("auth/user_form.html", form=form, errors=errors, user=None), status


@bp.route("/admin/users/<int(max=2147483647):user_id>/edit", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        return page_error("No such user.", 404)
    form = UserForm(obj=user)
    del form.two_factor_enabled
    if request.method == "GET":
        form.sub_role.data = user.grade or ""
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            service.update_user(user, {"name": form.name.data, "email": form.email.data,
                                       "mobile": form.mobile.data, "designation": form.designation.data,
                                       "role": form.role.data, "sub_role": form.sub_role.data or None},
                                actor=principal())
        except DomainError as exc:
            errors.extend(error_messages(exc))
        else:
            flash("User saved.", "success")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        errors.extend(e for errs in form.errors.values() for e in errs)
    status = 422 if errors else 200
    return render_template("auth/user_form.html", form=form, errors=errors, user=user,
                           empty=EmptyForm(), sessions=service.active_sessions(user)), status


def _admin_action(user_id: int, action):
    user = db.session.get(User, user_id)
    if user is None:
        flash("No such user.", "error")
        return redirect(url_for("auth.users"))
    if not EmptyForm().validate_on_submit():
        flash("The form expired. Please try again.", "error")
        return redirect(url_for("auth.users"))
    try:
        message = action(user)
        flash(message, "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(request.form.get("back") if safe_next(request.form.get("back")) else url_for("auth.users"))


@bp.post("/admin/users/<int(max=2147483647):user_id>/active")
def user_set_active(user_id: int):
    active = request.form.get("active") == "1"
    return _admin_action(user_id, lambda u: (service.set_active(u, active, principal()),
                                             f"{u.name} {'activated' if active else 'deactivated'}.")[1])


@bp.post("/admin/users/<int(max=2147483647):user_id>/otp")
def user_set_otp(user_id: int):
    enabled = request.form.get("enabled") == "1"
    return _admin_action(user_id, lambda u: (service.set_second_factor(u, enabled, principal()),
                                             f"Login code {'required' if enabled else 'turned off'} for {u.name}.")[1])


@bp.post("/admin/users/<int(max=2147483647):user_id>/unlock")
def user_unlock(user_id: int):
    def act(u):
        was = service.unlock(u, principal())
        return f"{u.name} unlocked." if was else f"{u.name} was not locked; failed attempts were reset."
    return _admin_action(user_id, act)


@bp.post("/admin/users/<int(max=2147483647):user_id>/sessions/end")
def user_end_sessions(user_id: int):
    def act(u):
        n = service.end_all_sessions(u, "ended_by_admin")
        from ..audit import service as audit
        audit.record("sessions_ended", "users", u.id, details={"count": n})
        db.session.commit()
        return f"Ended {n} session{'s' if n != 1 else ''} of {u.name}."
    return _admin_action(user_id, act)


@bp.post("/admin/users/<int(max=2147483647):user_id>/invitation")
def user_resend_invitation(user_id: int):
    def act(u):
        if not service.resend_invitation(u, principal()):
            raise DomainError("The invitation e-mail could not be sent. Try again later.")
        return f"A new invitation was e-mailed to {u.email}; earlier links no longer work."
    return _admin_action(user_id, act)
