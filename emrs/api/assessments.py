"""Rating scales (issue 19): adapters over emrs.assessments.service.

GET /instruments -> {instruments[]}; GET /instruments/:code -> {instrument};
POST /instruments/:code/score {answers} -> the live score (nothing stored);
POST /patients/:id/assessments {instrument, answers, visit_id?, proforma_id?, followup_id?,
assessed_on?} -> 201 {assessment}; GET /patients/:id/assessments[?instrument=] ->
{assessments[], trends[]}; GET /assessments/:id -> {assessment};
POST /assessments/:id/acknowledge {action} -> {assessment}; POST /assessments/:id/confirm ->
{assessment}; DELETE /assessments/:id {reason} -> the withdrawn {assessment}.
"""
from __future__ import annotations

from flask import request

from ..assessments import service
from ..assessments.models import MAX_ACTION
from ..auth.guard import principal
from . import bp
from .envelope import json_body, ok
from .openapi_schema import BOOL, DATE, DATETIME, ID, INT, STR, Op, arr, null, obj, query, ref
from .users import parse_id


@bp.get("/instruments", endpoint="instruments_list")
def instruments_list():
    return ok({"instruments": [i.to_dict() for i in service.instruments_for(principal())]},
              "Instruments retrieved successfully")


@bp.get("/instruments/<code>", endpoint="instruments_get")
def instruments_get(code):
    return ok({"instrument": service.instrument(code).to_dict()}, "Instrument retrieved successfully")


@bp.post("/instruments/<code>/score", endpoint="instruments_score")
def instruments_score(code):
    score = service.preview(code, json_body().get("answers"))
    return ok({"score": score.to_dict()}, "Score computed (nothing stored)")


@bp.post("/patients/<patient_id>/assessments", endpoint="assessments_create")
def assessments_create(patient_id):
    row = service.create(parse_id(patient_id, "patient_id"), json_body(), principal())
    return ok({"assessment": service.to_dict(row)}, service.CREATED, status=201)


@bp.get("/patients/<patient_id>/assessments", endpoint="assessments_by_patient")
def assessments_by_patient(patient_id):
    rows = service.for_patient(parse_id(patient_id, "patient_id"), principal(), request.args.get("instrument"))
    return ok({"assessments": service.to_dicts(rows), "trends": service.trend_summaries(rows)},
              "Assessments retrieved successfully")


@bp.get("/assessments/<assessment_id>", endpoint="assessments_get")
def assessments_get(assessment_id):
    row = service.get(parse_id(assessment_id), principal())
    return ok({"assessment": service.to_dict(row)}, "Assessment retrieved successfully")


@bp.post("/assessments/<assessment_id>/acknowledge", endpoint="assessments_acknowledge")
def assessments_acknowledge(assessment_id):
    row = service.get(parse_id(assessment_id), principal(), audit_read=False)
    row = service.acknowledge(row, principal(), json_body().get("action"))
    return ok({"assessment": service.to_dict(row)}, "Risk item acknowledged")


@bp.post("/assessments/<assessment_id>/confirm", endpoint="assessments_confirm")
def assessments_confirm(assessment_id):
    row = service.get(parse_id(assessment_id), principal(), audit_read=False)
    row = service.confirm(row, principal())
    return ok({"assessment": service.to_dict(row)}, "Assessment confirmed")


@bp.delete("/assessments/<assessment_id>", endpoint="assessments_delete")
def assessments_delete(assessment_id):
    row = service.get(parse_id(assessment_id), principal(), audit_read=False)
    body = json_body(required=False)
    row = service.withdraw(row, principal(), body.get("reason") or request.args.get("reason"))
    return ok({"assessment": service.to_dict(row)}, "Assessment withdrawn")


# ============================================================================ OpenAPI

OPTION = obj({"value": INT, "label": STR})
ITEM = obj({"id": STR, "text": STR, "options": arr(OPTION), "scored": BOOL, "reverse": BOOL, "required": BOOL,
            "risk": null(obj({"min": INT, "message": STR}))}, required=("id", "text", "options"))
BAND = obj({"min": INT, "max": INT, "label": STR, "severity": INT})
INSTRUMENT = obj({
    "code": STR, "name": STR, "short_name": STR, "version": STR,
    "respondent": {"type": "string", "enum": ["self", "clinician"]},
    "population": STR, "age_range": arr(null(INT)), "timeframe": null(STR), "instructions": null(STR),
    "items": arr(ITEM), "subscales": arr({"type": "object"}),
    "total": obj({"min": INT, "max": INT, "direction": {"type": "string",
                                                        "enum": ["higher_worse", "lower_better_change"]}}),
    "bands": arr(BAND), "response": null(obj({"reduction": {"type": "number"}})), "loinc": {"type": "object"},
    "source": {"type": "object"}, "licence": {"type": "object"}},
    required=("code", "name", "short_name", "items", "total", "bands"),
    description="A rating scale as data: items with their answer values, reverse-scored items, subscales, "
                "severity bands with their published cut-offs, risk items, source and licence (docs/instruments.md).")
