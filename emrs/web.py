"""Request plumbing shared by pages and API: request ids, request log lines,
security headers, CORS, caching rules, and the error handlers (each answers at the
request's door, emrs/doors.py)."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import abort, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import OperationalError, DBAPIError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .doors import (api_or_fhir_error, envelope_error, is_api, is_api_or_fhir, is_fhir, outcome_response,
                    page_error, wants_api_root)
from .errors import NOT_STORABLE, storable
from .extensions import db
from .resilience import IDEMPOTENT, RETRY_HEADER
from .timeutil import IST, ist_text, today_ist

log = logging.getLogger("emrs.request")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(raw: str | None) -> str:
    """The request's id: the caller's X-Request-ID when it is a plain token (it goes into the
    audit trail and back out as a header), else a fresh one."""
    return raw if raw and _REQUEST_ID.fullmatch(raw) else uuid.uuid4().hex


def before_request():
    g.request_id = request_id(request.headers.get("X-Request-ID"))
    g.started = time.perf_counter()
    if wants_api_root():
        from .api.root import root_document
        return root_document()


ANONYMOUS_MAX_BODY = 64 * 1024  # a sign-in, code or reset form is a few hundred bytes


def cap_anonymous_body():
    """before_request, after authentication: a request nobody signed in to (the public
    forms: sign-in, code, password reset) may send at most ANONYMOUS_MAX_BODY bytes —
    larger bodies are a 413 before anything is read (MAX_CONTENT_LENGTH is for uploads)."""
    if getattr(g, "principal", None) is None and request.method not in IDEMPOTENT:
        limit = min(ANONYMOUS_MAX_BODY, current_app.config.get("MAX_CONTENT_LENGTH") or ANONYMOUS_MAX_BODY)
        if (request.content_length or 0) > limit:
            abort(413)
        request.max_content_length = limit  # a chunked body without a length stops there too


def csrf_after_authentication():
    """before_request, right after authentication (auth.guard.enforce): the CSRF check reads
    the request's form, so it must not run for a request that is refused for want of a
    sign-in — an anonymous caller's body (multipart up to MAX_CONTENT_LENGTH) is never read."""
    if current_app.config.get("WTF_CSRF_ENABLED", True) and current_app.config.get("EMRS_CSRF_CHECK", True):
        from .extensions import csrf
        csrf.protect(apply_exemptions=True)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# File references in the URL are checked by the files service itself (400 "Invalid file path").
SELF_CHECKED_ARGS = frozenset({"file_path", "file_ref"})


def refuse_unstorable_text():
    """before_request, after authentication: a NUL byte or an unpaired surrogate in the
    path, the query string or a form can be stored by no column (PostgreSQL refuses NUL
    outright), so it is a 400 for every route. JSON bodies: api.envelope.parse_json."""
    values = [v for k, v in (request.view_args or {}).items() if isinstance(v, str) and k not in SELF_CHECKED_ARGS]
    sources = [request.args] + ([request.form] if request.mimetype in FORM_TYPES else [])
    for source in sources:
        for key, items in source.lists():
            values.append(key)
            values.extend(items)
    if not all(storable(v) for v in values if isinstance(v, str)):  # a nameless multipart part has no key
        abort(400, description=NOT_STORABLE)


def public_url(path: str) -> str:
    """An absolute URL on PUBLIC_BASE_URL (config), for links that leave the page: FHIR
    bundles, the capability statement. The request's Host header is never used."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "http://localhost").rstrip("/")
    return base + "/" + path.lstrip("/")


def _cors(resp):
    origin = request.headers.get("Origin")
    allowed = [o.strip() for o in (current_app.config.get("CORS_ORIGIN") or "").split(",") if o.strip()]
    if origin and (origin in allowed or "*" in allowed):
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Credentials"] = "true"
        resp.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After, X-Request-ID, Idempotent-Replayed"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Request-ID, Idempotency-Key"
            resp.headers["Access-Control-Max-Age"] = "600"
    resp.vary.add("Origin")


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its signing serializer built once per secret (Flask
    builds a new one to open and again to save the session of every request)."""

    _cached: tuple = (None, None)

    def get_signing_serializer(self, app):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached_key, serializer = self._cached
        if cached_key != key:
            serializer = super().get_signing_serializer(app)
            self._cached = (key, serializer)
        return serializer


