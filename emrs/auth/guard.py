"""Authentication of each request (browser session or bearer token) and the
permission check against the one map."""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit

from flask import g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from ..doors import api_or_fhir_error, envelope_error, is_api_or_fhir, sent_by_htmx
from ..errors import AuthFailed
from ..extensions import db, login_manager
from . import service
from .models import User
from .permissions import AUTH, PUBLIC, rule_for
from .tokens import authenticate_bearer

log = logging.getLogger("emrs.auth")


@login_manager.user_loader
def load_user(user_id: str):
    """Browser sessions: the cookie carries a random session token checked against
    its row on every request (inactivity, absolute lifetime, revocation)."""
    raw = session.get("sid")
    row = service.web_session_for(raw)
    if row is None or str(row.user_id) != str(user_id):
        return None
    state = service.session_state(row)
    if state != "ok":
        if state in ("idle", "expired") and row.revoked_at is None:
            service.revoke_session(row, "inactivity" if state == "idle" else "absolute_timeout")
            db.session.commit()
        g.session_expired = state in ("idle", "expired") or row.revoked_reason in ("inactivity", "absolute_timeout")
        if g.session_expired:
            g.expired_email = row.user.email
        return None
    if request.headers.get("X-EMRS-Background") != "1":
        service.touch(row)
    g.web_session = row
    return row.user


def _login_url() -> str:
    target = request.full_path if request.method == "GET" else request.referrer
    if sent_by_htmx():
        target = request.headers.get("HX-Current-URL") or target
    nxt = _safe_next(target)
    return url_for("auth.login", next=nxt) if nxt else url_for("auth.login")


_UNSAFE_IN_NEXT = re.compile(r"[\x00-\x20\x7f-\x9f\\\u00a0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f\u2060"
                             r"\u3000\ufeff]")


def _safe_next(target: str | None) -> str | None:
    """A path on this site, or None. ``next`` comes from the address bar, a form or
    HX-Current-URL: percent-encoding is decoded (repeatedly) before judging, and any control
    character, whitespace or backslash, a leading ``//``, a scheme or a host (other than this
    site's own, which is stripped) refuses it. What survives starts with exactly one slash."""
    if not target or not isinstance(target, str) or len(target) > 2000:
        return None
    if "://" in target and not target.startswith("/"):
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    decoded = target
    for _ in range(5):  # %252F → %2F → /: judge what any later decoder would see
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    else:
        return None  # still encoded after five rounds: not a link anyone means
    for candidate in (target, decoded):
        # Raw: nothing unsafe anywhere (a CR/LF would split the header). Decoded: in the path
        # (a space in a search term's query, "?q=ram%20kumar", is harmless).
        judged = candidate if candidate is target else candidate.split("?", 1)[0].split("#", 1)[0]
        if _UNSAFE_IN_NEXT.search(judged):
            return None
        if not candidate.startswith("/") or candidate.startswith("//"):
            return None
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return None
    if target.endswith("?"):
        target = target[:-1]
    path = decoded.split("?", 1)[0]
    if path.startswith("/login") or path.startswith("/logout"):
        return None
    return target


safe_next = _safe_next


def _page_unauthenticated():
    from flask import flash
    if getattr(g, "session_expired", False):
        session.pop("sid", None)
        logout_user()
        if getattr(g, "expired_email", None):
            session["login_email"] = g.expired_email  # the sign-in page offers the same account
        flash("Your session ended after a period of inactivity. Please sign in again — "
              "you will return to the page you were on.", "warning")
    else:
        flash("Please sign in to continue.", "info")
    url = _login_url()
    if sent_by_htmx():
        resp = envelope_error("Authentication required", 401)
        resp.headers["HX-Redirect"] = url
        return resp
    return redirect(url)


def enforce():
    """before_request: authenticate and check the permission map."""
    g.principal = None
    if request.method == "OPTIONS" and is_api_or_fhir():
        return None  # CORS preflight, answered by the CORS hook
    endpoint = request.endpoint
    if endpoint is None or endpoint == "static":
        return None  # routing failed (404/405 handlers answer), or a public asset: no session work
    rule = rule_for(endpoint)
    api = is_api_or_fhir()
    if rule is None:
        log.error("route %s has no entry in the permission map: refused", endpoint)
        if api:
            return api_or_fhir_error("Access denied", 403)
        return render_template("errors/403.html"), 403
    if api:
        header = request.headers.get("Authorization")
        if rule == PUBLIC and not header:
            return None
        try:
            user, sess = authenticate_bearer(header)
        except AuthFailed as exc:
            if rule == PUBLIC:
                return None
            return api_or_fhir_error(exc.message, 401, code=exc.code)
        g.principal = user
        g.api_session = sess
    else:
        if current_user.is_authenticated:
            g.principal = current_user._get_current_object()
        if rule == PUBLIC:
            return None
        if g.principal is None:
            return _page_unauthenticated()
    if rule in (AUTH, PUBLIC):  # a public route called with a valid token is still public
        return None
    if not service.role_matches(g.principal.role, rule):
        if api:
            return api_or_fhir_error(f"Access denied. Required roles: {', '.join(sorted(rule))}. "
                             f"Your role: {g.principal.role}", 403)
        return render_template("errors/403.html"), 403
    return None


def principal() -> User | None:
    return getattr(g, "principal", None)
