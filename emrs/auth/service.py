"""Accounts and authentication: the one place these rules live.

Pages (auth/views.py) and the JSON API (api/users.py, api/session.py) both call
these functions; neither re-implements a rule.
"""
from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import email_validator
import pyotp
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..audit import service as audit
from ..errors import AuthFailed, Conflict, DomainError, Forbidden, Locked, NotFound, ValidationError, field_error
from ..safetext import clean_name
from ..extensions import db
from ..mail import send_mail, send_mail_in_background
from ..models_base import utcnow
from .models import (ADMIN, GRADES, JUNIOR, RESIDENT, ROLES, LoginOTP, PasswordResetToken, PendingLogin,
                     RefreshToken, User, UserInvitation, UserSession)
from .session_cache import cached_session
from .security import (check_password, hash_password, keyed_hash, new_numeric_code, new_token,
                       password_problem, same)
from .users import is_active_doctor

log = logging.getLogger("emrs.auth")

# Hospital intranets use internal domains (.local, .internal): accept them.
email_validator.SPECIAL_USE_DOMAIN_NAMES = [d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES
                                            if d not in ("local", "internal", "localhost")]

INVALID_LOGIN = "Invalid email or password"
DEACTIVATED = "Account is deactivated. Please contact administrator."
INVALID_OTP = "Invalid or expired OTP"
RESEND_REFUSED = "Please sign in with your email and password first"

# Legacy role spellings of the original systems, accepted on input and stored canonically.
_LEGACY_ROLES = {
    "admin": ADMIN, "system administrator": ADMIN,
    "faculty": "Faculty", "sr": "Faculty", "faculty (consultant)": "Faculty",
    "faculty residents (senior resident (sr))": "Faculty",
    "resident": "Resident", "jr": "Resident", "faculty residents (junior resident (jr))": "Resident",
    "psychiatric welfare officer": "Psychiatric Welfare Officer",
    "mwo": "Psychiatric Welfare Officer",
}


def normalise_role(role) -> str | None:
    if not isinstance(role, str):
        return None
    return _LEGACY_ROLES.get(role.strip().lower())


def role_matches(user_role: str | None, allowed) -> bool:
    """Roles compare case-insensitively after trimming (roles-and-workflow.md §1)."""
    canonical = normalise_role(user_role or "")
    return canonical is not None and canonical in allowed


def _minutes(ms: int) -> timedelta:
    return timedelta(milliseconds=ms)


def _aware(ts: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if ts is not None and ts.tzinfo is None:
        from datetime import timezone
        return ts.replace(tzinfo=timezone.utc)
    return ts


# --------------------------------------------------------------------------- users

def normalise_email(email) -> str:
    # At most 320 characters (RFC 5321): the address parser takes seconds on megabytes.
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
        echo = email if isinstance(email, (str, int, float)) and len(str(email)) <= 100 else None
        raise ValidationError("Validation failed", errors=[field_error("email", "Valid email is required", echo)])
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValidationError("Validation failed", errors=[field_error("email", "Valid email is required", email)])


def get_user(user_id) -> User:
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise NotFound("User not found")
    return user


def find_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(func.lower(User.email) == email.lower())).scalar_one_or_none()


_MOBILE = re.compile(r"^\+?[0-9]{10,14}$")


OWN_NAME_MESSAGE = ("Your name is your registered name (it is printed as the prescriber); only an "
                    "administrator can change it, in user administration.")
OWN_DESIGNATION_MESSAGE = ("Your designation is printed under your name on prescriptions; only an administrator "
                           "can change it, in user administration.")
PRINTED_FIELDS = {"name": OWN_NAME_MESSAGE, "designation": OWN_DESIGNATION_MESSAGE}


def _nfc(text: str) -> str:
    import unicodedata
    return unicodedata.normalize("NFC", text)


SUB_ROLE_REQUIRED = "sub_role is required for a Resident: Junior Resident or Senior Resident"
SUB_ROLE_FORBIDDEN = "sub_role is only for Residents; leave it empty for other roles"
PASSWORD_NOT_TAKEN = ("Passwords are not set by administrators: the new user receives an e-mail with a "
                      "link to choose their own password. Send the request without a password.")
_GRADE_SPELLINGS = {"jr": JUNIOR, "junior resident": JUNIOR, "junior": JUNIOR,
                    "sr": "SR", "senior resident": "SR", "senior": "SR"}


