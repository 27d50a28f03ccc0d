"""GET /health in the spec's per-service shape (api-contract.md §2).

The database check is real (a ``SELECT 1`` on a pooled connection) but shared: each process
keeps its last result for at most HEALTH_MAX_AGE seconds (default 1), so a load balancer or
a monitor polling thousands of times a second costs the database one round trip a second
per process, and a database that stops answering shows as "disconnected" within that time.
Threads that ask while a check runs wait for it rather than starting their own.

Exactly ``GET /health`` and ``HEAD /health`` without a query string are answered by
``HealthFastPath``, a WSGI middleware in front of Flask (installed by create_app): no
request object, routing, hooks or session cookie. Its answer is the Flask route's, byte for
byte but the timestamp and request id: the body and status from ``answer()``, the headers
from ``web.answer_headers()`` (what after_request gives a page), the request's id by
``web.request_id()`` and its log line by ``web.log_request()``. It pushes the application
context only to run a stale check (at most once per HEALTH_MAX_AGE per process) and ends
that context's database session as Flask's teardown does. Anything else (``/health/``,
``POST /health``, ``/health?…``) goes to Flask, whose ``health`` view answers with the same
functions. The rate limiter does not count /health on either path (no default limit;
limits are set on the sign-in routes and /api only): a load balancer's checks are not limited.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import orjson
from flask import Blueprint, current_app
from sqlalchemy import text

from .extensions import db
from .json_provider import OPTIONS as JSON_OPTIONS
from .services import service_name
from .web import answer_headers, log_request, request_id

bp = Blueprint("health", __name__)

CONTENT_TYPE = "application/json"
ROUTE = "/health"


class DatabaseCheck:
    """The last database check of one application (one per process), reused while younger
    than ``max_age`` seconds. Its age counts from when the check started."""

    def __init__(self):
        self._lock = threading.Lock()
        self._started = float("-inf")
        self._ok = False

    def connected(self, max_age: float, run=None) -> bool:
        """The cached result, or (when older than max_age) a new check by ``run`` (default
        ``_check``, which needs an application context)."""
        if time.monotonic() - self._started < max_age:
            return self._ok
        with self._lock:  # one check at a time; the others take its result
            if time.monotonic() - self._started < max_age:
                return self._ok
            started = time.monotonic()
            ok = run() if run is not None else _check()
            self._started, self._ok = started, ok
            return ok


def _check() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "not reachable"
        db.session.rollback()
        return False


def database_check(app) -> DatabaseCheck:
    check = app.extensions.get("emrs_health")
    if check is None:
        check = app.extensions.setdefault("emrs_health", DatabaseCheck())
    return check


def max_age(app) -> float:
    return float(app.config.get("HEALTH_MAX_AGE", 1.0))


def answer(app, connected: bool) -> tuple[int, bytes]:
    """The status and JSON body of /health (the Flask view and the fast path)."""
    body = {
        "success": connected,
        "service": service_name(app),
        "status": "running",
        "database": "connected" if connected else "disconnected",
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    return (200 if connected else 503), orjson.dumps(body, option=JSON_OPTIONS)


@bp.get(ROUTE, endpoint="health")
def health():
    app = current_app._get_current_object()
    status, body = answer(app, database_check(app).connected(max_age(app)))
    return app.response_class(body, status=status, content_type=CONTENT_TYPE)


class HealthFastPath:
    """WSGI middleware: GET/HEAD /health answered without entering Flask (module docstring)."""

    METHODS = frozenset({"GET", "HEAD"})

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.check = database_check(app)
        # Status lines as Werkzeug writes them ("503 SERVICE UNAVAILABLE").
        self.status_lines = {code: app.response_class(status=code).status for code in (200, 503)}

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != ROUTE or environ.get("REQUEST_METHOD") not in self.METHODS \
                or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        app = self.app
        status, body = answer(app, self.check.connected(max_age(app), self._check_in_context))
        start_response(self.status_lines[status],
                       [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))),
                        *answer_headers(rid, page=True)])
        log_request(rid, environ["REQUEST_METHOD"], ROUTE, status, started, None)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _check_in_context(self) -> bool:
        """A stale check: in the application context, whose teardown ends the database
        session (web.end_session, then Flask-SQLAlchemy's) as after a Flask request."""
        with self.app.app_context():
            return _check()
