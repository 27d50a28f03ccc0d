"""/api/users — login, OTP, password reset, own account, user administration."""
from __future__ import annotations

from flask import current_app, request

from ..auth import service
from ..auth.guard import principal
from ..errors import ValidationError, field_error
from ..extensions import limiter
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import (BOOL, DATETIME, ID, INT, STR, USER, arr, list_of, null, obj, Op, page_params, query,
                             ref)
from .session import COOKIE, login_complete_response


def _auth_limit():
    return current_app.config["RATELIMIT_AUTH"]


def parse_id(raw: str, name: str = "id") -> int:
    if not raw.isdecimal() or len(raw) > 9 or int(raw) < 1:
        raise ValidationError("Validation failed", errors=[field_error(name, "Valid integer ID is required", raw, "params")])
    return int(raw)


def _int_field(data: dict, name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdecimal() \
            or len(str(value)) > 9 or int(value) < 1:
        raise ValidationError("Validation failed", errors=[field_error(name, f"{name} must be a positive integer", value)])
    return int(value)


# ------------------------------------------------------------------ login

LOGIN_COOKIE = "loginToken"
LOGIN_COOKIE_PATH = "/api/users"


def _set_login_cookie(resp, raw: str):
    """The pending login's token for the browser client that sends the original {user_id, otp}:
    HttpOnly, SameSite=Strict, only sent to /api/users/*."""
    cfg = current_app.config
    resp.set_cookie(LOGIN_COOKIE, raw, max_age=cfg["PENDING_LOGIN_SECONDS"], httponly=True, samesite="Strict",
                    secure=cfg["REFRESH_COOKIE_SECURE"], path=LOGIN_COOKIE_PATH)
    return resp


def _clear_login_cookie(resp):
    resp.delete_cookie(LOGIN_COOKIE, path=LOGIN_COOKIE_PATH, httponly=True, samesite="Strict")
    return resp


def _pending_from_request(data: dict, user_id: int | None):
    """The pending login this request speaks for: ``login_token`` in the body, else the login
    cookie, else (the original client's body) the newest open one of user_id from this address."""
    if "login_token" in data:
        return service.find_pending_login(token=data.get("login_token"), user_id=user_id)
    cookie = request.cookies.get(LOGIN_COOKIE)
    pending = service.find_pending_login(token=cookie, user_id=user_id) if cookie else None
    if pending is None and user_id is not None:
        pending = service.find_pending_login(user_id=user_id, ip=request.remote_addr)
    return pending


@bp.post("/users/login", endpoint="users_login")
@limiter.limit(_auth_limit)
def users_login():
    data = json_body()
    start = service.start_login(data.get("email"), data.get("password"), request.remote_addr)
    user = start.user
    if start.method is None:
        return login_complete_response(user)
    body = {"user_id": user.id, "email": user.email, "method": start.method, "expires_in": start.expires_in,
            "login_token": start.token}
    if start.method == "totp":
        return _set_login_cookie(ok(body, "Enter the code from your authenticator app."), start.token)
    return _set_login_cookie(ok(body, "OTP sent to your email. Please check your inbox."), start.token)


@bp.post("/users/verify-login-otp", endpoint="users_verify_login_otp")
@limiter.limit(_auth_limit)
def users_verify_login_otp():
    data = json_body()
    # user_id may be left out when the body carries the pending login's token.
    user_id = _int_field(data, "user_id") if "user_id" in data or "login_token" not in data else None
    otp = data.get("otp")
    if isinstance(otp, int) and not isinstance(otp, bool):
        otp = f"{otp:06d}"
    if not isinstance(otp, str):
        raise ValidationError("Validation failed", errors=[field_error("otp", "otp must be a 6-digit string", otp)])
    user = service.verify_second_factor(_pending_from_request(data, user_id), otp)
    return _clear_login_cookie(login_complete_response(user))


@bp.post("/users/resend-login-otp", endpoint="users_resend_login_otp")
@limiter.limit(lambda: current_app.config["RATELIMIT_OTP_RESEND"])
def users_resend_login_otp():
    """Only from the pending login itself (its token in the body or the login cookie): a bare
    {user_id} is refused, so nobody can replace the code someone else is typing."""
    data = json_body()
    user_id = _int_field(data, "user_id") if "user_id" in data or "login_token" not in data else None
    token = data.get("login_token") if "login_token" in data else request.cookies.get(LOGIN_COOKIE)
    pending = service.find_pending_login(token=token, user_id=user_id) if token else None
    user, lifetime = service.resend_login_otp(pending)
    return ok({"user_id": user.id, "expires_in": lifetime}, "A new OTP was sent to your email.")


# ------------------------------------------------------------------ password reset

@bp.post("/users/forgot-password", endpoint="users_forgot_password")
@limiter.limit(_auth_limit)
def users_forgot_password():
    data = json_body()
    token, expires = service.request_password_reset(data.get("email"))
    return ok({"token": token, "expires_at": expires.isoformat()}, service.FORGOT_MESSAGE)


@bp.post("/users/verify-otp", endpoint="users_verify_otp")
@limiter.limit(_auth_limit)
def users_verify_otp():
    data = json_body()
    user = service.verify_reset_code(data.get("token"), data.get("otp"))
    return ok({"token": data.get("token"), "user": {"name": user.name, "email": user.email}},
              "OTP verified successfully")


@bp.post("/users/reset-password", endpoint="users_reset_password")
@limiter.limit(_auth_limit)
def users_reset_password():
    data = json_body()
    service.reset_password(data.get("token"), data.get("newPassword", data.get("new_password")))
    return ok(message="Password reset successfully. You can now log in with your new password.")


# ------------------------------------------------------------------ own account

@bp.get("/users/profile", endpoint="users_profile")
def users_profile():
    return ok({"user": principal().public()})


@bp.put("/users/profile", endpoint="users_profile_update")
def users_profile_update():
    user = principal()
    data = json_body()
    service.update_user(user, {k: v for k, v in data.items() if k in ("name", "email", "mobile", "designation")},
                        actor=user, own_profile=True)
    return ok({"user": user.public()}, "Profile updated successfully")


@bp.put("/users/change-password", endpoint="users_change_password")
def users_change_password():
    from flask import g
    data = json_body()
    sess = getattr(g, "api_session", None)
    service.change_password(principal(), data.get("currentPassword"), data.get("newPassword"),
                            keep_session_id=sess.id if sess else None)
    return ok(message="Password changed successfully")


@bp.post("/users/enable-2fa", endpoint="users_enable_2fa")
def users_enable_2fa():
    user = principal()
    if user.two_factor_enabled:
        raise ValidationError("Two-factor authentication is already enabled")
    service.set_second_factor(user, True, user)
    return ok({"two_factor_enabled": True}, "Two-factor authentication enabled")


@bp.post("/users/disable-2fa", endpoint="users_disable_2fa")
def users_disable_2fa():
    user = principal()
    data = json_body(required=False)
    if not user.two_factor_enabled:
        raise ValidationError("Two-factor authentication is already disabled")
    # Refused unless the caller is an Admin, and (own account) without the current password.
    service.set_second_factor(user, False, user, password=data.get("currentPassword", data.get("password")))
    return ok({"two_factor_enabled": False}, "Two-factor authentication disabled")


@bp.get("/users/doctors", endpoint="users_doctors")
def users_doctors():
    page, limit = pagination(default_limit=100)
    rows, total = service.list_users(page, limit, doctors_only=True)
    return ok({"users": [u.public() for u in rows], "pagination": page_object(page, limit, total)})


# ------------------------------------------------------------------ administration

@bp.post("/users/register", endpoint="users_register")
def users_register():
    """Invitation: no password in the body (refused); the user sets it from the e-mailed link."""
    data = json_body()
    user, sent = service.invite_user(data, actor=principal())
    return ok({"user": user.public(), "invitation_sent": sent},
              "User registered successfully" if sent else
              "User registered, but the invitation e-mail could not be sent: resend it", status=201)


@bp.post("/users/<user_id>/resend-invitation", endpoint="users_resend_invitation")
def users_resend_invitation(user_id):
    user = service.get_user(parse_id(user_id))
    sent = service.resend_invitation(user, principal())
    return ok({"user": user.public(), "invitation_sent": sent},
              "Invitation sent" if sent else "The invitation e-mail could not be sent: try again")


@bp.post("/users/setup-password", endpoint="users_setup_password")
@limiter.limit(_auth_limit)
def users_setup_password():
    data = json_body()
    service.setup_password(data.get("token"), data.get("newPassword", data.get("new_password")))
    return ok(message="Password set successfully. You can now log in.")


@bp.get("/users", endpoint="users_list")
def users_list():
    page, limit = pagination()
    role = request.args.get("role")
    if role is not None and service.normalise_role(role) is None:
        raise ValidationError("Validation failed", errors=[field_error("role", "Unknown role", role, "query")])
    rows, total = service.list_users(page, limit, role=role)
    return ok({"users": [u.public() for u in rows], "pagination": page_object(page, limit, total)})


@bp.get("/users/stats", endpoint="users_stats")
def users_stats():
    return ok({"stats": service.user_stats()})


@bp.get("/users/<user_id>", endpoint="users_get")
def users_get(user_id):
    return ok({"user": service.get_user(parse_id(user_id)).public()})


@bp.put("/users/<user_id>", endpoint="users_update")
def users_update(user_id):
    user = service.get_user(parse_id(user_id))
    data = json_body()
    service.update_user(user, data, actor=principal())
    return ok({"user": user.public()}, "User updated successfully")


@bp.put("/users/<user_id>/activate", endpoint="users_activate")
def users_activate(user_id):
    user = service.get_user(parse_id(user_id))
    service.set_active(user, True, principal())
    return ok({"user": user.public()}, "User activated successfully")


@bp.put("/users/<user_id>/deactivate", endpoint="users_deactivate")
def users_deactivate(user_id):
    user = service.get_user(parse_id(user_id))
    service.set_active(user, False, principal())
    return ok({"user": user.public()}, "User deactivated successfully")


@bp.put("/users/<user_id>/unlock", endpoint="users_unlock")
def users_unlock(user_id):
    """EMRS addition: an Admin opens an account locked by wrong passwords or codes (audited)."""
    user = service.get_user(parse_id(user_id))
    was = service.unlock(user, principal())
    return ok({"user": user.public(), "was_locked_until": was.isoformat() if was else None},
              "User unlocked successfully" if was else "User was not locked")


@bp.delete("/users/<user_id>", endpoint="users_delete")
def users_delete(user_id):
    """Deliberate difference from the original: a user who may appear in the audit
    trail and in clinical records is deactivated, not hard-deleted."""
    user = service.get_user(parse_id(user_id))
    if user.id == principal().id:
        raise ValidationError("You cannot delete your own account")
    service.set_active(user, False, principal())
    return ok({"user": user.public(), "deactivated": True}, "User deleted successfully")


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

TOKENS_EXAMPLE = {"success": True, "message": "Login successful",
                  "data": {"user": {"id": 2, "name": "Dr. Meera Sharma", "role": "Faculty",
                                    "mobile": None, "email": "faculty@emrs.local", "designation": None,
                                    "two_factor_enabled": True, "totp_enabled": False, "is_active": True,
                                    "last_login": "2025-01-06T04:30:00+00:00",
                                    "created_at": "2025-01-01T04:30:00+00:00"},
                           "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…", "expiresIn": 300}}

OPENAPI = {
    # ---------------------------------------------------------------- users: login and account
    "users_login": Op("Users", "Log in with e-mail and password",
                      {"anyOf": [ref("Tokens"), ref("LoginChallenge")]}, message="OTP sent to your email. "
                      "Please check your inbox.",
                      body=obj({"email": {"type": "string", "maxLength": 255},
                                "password": {"type": "string", "maxLength": 256}}),
                      errors=(401, 423), limited=True,
                      example={"email": "faculty@emrs.local", "password": "Demo@2025"},
                      response_example={"success": True, "message": "OTP sent to your email. Please check "
                                                                    "your inbox.",
                                        "data": {"user_id": 2, "email": "faculty@emrs.local", "method": "email",
                                                 "expires_in": 300}},
                      description="With a second factor (the default) the answer is a LoginChallenge: send "
                                  "the e-mailed code to verify-login-otp. Without one it is the login-complete "
                                  f"body (Tokens) and the refresh cookie `{COOKIE}` is set."),
    "users_verify_login_otp": Op("Users", "Complete the login with the one-time code", ref("Tokens"),
                                 message="Login successful",
                                 body=obj({"user_id": ID, "login_token": STR, "otp": {"anyOf": [
                                     {"type": "string", "pattern": r"^\d{6}$"},
                                     {"type": "integer", "minimum": 0, "maximum": 999999}]}}),
                                 errors=(401,), limited=True, example={"user_id": 2, "otp": "123456"},
                                 response_example=TOKENS_EXAMPLE,
                                 description=f"Sets the HttpOnly refresh cookie `{COOKIE}`. A code is "
                                             "accepted only inside the pending login a correct password opened "
                                             "(its `login_token`, the `loginToken` cookie, or else the newest one "
                                             "of `user_id` opened from the same address); codes and authenticator "
                                             "time-steps are single use; 5 wrong codes close the pending login. "
                                             "Every refusal is the same 401."),
    "users_resend_login_otp": Op("Users", "Send a new login code", obj({"user_id": INT, "expires_in": INT}),
                                 message="A new OTP was sent to your email.",
                                 body=obj({"user_id": ID, "login_token": STR}),
                                 errors=(401,), limited=True,
                                 description="Only from the pending login itself: its `login_token` in the body "
                                             "or the `loginToken` cookie. A bare `{user_id}` is refused (401)."),
    "users_forgot_password": Op("Users", "Start a password reset", obj({"token": STR, "expires_at": DATETIME}),
                                message="If an account with this email exists, a password reset OTP has been "
                                        "sent.", body=obj({"email": STR}), limited=True,
                                description="The same answer for any e-mail (does not reveal who has an "
                                            "account)."),
    "users_verify_otp": Op("Users", "Verify the password-reset code",
                           obj({"token": STR, "user": obj({"name": STR, "email": STR})}),
                           message="OTP verified successfully", body=obj({"token": STR, "otp": STR}),
                           limited=True),
    "users_reset_password": Op("Users", "Set a new password after verify-otp",
                               message="Password reset successfully. You can now log in with your new password.",
                               body=obj({"token": STR, "newPassword": STR}), errors=(404,), limited=True),
    "users_profile": Op("Users", "My profile", USER),
    "users_profile_update": Op("Users", "Update my profile", USER, message="Profile updated successfully",
                               body="ProfileUpdate",
                               errors=(409,)),
    "users_change_password": Op("Users", "Change my password", message="Password changed successfully",
                                body=obj({"currentPassword": STR, "newPassword": STR}),
                                description="Other sessions of the account are ended."),
    "users_enable_2fa": Op("Users", "Turn the e-mailed login code on",
                           obj({"two_factor_enabled": {"const": True}}),
                           message="Two-factor authentication enabled", errors=(400,)),
    "users_disable_2fa": Op("Users", "Turn the e-mailed login code off (Admin)",
                            obj({"two_factor_enabled": {"const": False}}),
                            message="Two-factor authentication disabled", errors=(400, 403),
                            body=obj({"currentPassword": STR}),
                            description="Needs the caller's current password (`currentPassword`): a "
                                        "stolen access token alone cannot remove the second factor."),
    "users_doctors": Op("Users", "Doctors (Faculty and Residents)", list_of("users", "User"),
                        params=page_params(100)),
    # ---------------------------------------------------------------- users: administration
    "users_register": Op("Users", "Invite a user", obj({"user": ref("User"), "invitation_sent": BOOL}), status=201,
                         message="User registered successfully", body="UserInput", errors=(409,),
                         description="Creates the account without a password and e-mails a one-time link (valid "
                                     "24 hours) to set it; no password ever travels in an e-mail. "
                                     "invitation_sent is false when the e-mail could not be sent: resend it."),
    "users_resend_invitation": Op("Users", "Send the invitation again", obj({"user": ref("User"),
                                                                            "invitation_sent": BOOL}),
                                  message="Invitation sent", errors=(409,),
                                  description="A new link; earlier links stop working. 409 when the password is "
                                              "already set or the account is deactivated."),
    "users_setup_password": Op("Users", "Set the password from an invitation link", message=(
        "Password set successfully. You can now log in."), body=obj({
            "token": {"type": "string", "minLength": 1, "maxLength": 200},
            "newPassword": {"type": "string", "minLength": 1, "maxLength": 256},
            "new_password": {"type": "string", "description": "Alias of newPassword."}}, required=("token",)),
        limited=True, description="The token from the e-mailed link (single use, 24 hours). A used, replaced, "
                                  "expired or unknown link is a 400; a password against the policy is a 400 with "
                                  "errors[] (path newPassword)."),
    "users_list": Op("Users", "List users", list_of("users", "User"), params=(
        *page_params(), query("role", STR, "Only this role (e.g. Faculty)."))),
    "users_stats": Op("Users", "Users per role", obj({"stats": arr(obj({"role": STR, "count": INT}))})),
    "users_get": Op("Users", "One user", USER),
    "users_update": Op("Users", "Update a user", USER, message="User updated successfully", body="UserUpdate",
                       errors=(409,)),
    "users_activate": Op("Users", "Activate a user", USER, message="User activated successfully"),
    "users_deactivate": Op("Users", "Deactivate a user", USER, message="User deactivated successfully",
                           description="Ends the user's sessions. Not your own account (400)."),
    "users_unlock": Op("Users", "Unlock a locked account",
                       obj({"user": ref("User"), "was_locked_until": null(DATETIME)}),
                       message="User unlocked successfully",
                       description="EMRS addition. Clears the lock that wrong passwords or wrong login codes "
                                   "put on the account (`was_locked_until`: when it would have opened, UTC; "
                                   "null and the message `User was not locked` when it was not locked). "
                                   "Audited as `account_unlock`."),
    "users_delete": Op("Users", "Delete (deactivate) a user",
                       obj({"user": ref("User"), "deactivated": {"const": True}}),
                       message="User deleted successfully",
                       description="Deliberate difference: the account is deactivated, not removed."),
}
