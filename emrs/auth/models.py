"""Accounts, sessions, one-time codes and tokens."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models_base import TimestampMixin, utcnow
from ..serialize import json_value

ADMIN = "Admin"
FACULTY = "Faculty"
RESIDENT = "Resident"
PWO = "Psychiatric Welfare Officer"
ROLES = (ADMIN, FACULTY, RESIDENT, PWO)
DOCTOR_ROLES = (FACULTY, RESIDENT)
JUNIOR, SENIOR = "JR", "SR"
GRADES = {JUNIOR: "Junior Resident", SENIOR: "Senior Resident"}


def grade_label(grade: str | None) -> str | None:
    """"Junior Resident" / "Senior Resident" (the original's sub_role values), or None."""
    return GRADES.get(grade) if grade else None


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(50), nullable=False)
    email: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    mobile: Mapped[str | None] = mapped_column(String(15), unique=True)
    designation: Mapped[str | None] = mapped_column(String(100))
    # Residents only: "JR" (Junior Resident) or "SR" (Senior Resident); decides list scope.
    grade: Mapped[str | None] = mapped_column(String(2))
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    # When the user last chose a password. None: invited, the password is not set yet (the
    # stored hash is of a random secret nobody knows); such an account cannot sign in.
    # Rows made without saying (tests, scripts) count as set; only an invitation leaves it empty.
    password_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow)
    # E-mailed one-time code at login. On for every account unless an Admin turns it off.
    two_factor_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                                      server_default=db.true())
    # Authenticator app (TOTP): base32 secret, confirmed once the user typed a valid code.
    two_factor_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                server_default=db.false())
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True,
                                             server_default=db.true())
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_login_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0,
                                                        server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last authenticator time-step accepted (unix time // 30): each step is accepted once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        db.CheckConstraint(
            "role IN ('Admin', 'Faculty', 'Resident', 'Psychiatric Welfare Officer')",
            name="role_allowed",
        ),
        db.CheckConstraint("grade IS NULL OR (role = 'Resident' AND grade IN ('JR', 'SR'))", name="grade_allowed"),
    )

    # Flask-Login: the flag it reads is is_active; ours is a real column of the same name.
    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_doctor(self) -> bool:
        return self.role in DOCTOR_ROLES

    @property
    def sub_role(self) -> str | None:
        """The original's ``sub_role``: "Junior Resident" / "Senior Resident" (Residents only)."""
        return grade_label(self.grade)

    @property
    def invitation_pending(self) -> bool:
        """Invited, and the password is not set yet: cannot sign in."""
        return self.password_set_at is None

    @property
    def printed_designation(self) -> str:
        """What prints under the name: the designation, else the Resident's grade, else the role."""
        return self.designation or self.sub_role or self.role or ""

    # The keys of the user's public JSON (the OpenAPI document's User schema is built from them).
    PUBLIC_FIELDS = ("id", "name", "role", "sub_role", "mobile", "email", "designation", "two_factor_enabled",
                     "totp_enabled", "is_active", "invitation_pending", "last_login", "created_at")

    def public(self) -> dict:
        """The user's public JSON (never the password or secrets); timestamps ISO-8601 in UTC."""
        return {k: json_value(getattr(self, k)) for k in self.PUBLIC_FIELDS}


class UserSession(TimestampMixin, db.Model):
    """One signed-in session: a browser login or an API token family.

    The browser cookie carries a random token whose hash is stored here; an API
    access token carries this row's id (claim ``sid``) and its refresh tokens
    point here. Revoking the row ends the session everywhere, in every process.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # web | api
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    last_activity: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(40))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    device_info: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (
        db.CheckConstraint("kind IN ('web', 'api')", name="kind_allowed"),
    )


class RefreshToken(TimestampMixin, db.Model):
    """Opaque refresh token (stored as SHA-256), rotated on every use.

    A token that was already rotated and is presented again means it was
    copied: the whole session (token family) is revoked.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("user_sessions.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    device_info: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    last_activity: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    is_revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                             server_default=db.false())
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginOTP(TimestampMixin, db.Model):
    """E-mailed login code: stored as an HMAC, single use, expiring, 5 tries."""

    __tablename__ = "login_otps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False)
    otp_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                       server_default=db.false())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    __table_args__ = (Index("ix_login_otps_user_open", "user_id", "used"),)


class PasswordResetToken(TimestampMixin, db.Model):
    """Forgot-password: a token for the client, an e-mailed code; reset needs both,
    and only after the code was verified."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    otp_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                       server_default=db.false())
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class PendingLogin(db.Model):
    """One login attempt between a correct password and the second factor.

    Opened only when ``authenticate()`` accepted the password; the client holds a
    random token (stored here as an HMAC). A code is accepted only inside an open,
    unexpired pending login; wrong codes count here (at OTP_MAX_ATTEMPTS it closes),
    not against the account, so nobody without the password can lock anyone out.
    """

    __tablename__ = "pending_logins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    method: Mapped[str] = mapped_column(String(10), nullable=False)  # email | totp
    ip_address: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        db.CheckConstraint("method IN ('email', 'totp')", name="method_allowed"),
        Index("ix_pending_logins_user_created", "user_id", "created_at"),
    )


class UserInvitation(db.Model):
    """An account set-up link: the raw token travels only in the e-mail; this row keeps its
    HMAC. Valid INVITATION_HOURS (24), single use; a new invitation closes the earlier ones."""

    __tablename__ = "user_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Closed without use: a newer invitation, or the password was set another way.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
