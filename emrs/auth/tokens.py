"""API tokens: short-lived JWT access tokens and rotating refresh tokens.

Nothing about a login lives in one process's memory: the access token is
verified with the shared secret plus one indexed look-up of its session row,
and refresh tokens are rows in the database.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from datetime import timedelta

import jwt
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from ..audit import service as audit
from ..errors import AuthFailed
from ..extensions import db
from ..models_base import utcnow
from .models import RefreshToken, User, UserSession
from .security import keyed_hash, new_token
from .service import _aware, revoke_session, session_by_id, session_state

SESSION_EXPIRED = "SESSION_EXPIRED"


def issue_access_token(user: User, session: UserSession) -> tuple[str, int]:
    cfg = current_app.config
    lifetime = cfg["ACCESS_TOKEN_EXPIRATION_SECONDS"]
    now = utcnow()
    claims = {"userId": user.id, "email": user.email, "role": user.role, "type": "access",
              "sid": session.id, "iat": now, "exp": now + timedelta(seconds=lifetime)}
    return jwt.encode(claims, cfg["JWT_SECRET"], algorithm="HS256"), lifetime


# Access tokens whose signature and claims were verified, per process: verifying an HS256 token
# (base64 of each segment, the HMAC, the JSON, the claim checks) is a fifth of an API read's
# authentication. Only a token that passed jwt.decode() is kept, under its exact text and the
# secret it was checked with; its expiry is checked again on every use. Nothing about the
# session is kept: its row is still read on every request, so revocation is immediate.
_VERIFIED: dict[tuple[str, str], dict] = {}
_VERIFIED_MAX = 2048
_VERIFIED_LOCK = threading.Lock()


def verified_claims(token: str) -> dict:
    """The claims of a valid access token; raises jwt.ExpiredSignatureError or another
    jwt.PyJWTError as jwt.decode() does."""
    secret = current_app.config["JWT_SECRET"]
    claims = _VERIFIED.get((secret, token))
    if claims is not None:
        if claims["exp"] <= time.time():  # as PyJWT: expired when exp <= now
            raise jwt.ExpiredSignatureError("Signature has expired")
        return claims
    claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "userId", "sid"]})
    if isinstance(claims.get("exp"), int):
        with _VERIFIED_LOCK:
            if len(_VERIFIED) >= _VERIFIED_MAX:
                del _VERIFIED[next(iter(_VERIFIED))]  # the oldest
            _VERIFIED[(secret, token)] = claims
    return claims


def known_claims(token: str) -> dict | None:
    """The claims of a token verified before in this process (expired or not), else None."""
    return _VERIFIED.get((current_app.config["JWT_SECRET"], token))


def authenticate_bearer(header: str | None) -> tuple[User, UserSession]:
    """Resolve `Authorization: Bearer …` to (user, session). Raises AuthFailed with
    the contract's messages."""
    if not header or not header.startswith("Bearer "):
        raise AuthFailed("Access token required")
    token = header[len("Bearer "):].strip()
    try:
        claims = verified_claims(token)
    except jwt.ExpiredSignatureError:
        raise AuthFailed("Token expired")
    except jwt.PyJWTError:
        raise AuthFailed("Invalid token")
    if claims.get("type") != "access" or not isinstance(claims.get("userId"), int) \
            or not isinstance(claims.get("sid"), int):
        raise AuthFailed("Invalid token")
    row = session_by_id(claims["sid"])
    if row is None or row.user_id != claims["userId"] or row.user.email != claims.get("email"):
        raise AuthFailed("Invalid token - user not found")
    state = session_state(row)
    if state == "idle":
        revoke_session(row, "inactivity")
        db.session.commit()
        raise AuthFailed("Session expired due to inactivity", code=SESSION_EXPIRED)
    if row.revoked_reason == "inactivity":  # already ended by an earlier request: same answer
        raise AuthFailed("Session expired due to inactivity", code=SESSION_EXPIRED)
    if state != "ok":
        raise AuthFailed("Invalid token" if row.user.is_active else "Account is deactivated. Please contact administrator.")
    return row.user, row


def issue_refresh_token(session: UserSession, ip: str | None, device: str | None, raw: str | None = None) -> str:
    cfg = current_app.config
    raw = raw or new_token(64)
    now = utcnow()
    db.session.add(RefreshToken(user_id=session.user_id, session_id=session.id,
                                token_hash=keyed_hash(f"refresh:{raw}"),
                                last_activity=now,
                                expires_at=now + timedelta(milliseconds=cfg["REFRESH_TOKEN_EXPIRATION_MS"]),
                                ip_address=(ip or "")[:45] or None, device_info=(device or "")[:255] or None))
    return raw