SECURITY_HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
                    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))


# A page (not /api, /fhir or a static file) may be a full page or an htmx fragment from one URL,
# and shows what the session cookie's user may see; nothing on it may be kept by a browser or proxy.
PAGE_HEADERS = (("Vary", "HX-Request, Cookie"), ("Cache-Control", "no-store"))
_REPLACED = frozenset({"x-request-id", "cache-control"})  # set by after_request whatever a view set


def answer_headers(request_id: str, page: bool) -> tuple[tuple[str, str], ...]:
    """The headers after_request gives an answer, in order: the security headers, the request
    id, and for a page PAGE_HEADERS. after_request and the /health fast path (emrs/health.py)
    both take them from here."""
    return SECURITY_HEADERS + (("X-Request-ID", request_id),) + (PAGE_HEADERS if page else ())


def after_request(resp):
    h = resp.headers
    present = {name.lower() for name in h.keys()}  # one pass, not one search per header
    api = is_api_or_fhir()
    for name, value in answer_headers(getattr(g, "request_id", ""), page=not api and request.endpoint != "static"):
        key = name.lower()
        if key == "vary":
            resp.vary.update(v.strip() for v in value.split(","))
        elif key in _REPLACED:
            h[name] = value
        elif key not in present:  # a view may set its own (a stricter CSP)
            h.add(name, value)
    if api:
        from .api.limits import conditional_get
        _cors(resp)
        h.setdefault("Cache-Control", "no-store")
        resp = conditional_get(resp)
    if request.endpoint != "static" and log.isEnabledFor(logging.INFO):
        # The URL rule, not the raw path: paths may carry identifiers, query strings may carry names.
        log_request(getattr(g, "request_id", None), request.method, request.url_rule.rule if request.url_rule else None,
                    resp.status_code, getattr(g, "started", None), _principal_id())
    return resp


def log_request(request_id: str | None, method: str, route: str | None, status: int, started: float | None,
                user_id: int | None) -> None:
    """The request's one INFO line (JSON; emrs.JsonLineFormatter merges it into the log file's
    line). ``started`` is the request's time.perf_counter() at its start."""
    if not log.isEnabledFor(logging.INFO):
        return
    duration = round((time.perf_counter() - started) * 1000, 1) if started else None
    log.info(json.dumps({"request_id": request_id, "method": method, "route": route, "status": status,
                         "duration_ms": duration, "user_id": user_id}))


