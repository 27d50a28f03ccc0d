"""/api/follow-ups (later-features.md §2): adapters over emrs.followups.service.

POST / -> 201 {followup, visit_number, total_visits}; GET /:id -> {followup};
GET /patient/:patient_id ?page&limit -> {followups[], pagination}; PUT /:id (an amendment:
``amend_reason`` required) -> {followup}; DELETE /:id (a withdrawal: ``reason`` required, in
the body or the query) -> the withdrawn {followup}; GET /:id/versions (EMRS addition) -> every
version with who wrote it and why it was replaced.
"""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..followups import service
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .users import parse_id


@bp.post("/follow-ups", endpoint="followups_create")
def followups_create():
    row, number, total = service.create(json_body(), principal())
    return ok({"followup": service.followup_dict(row), "visit_number": number, "total_visits": total},
              service.CREATED, status=201)


@bp.get("/follow-ups/<followup_id>", endpoint="followups_get")
def followups_get(followup_id):
    row = service.get(parse_id(followup_id), principal())
    return ok({"followup": service.followup_dict(row)}, "Follow-up visit retrieved successfully")


@bp.get("/follow-ups/patient/<patient_id>", endpoint="followups_by_patient")
def followups_by_patient(patient_id):
    page, limit = pagination()
    rows, total = service.list_for_patient(parse_id(patient_id, "patient_id"), page, limit, principal())
    return ok({"followups": service.followup_dicts(rows), "pagination": page_object(page, limit, total)},
              "Follow-up visits retrieved successfully")


@bp.put("/follow-ups/<followup_id>", endpoint="followups_update")
def followups_update(followup_id):
    row = service.get(parse_id(followup_id), principal(), audit_read=False)
    row = service.amend(row, json_body(), principal())
    return ok({"followup": service.followup_dict(row)}, "Follow-up visit updated successfully")


@bp.delete("/follow-ups/<followup_id>", endpoint="followups_delete")
def followups_delete(followup_id):
    """Withdraws the note (kept, marked); the original soft-deleted it without a reason."""
    row = service.get(parse_id(followup_id), principal(), audit_read=False)
    body = json_body(required=False)
    row = service.withdraw(row, principal(), body.get("reason") or request.args.get("reason"))
    return ok({"followup": service.followup_dict(row)}, "Follow-up visit withdrawn successfully")


@bp.get("/follow-ups/<followup_id>/versions", endpoint="followups_versions")
def followups_versions(followup_id):
    row = service.get(parse_id(followup_id), principal(), include_withdrawn=True)
    return ok({"followup_id": row.id, "is_active": row.is_active, "versions": service.version_history(row)})