def parse_grade(value) -> str | None:
    """"Junior Resident" / "Senior Resident" (the original's sub_role) or "JR" / "SR" -> JR / SR.
    None or "" -> None. Raises ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    grade = _GRADE_SPELLINGS.get(value.strip().lower()) if isinstance(value, str) else None
    if grade is None:
        raise ValueError(value)
    return grade


def _grade_field(data: dict) -> tuple[bool, object]:
    """(given, raw value) of the grade: ``sub_role`` (the original's name) or ``grade``."""
    for key in ("sub_role", "grade"):
        if key in data:
            return True, data[key]
    return False, None


def _resolve_grade(role: str, data: dict, current: str | None, strict: bool, errors: list) -> str | None:
    """The grade an account of ``role`` ends up with. Residents need one (strict: the admin's
    forms and the API say so; otherwise, e.g. the CLI, a Resident without one is Junior);
    other roles never have one (changing the role away from Resident clears it)."""
    given, raw = _grade_field(data)
    try:
        grade = parse_grade(raw) if given else None
    except ValueError:
        errors.append(field_error("sub_role", "sub_role must be Junior Resident or Senior Resident",
                                  raw if isinstance(raw, (str, int)) and len(str(raw)) <= 100 else None))
        return None
    if role != RESIDENT:
        if grade is not None:
            errors.append(field_error("sub_role", SUB_ROLE_FORBIDDEN, raw))
        return None
    if grade is None and not given:
        grade = current
    if grade is None:
        if strict:
            errors.append(field_error("sub_role", SUB_ROLE_REQUIRED, None))
        return JUNIOR
    return grade


def _clean_user_fields(data: dict, creating: bool) -> dict:
    errors, out = [], {}
    if "name" in data or creating:
        name = data.get("name")
        if not isinstance(name, str) or not 2 <= len(name.strip()) <= 255 or "\x00" in name:
            errors.append(field_error("name", "Name must be 2 to 255 characters", name))
        else:
            try:  # NFC; no invisible or text-direction characters (emrs/safetext.py)
                out["name"] = clean_name(name)
            except ValueError as exc:
                errors.append(field_error("name", f"Name {exc}", None))
    if "email" in data or creating:
        try:
            out["email"] = normalise_email(data.get("email"))
        except ValidationError as e:
            errors.extend(e.errors)
    if "role" in data or creating:
        role = normalise_role(data.get("role"))
        if role is None:
            errors.append(field_error("role", "Role must be one of: " + ", ".join(ROLES), data.get("role")))
        else:
            out["role"] = role
    if "mobile" in data:
        mobile = data.get("mobile")
        if mobile in (None, ""):
            out["mobile"] = None
        elif not isinstance(mobile, str) or not _MOBILE.match(mobile.strip()):
            errors.append(field_error("mobile", "Mobile must be 10 to 14 digits", mobile))
        else:
            out["mobile"] = mobile.strip()
    if "designation" in data:
        d = data.get("designation")
        if d not in (None, "") and (not isinstance(d, str) or len(d) > 100 or "\x00" in d):
            errors.append(field_error("designation", "Designation must be at most 100 characters", d))
        else:
            out["designation"] = (d or "").strip() or None
    if creating and not data.get("_invite"):
        problem = password_problem(data.get("password"))
        if problem:
            errors.append(field_error("password", problem))
    if creating and data.get("_invite") and data.get("password") not in (None, ""):
        errors.append(field_error("password", PASSWORD_NOT_TAKEN, None))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return out


def _ensure_unique(email: str | None, mobile: str | None, exclude_id: int | None = None) -> None:
    if email:
        other = find_by_email(email)
        if other is not None and other.id != exclude_id:
            raise Conflict("User with this email already exists" if exclude_id is None else "Email already exists")
    if mobile:
        other = db.session.execute(select(User).where(User.mobile == mobile)).scalar_one_or_none()
        if other is not None and other.id != exclude_id:
            raise Conflict("Mobile number already belongs to another user")


def _clean_with_grade(data: dict, creating: bool, role_now: str | None, grade_now: str | None,
                      strict: bool) -> dict:
    """The user's fields and, when the role or grade is touched, the resulting ``grade``."""
    errors: list = []
    try:
        fields = _clean_user_fields(data, creating)
    except ValidationError as exc:
        errors.extend(exc.errors)
        fields = {}
    role = fields.get("role") or role_now
    given, _ = _grade_field(data)
    if role is not None and (creating or given or "role" in fields):
        grade = _resolve_grade(role, data, grade_now if role == role_now else None, strict, errors)
        if grade != grade_now or creating:
            fields["grade"] = grade
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return fields


def create_user(data: dict, actor: User | None = None) -> User:
    """An account with a password chosen here (the CLI, demo data, tests). Administrators in the
    app invite instead (``invite_user``): they never choose or see a user's password."""
    fields = _clean_with_grade(data, True, None, None, strict=False)
    _ensure_unique(fields["email"], fields.get("mobile"))
    user = User(password_hash=hash_password(data["password"]), password_set_at=utcnow(), **fields)
    if "two_factor_enabled" in data and isinstance(data["two_factor_enabled"], bool):
        user.two_factor_enabled = data["two_factor_enabled"]
    db.session.add(user)
    db.session.flush()
    audit.record("user_create", "users", user.id, user_id=actor.id if actor else None,
                 details={"role": user.role, "grade": user.grade})
    db.session.commit()
    return user


# --------------------------------------------------------------------------- invitations

INVITATION_SUBJECT = "Set up your EMRS account password"
INVITATION_INVALID = ("This set-up link is not valid any more: it was already used, a newer invitation "
                      "replaced it, or it expired. Ask the department administrator to send a new invitation.")
NOT_SET_UP = ("New account? Choose your password with the link in your invitation e-mail first. "
              "An expired link can be sent again by an administrator.")


def _setup_link(token: str) -> str:
    base = (current_app.config.get("PUBLIC_BASE_URL") or "http://localhost").rstrip("/")
    return f"{base}/setup-password?token={token}"


def invite_user(data: dict, actor: User) -> tuple[User, bool]:
    """An administrator creates an account without a password (``password`` in the data is
    refused); the user gets an e-mail with a one-time set-up link. Residents need a grade
    (``sub_role``). Returns (user, whether the e-mail went out): a mail failure does not undo
    the account; the administrator can resend."""
    fields = _clean_with_grade({**data, "_invite": True}, True, None, None, strict=True)
    _ensure_unique(fields["email"], fields.get("mobile"))
    # Nobody knows this password: the account cannot sign in until the user sets one.
    user = User(password_hash=hash_password(new_token(32)), **fields)
    if "two_factor_enabled" in data and isinstance(data["two_factor_enabled"], bool):
        user.two_factor_enabled = data["two_factor_enabled"]
    db.session.add(user)
    db.session.flush()
    user.password_set_at = None  # after the insert: the column's default says "set" for every other path
    audit.record("user_create", "users", user.id, user_id=actor.id if actor else None,
                 details={"role": user.role, "grade": user.grade, "invited": True})
    token = _new_invitation(user, actor)
    db.session.commit()
    return user, _send_invitation(user, token)


def resend_invitation(user: User, actor: User) -> bool:
    """A new set-up link (earlier links stop working). Refused once the password is set or
    for a deactivated account. Returns whether the e-mail went out."""
    if not user.invitation_pending:
        raise DomainError(f"{user.name} has already set a password; an invitation is only for a new account. "
                          "They can use Forgot password.", status=409)
    if not user.is_active:
        raise DomainError("The account is deactivated: activate it before sending an invitation.", status=409)
    token = _new_invitation(user, actor)
    audit.record("invitation_resent", "users", user.id, user_id=actor.id if actor else None)
    db.session.commit()
    return _send_invitation(user, token)


def _close_invitations(user_id: int, now: datetime) -> None:
    db.session.execute(update(UserInvitation).where(
        UserInvitation.user_id == user_id, UserInvitation.used_at.is_(None), UserInvitation.revoked_at.is_(None))
        .values(revoked_at=now))


def _new_invitation(user: User, actor: User | None) -> str:
    now = utcnow()
    _close_invitations(user.id, now)
    token = new_token(32)
    db.session.add(UserInvitation(user_id=user.id, token_hash=keyed_hash(f"invite:{token}"),
                                  created_by=actor.id if actor else None, created_at=now,
                                  expires_at=now + timedelta(hours=current_app.config["INVITATION_HOURS"])))
    audit.record("invitation_created", "users", user.id, user_id=actor.id if actor else None)
    return token


def _send_invitation(user: User, token: str) -> bool:
    cfg = current_app.config
    place = ", ".join(p for p in (cfg.get("HOSPITAL_NAME"), cfg.get("DEPARTMENT_NAME")) if p)
    body = (f"Hello {user.name},\n\nAn account was created for you in EMRS ({place}) as "
            f"{user.sub_role or user.role}.\n\n"
            f"Choose your password here (the link works once, for {cfg['INVITATION_HOURS']} hours):\n\n"
            f"{_setup_link(token)}\n\n"
            f"Then sign in with this e-mail address ({user.email}) and your new password.\n"
            "If you did not expect this message, ignore it and tell the department administrator.\n")
    try:
        send_mail(user.email, INVITATION_SUBJECT, body)
        return True
    except Exception:  # the account stands; the administrator can send the invitation again
        log.warning("invitation mail could not be sent")
        return False


def _invitation_row(token) -> UserInvitation | None:
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{64}", token):
        return None
    row = db.session.execute(select(UserInvitation).where(
        UserInvitation.token_hash == keyed_hash(f"invite:{token}")).with_for_update()).scalar_one_or_none()
    if row is None or row.used_at is not None or row.revoked_at is not None or _aware(row.expires_at) <= utcnow():
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active or not user.invitation_pending:
        return None
    return row


def invitation_user(token) -> User | None:
    """The account a set-up link is for (the page greets them), or None when the link is not
    valid (used, replaced, expired, unknown)."""
    row = _invitation_row(token)
    return db.session.get(User, row.user_id) if row is not None else None


def setup_password(token, new_password) -> User:
    """Set the password from an invitation link: the link is used up. Invalid links and
    passwords that break the policy change nothing."""
    row = _invitation_row(token)
    if row is None:
        audit.record_now("invitation_refused", "users", None)
        raise DomainError(INVITATION_INVALID)
    problem = password_problem(new_password)
    if problem:
        raise ValidationError("Validation failed", errors=[field_error("newPassword", problem)])
    now = utcnow()
    won = db.session.execute(update(UserInvitation).where(UserInvitation.id == row.id, UserInvitation.used_at.is_(None))
                             .values(used_at=now).execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        db.session.rollback()
        raise DomainError(INVITATION_INVALID)
    user = db.session.get(User, row.user_id)
    user.password_hash = hash_password(new_password)
    user.password_set_at = now
    user.failed_login_attempts = 0
    user.locked_until = None
    _close_invitations(user.id, now)
    audit.record("password_setup", "users", user.id, user_id=user.id)
    db.session.commit()
    try:
        send_mail(user.email, "Your EMRS account is ready",
                  f"Hello {user.name},\n\nYour EMRS password was set just now. Sign in with your e-mail "
                  f"address ({user.email}).\nIf this was not you, tell the department administrator at once.\n")
    except Exception:  # the password stands; the confirmation is a courtesy
        log.warning("set-up confirmation mail could not be sent")
    return user


def update_user(user: User, data: dict, actor: User, own_profile: bool = False) -> User:
    allowed = {"name", "email", "mobile", "designation"} | (set() if own_profile else {"role"})
    if own_profile and PRINTED_FIELDS.keys() & set(data):
        # Name and designation are printed as the prescriber and shown in the audit trail: only
        # an Admin changes them (user administration). Sending them unchanged is fine.
        for key, message in PRINTED_FIELDS.items():
            if key not in data:
                continue
            value = data[key]
            text = _nfc(value.strip()) if isinstance(value, str) else value
            if (text or None) != (getattr(user, key) or None):
                raise ValidationError("Validation failed", errors=[field_error(key, message, None)])
        data = {k: v for k, v in data.items() if k not in PRINTED_FIELDS}
        if not data:
            return user
    if not own_profile:
        allowed |= {"sub_role", "grade"}
    unknown = [k for k in data if k not in allowed]
    fields = _clean_with_grade({k: v for k, v in data.items() if k in allowed}, False, user.role, user.grade,
                               strict=not own_profile)
    if not fields:
        raise ValidationError("No valid fields to update" + (f" (not changeable here: {', '.join(unknown)})" if unknown else ""))
    if "role" in fields and user.id == actor.id and fields["role"] != user.role:
        raise DomainError("You cannot change your own role")
    _ensure_unique(fields.get("email"), fields.get("mobile"), exclude_id=user.id)
    for k, v in fields.items():
        setattr(user, k, v)
    if "role" in fields and "grade" not in fields and fields["role"] != RESIDENT:
        fields["grade"] = None
    audit.record("user_update", "users", user.id, details={"fields": sorted(fields)})
    db.session.commit()
    return user


def set_active(user: User, active: bool, actor: User) -> User:
    if user.id == actor.id:
        raise DomainError("You cannot " + ("activate" if active else "deactivate") + " your own account")
    user.is_active = active
    if not active:
        end_all_sessions(user, reason="deactivated")
    audit.record("user_activate" if active else "user_deactivate", "users", user.id)
    db.session.commit()
    return user


def set_second_factor(user: User, enabled: bool, actor: User, password=None) -> User:
    """Admins may turn the login code off for one account (integration service accounts).
    Turning off one's own second factor also needs the current password (a stolen session
    or access token alone cannot remove it)."""
    if not enabled and actor.role != ADMIN:
        raise Forbidden("Only an administrator can turn off the second factor for an account.")
    if not enabled and user.id == actor.id and (
            not isinstance(password, str) or not password or not check_password(user.password_hash, password)):
        audit.record_now("user_2fa_off_refused", "users", user.id, user_id=actor.id, details={"reason": "password"})
        raise DomainError("Current password is incorrect" if isinstance(password, str) and password
                          else "Enter your current password to turn off the login code.")
    user.two_factor_enabled = enabled
    audit.record("user_2fa_on" if enabled else "user_2fa_off", "users", user.id, user_id=actor.id)
    db.session.commit()
    return user


def list_users(page: int, limit: int, role: str | None = None, doctors_only: bool = False,
               search: str | None = None):
    q = select(User)
    if doctors_only:
        q = q.where(is_active_doctor())
    if role:
        canonical = normalise_role(role)
        q = q.where(User.role == (canonical or role))
    if search:
        like = f"%{search.strip().lower()}%"
        q = q.where(or_(func.lower(User.name).like(like), func.lower(User.email).like(like)))
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(
        q.order_by(User.created_at.desc(), User.id.desc()).offset((page - 1) * limit).limit(limit)
    ).scalars().all()
    return rows, total


def user_stats() -> list[dict]:
    rows = db.session.execute(select(User.role, func.count(User.id)).group_by(User.role).order_by(User.role)).all()
    return [{"role": r, "count": c} for r, c in rows]


def change_password(user: User, current: str, new: str, keep_session_id: int | None = None) -> None:
    if not isinstance(current, str) or not check_password(user.password_hash, current):
        raise DomainError("Current password is incorrect")
    problem = password_problem(new)
    if problem:
        raise ValidationError("Validation failed", errors=[field_error("newPassword", problem)])
    user.password_hash = hash_password(new)
    user.password_set_at = utcnow()
    end_all_sessions(user, reason="password_changed", keep_id=keep_session_id)
    audit.record("password_change", "users", user.id, user_id=user.id)
    db.session.commit()


# --------------------------------------------------------------------------- login

def authenticate(email, password) -> User:
    """Check e-mail + password, with lockout. Raises AuthFailed / Locked."""
    try:
        email = normalise_email(email)
    except ValidationError:
        raise
    if not isinstance(password, str) or not password:
        raise ValidationError("Validation failed", errors=[field_error("password", "Password is required")])
    user = find_by_email(email)
    now = utcnow()
    if user is None:
        check_password(None, password)
        audit.record_now("login_failed", "users", None, details={"reason": "unknown_email"})
        raise AuthFailed(INVALID_LOGIN)
    if user.password_set_at is None:
        # Invited, no password chosen yet: the same answer as a wrong password (no telling who
        # has an account); the sign-in page adds a general hint about invitation links.
        check_password(None, password)
        audit.record_now("login_refused", "users", user.id, user_id=user.id, details={"reason": "not_set_up"})
        raise AuthFailed(INVALID_LOGIN)
    locked_until = _aware(user.locked_until)
    if locked_until and locked_until > now:
        audit.record_now("login_locked", "users", user.id, user_id=user.id)
        raise Locked(_locked_message(locked_until - now, now))
    if not check_password(user.password_hash, password):
        audit.record("login_failed", "users", user.id, user_id=user.id,
                     details={"reason": "bad_password", "attempt": (user.failed_login_attempts or 0) + 1})
        locked = _count_failure(user, now, "bad_password")
        db.session.commit()
        raise locked or AuthFailed(INVALID_LOGIN)
    if not user.is_active:
        audit.record_now("login_refused", "users", user.id, user_id=user.id, details={"reason": "deactivated"})
        raise AuthFailed(DEACTIVATED)
    # Knowing the password does not buy unlimited guesses at the code: wrong codes of this
    # account's pending logins (each opened by the right password) share one budget.
    remaining = _code_guess_lock(user, now)
    if remaining is not None:
        audit.record_now("login_locked", "users", user.id, user_id=user.id, details={"reason": "code_guesses"})
        raise Locked(_locked_message(remaining, now))
    return user


def _count_failure(user: User, now: datetime, reason: str) -> Locked | None:
    """One more wrong password; at LOGIN_MAX_FAILURES the account locks.
    Returns the Locked error to raise (after the caller's commit), or None."""
    cfg = current_app.config
    user.failed_login_attempts = (user.failed_login_attempts or 0) + 1
    if user.failed_login_attempts < cfg["LOGIN_MAX_FAILURES"]:
        return None
    user.locked_until = now + timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
    user.failed_login_attempts = 0
    audit.record("account_locked", "users", user.id, user_id=user.id, details={"reason": reason})
    return Locked(_locked_message(timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"]), now))


def _code_guess_lock(user: User, now: datetime) -> timedelta | None:
    """Wrong codes typed in this account's pending logins since its last completed login,
    within LOGIN_LOCKOUT_MINUTES: at LOGIN_MAX_FAILURES no new pending login opens until the
    oldest of them leaves the window. Only a correct password opens a pending login, so
    nobody without it can spend this budget. Returns the time left, or None."""
    cfg = current_app.config
    window = timedelta(minutes=cfg["LOGIN_LOCKOUT_MINUTES"])
    since = now - window
    last_login = _aware(user.last_login)
    if last_login is not None and last_login > since:
        since = last_login
    rows = db.session.execute(select(PendingLogin.created_at, PendingLogin.attempts).where(
        PendingLogin.user_id == user.id, PendingLogin.attempts > 0, PendingLogin.created_at > since)
        .order_by(PendingLogin.created_at)).all()
    total = sum(a for _, a in rows)
    if total < cfg["LOGIN_MAX_FAILURES"]:
        return None
    for created, attempts in rows:
        total -= attempts
        if total < cfg["LOGIN_MAX_FAILURES"]:
            return max(timedelta(seconds=1), _aware(created) + window - now)
    return window  # pragma: no cover


def _locked_message(remaining: timedelta, now: datetime | None = None) -> str:
    """'locked until 19:42 (India time)': the clock time a person can act on, and how long."""
    from ..timeutil import ist_text
    minutes = max(1, int(remaining.total_seconds() // 60) + (1 if remaining.total_seconds() % 60 else 0))
    until = ist_text((now or utcnow()) + remaining, "%H:%M")
    return (f"Too many failed attempts. This account is locked until {until} (India time), "
            f"{minutes} more minute{'s' if minutes != 1 else ''}. Try again then, reset your password, "
            f"or ask an administrator to unlock it.")


def locked_until(user: User, now: datetime | None = None) -> datetime | None:
    """When the account opens again (aware UTC), or None when it is not locked: after wrong
    passwords (``users.locked_until``) or after wrong codes in its pending logins."""
    now = now or utcnow()
    until = _aware(user.locked_until)
    until = until if until and until > now else None
    remaining = _code_guess_lock(user, now)
    if remaining is not None and (until is None or now + remaining > until):
        until = now + remaining
    return until


def locked_accounts(users: list[User]) -> dict[int, datetime]:
    """{user id: locked until} of the given accounts that are locked now (the users page)."""
    now = utcnow()
    return {u.id: until for u in users if (until := locked_until(u, now)) is not None}


def unlock(user: User, actor: User) -> datetime | None:
    """An administrator opens a locked account: the wrong-password count and lock are cleared
    and the wrong codes of its pending logins stop counting (those sign-in attempts close). The
    audit trail keeps every failed attempt and records the unlock. Returns the lock it lifted."""
    now = utcnow()
    was = locked_until(user, now)
    user.locked_until = None
    user.failed_login_attempts = 0
    db.session.execute(delete(PendingLogin).where(PendingLogin.user_id == user.id, PendingLogin.attempts > 0))
    audit.record("account_unlock", "users", user.id, user_id=actor.id if actor else None,
                 details={"locked_until": was.isoformat() if was else None})
    db.session.commit()
    return was


@dataclass(frozen=True)
class CodeRefusal:
    message: str
    locked: bool        # the account is locked: no code can be tried now
    closed: bool        # this sign-in is closed: start again with the password


def code_refusal(pending: PendingLogin | None) -> CodeRefusal:
    """What the code page tells the person who typed a wrong code (they proved the password):
    the tries left, or that this sign-in closed, or that the account is locked and until when.
    The API keeps the contract's single answer (``INVALID_OTP``)."""
    cfg = current_app.config
    now = utcnow()
    user = db.session.get(User, pending.user_id) if pending is not None else None
    if user is not None:
        until = locked_until(user, now)
        if until is not None:
            return CodeRefusal(_locked_message(until - now, now), True, True)
    if pending is None or not _pending_open(pending, now):
        return CodeRefusal("This sign-in has closed (too many wrong codes, or it expired). "
                           "Start again with your e-mail and password.", False, True)
    left = cfg["OTP_MAX_ATTEMPTS"] - (pending.attempts or 0)
    return CodeRefusal(f"That code is not valid or has expired. Check the latest e-mail or ask for a new code. "
                       f"{left} more tr{'ies' if left != 1 else 'y'} before this sign-in closes.", False, False)


def second_factor_method(user: User) -> str | None:
    """None when no second factor is required; 'totp' or 'email' otherwise."""
    if not user.two_factor_enabled:
        return None
    return "totp" if user.totp_enabled and user.two_factor_secret else "email"


@dataclass
class LoginStart:
    """The password step's outcome: method None = no second factor (complete the login now);
    otherwise ``token`` is the raw pending-login token the client must hold."""
    user: User
    method: str | None
    token: str | None = None
    expires_in: int | None = None


def start_login(email, password, ip: str | None = None) -> LoginStart:
    """The password step of every door (page and API): check the password, then open a
    pending login and, for e-mailed codes, send one."""
    user = authenticate(email, password)
    method = second_factor_method(user)
    if method is None:
        return LoginStart(user, None)
    _row, raw = open_pending_login(user, method, ip)
    if method == "email":
        return LoginStart(user, method, raw, send_login_otp(user))
    return LoginStart(user, method, raw, 30)


def open_pending_login(user: User, method: str, ip: str | None) -> tuple[PendingLogin, str]:
    """Only after a correct password (start_login). Returns (row, raw token)."""
    now = utcnow()
    # Rows older than a day say nothing any more (the code-guess budget looks back
    # LOGIN_LOCKOUT_MINUTES): each password step tidies its own account's.
    db.session.execute(delete(PendingLogin).where(PendingLogin.user_id == user.id,
                                                  PendingLogin.created_at < now - timedelta(days=1)))
    raw = new_token(32)
    row = PendingLogin(user_id=user.id, token_hash=keyed_hash(f"pending-login:{raw}"), method=method,
                       ip_address=(ip or "")[:45] or None, created_at=now, attempts=0,
                       expires_at=now + timedelta(seconds=current_app.config["PENDING_LOGIN_SECONDS"]))
    db.session.add(row)
    db.session.flush()
    audit.record("login_password_ok", "users", user.id, user_id=user.id, details={"pending": row.id, "method": method})
    db.session.commit()
    return row, raw


def _pending_open(row: PendingLogin | None, now: datetime) -> bool:
    return (row is not None and row.closed_at is None and _aware(row.expires_at) > now
            and row.attempts < current_app.config["OTP_MAX_ATTEMPTS"])


def find_pending_login(token=None, user_id=None, ip: str | None = None) -> PendingLogin | None:
    """The open pending login named by its raw token (and, if given, belonging to user_id);
    without a token, the newest open one of user_id opened from the same address (the
    original client's ``{user_id, otp}``). None when there is none: callers answer alike."""
    now = utcnow()
    if token is not None:
        if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{64}", token):
            return None
        row = db.session.execute(select(PendingLogin).where(
            PendingLogin.token_hash == keyed_hash(f"pending-login:{token}")).with_for_update()).scalar_one_or_none()
        if row is not None and user_id is not None and row.user_id != user_id:
            return None
    elif isinstance(user_id, int) and not isinstance(user_id, bool) and ip:
        row = db.session.execute(select(PendingLogin).where(
            PendingLogin.user_id == user_id, PendingLogin.ip_address == ip[:45], PendingLogin.closed_at.is_(None),
            PendingLogin.expires_at > now).order_by(PendingLogin.id.desc()).limit(1).with_for_update()
        ).scalar_one_or_none()
    else:
        return None
    return row if _pending_open(row, now) else None


def pending_login_lifetime(row: PendingLogin) -> int:
    return max(0, int((_aware(row.expires_at) - utcnow()).total_seconds()))


def send_login_otp(user: User) -> int:
    """Invalidate earlier codes, e-mail a new one. Returns its lifetime in seconds.
    Callers: start_login (after the password) and resend_login_otp (inside a pending login)."""
    cfg = current_app.config
    db.session.execute(update(LoginOTP).where(LoginOTP.user_id == user.id, LoginOTP.used.is_(False))
                       .values(used=True))
    code = new_numeric_code()
    lifetime = cfg["OTP_EXPIRATION_MS"] // 1000
    db.session.add(LoginOTP(user_id=user.id, otp_hash=keyed_hash(f"login:{user.id}:{code}"),
                            expires_at=utcnow() + timedelta(seconds=lifetime)))
    audit.record("otp_sent", "users", user.id, user_id=user.id)
    db.session.commit()
    minutes = max(1, lifetime // 60)
    send_mail(user.email, "Your EMRS login code",
              f"Hello {user.name},\n\nYour EMRS login code is {code}\n\n"
              f"It is valid for {minutes} minute{'s' if minutes != 1 else ''} and can be used once.\n"
              "If you did not try to sign in, tell the department administrator.\n")
    return lifetime


def resend_login_otp(pending: PendingLogin | None) -> tuple[User, int]:
    """A new e-mailed code, only from an open pending login. Raises AuthFailed otherwise."""
    user = db.session.get(User, pending.user_id) if pending is not None else None
    if user is None or not user.is_active:
        raise AuthFailed(RESEND_REFUSED)
    pending.method = "email"
    return user, send_login_otp(user)


def _accept_totp(user: User, code: str) -> bool:
    """The authenticator code of the previous, current or next 30-second step, each step
    accepted once per account (the UPDATE is the check: two requests cannot both win)."""
    if not (user.totp_enabled and user.two_factor_secret):
        return False
    totp = pyotp.TOTP(user.two_factor_secret)
    current = totp.timecode(time.time())
    steps = [step for step in (current + 1, current, current - 1) if same(totp.generate_otp(step), code)]
    if not steps:
        return False
    step = steps[0]
    won = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False)).rowcount == 1
    if won:
        set_committed_value(user, "totp_last_step", step)
    else:
        audit.record("otp_failed", "users", user.id, user_id=user.id, details={"reason": "totp_step_reused"})
    return won


def _accept_emailed_code(user: User, code: str, now: datetime) -> bool:
    otp = db.session.execute(
        select(LoginOTP).where(LoginOTP.user_id == user.id, LoginOTP.used.is_(False))
        .order_by(LoginOTP.id.desc()).limit(1).with_for_update()
    ).scalar_one_or_none()
    if otp is None or _aware(otp.expires_at) <= now:
        return False
    if not same(otp.otp_hash, keyed_hash(f"login:{user.id}:{code}")):
        return False
    won = db.session.execute(update(LoginOTP).where(LoginOTP.id == otp.id, LoginOTP.used.is_(False))
                             .values(used=True).execution_options(synchronize_session=False)).rowcount == 1
    if won:
        set_committed_value(otp, "used", True)
    return won


def verify_second_factor(pending: PendingLogin | None, code) -> User:
    """Accept an authenticator code (if enrolled) or the latest e-mailed code, only inside an
    open pending login. Every refusal is the same AuthFailed(INVALID_OTP); wrong codes count
    against the pending login (closed at OTP_MAX_ATTEMPTS), never the account's lockout."""
    cfg = current_app.config
    now = utcnow()
    code = code.strip().replace(" ", "") if isinstance(code, str) else ""
    if not _pending_open(pending, now):
        raise AuthFailed(INVALID_OTP)
    user = db.session.get(User, pending.user_id)
    locked_until = _aware(user.locked_until) if user is not None else None
    if user is None or not user.is_active or (locked_until and locked_until > now):
        audit.record_now("otp_refused", "users", pending.user_id, user_id=pending.user_id,
                         details={"reason": "inactive_or_locked"})
        raise AuthFailed(INVALID_OTP)
    if re.fullmatch(r"\d{6}", code) and (_accept_totp(user, code) or _accept_emailed_code(user, code, now)):
        closed = db.session.execute(update(PendingLogin).where(PendingLogin.id == pending.id,
                                                               PendingLogin.closed_at.is_(None))
                                    .values(closed_at=now).execution_options(synchronize_session=False)).rowcount
        if closed == 1:
            set_committed_value(pending, "closed_at", now)
            db.session.commit()
            return user
        db.session.rollback()
        raise AuthFailed(INVALID_OTP)
    pending.attempts += 1
    if pending.attempts >= cfg["OTP_MAX_ATTEMPTS"]:
        pending.closed_at = now  # burnt: the password step must be done again
        db.session.execute(update(LoginOTP).where(LoginOTP.user_id == user.id, LoginOTP.used.is_(False))
                           .values(used=True))
    audit.record("otp_failed", "users", user.id, user_id=user.id,
                 details={"attempt": pending.attempts, "pending": pending.id})
    db.session.commit()
    raise AuthFailed(INVALID_OTP)


def complete_login(user: User, kind: str, ip: str | None, device: str | None) -> tuple[UserSession, str]:
    """Open a session for a fully authenticated user. Returns (session, raw token)."""
    cfg = current_app.config
    now = utcnow()
    raw = new_token(32)
    row = UserSession(user_id=user.id, kind=kind, token_hash=keyed_hash(f"session:{raw}") if kind == "web" else None,
                      last_activity=now, expires_at=now + _minutes(cfg["SESSION_ABSOLUTE_TIMEOUT_MS"]),
                      ip_address=(ip or "")[:45] or None, device_info=(device or "")[:255] or None)
    db.session.add(row)
    user.last_login = now
    user.failed_login_attempts = 0
    user.locked_until = None
    db.session.flush()
    audit.record("login", "users", user.id, user_id=user.id, details={"kind": kind, "session": row.id})
    db.session.commit()
    return row, raw


# --------------------------------------------------------------------------- sessions

def _inactivity() -> timedelta:
    return _minutes(current_app.config["SESSION_INACTIVITY_TIMEOUT_MS"])


def session_state(row: UserSession | None, now: datetime | None = None) -> str:
    """'ok', 'revoked', 'idle' (inactivity) or 'expired' (absolute lifetime)."""
    now = now or utcnow()
    if row is None or row.revoked_at is not None:
        return "revoked"
    if now - _aware(row.last_activity) > _inactivity():
        return "idle"
    if now > _aware(row.expires_at):
        return "expired"
    if not row.user.is_active:
        return "revoked"
    return "ok"


def revoke_session(row: UserSession, reason: str) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_reason = reason[:40]
    db.session.execute(update(RefreshToken).where(RefreshToken.session_id == row.id).values(is_revoked=True))


def end_all_sessions(user: User, reason: str, keep_id: int | None = None) -> int:
    rows = db.session.execute(select(UserSession).where(UserSession.user_id == user.id,
                                                        UserSession.revoked_at.is_(None))).scalars().all()
    n = 0
    for row in rows:
        if row.id != keep_id:
            revoke_session(row, reason)
            n += 1
    return n


def touch(row: UserSession, now: datetime | None = None) -> None:
    """Record activity, at most every 30 seconds per session (one write, not one per request)."""
    now = now or utcnow()
    if now - _aware(row.last_activity) > timedelta(seconds=30):
        row.last_activity = now
        db.session.commit()


@functools.cache  # built once: every request of a signed-in browser runs one of these
def _session_by(column: str):
    return select(UserSession).where(getattr(UserSession, column) == bindparam("value"))


def _live(snapshot) -> bool:
    return session_state(snapshot) == "ok"


def web_session_for(raw_token: str) -> UserSession | None:
    """The session row (with its user) of a browser cookie's token, checked on every request:
    from the process's session cache while it may serve it (emrs/auth/session_cache.py)."""
    if not raw_token or not isinstance(raw_token, str):
        return None
    token_hash = keyed_hash(f"session:{raw_token}")
    return cached_session(("token", token_hash), lambda: db.session.execute(
        _session_by("token_hash"), {"value": token_hash}).scalar_one_or_none(), _live)


def session_by_id(session_id: int) -> UserSession | None:
    """The session row (with its user) of an API access token, checked on every API request."""
    return cached_session(("id", session_id), lambda: db.session.execute(
        _session_by("id"), {"value": session_id}).scalar_one_or_none(), _live)


def active_sessions(user: User) -> list[UserSession]:
    now = utcnow()
    rows = db.session.execute(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)).order_by(UserSession.last_activity.desc())
    ).scalars().all()
    return [r for r in rows if session_state(r, now) == "ok"]


# --------------------------------------------------------------------------- authenticator app

def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="EMRS PGIMER")


def enrol_totp(user: User, secret: str, code, password) -> None:
    """Confirm an authenticator app: the current password and a code it shows. The code's
    time-step counts as used (it cannot sign anyone in afterwards)."""
    if not isinstance(password, str) or not password:
        raise DomainError("Enter your current password to set up the authenticator app.")
    if not check_password(user.password_hash, password):
        audit.record_now("totp_enrol_refused", "users", user.id, user_id=user.id, details={"reason": "bad_password"})
        raise DomainError("Current password is incorrect")
    if not isinstance(secret, str) or len(secret) < 16:
        raise DomainError("Start the set-up again: the key has expired.")
    code = code.strip().replace(" ", "") if isinstance(code, str) else ""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(time.time())
    steps = [s for s in (current + 1, current, current - 1)
             if re.fullmatch(r"\d{6}", code) and same(totp.generate_otp(s), code)]
    if not steps:
        raise DomainError("That code does not match. Check the time on your phone and try the current code.")
    user.two_factor_secret = secret
    user.totp_enabled = True
    user.totp_last_step = steps[0]
    audit.record("totp_enrolled", "users", user.id, user_id=user.id)
    db.session.commit()


def remove_totp(user: User, password) -> None:
    if not isinstance(password, str) or not check_password(user.password_hash, password):
        raise DomainError("Current password is incorrect")
    user.two_factor_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    audit.record("totp_removed", "users", user.id, user_id=user.id)
    db.session.commit()


# --------------------------------------------------------------------------- password reset

FORGOT_MESSAGE = "If an account with this email exists, a password reset OTP has been sent."


def request_password_reset(email) -> tuple[str, datetime]:
    """Start a reset. Returns a token for the client whether or not the account
    exists, so the answer does not tell who has an account; known and unknown e-mails
    take the same time: the same queries run in both cases and the code is mailed in the
    background (a mail server's seconds would otherwise tell)."""
    email = normalise_email(email)
    cfg = current_app.config
    expires = utcnow() + _minutes(cfg["PASSWORD_RESET_TOKEN_EXPIRATION_MS"])
    token = new_token(32)
    user = find_by_email(email)
    known = user is not None and user.is_active
    uid = user.id if known else 0  # 0 matches no row: the same statements, nothing changed
    recent = db.session.scalar(select(func.count()).select_from(PasswordResetToken).where(
        PasswordResetToken.user_id == uid, PasswordResetToken.created_at >= utcnow() - timedelta(hours=1)))
    if not known:
        db.session.execute(update(PasswordResetToken).where(PasswordResetToken.user_id == uid,
                                                            PasswordResetToken.used.is_(False)).values(used=True))
        audit.record_now("password_reset_unknown", "users", None)
        return token, expires
    if recent >= cfg["RESET_CODES_PER_HOUR"]:
        # Same answer, no new code: guessing codes from many addresses gains nothing.
        audit.record_now("password_reset_throttled", "users", user.id, user_id=user.id)
        return token, expires
    db.session.execute(update(PasswordResetToken).where(PasswordResetToken.user_id == user.id,
                                                        PasswordResetToken.used.is_(False)).values(used=True))
    code = new_numeric_code()
    db.session.add(PasswordResetToken(user_id=user.id, token_hash=keyed_hash(f"reset:{token}"),
                                      otp_hash=keyed_hash(f"reset-otp:{token}:{code}"), expires_at=expires))
    audit.record("password_reset_requested", "users", user.id, user_id=user.id)
    db.session.commit()
    minutes = cfg["PASSWORD_RESET_TOKEN_EXPIRATION_MS"] // 60000
    send_mail_in_background(user.email, "EMRS password reset code",
                            f"Hello {user.name},\n\nYour EMRS password reset code is {code}\n\n"
                            f"It is valid for {minutes} minutes. If you did not ask to reset your password, "
                            "ignore this message; your password stays as it is.\n")
    return token, expires


def _reset_row(token) -> PasswordResetToken | None:
    if not isinstance(token, str) or not re.fullmatch(r"[0-9a-f]{64}", token):
        return None
    row = db.session.execute(select(PasswordResetToken).where(
        PasswordResetToken.token_hash == keyed_hash(f"reset:{token}")).with_for_update()).scalar_one_or_none()
    if row is None or row.used or _aware(row.expires_at) <= utcnow():
        return None
    return row


def verify_reset_code(token, code) -> User:
    row = _reset_row(token)
    code = code.strip() if isinstance(code, str) else ""
    if row is None or row.attempts >= current_app.config["OTP_MAX_ATTEMPTS"]:
        raise DomainError(INVALID_OTP)
    if not same(row.otp_hash, keyed_hash(f"reset-otp:{token}:{code}")):
        row.attempts += 1
        audit.record("password_reset_otp_failed", "users", row.user_id, user_id=row.user_id)
        db.session.commit()
        raise DomainError(INVALID_OTP)
    row.verified_at = utcnow()
    db.session.commit()
    return db.session.get(User, row.user_id)


def reset_password(token, new_password) -> User:
    row = _reset_row(token)
    if row is None or row.verified_at is None:
        raise DomainError("Invalid or expired reset token")
    problem = password_problem(new_password)
    if problem:
        raise ValidationError("Validation failed", errors=[field_error("newPassword", problem)])
    user = db.session.get(User, row.user_id)
    if user is None:
        raise NotFound("User not found")
    user.password_hash = hash_password(new_password)
    user.password_set_at = utcnow()
    _close_invitations(user.id, user.password_set_at)
    user.failed_login_attempts = 0
    user.locked_until = None
    row.used = True
    end_all_sessions(user, reason="password_reset")
    audit.record("password_reset", "users", user.id, user_id=user.id)
    db.session.commit()
    try:
        send_mail(user.email, "Your EMRS password was changed",
                  f"Hello {user.name},\n\nYour EMRS password was reset just now. If this was not you, "
                  "tell the department administrator at once.\n")
    except Exception:  # the reset stands; the confirmation is a courtesy
        log.warning("reset confirmation mail could not be sent")
    return user