def end_session(_exc=None) -> None:
    """Teardown: end the request's session. Ending it rolls back the open transaction; if the
    database dropped the connection after the request's last statement (a restart), that
    rollback fails — which must not turn the answer already given into a 500 (found by
    bench/faults.py restart). The dead connection is discarded instead."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        log.error("database connection lost at the end of a request: %s",
                  type(exc.orig).__name__ if exc.orig else type(exc).__name__)
        db.session().invalidate()  # close without rolling back; the connection is not reused
        db.session.remove()


def _principal_id() -> int | None:
    """The signed-in user's id from the identity map: after an error handler's rollback the
    user object is expired, and reading ``user.id`` would ask a database that may be gone."""
    user = getattr(g, "principal", None)
    identity = sa_inspect(user).identity if user is not None else None
    return identity[0] if identity else g.get("principal_id")


def _page_without_database(**context) -> str:
    """The error page drawn without touching the database that just failed: no signed-in
    user (the rollback expired it; the menu would load it again) and no context processors
    (Flask-Login's loads ``current_user``)."""
    g.principal_id, g.principal = _principal_id(), None
    return current_app.jinja_env.get_template("errors/error.html").render(**template_globals(), **context)


def register_errors(app):
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        db.session.rollback()
        if is_api_or_fhir():
            return api_or_fhir_error("CSRF token missing or invalid", 400)
        return page_error("This form was open too long or was sent from another site. "
                          "Reload the page and try again; nothing was saved.", 400, "Form expired")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        if is_fhir():
            text = {404: f"Unknown FHIR path {request.path[:200]}: see GET /fhir/metadata",
                    405: f"{request.method} is not supported here: this FHIR endpoint is read only",
                    429: "Too many requests. Please wait a moment and try again."}.get(status, exc.description or exc.name)
            resp = outcome_response(text, status)
            if status == 405 and getattr(exc, "valid_methods", None):
                resp.headers["Allow"] = ", ".join(exc.valid_methods)
            if status == 429:
                resp.headers["Retry-After"] = "60"
            return resp
        if is_api():
            if status == 404:
                return envelope_error(f"Route {request.path} not found", 404,
                                    availableRoutes=_available_routes())
            if status == 413:
                return envelope_error("Request body too large", 413)
            if status == 429:
                resp = envelope_error("Too many requests. Please wait a moment and try again.", 429)
                resp.headers["Retry-After"] = "60"
                return resp
            return envelope_error(exc.description or exc.name, status)
        messages = {
            404: ("Not found", "There is no page at this address."),
            405: ("Not allowed", "This address does not accept that kind of request."),
            413: ("Too large", "What you sent is larger than the limit."),
            429: ("Too many attempts", "Too many attempts in a short time. Wait a minute and try again."),
        }
        title, message = messages.get(status, (exc.name, exc.description or ""))
        resp = app.make_response(page_error(message, status, title))
        if status == 429:
            resp.headers["Retry-After"] = "60"
        return resp

    def unavailable(message: str):
        if is_api_or_fhir():
            resp = api_or_fhir_error("Database connection timeout. Please try again.", 503)
        else:
            resp = app.make_response((_page_without_database(
                status=503, title="Database unavailable", message=message), 503))
        resp.headers["Retry-After"] = "5"
        return resp

    @app.errorhandler(DBAPIError)
    def db_error(exc):
        db.session.rollback()
        if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
            log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
            resp = unavailable("The database is not answering. Please try again in a few seconds.")
            if request.method in IDEMPOTENT:
                resp.headers[RETRY_HEADER] = "1"  # RetryIdempotentReads tries once more
            return resp
        return internal_error(exc)

    @app.errorhandler(PoolTimeout)
    def pool_timeout(exc):
        """Overload: every pooled connection stayed busy for DB_POOL_TIMEOUT seconds (found
        by bench/opd_load.py as a 500). A short wait was tried already; not retried here."""
        db.session.rollback()
        log.error("database connection pool exhausted (DB_POOL_TIMEOUT reached)")
        return unavailable("The server is very busy. Please try again in a few seconds.")

    @app.errorhandler(Exception)
    def internal_error(exc):
        db.session.rollback()
        log.exception("unhandled error (request %s)", getattr(g, "request_id", "-"))
        if is_fhir():
            return outcome_response(f"Internal server error (reference {getattr(g, 'request_id', '')})", 500)
        if is_api():
            return envelope_error("Internal server error", 500, error="Internal server error")
        return page_error("The error was logged. Please try again; if it persists, "
                          f"quote reference {getattr(g, 'request_id', '')}.", 500, "Something went wrong")


def _available_routes() -> list[str]:
    from .api.root import ENDPOINTS
    return list(ENDPOINTS.values())


class _AllowedEndpoints:
    """`"endpoint" in allowed_endpoints` in templates asks the permission map."""

    def __init__(self, check):
        self._check = check

    def __contains__(self, endpoint: str) -> bool:
        return self._check(endpoint)


def _now_utc():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc)


def template_globals() -> dict:
    from .auth.navigation import allowed, nav_items
    return {"nav_items": nav_items(), "allowed_endpoints": _AllowedEndpoints(allowed), "today_ist": today_ist(), "ist": IST,
            "ist_time": ist_text, "now_utc": _now_utc,
            "hospital_name": current_app.config["HOSPITAL_NAME"],
            "department_name": current_app.config["DEPARTMENT_NAME"]}


def record_or_abort(fetch, *args, **kwargs):
    """A page's record from its service getter: 403 when the user may not read it (the
    service raised Forbidden), 404 for any other refusal (none, withdrawn, bad id)."""
    from .errors import DomainError, Forbidden
    try:
        return fetch(*args, **kwargs)
    except Forbidden:
        abort(403)
    except DomainError:
        abort(404)
