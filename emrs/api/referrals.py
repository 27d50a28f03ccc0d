"""Referrals between doctors (/api/patients/:id/refer, /api/patients/refer/bulk,
/api/referrals...): thin adapters over emrs.opd.referrals."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..opd import referrals
from . import bp
from .envelope import json_body, ok, page_object, pagination
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
