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
from ..followups.models import MAX_ASSESSMENT, MAX_ROOM, FollowUp
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import BOOL, DATE, ID, INT, STR, Op, arr, list_of, model_schema, null, obj, page_params, ref
from .users import parse_id


@bp.post("/follow-ups", endpoint="followups_create")
def followups_create():
    data = json_body()
    if "child_patient_id" in data:  # the original's child follow-up: the child's patient id
        from ..children import service as children
        child_id = children.child_id_for(data.get("child_patient_id"))
        if data.get("patient_id") not in (None, "") and str(data.get("patient_id")).strip() != str(child_id):
            from ..errors import ValidationError, field_error
            raise ValidationError("patient_id and child_patient_id name different patients",
                                  errors=[field_error("child_patient_id", "names a different patient than patient_id",
                                                      data.get("child_patient_id"))])
        data = {**{k: v for k, v in data.items() if k != "child_patient_id"}, "patient_id": child_id}
    row, number, total = service.create(data, principal())
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


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

FOLLOWUP = model_schema(FollowUp, extra={
    "patient_name": null(STR), "cr_no": null(STR), "doctor_name": null(STR), "assigned_doctor_name": null(STR),
    "amended_by_name": null(STR), "visit_number": null(INT)},
    description="A follow-up note of a returning patient (clinicians only).")
ONE = obj({"followup": ref("FollowUp")})
FIELDS = {"visit_date": null(DATE), "clinical_assessment": {"type": "string", "minLength": 1,
                                                            "maxLength": MAX_ASSESSMENT},
          "assigned_doctor_id": null(ID), "room_no": null({"type": "string", "maxLength": MAX_ROOM})}

OPENAPI_SCHEMAS = {"FollowUp": FOLLOWUP}
OPENAPI = {
    "followups_create": Op("Follow-ups", "Write a follow-up note", obj({
        "followup": ref("FollowUp"), "visit_number": INT, "total_visits": INT}), status=201,
        message=service.CREATED, body={"anyOf": [
            obj({"patient_id": ID, **FIELDS}, required=("patient_id", "clinical_assessment")),
            obj({"child_patient_id": {**ID, "description": "A child's patient id (the original's child follow-up)."},
                 **FIELDS}, required=("child_patient_id", "clinical_assessment"))]},
        errors=(404,), description="For a returning patient (an earlier proforma, follow-up or visit); writes the "
                                   "day's visit when there is none. The date is IST, never after today. "
                                   "`child_patient_id` is accepted as an alias of `patient_id` for a child "
                                   "(404 when it names an adult)."),
    "followups_get": Op("Follow-ups", "One follow-up note", ONE, message="Follow-up visit retrieved successfully"),
    "followups_by_patient": Op("Follow-ups", "A patient's follow-up notes", list_of("followups", "FollowUp"),
                               message="Follow-up visits retrieved successfully", params=page_params()),
    "followups_update": Op("Follow-ups", "Amend a follow-up note", ONE, message="Follow-up visit updated successfully",
                           body=obj({**FIELDS, "amend_reason": {"type": "string", "minLength": 1},
                                     "version": {"type": "integer", "minimum": 1}}, required=("amend_reason",)),
                           errors=(409,), description="The old version stays readable (…/versions); a stale "
                                                      "version is a 409."),
    "followups_delete": Op("Follow-ups", "Withdraw a follow-up note", ONE,
                           message="Follow-up visit withdrawn successfully",
                           body=obj({"reason": {"type": "string", "minLength": 1}}), body_required=False,
                           description="Kept and marked withdrawn, never deleted; a reason is required."),
    "followups_versions": Op("Follow-ups", "A follow-up note's versions", obj({
        "followup_id": INT, "is_active": BOOL, "versions": arr({"type": "object"})})),
}