FLAG = obj({"item": STR, "value": INT, "message": STR})
SCORE = obj({"total": null(INT), "subscales": {"type": "object", "additionalProperties": INT},
             "severity": null(STR), "severity_level": null(INT), "flags": arr(FLAG), "missing": arr(STR),
             "complete": BOOL})
ASSESSMENT = obj({
    "id": ID, "patient_id": ID, "visit_id": null(ID), "proforma_id": null(ID), "followup_id": null(ID),
    "instrument": STR, "instrument_name": STR, "instrument_version": STR, "assessed_on": DATE,
    "answers": {"type": "object", "additionalProperties": INT}, "total": INT, "total_max": null(INT),
    "subscales": {"type": "object", "additionalProperties": INT}, "severity": null(STR),
    "severity_level": null(INT), "flags": arr(FLAG),
    "source": {"type": "string", "enum": ["clinician", "staff", "kiosk"]},
    "entered_by": null(ID), "entered_by_name": null(STR), "confirmed": BOOL, "confirmed_by": null(ID),
    "confirmed_by_name": null(STR), "confirmed_at": null(DATETIME),
    "risk_status": {"type": "string", "enum": ["none", "open", "acknowledged"]},
    "risk_ack_by": null(ID), "risk_ack_by_name": null(STR), "risk_ack_at": null(DATETIME), "risk_action": null(STR),
    "is_active": BOOL, "created_at": null(DATETIME)},
    required=("id", "patient_id", "instrument", "assessed_on", "answers", "total", "flags", "risk_status"),
    description="A scored rating scale of a patient. `risk_status` is `open` while a positive risk item waits for "
                "a clinician's acknowledgement.")
TREND = obj({"instrument": STR, "instrument_name": STR, "count": INT, "first_total": INT, "first_on": DATE,
             "latest_total": INT, "latest_on": DATE, "latest_severity": null(STR), "change": INT,
             "percent": {**null(INT), "description": "The change in % of the first total above the scale's floor, signed like `change` (−57 = a 57 % reduction)."}, "response": null(BOOL), "text": null(STR)})
ONE = obj({"assessment": ref("Assessment")})

OPENAPI_SCHEMAS = {"Instrument": INSTRUMENT, "Assessment": ASSESSMENT}
OPENAPI = {
    "instruments_list": Op("Assessments", "The rating scales", obj({"instruments": arr(ref("Instrument"))}),
                           message="Instruments retrieved successfully",
                           description="A welfare officer is offered the self-report scales only."),
    "instruments_get": Op("Assessments", "One rating scale", obj({"instrument": ref("Instrument")}),
                          message="Instrument retrieved successfully", errors=(422,)),
    "instruments_score": Op("Assessments", "Score answers without storing them", obj({"score": SCORE}),
                            message="Score computed (nothing stored)",
                            body=obj({"answers": {"type": "object", "additionalProperties": INT}},
                                     required=("answers",)), errors=(422,),
                            description="The live score of a form being filled: missing answers are allowed "
                                        "(listed in `missing`; `total` is null until every required item is "
                                        "answered); risk flags are computed from what is there."),
    "assessments_create": Op("Assessments", "Score and store an assessment", ONE, status=201, message=service.CREATED,
                             body=obj({"instrument": STR, "answers": {"type": "object", "additionalProperties": INT},
                                       "visit_id": null(ID), "proforma_id": null(ID), "followup_id": null(ID),
                                       "assessed_on": null(DATE)}, required=("instrument", "answers")),
                             errors=(404, 422),
                             description="Every required item must be answered with one of its values. A welfare "
                                         "officer enters self-report scales only; they wait for a clinician's "
                                         "confirmation. A positive risk item opens a banner until acknowledged."),
    "assessments_by_patient": Op("Assessments", "A patient's assessments and trends", obj({
        "assessments": arr(ref("Assessment")), "trends": arr(TREND)}), message="Assessments retrieved successfully",
        params=(query("instrument", STR, "Only this instrument (its code)."),), errors=(404, 422),
        description="Oldest first. `trends`: per instrument, the first and latest totals and the change "
                    "(a reduction of at least the instrument's response threshold is a response)."),
    "assessments_get": Op("Assessments", "One assessment", ONE, message="Assessment retrieved successfully"),
    "assessments_acknowledge": Op("Assessments", "Acknowledge a positive risk item", ONE,
                                  message="Risk item acknowledged",
                                  body=obj({"action": {"type": "string", "minLength": 1, "maxLength": MAX_ACTION}},
                                           required=("action",)), errors=(422,),
                                  description="Clinicians only; the action taken is required. Audited."),
    "assessments_confirm": Op("Assessments", "Confirm a self-report", ONE, message="Assessment confirmed",
                              body=None, errors=(422,)),
    "assessments_delete": Op("Assessments", "Withdraw an assessment", ONE, message="Assessment withdrawn",
                             body=obj({"reason": {"type": "string", "minLength": 5}}), body_required=False,
                             errors=(422,), description="Kept and marked withdrawn, never deleted; a reason is "
                                                        "required."),
}
