"""/api/child-cap-workup (later-features §1c): the CAP detailed work-up, the child's intake
record, with the original's paths and shapes. Flat §1c field names; JSON rows for the
repeatable groups; unknown keys and bad values are a 400 naming them. Also
GET /api/patients/:id/growth: the child's measurements with WHO z-scores.
"""
from __future__ import annotations

from ..auth.guard import principal
from ..cap import growth, service, spec
from . import bp
from .envelope import json_body, ok
from .openapi_schema import BOOL, DATE, DATETIME, ID, INT, NUM, STR, Op, arr, null, obj, ref
from .users import parse_id

PREFIX = "/child-cap-workup"


@bp.get(PREFIX + "/child-patient/<child_patient_id>", endpoint="cap_workup_by_child")
def cap_workup_by_child(child_patient_id):
    rows = service.list_for_child(parse_id(child_patient_id, "child_patient_id"))
    return ok({"records": [service.record_dict(r) for r in rows]}, "CAP work-up records retrieved successfully")


@bp.get(PREFIX + "/<cap_id>", endpoint="cap_workup_get")
def cap_workup_get(cap_id):
    record = service.get(parse_id(cap_id, "cap_id"))
    return ok({"record": service.record_dict(record)}, "CAP work-up retrieved successfully")


@bp.post(PREFIX, endpoint="cap_workup_create")
def cap_workup_create():
    record = service.create(json_body(), principal())
    return ok({"record": service.record_dict(record)}, "CAP work-up created successfully", status=201)


@bp.put(PREFIX + "/<cap_id>", endpoint="cap_workup_update")
def cap_workup_update(cap_id):
    record = service.get(parse_id(cap_id, "cap_id"), audit_read=False)
    record = service.update(record, json_body(), principal())
    return ok({"record": service.record_dict(record)}, "CAP work-up updated successfully")


@bp.delete(PREFIX + "/<cap_id>", endpoint="cap_workup_delete")
def cap_workup_delete(cap_id):
    record = service.get(parse_id(cap_id, "cap_id"), audit_read=False)
    record = service.withdraw(record, principal())
    return ok({"record": service.record_dict(record)}, "CAP work-up withdrawn (archived) successfully")


@bp.get("/patients/<patient_id>/growth", endpoint="patient_growth")
def patient_growth(patient_id):
    view = service.growth_for_patient(parse_id(patient_id, "patient_id"))
    return ok({"measurements": view["measurements"], "message": view["message"], "reference": view["reference"],
               "package": view["package"]})


# ============================================================================ OpenAPI

def _field_schema(f: spec.Field) -> dict:
    if f.kind == "rows":
        return {"type": "array", "maxItems": f.max_rows, "items": {
            "type": "object", "additionalProperties": False,
            "properties": {k: {"type": "string", "maxLength": spec.MAX_CELL} for k in f.keys}}}
    if f.kind == "bool":
        return BOOL
    if f.kind == "enum":
        return null({"type": "string", "enum": list(f.values)})
    if f.kind == "date":
        return null(DATE)
    if f.kind == "int":
        return null({"type": "integer", "minimum": int(f.lo), "maximum": int(f.hi)})
    if f.kind == "num":
        return null({"type": "number", "minimum": f.lo, "maximum": f.hi})
    return null({"type": "string", "maxLength": spec.MAX_TEXT})


FIELD_SCHEMAS = {n: _field_schema(f) for n, f in spec.FIELDS.items()}
RECORD = obj({"id": ID, "child_patient_id": ID, "adl_no": STR, "file_status": STR, "is_active": BOOL,
              "version": INT, "filled_by": null(ID), "created_at": null(DATETIME), "updated_at": null(DATETIME),
              "cap_no": null(STR), "patient_name": STR, "age": null(INT), "gender": null(STR),
              "education": null(STR), "referred_by": null(STR), "date_of_birth": null(DATE),
              "gpe_bmi": null(NUM), **FIELD_SCHEMAS},
             required=("id", "child_patient_id", "adl_no", "version", "patient_name"),
             description="A CAP detailed work-up (the child's intake record). cap_no, patient_name, age, gender, "
                         "education, referred_by and date_of_birth come live from the registration; gpe_bmi is "
                         "computed from height and weight.")
INPUT = {"type": "object", "additionalProperties": False, "properties": dict(FIELD_SCHEMAS)}
ONE = obj({"record": ref("CapWorkup")})
SCORE = obj({"value": null(NUM), "z": null(NUM), "centile": null(NUM), "message": null(STR)})
MEASUREMENT = obj({"id": ID, "measured_on": DATE, "source": STR, "height_cm": null(NUM), "weight_kg": null(NUM),
                   "head_circumference_cm": null(NUM), "bmi": null(NUM), "age_days": null(INT),
                   "scores": {"type": "object", "additionalProperties": SCORE}})
TAG = "CAP work-up"
OPENAPI_SCHEMAS = {"CapWorkup": RECORD}
OPENAPI = {
    "cap_workup_by_child": Op(TAG, "A child's CAP work-ups (newest first)", obj({"records": arr("CapWorkup")}),
                              message="CAP work-up records retrieved successfully", errors=(404,)),
    "cap_workup_get": Op(TAG, "One CAP work-up", ONE, message="CAP work-up retrieved successfully"),
    "cap_workup_create": Op(TAG, "Open the child's CAP work-up", ONE, status=201,
                            message="CAP work-up created successfully",
                            body={**INPUT, "properties": {"child_patient_id": ID, **INPUT["properties"]},
                                  "required": ["child_patient_id"]},
                            errors=(404, 409),
                            description="One per child: a second POST is a 409 naming the existing record. "
                                        "Unknown keys are a 400 naming them."),
    "cap_workup_update": Op(TAG, "Amend the CAP work-up", ONE, message="CAP work-up updated successfully",
                            body={**INPUT, "properties": {"version": {"type": "integer", "minimum": 1},
                                                          **INPUT["properties"]}},
                            errors=(409,), description="Only the fields sent change; a stale version is a 409; "
                                                       "the physical examination's measurements update the "
                                                       "growth chart."),
    "cap_workup_delete": Op(TAG, "Withdraw the CAP work-up", ONE,
                            message="CAP work-up withdrawn (archived) successfully",
                            description="Like an adult's intake record: archived and inactive, never destroyed."),
    "patient_growth": Op(TAG, "A child's growth measurements with WHO z-scores", obj({
        "measurements": arr(MEASUREMENT), "message": null(STR), "reference": STR, "package": STR}),
        description=f"Z-scores and centiles from {growth.PACKAGE} {growth.PACKAGE_VERSION}: {growth.REFERENCES}."),
}
