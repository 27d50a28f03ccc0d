"""Referrals between doctors (/api/patients/:id/refer, /api/patients/refer/bulk,
/api/referrals...): thin adapters over emrs.opd.referrals."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..opd import referrals
from ..opd.models import REFERRAL_REASON_MAX, PatientReferral
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import ID, INT, STR, Op, arr, model_schema, null, obj, page_params, query, ref
from .users import parse_id


def _one(row) -> dict:
    return referrals.referral_json(row)


@bp.post("/patients/<patient_id>/refer", endpoint="patients_refer")
def patients_refer(patient_id):
    data = json_body()
    row = referrals.refer(parse_id(patient_id), data.get("to_doctor_id"), data.get("reason"), principal())
    return ok({"referral": _one(row)}, "Patient referred", 201)


@bp.post("/patients/refer/bulk", endpoint="patients_refer_bulk")
def patients_refer_bulk():
    data = json_body()
    out = referrals.refer_bulk(data.get("patient_ids"), data.get("to_doctor_id"), data.get("reason"), principal())
    made = out["referrals"]
    users, patients = referrals.people(made), referrals.patients_of(made)
    return ok({"referrals": [referrals.referral_json(r, users, patients) for r in made], "skipped": out["skipped"],
               "referred_count": len(made)}, f"{len(made)} patient(s) referred", 201 if made else 200)


@bp.get("/referrals", endpoint="referrals_list")
def referrals_list():
    page, limit = pagination(default_limit=20, max_limit=100)
    args = referrals.parse_list_args(request.args, principal())
    rows, total = referrals.list_referrals(principal(), args["direction"], args["status"], page, limit)
    users, patients = referrals.people(rows), referrals.patients_of(rows)
    return ok({"referrals": [referrals.referral_json(r, users, patients) for r in rows], "direction": args["direction"],
               "pagination": page_object(page, limit, total)})


@bp.post("/referrals/<referral_id>/seen", endpoint="referrals_seen")
def referrals_seen(referral_id):
    return ok({"referral": _one(referrals.mark_seen(parse_id(referral_id), principal()))}, "Referral marked seen")


@bp.post("/referrals/<referral_id>/complete", endpoint="referrals_complete")
def referrals_complete(referral_id):
    return ok({"referral": _one(referrals.complete(parse_id(referral_id), principal()))},
              "Referral marked completed")


@bp.post("/referrals/<referral_id>/revoke", endpoint="referrals_revoke")
def referrals_revoke(referral_id):
    return ok({"referral": _one(referrals.revoke(parse_id(referral_id), principal()))}, "Referral revoked")

# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

REFERRAL = model_schema(PatientReferral, extra={
    "patient_name": null(STR), "cr_no": null(STR), "from_doctor_name": null(STR), "to_doctor_name": null(STR)},
    overrides={"status": {"type": "string", "enum": list(referrals.REFERRAL_STATUSES)}},
    description="A referral of a patient from one doctor to another.")
REASON = null({"type": "string", "maxLength": REFERRAL_REASON_MAX})
ONE = obj({"referral": ref("Referral")})

OPENAPI_SCHEMAS = {"Referral": REFERRAL}
OPENAPI = {
    "patients_refer": Op("Referrals", "Refer a patient to another doctor", ONE, status=201, message="Patient referred",
                         body=obj({"to_doctor_id": ID, "reason": REASON}, required=("to_doctor_id",)),
                         errors=(404, 409),
                         description="To an active Faculty member or Resident, not oneself; one open referral per "
                                     "patient and doctor (409)."),
    "patients_refer_bulk": Op("Referrals", "Refer several patients", obj({
        "referrals": arr("Referral"), "skipped": arr(obj({"patient_id": INT, "reason": STR})),
        "referred_count": INT}), status=201, also=(200,), message="2 patient(s) referred",
        body=obj({"patient_ids": {"type": "array", "minItems": 1, "maxItems": 100, "items": ID},
                  "to_doctor_id": ID, "reason": REASON}, required=("patient_ids", "to_doctor_id")),
        description="Patients that cannot be referred are listed in skipped with the reason; 200 when none was."),
    "referrals_list": Op("Referrals", "Referrals to me, by me, or all", obj({
        "referrals": arr("Referral"), "direction": STR, "pagination": ref("Pagination")}), params=(
        query("direction", {"type": "string", "enum": list(referrals.DIRECTIONS)},
              "to_me (default for doctors), by_me, or all (Admin and PWO; their default)."),
        query("status", {"type": "string", "enum": [*referrals.REFERRAL_STATUSES, "open"]},
              "A status, or open (pending or seen)."), *page_params(default=20, cap=100))),
    "referrals_seen": Op("Referrals", "Mark a referral seen", ONE, message="Referral marked seen", errors=(409,),
                         description="The doctor referred to, or an Admin; 409 when closed."),
    "referrals_complete": Op("Referrals", "Mark a referral completed", ONE, message="Referral marked completed",
                             errors=(409,), description="The doctor referred to, or an Admin; 409 when closed."),
    "referrals_revoke": Op("Referrals", "Revoke a referral", ONE, message="Referral revoked", errors=(409,),
                           description="The referring doctor, or an Admin, while pending or seen."),
}
