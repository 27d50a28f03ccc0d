"""GET /health in the spec's per-service shape (api-contract.md §2)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db
from .services import service_name

bp = Blueprint("health", __name__)


@bp.get("/health", endpoint="health")
def health():
    try:
        db.session.execute(text("SELECT 1"))
        database, status = "connected", 200
    except Exception:  # any driver error means "not reachable"
        db.session.rollback()
        database, status = "disconnected", 503
    body = {
        "success": status == 200,
        "service": service_name(current_app),
        "status": "running",
        "database": database,
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp
