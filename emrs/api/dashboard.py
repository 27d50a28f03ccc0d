"""GET /api/dashboard (the role's cards and charts) and GET /api/patients/registrations-by-date
(registrations per IST day of a month): thin adapters over emrs.dashboard.service."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..dashboard import service
from . import bp
from .envelope import ok


@bp.get("/dashboard", endpoint="dashboard")
def dashboard():
    body = service.overview(principal(), service.parse_filters(request.args))
    body.pop("card_list")
    return ok(body)


@bp.get("/patients/registrations-by-date", endpoint="patients_registrations_by_date")
def patients_registrations_by_date():
    month = service.parse_month(request.args.get("month"))
    days = service.registrations_by_date(month)
    body = {"month": month.strftime("%Y-%m"), "days": days, "total": sum(d["count"] for d in days)}
    day = service.parse_day(request.args.get("date"))
    if day is not None:
        body["date"] = day.isoformat()
        body["by_room"] = service.registrations_by_room(day)
    return ok(body)