def successor_of(raw: str) -> str:
    """The token that replaces ``raw`` when it is rotated: a keyed HMAC of it (128 hex, like
    any refresh token), so a second refresh with the same token can be given the same answer."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"refresh-successor:{raw}".encode(), hashlib.sha512).hexdigest()


def _find_refresh(raw: str | None) -> RefreshToken:
    if not raw:
        raise AuthFailed("Refresh token required")
    if not isinstance(raw, str) or len(raw) != 128:
        raise AuthFailed("Invalid or expired refresh token")
    row = db.session.execute(select(RefreshToken).where(
        RefreshToken.token_hash == keyed_hash(f"refresh:{raw}")).with_for_update()).scalar_one_or_none()
    if row is None:
        raise AuthFailed("Invalid or expired refresh token")
    return row


def _grace_successor(token: RefreshToken, raw: str) -> tuple[RefreshToken, str] | None:
    """A token rotated less than REFRESH_GRACE_SECONDS ago whose successor is still the live
    one (two tabs, a retried request): that successor and its raw value. Otherwise None."""
    grace = current_app.config["REFRESH_GRACE_SECONDS"]
    if grace <= 0 or utcnow() - _aware(token.rotated_at) > timedelta(seconds=grace):
        return None
    successor_raw = successor_of(raw)
    successor = db.session.execute(select(RefreshToken).where(
        RefreshToken.token_hash == keyed_hash(f"refresh:{successor_raw}")).with_for_update()).scalar_one_or_none()
    if successor is None or successor.session_id != token.session_id or successor.rotated_at is not None:
        return None
    return successor, successor_raw


def _resolve(raw: str | None) -> tuple[RefreshToken, UserSession, str | None]:
    """(the live token, its session, the successor's raw value when the presented token was
    rotated within the grace window). A rotated token outside it means it was copied: the
    whole family is revoked."""
    token = _find_refresh(raw)
    successor_raw = None
    if token.rotated_at is not None:
        found = _grace_successor(token, raw)
        if found is None:
            session = db.session.get(UserSession, token.session_id)
            revoke_session(session, "refresh_reuse")
            audit.record("refresh_token_reuse", "user_sessions", session.id, user_id=token.user_id)
            db.session.commit()
            raise AuthFailed("Invalid or expired refresh token")
        token, successor_raw = found
    return token, _live_session_for(token), successor_raw


def _live_session_for(token: RefreshToken) -> UserSession:
    session = db.session.get(UserSession, token.session_id)
    if session.revoked_reason == "inactivity":  # already ended by an earlier request: same answer
        raise AuthFailed("Session expired due to inactivity", code=SESSION_EXPIRED)
    if token.is_revoked or _aware(token.expires_at) <= utcnow():
        raise AuthFailed("Invalid or expired refresh token")
    state = session_state(session)
    if state == "idle":
        revoke_session(session, "inactivity")
        audit.record("session_expired", "user_sessions", session.id, user_id=token.user_id)
        db.session.commit()
        raise AuthFailed("Session expired due to inactivity", code=SESSION_EXPIRED)
    if state != "ok":
        if not session.user.is_active:
            raise AuthFailed("User not found or inactive")
        raise AuthFailed("Invalid or expired refresh token")
    return session


def rotate(raw: str | None, ip: str | None, device: str | None) -> tuple[User, UserSession, str]:
    """Use a refresh token once: returns (user, session, new raw refresh token). The same
    token presented again within REFRESH_GRACE_SECONDS gets the same new token."""
    for attempt in (1, 2):
        token, session, successor_raw = _resolve(raw)
        now = utcnow()
        session.last_activity = now
        if successor_raw is not None:
            db.session.commit()
            return session.user, session, successor_raw
        # The UPDATE is the claim: of two requests racing without a row lock (SQLite), one rotates.
        claimed = db.session.execute(
            update(RefreshToken).where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now, is_revoked=True).execution_options(synchronize_session=False)).rowcount
        if claimed == 1:
            set_committed_value(token, "rotated_at", now)
            set_committed_value(token, "is_revoked", True)
            try:
                new_raw = issue_refresh_token(session, ip, device, raw=successor_of(raw))
                db.session.commit()
                return session.user, session, new_raw
            except IntegrityError:
                pass
        db.session.rollback()
        db.session.expire_all()
        if attempt == 2:
            break
    raise AuthFailed("Invalid or expired refresh token")


def record_activity(raw: str | None) -> UserSession:
    token, session, _successor = _resolve(raw)
    now = utcnow()
    session.last_activity = now
    token.last_activity = now
    db.session.commit()
    return session


def session_from_cookie(raw: str | None) -> UserSession | None:
    try:
        token = _find_refresh(raw)
    except AuthFailed:
        return None
    return db.session.get(UserSession, token.session_id)
