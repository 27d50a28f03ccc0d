"""Request plumbing shared by pages and API: request ids, request log lines,
security headers, CORS, caching rules and error pages/envelopes."""
from __future__ import annotations

import json
import logging
import time
import uuid

from flask import current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, DBAPIError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .resilience import IDEMPOTENT, RETRY_HEADER
from .timeutil import IST, today_ist

log = logging.getLogger("emrs.request")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")


def before_request():
    g.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
    g.started = time.perf_counter()
    from .api.root import root_document, wants_root_document
    if wants_root_document():
        return root_document()


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _cors(resp):
    origin = request.headers.get("Origin")
    allowed = [o.strip() for o in (current_app.config.get("CORS_ORIGIN") or "").split(",") if o.strip()]
    if origin and (origin in allowed or "*" in allowed):
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Credentials"] = "true"
        resp.headers["Access-Control-Expose-Headers"] = "ETag, Retry-After, X-Request-ID"
        if request.method == "OPTIONS":
            resp.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Request-ID"
            resp.headers["Access-Control-Max-Age"] = "600"
    resp.vary.add("Origin")


def after_request(resp):
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    h["X-Request-ID"] = getattr(g, "request_id", "")
    if _is_api():
        from .api.limits import conditional_get
        _cors(resp)
        h.setdefault("Cache-Control", "no-store")
        resp = conditional_get(resp)
    elif request.endpoint != "static":
        # Pages may serve a full page or an HTMX fragment from one URL.
        resp.vary.add("HX-Request")
        # Nothing a signed-in user sees (patient data) may be kept by a browser or proxy.
        h["Cache-Control"] = "no-store"
    _log_request(resp)
    return resp


def _log_request(resp):
    if request.endpoint == "static" or not log.isEnabledFor(logging.INFO):
        return
    started = getattr(g, "started", None)
    duration = round((time.perf_counter() - started) * 1000, 1) if started else None
    user = getattr(g, "principal", None)
    # The URL rule, not the raw path: paths may carry identifiers, query strings may carry names.
    log.info(json.dumps({
        "request_id": getattr(g, "request_id", None), "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
        "status": resp.status_code, "duration_ms": duration,
        "user_id": user.id if user is not None else None,
    }))


def api_envelope(message: str, status: int, **extra):
    body = {"success": False, "message": message}
    body.update(extra)
    resp = jsonify(body)
    resp.status_code = status
    return resp


def register_errors(app):
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        db.session.rollback()
        if _is_api():
            return api_envelope("CSRF token missing or invalid", 400)
        return render_template("errors/error.html", status=400, title="Form expired",
                               message="This form was open too long or was sent from another site. "
                                       "Reload the page and try again; nothing was saved."), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        if _is_api():
            if status == 404:
                return api_envelope(f"Route {request.path} not found", 404,
                                    availableRoutes=_available_routes())
            if status == 413:
                return api_envelope("Request body too large", 413)
            if status == 429:
                resp = api_envelope("Too many requests. Please wait a moment and try again.", 429)
                resp.headers["Retry-After"] = "60"
                return resp
            return api_envelope(exc.description or exc.name, status)
        messages = {
            404: ("Not found", "There is no page at this address."),
            405: ("Not allowed", "This address does not accept that kind of request."),
            413: ("Too large", "What you sent is larger than the limit."),
            429: ("Too many attempts", "Too many attempts in a short time. Wait a minute and try again."),
        }
        title, message = messages.get(status, (exc.name, exc.description or ""))
        resp = app.make_response((render_template("errors/error.html", status=status, title=title,
                                                  message=message), status))
        if status == 429:
            resp.headers["Retry-After"] = "60"
        return resp

    @app.errorhandler(DBAPIError)
    def db_error(exc):
        db.session.rollback()
        if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
            log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
            if _is_api():
                resp = api_envelope("Database connection timeout. Please try again.", 503)
            else:
                resp = app.make_response((render_template(
                    "errors/error.html", status=503, title="Database unavailable",
                    message="The database is not answering. Please try again in a few seconds."), 503))
            resp.headers["Retry-After"] = "5"
            if request.method in IDEMPOTENT:
                resp.headers[RETRY_HEADER] = "1"  # RetryIdempotentReads tries once more
            return resp
        return internal_error(exc)

    @app.errorhandler(Exception)
    def internal_error(exc):
        db.session.rollback()
        log.exception("unhandled error (request %s)", getattr(g, "request_id", "-"))
        if _is_api():
            return api_envelope("Internal server error", 500, error="Internal server error")
        return render_template("errors/error.html", status=500, title="Something went wrong",
                               message="The error was logged. Please try again; if it persists, "
                                       f"quote reference {getattr(g, 'request_id', '')}."), 500


def _available_routes() -> list[str]:
    from .api.root import ENDPOINTS
    return list(ENDPOINTS.values())


class _AllowedEndpoints:
    """`"endpoint" in allowed_endpoints` in templates asks the permission map."""

    def __init__(self, check):
        self._check = check

    def __contains__(self, endpoint: str) -> bool:
        return self._check(endpoint)


def template_globals() -> dict:
    from .auth.navigation import allowed, nav_items
    return {"nav_items": nav_items(), "allowed_endpoints": _AllowedEndpoints(allowed), "today_ist": today_ist(), "ist": IST,
            "hospital_name": current_app.config["HOSPITAL_NAME"],
            "department_name": current_app.config["DEPARTMENT_NAME"]}
