"""GET /api/dashboard (the role's cards and charts) and GET /api/patients/registrations-by-date
(registrations per IST day of a month): thin adapters over emrs.dashboard.service."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..dashboard import service
from . import bp
from .envelope import ok
from .openapi_schema import DATE, INT, STR, Op, arr, obj, query


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

# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

COUNTS = arr(obj({"label": STR, "count": INT}))

OPENAPI = {
    "dashboard": Op("Dashboard", "The figures of my role", obj({
        "role": STR, "title": STR,
        "sub_role": {"type": "string", "description": "Residents only: Junior Resident or Senior Resident."},
        "cards": {"type": "object", "additionalProperties": INT},
        "charts": obj({"gender_distribution": COUNTS, "age_group_distribution": COUNTS,
                       "state_distribution": COUNTS}),
        "filters": {"type": "object"}}, required=("role", "title", "cards", "charts")), params=(
        query("start_date", DATE, "Registered on or after (IST)."),
        query("end_date", DATE, "Registered on or before (IST)."),
        query("sex", {"type": "string", "enum": ["M", "F", "Other", "male", "female", "other"]}, "Sex."),
        query("room", {"type": "string", "maxLength": 20}, "Room number.")),
        description="Cards by role: Admin total_patients, registered_patients, total_intake_records, total_staff, "
                    "total_rooms; Faculty adult_patients, child_patients, referred_patients; Senior Resident also "
                    "total_patients and unassigned_patients; Junior Resident the same counted in their scope; PWO "
                    "adult_patients, child_patients, referred_patients. Clinicians (not PWO) also get the rating-scale "
                    "figures scored_month (patients scored this IST month), improved (a response on a scale where "
                    "higher is worse) and open_risk (patients with an unacknowledged risk item)."),
    "patients_registrations_by_date": Op("Dashboard", "Registrations per day of a month", obj({
        "month": STR, "days": arr(obj({"date": DATE, "count": INT})), "total": INT, "date": DATE,
        "by_room": arr(obj({"room": STR, "count": INT}))}, required=("month", "days", "total")), params=(
        query("month", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "YYYY-MM (default: this month, IST)."),
        query("date", DATE, "Also count that day's registrations per room."))),
}
