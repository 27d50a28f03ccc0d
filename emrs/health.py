"""GET /health in the spec's per-service shape (api-contract.md §2).

The database check is real (a ``SELECT 1`` on a pooled connection) but shared: each process
keeps its last result for at most HEALTH_MAX_AGE seconds (default 1), so a load balancer or
a monitor polling thousands of times a second costs the database one round trip a second
per process, and a database that stops answering shows as "disconnected" within that time.
Threads that ask while a check runs wait for it rather than starting their own.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db
from .services import service_name

bp = Blueprint("health", __name__)


class DatabaseCheck:
    """The last database check of one application (one per process), reused while younger
    than ``max_age`` seconds. Its age counts from when the check started."""

    def __init__(self):
        self._lock = threading.Lock()
        self._started = float("-inf")
        self._ok = False

    def connected(self, max_age: float) -> bool:
        if time.monotonic() - self._started < max_age:
            return self._ok
        with self._lock:  # one check at a time; the others take its result
            if time.monotonic() - self._started < max_age:
                return self._ok
            started = time.monotonic()
            ok = _check()
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


@bp.get("/health", endpoint="health")
def health():
    app = current_app._get_current_object()
    connected = database_check(app).connected(float(app.config.get("HEALTH_MAX_AGE", 1.0)))
    status = 200 if connected else 503
    body = {
        "success": connected,
        "service": service_name(app),
        "status": "running",
        "database": "connected" if connected else "disconnected",
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp
