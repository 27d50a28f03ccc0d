"""/api/child-clinical-proformas (later-features §1b): the original's paths and flat shapes,
adapters over emrs.child_clinical.service. DELETE withdraws (the adult proforma's rules)."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..child_clinical import service, spec
from ..errors import ValidationError
from ..patients import reading as patients
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import BOOL, DATE, ID, INT, STR, arr, null, obj, Op, page_params, query, ref
from .users import parse_id

PREFIX = "/child-clinical-proformas"


@bp.post(PREFIX, endpoint="child_proformas_create")
def child_proformas_create():
    row = service.create(json_body(), principal())
    return ok({"proforma": service.one(row)}, service.CREATED, status=201)


@bp.get(PREFIX, endpoint="child_proformas_list")
def child_proformas_list():
    filters, errors = service.parse_filters(request.args)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    page, limit = pagination()
    rows, total = service.list_proformas(filters, page, limit, principal())
    return ok({"proformas": service.dicts(rows), "pagination": page_object(page, limit, total)})


@bp.get(PREFIX + "/child-patient/<child_patient_id>", endpoint="child_proformas_by_patient")
def child_proformas_by_patient(child_patient_id):
    patient = patients.get_patient(parse_id(child_patient_id, "child_patient_id"), audit_action=None)
    return ok({"proformas": service.dicts(service.for_patient(patient, principal()))})


@bp.get(PREFIX + "/<proforma_id>", endpoint="child_proformas_get")
def child_proformas_get(proforma_id):
    return ok({"proforma": service.one(service.get(parse_id(proforma_id), principal()))})


@bp.put(PREFIX + "/<proforma_id>", endpoint="child_proformas_update")
def child_proformas_update(proforma_id):
    row = service.get(parse_id(proforma_id), principal(), audit_read=False)
    row = service.update(row, json_body(), principal())
    return ok({"proforma": service.one(row)}, service.UPDATED)


@bp.delete(PREFIX + "/<proforma_id>", endpoint="child_proformas_delete")
def child_proformas_delete(proforma_id):
    row = service.get(parse_id(proforma_id), principal(), audit_read=False)
    body = json_body(required=False)
    service.withdraw(row, principal(), body.get("reason") or request.args.get("reason"))
    return ok(message="Child clinical proforma deleted successfully")


# ============================================================================ OpenAPI

def _field_schema(kind) -> dict:
    k = kind[0]
    if k == "enum":
        return null({"type": "string", "enum": list(kind[1])})
    if k == "multi":
        return {"type": "array", "items": {"type": "string", "enum": list(kind[1])}}
    if k == "bool":
        return null(BOOL)
    if k == "date":
        return null(DATE)
    if k == "age":
        return null({"type": "integer", "minimum": 0, "maximum": 18})
    return null({"type": "string", "maxLength": service.MAX_TEXT})


_FIELDS = {name: _field_schema(kind) for name, kind in spec.FIELDS.items()}
_COLUMNS = {"visit_date": null(DATE), "date": null(DATE), "room_no": null({"type": "string", "maxLength": 10}),
            "assigned_doctor": null(ID), "provisional_diagnosis": null(STR), "icd_code": null(STR),
            "icd_title": null(STR), "icd_system": null({"type": "string", "enum": ["ICD-10", "ICD-11"]}),
            "pharmacological_treatment": null(STR), "referred_to": null(STR)}

OPENAPI_SCHEMAS = {
    "ChildProforma": obj({
        "id": INT, "child_patient_id": INT, "form": {"type": "string", "enum": ["child"]},
        "filled_by": null(INT), "assigned_doctor": null(INT), "visit_date": DATE, "date": DATE,
        "room_no": null(STR), "provisional_diagnosis": null(STR), "icd_code": null(STR), "icd_system": null(STR),
        "icd_title": null(STR), "icd_version": null(STR), "pharmacological_treatment": null(STR),
        "referred_to": null(STR), "is_active": BOOL, "version": INT, "amended_by": null(INT),
        "amended_at": null(STR), "change_reason": null(STR), "created_at": null(STR), "updated_at": null(STR),
        **{k: (v if k != "status" else {"type": "string", "enum": list(spec.STATUSES)}) for k, v in _FIELDS.items()},
        "child_patient_name": null(STR), "child_name": null(STR), "sex": null(STR), "cr_number": null(STR),
        "cgc_number": null(STR), "doctor_name": null(STR), "doctor_role": null(STR)},
        description="A child walk-in clinical proforma in the original's flat shape."),
    "ChildProformaInput": obj({"child_patient_id": ID, **_COLUMNS, **_FIELDS}, required=("child_patient_id",),
                              description="Flat fields as the original sends them; all optional but "
                                          "child_patient_id. Unknown fields are ignored."),
    "ChildProformaUpdate": obj({**_COLUMNS, **_FIELDS,
                                "version": {"type": "integer", "minimum": 1,
                                            "description": "The version you read: a stale one is a 409."},
                                "change_reason": {**null({"type": "string", "maxLength": 1000}),
                                                  "description": "Why (≥ 5 characters): required when someone "
                                                                 "else wrote the current version."}},
                               required=(), description="Partial update: only the fields sent change."),
}

ONE = obj({"proforma": ref("ChildProforma")})

OPENAPI = {
    "child_proformas_create": Op(
        "Child clinical proformas", "Save a child walk-in proforma", ONE, status=201, message=service.CREATED,
        body="ChildProformaInput", errors=(404, 422),
        example={"child_patient_id": 1, "visit_date": "2025-01-06", "reliability": "Good",
                 "behavioral_concerns": ["inattention", "hyperactivity"], "provisional_diagnosis": "ADHD",
                 "icd_code": "6A05.0", "status": "submitted"},
        description="`child_patient_id` is a patient of the child clinic (an adult patient: 422). Bad option values: "
                    "400 `Invalid field value(s)` with `errors[]`, nothing saved. `age` defaults to the registered "
                    "age; `visit_date` to today (IST); `status` to draft. `has_physical_illness: true` needs "
                    "`physical_illness_specification`; `disposal_status: 'Managed in Walk-in only'` needs "
                    "`disposal_reason`."),
    "child_proformas_list": Op(
        "Child clinical proformas", "List child proformas", obj({"proformas": arr("ChildProforma"),
                                                                 "pagination": ref("Pagination")}),
        params=(*page_params(), query("child_patient_id", ID, "The child."), query("filled_by", ID, "Filled by."),
                query("visit_date", DATE, "Visit date."),
                query("status", {"type": "string", "enum": list(spec.STATUSES)}, "Status.")),
        description="Newest visit first."),
    "child_proformas_by_patient": Op("Child clinical proformas", "A child's proformas",
                                     obj({"proformas": arr("ChildProforma")}), description="Newest visit first."),
    "child_proformas_get": Op("Child clinical proformas", "One child proforma", ONE),
    "child_proformas_update": Op(
        "Child clinical proformas", "Update a child proforma", ONE, message=service.UPDATED,
        body="ChildProformaUpdate", errors=(403, 409),
        description="Partial. Amending someone else's proforma needs `change_reason` and follows seniority (as "
                    "the adult proforma); every version is kept."),
    "child_proformas_delete": Op(
        "Child clinical proformas", "Delete (withdraw) a child proforma",
        message="Child clinical proforma deleted successfully", errors=(403,), body_required=False,
        body=obj({"reason": {"type": "string", "maxLength": 1000}}),
        description="Withdraws the proforma (never a hard delete): who may is the adult proforma's rule — the "
                    "author, Faculty over Residents' records, an Admin; an Admin can restore it."),
}
