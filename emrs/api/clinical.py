"""/api/clinical-proformas (contract §8): adapters over emrs.clinical.service."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..clinical import service
from ..errors import ValidationError, field_error
from ..patients import reading as patients
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import (DATE, DATE_RANGE, ID, INT, PROFORMA_LIST, STR, arr, null, obj, Op, page_params,
                             query, ref)
from .users import parse_id

PREFIX = "/clinical-proformas"


def _rx_block(rx) -> dict | None:
    if rx is None:
        return None
    return {"count": 1, "prescriptions": [rx.to_dict()]}


def _list(filters):
    page, limit = pagination()
    rows, total = service.list_proformas(filters, page, limit, principal())
    return ok({"proformas": service.proforma_dicts(rows), "pagination": page_object(page, limit, total)})


def _user_filter():
    raw = (request.args.get("user_id") or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or len(raw) > 9:
        raise ValidationError("Validation failed", errors=[field_error("user_id", "user_id must be a positive integer",
                                                                       raw[:20], "query")])
    return int(raw)


@bp.post(PREFIX, endpoint="proformas_create")
def proformas_create():
    proforma, record, rx = service.create(json_body(), principal())
    if record is not None:
        # Contract shape of the complex create: `prescriptions` is a sibling of `data`.
        return ok({"clinical_proforma": service.proforma_dict(proforma), "adl_file": record.to_dict()},
                  service.COMPLEX_CREATED, status=201, prescriptions=_rx_block(rx))
    return ok({"proforma": service.proforma_dict(proforma), "prescriptions": _rx_block(rx)},
              service.SIMPLE_CREATED, status=201)


@bp.get(PREFIX, endpoint="proformas_list")
def proformas_list():
    filters, errors = service.parse_filters(request.args)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return _list(filters)


@bp.get(PREFIX + "/my-proformas", endpoint="proformas_mine")
def proformas_mine():
    return _list({"filled_by": principal().id})


@bp.get(PREFIX + "/complex-cases", endpoint="proformas_complex")
def proformas_complex():
    return _list({"doctor_decision": "complex_case"})


@bp.get(PREFIX + "/stats", endpoint="proformas_stats")
def proformas_stats():
    return ok({"stats": service.stats()})


@bp.get(PREFIX + "/decision-stats", endpoint="proformas_decision_stats")
def proformas_decision_stats():
    return ok({"decisionStats": service.decision_stats(_user_filter())})


@bp.get(PREFIX + "/visit-trends", endpoint="proformas_visit_trends")
def proformas_visit_trends():
    return ok({"trends": service.visit_trends(request.args.get("period", "week"), _user_filter())})


@bp.get(PREFIX + "/patient/<patient_id>", endpoint="proformas_by_patient")
def proformas_by_patient(patient_id):
    patient = patients.get_patient(parse_id(patient_id, "patient_id"), audit_action="proforma_list_view")
    return ok({"proformas": service.proforma_dicts(service.for_patient(patient.id, principal()))})


@bp.get(PREFIX + "/patient/<patient_id>/last-visit", endpoint="proformas_last_visit")
def proformas_last_visit(patient_id):
    patient = patients.get_patient(parse_id(patient_id, "patient_id"), audit_action="proforma_view")
    rows = service.for_patient(patient.id, principal())
    return ok({"proforma": service.proforma_dict(rows[0]) if rows else None})


@bp.get(PREFIX + "/<proforma_id>", endpoint="proformas_get")
def proformas_get(proforma_id):
    return ok({"proforma": service.proforma_dict(service.get(parse_id(proforma_id), principal()))})


@bp.get(PREFIX + "/<proforma_id>/versions", endpoint="proformas_versions")
def proformas_versions(proforma_id):
    """Every version of the proforma, oldest first (EMRS addition)."""
    row = service.get(parse_id(proforma_id), principal(), include_withdrawn=True)
    return ok({"proforma_id": row.id, "versions": service.version_history(row)})


@bp.post(PREFIX + "/<proforma_id>/restore", endpoint="proformas_restore")
def proformas_restore(proforma_id):
    """Admin: undo a withdrawal (EMRS addition)."""
    row = service.get(parse_id(proforma_id), principal(), audit_read=False, include_withdrawn=True)
    service.restore(row, principal())
    return ok({"proforma": service.proforma_dict(row)}, "Clinical proforma restored")


@bp.put(PREFIX + "/<proforma_id>", endpoint="proformas_update")
def proformas_update(proforma_id):
    row = service.get(parse_id(proforma_id), principal(), audit_read=False)
    proforma, record, rx = service.update(row, json_body(), principal())
    return ok({"clinical_proforma": service.proforma_dict(proforma),
               "adl_file": record.to_dict() if record is not None else None,
               "prescriptions": _rx_block(rx)}, "Clinical proforma updated successfully")


@bp.delete(PREFIX + "/<proforma_id>", endpoint="proformas_delete")
def proformas_delete(proforma_id):
    row = service.get(parse_id(proforma_id), principal(), audit_read=False)
    body = json_body(required=False)
    service.withdraw(row, principal(), body.get("reason") or request.args.get("reason"))
    return ok(message="Clinical proforma deleted successfully")


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- clinical proformas
    "proformas_create": Op("Clinical proformas", "Save a walk-in clinical proforma", {"anyOf": [
        obj({"proforma": ref("Proforma"), "prescriptions": null(ref("PrescriptionBlock"))}),
        obj({"clinical_proforma": ref("Proforma"), "adl_file": ref("IntakeRecordRow")})]},
        status=201, message="Simple Walk-in Clinical Proforma saved successfully", body="ProformaInput",
        errors=(404,),
        example={"patient_id": 1, "visit_date": "2025-01-06", "visit_type": "first_visit",
                 "mood": "Sad, Irritable", "diagnosis": "Depressive episode", "icd_code": "F32.1",
                 "case_severity": "moderate", "doctor_decision": "simple_case"},
        description="Simple case: `data.proforma` and `data.prescriptions`. Complex case (message \"Complex "
                    "case with ADL file saved successfully\"): `data.clinical_proforma`, `data.adl_file` and "
                    "`prescriptions` as a sibling of `data` (the original's shape). EMRS rules (400, nothing "
                    "saved): `visit_date` is not after today (IST); a completed proforma — one that states "
                    "`doctor_decision`, unless written by a welfare officer — needs at least one presenting "
                    "complaint group, `diagnosis`/`icd_code`, or `disposal`/`referred_to` (a visit stub "
                    "without `doctor_decision` may be empty); a flat `personal_birth_date` must agree with "
                    "the patient's age (within a year)."),
    "proformas_list": Op("Clinical proformas", "List proformas", PROFORMA_LIST, params=(
        *page_params(),
        query("visit_type", {"type": "string", "enum": ["first_visit", "follow_up"]}, "Visit type."),
        query("doctor_decision", {"type": "string", "enum": ["simple_case", "complex_case"]}, "Decision."),
        query("requires_adl_file", {"type": "string", "enum": ["true", "false"]}, "Needs an intake record."),
        query("filled_by", ID, "Filled by (user id)."), query("patient_id", ID, "Patient."),
        query("room_no", {"type": "string", "maxLength": 10}, "Room."), *DATE_RANGE),
        description="Newest visit first."),
    "proformas_mine": Op("Clinical proformas", "Proformas I filled", PROFORMA_LIST, params=page_params()),
    "proformas_complex": Op("Clinical proformas", "Complex cases", PROFORMA_LIST, params=page_params()),
    "proformas_stats": Op("Clinical proformas", "Proforma statistics", obj({"stats": obj({k: INT for k in (
        "total_proformas", "first_visits", "follow_ups", "simple_cases", "complex_cases",
        "cases_requiring_adl")})})),
    "proformas_decision_stats": Op("Clinical proformas", "Counts by decision", obj({"decisionStats": arr(obj({
        "doctor_decision": {"type": "string", "enum": ["simple_case", "complex_case"]}, "count": INT}))}),
        params=(query("user_id", ID, "Only proformas filled by this user."),)),
    "proformas_visit_trends": Op("Clinical proformas", "Proformas per day, week or month", obj({"trends": arr({
        "type": "object", "required": ["count"], "properties": {
            "date": DATE, "week_start": DATE, "month_start": DATE, "count": INT},
        "oneOf": [{"required": ["date"]}, {"required": ["week_start"]}, {"required": ["month_start"]}]})}),
        params=(query("period", {"type": "string", "enum": ["day", "week", "month"], "default": "week"},
                      "day: last 7 days; week: last 7 weeks; month: last 12 months."),
                query("user_id", ID, "Only proformas filled by this user."))),
    "proformas_by_patient": Op("Clinical proformas", "A patient's proformas", obj({"proformas": arr("Proforma")})),
    "proformas_last_visit": Op("Clinical proformas", "A patient's latest proforma",
                               obj({"proforma": null(ref("Proforma"))})),
    "proformas_get": Op("Clinical proformas", "One proforma", obj({"proforma": ref("Proforma")})),
    "proformas_update": Op("Clinical proformas", "Update a proforma", obj({
        "clinical_proforma": ref("Proforma"), "adl_file": null(ref("IntakeRecordRow")),
        "prescriptions": null(ref("PrescriptionBlock"))}), message="Clinical proforma updated successfully",
        body="ProformaUpdate", errors=(403, 409),
        description="Creates the intake record when the case just became complex; `prescriptions` "
                    "replaces the proforma's prescription."),
    "proformas_delete": Op("Clinical proformas", "Delete (withdraw) a proforma", message="Clinical proforma "
                           "deleted successfully", errors=(403,), body_required=False,
                           body=obj({"reason": {"type": "string", "maxLength": 1000}}),
                           description="Withdraws the proforma: it stays, marked with who, when and why "
                                       "(`reason` in the body or the query), and an Admin can restore it; a "
                                       "linked intake record is archived. Who may: the author, Faculty over "
                                       "Residents' records, an Admin."),
    "proformas_versions": Op("Clinical proformas", "Every version of a proforma", obj({
        "proforma_id": INT, "versions": arr(obj({
            "version": INT, "fields": {"type": "object"}, "author_id": null(INT), "author_name": null(STR),
            "authored_at": null(STR), "change_reason": null(STR), "superseded_at": null(STR),
            "current": {"type": "boolean"}}))}),
        description="Oldest first, the current version last; each names who wrote it and why."),
    "proformas_restore": Op("Clinical proformas", "Restore a withdrawn proforma (Admin)",
                            obj({"proforma": ref("Proforma")}), message="Clinical proforma restored"),
}
