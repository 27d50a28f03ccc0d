"""GET /api/dashboard (the role's cards and charts), GET /api/patients/registrations-by-date
(registrations per IST day of a month) and GET /api/patients/patients-by-date/:date (that day's
patients, Admin): thin adapters over emrs.dashboard.service."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..dashboard import service
from . import bp
from .envelope import ok
from .openapi_schema import BOOL, DATE, ID, INT, STR, Op, arr, obj, query


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

@bp.get("/patients/patients-by-date/<date>", endpoint="patients_by_date")
def patients_by_date(date):
    day = service.parse_day(date, location="params", required=True)
    patients = service.patients_registered_on(day)
    return ok({"date": day.isoformat(), "patients": patients, "total": len(patients)})

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
        query("room", {"type": "string", "maxLength": 20}, "Room number."),
        query("patient_type", {"type": "string", "enum": ["all", "adult", "child"]},
              "The clinic: adult, child (the Child Guidance Clinic) or all (default)."),
        query("state", {"type": "string", "maxLength": 60}, "State as stored (case-insensitive), e.g. punjab."),
        query("doctor_id", ID, "Patients assigned to this doctor (a user id; unknown → 400)."),
        query("referred", {"type": "string", "enum": ["all", "referred", "non_referred"]},
              "Patients with (referred) or without (non_referred) an open referral (pending or seen)."),
        query("referred_only", BOOL, "Same as referred=referred."),
        query("non_referred_only", BOOL, "Same as referred=non_referred."),
        query("assigned_only", BOOL, "Patients with an assigned doctor."),
        query("unassigned_only", BOOL, "Patients with no assigned doctor yet.")),
        description="Cards by role: Admin total_patients, registered_patients, total_intake_records, total_staff, "
                    "total_rooms; Faculty adult_patients, child_patients, referred_patients; Senior Resident also "
                    "total_patients and unassigned_patients; Junior Resident the same counted in their scope; PWO "
                    "adult_patients, child_patients, referred_patients. Clinicians (not PWO) also get the rating-scale "
                    "figures scored_month (patients scored this IST month), improved (a response on a scale where "
                    "higher is worse) and open_risk (patients with an unacknowledged risk item). The filters "
                    "narrow every patient figure and chart (not the referral, intake-record, staff and room counts); "
                    "`filters` echoes those given, without defaults (all, false): dates ISO, sex as M/F/Other, room "
                    "by number, referred as referred/non_referred, assigned_only or unassigned_only as true. "
                    "Contradictory filters (referred and non_referred, assigned_only and unassigned_only) are a "
                    "400."),
    "patients_registrations_by_date": Op("Dashboard", "Registrations per day of a month", obj({
        "month": STR, "days": arr(obj({"date": DATE, "count": INT})), "total": INT, "date": DATE,
        "by_room": arr(obj({"room": STR, "count": INT}))}, required=("month", "days", "total")), params=(
        query("month", {"type": "string", "pattern": r"^\d{4}-\d{2}$"}, "YYYY-MM (default: this month, IST)."),
        query("date", DATE, "Also count that day's registrations per room."))),
    "patients_by_date": Op("Dashboard", "The patients registered on one day (Admin)", obj({
        "date": DATE, "patients": arr("Patient"), "total": INT}, required=("date", "patients", "total")),
        description="Every patient registered on that IST day (the day's count of registrations-by-date, archived "
                    "patients included), newest first, each as GET /api/patients lists it; not paginated."),
}
