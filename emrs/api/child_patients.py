"""/api/child-patient (later-features.md §1a): adapters over emrs.children.service, answering
the original's shapes (`{childPatient}`), plus GET /api/follow-ups/child-patient/:id. A child
is a patient of the one registry; `id` is the patient id. An adult's id is no child's (404)."""
from __future__ import annotations

import json

from flask import request

from ..auth.guard import principal
from ..children import service
from ..errors import ValidationError, field_error
from ..followups import service as followups
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import DATE, ID, INT, STR, BOOL, Op, arr, null, obj, ref
from .users import parse_id


def _child(raw_id: str, audit_action="child_patient_view"):
    return service.get_child(parse_id(raw_id, "id"), audit_action=audit_action)


def _body() -> dict:
    """JSON, or a multipart form's fields (files apart)."""
    if request.mimetype == "multipart/form-data":
        return {k: v for k, v in request.form.items() if k and not k.startswith("files_to_remove")}
    return json_body()


def _storages():
    return request.files.getlist("files") + request.files.getlist("attachments[]")


def _removals() -> list:
    raw = request.form.getlist("files_to_remove") + request.form.getlist("files_to_remove[]")
    if request.is_json and request.data:
        body = json_body()
        raw = body.get("files_to_remove") or []
        if not isinstance(raw, list):
            raw = [raw]
    out = []
    for item in raw:
        if isinstance(item, str) and item.strip().startswith("["):
            try:
                parsed = json.loads(item)
            except ValueError:
                raise ValidationError("files_to_remove must be a JSON array of paths",
                                      errors=[field_error("files_to_remove", "must be a JSON array of paths")])
            out.extend(parsed if isinstance(parsed, list) else [parsed])
        else:
            out.append(item)
    return [p for p in out if isinstance(p, (str, int)) and not isinstance(p, bool)]


def _shape(child) -> dict:
    return {"childPatient": service.child_dict(child)}


@bp.post("/child-patient/register", endpoint="child_patient_register")
def child_patient_register():
    from ..patients import files
    data = _body()
    storages = files._real_files(_storages())
    if storages:
        files._validate_all(storages)  # a bad file refuses the whole registration
        for s in storages:
            s.stream.seek(0)
    child = service.register(data, principal())
    if storages:
        files.upload(child, storages, principal())
    return ok(_shape(child), "Child patient registered successfully", status=201)


@bp.get("/child-patient/cr/<cr_number>", endpoint="child_patient_by_cr")
def child_patient_by_cr(cr_number):
    return ok(_shape(service.by_cr(cr_number)))


@bp.post("/child-patient/add-to-today", endpoint="child_patient_add_to_today")
def child_patient_add_to_today():
    from ..opd import queue
    data = json_body()
    child = service.get_child(service.child_id_for(data.get("child_patient_id")), audit_action=None)
    visit = service.add_to_today(child, principal(), data.get("assigned_room"))
    return ok({**_shape(child), "visit": queue.visit_dict(visit)}, "Child patient added to today's list")


@bp.post("/child-patient/<child_id>/documents", endpoint="child_patient_documents")
def child_patient_documents(child_id):
    from ..patients import files
    child = _child(child_id, audit_action=None)
    rows = [files.resolve_path(child, path) for path in _removals()]
    added, gone = files.update(child, _storages(), rows, principal())
    return ok(_shape(child), f"Documents updated: {len(added)} added, {len(gone)} removed")


@bp.get("/child-patient/<child_id>", endpoint="child_patient_get")
def child_patient_get(child_id):
    return ok(_shape(_child(child_id)))


@bp.put("/child-patient/<child_id>", endpoint="child_patient_update")
def child_patient_update(child_id):
    child = _child(child_id, audit_action=None)
    service.update(child, json_body(), principal())
    return ok(_shape(child), "Child patient updated successfully")


@bp.delete("/child-patient/<child_id>", endpoint="child_patient_delete")
def child_patient_delete(child_id):
    child = _child(child_id, audit_action=None)
    counts = service.archive(child, principal())
    # The original's shape, outside `data`. Deliberate difference: the child is archived like any
    # patient; nothing is deleted, and no other patient's rows are touched.
    return ok(message="Child patient archived; the record and its history are kept",
              deletedChildPatientId=str(child.id), deletedChildPatientName=child.name,
              deleted={"childPatient": True, "childClinicalProformas": 0, "followUpVisits": 0, "prescriptions": 0},
              archived=True, kept={"clinicalProformas": counts["clinicalProformas"], "adlFiles": counts["adlFiles"]})


@bp.post("/child-patient/<child_id>/move-to-adult", endpoint="child_patient_move_to_adult")
def child_patient_move_to_adult(child_id):
    from ..patients import reading
    child = _child(child_id, audit_action=None)
    patient = service.move_to_adult(child, principal())
    return ok({"patient": reading.patient_dict(patient)}, "Moved from the child clinic to the adult clinic")


@bp.get("/follow-ups/child-patient/<child_id>", endpoint="followups_by_child_patient")
def followups_by_child_patient(child_id):
    page, limit = pagination()
    child = service.get_child(parse_id(child_id, "child_patient_id"), audit_action=None)
    rows, total = followups.list_for_patient(child.id, page, limit, principal())
    return ok({"followups": followups.followup_dicts(rows), "pagination": page_object(page, limit, total)},
              "Follow-up visits retrieved successfully")


# ------------------------------------------------------------------ OpenAPI

_OPT = lambda values: null({"type": "string", "enum": list(values)})  # noqa: E731


def _child_schema() -> dict:
    from ..patients.fields import CHILD_OPTIONS as O
    text = null(STR)
    props = {
        "id": {**ID, "description": "The patient id."}, "patient_id": ID,
        "patient_type": {"const": "child"}, "clinic": {"type": "string", "enum": ["child", "adult"]},
        "child_name": STR, "cr_number": text, "cgc_number": text, "seen_as_walk_in_on": null(DATE),
        "mobile_no": text, "sex": _OPT(O["sex"]), "age": null(INT), "age_group": _OPT(O["age_group"]),
        "date_of_birth": null(DATE), "educational_status": _OPT(O["educational_status"]),
        "occupational_status": _OPT(O["occupational_status"]), "religion": _OPT(O["religion"]),
        "head_name": text, "head_relationship": _OPT(O["head_relationship"]), "head_age": null(INT),
        "head_education": _OPT(O["head_education"]), "head_occupation": _OPT(O["head_occupation"]),
        "head_monthly_income": _OPT(O["head_monthly_income"]), "locality": _OPT(O["locality"]),
        "distance_travelled": _OPT(O["distance_travelled"]), "source_of_referral": _OPT(O["source_of_referral"]),
        **{k: text for k in ("address_line", "city_town_village", "district", "state", "country", "pincode",
                             "present_address_line", "present_city_town_village", "present_district",
                             "present_state", "present_country", "present_pincode", "permanent_address_line",
                             "permanent_city_town_village", "permanent_district", "permanent_state",
                             "permanent_country", "permanent_pincode", "local_address_line", "allergies",
                             "assigned_room", "filled_by_name", "filled_by_role", "visit_status")},
        "adult_since": null(DATE), "documents": arr(STR), "filled_by": null(INT),
        "has_visit_today": null(BOOL), "version": INT, "created_at": text, "updated_at": text,
    }
    return obj(props, description="A child patient in the original's field names (docs/children.md).")


def _child_body(required=("child_name", "mobile_no")) -> dict:
    from ..patients.fields import CHILD_OPTIONS as O
    s = lambda n: null({"type": "string", "maxLength": n})  # noqa: E731
    props = {
        "child_name": {"type": "string", "minLength": 2, "maxLength": 255},
        "mobile_no": {"type": "string", "pattern": r"^\d{10}$", "description": "The guardian's mobile, 10 digits."},
        "age": null({"type": "integer", "minimum": 0, "maximum": 18}), "date_of_birth": null(DATE),
        "sex": _OPT(O["sex"]), "age_group": _OPT(O["age_group"]), "cr_number": s(50), "cgc_number": s(50),
        "seen_as_walk_in_on": null(DATE), "educational_status": _OPT(O["educational_status"]),
        "occupational_status": _OPT(O["occupational_status"]), "religion": _OPT(O["religion"]),
        "head_name": s(255), "head_relationship": _OPT(O["head_relationship"]),
        "head_age": null({"type": "integer", "minimum": 0, "maximum": 150}),
        "head_education": _OPT(O["head_education"]), "head_occupation": _OPT(O["head_occupation"]),
        "head_monthly_income": _OPT(O["head_monthly_income"]), "locality": _OPT(O["locality"]),
        "distance_travelled": _OPT(O["distance_travelled"]), "source_of_referral": _OPT(O["source_of_referral"]),
        "address_line": s(500), "city_town_village": s(100), "district": s(100), "state": s(100),
        "country": s(100), "pincode": null({"type": "string", "pattern": r"^\d{6}$"}),
        "local_address_line": s(500), "assigned_room": s(20),
    }
    return obj(props, required=required)


def _openapi() -> dict:
    child = obj({"childPatient": _child_schema()})
    return {
        "child_patient_register": Op(
            "Child patients", "Register a child (JSON or multipart with files)", child, status=201,
            message="Child patient registered successfully", body=_child_body(), errors=(404, 409),
            multipart={**_child_body(), "properties": {**_child_body()["properties"],
                                                       "files": {"type": "array", "items": {
                                                           "type": "string",
                                                           "contentMediaType": "application/octet-stream"}}}},
            example={"child_name": "Simran Kaur", "mobile_no": "9876543210", "age": 9, "sex": "Female",
                     "head_education": "Senior Secondary"},
            description="Age 0–18 (or a date of birth); the age group is derived from the age and must agree "
                        "when sent (0 → Less than 1 year … 16–18 → 15 – 18 years). The CGC number is made when "
                        "not typed; a taken one is 409. With `assigned_room` the child is queued today."),
        "child_patient_by_cr": Op("Child patients", "Child by CR number", child, errors=(404,)),
        "child_patient_add_to_today": Op(
            "Child patients", "Queue a child today", obj({"childPatient": _child_schema(), "visit": ref("Visit")}),
            message="Child patient added to today's list",
            body=obj({"child_patient_id": ID, "assigned_room": null({"type": "string", "maxLength": 20})},
                     required=("child_patient_id",)), errors=(404,),
            description="Today's visit in a room's queue (the room given, else the doctor's room today, else "
                        "the child's last room)."),
        "child_patient_documents": Op("Child patients", "Add or remove a child's documents", child,
                                      message="Documents updated",
                                      multipart={"type": "object", "properties": {
                                          "files": {"type": "array", "items": {
                                              "type": "string", "contentMediaType": "application/octet-stream"}},
                                          "files_to_remove": {"type": "array", "items": STR}}, "required": []},
                                      errors=(404,)),
        "child_patient_get": Op("Child patients", "One child", child),
        "child_patient_update": Op("Child patients", "Edit a child's registration", child,
                                   message="Child patient updated successfully", body=_child_body(required=()),
                                   errors=(409,)),
        "child_patient_delete": Op(
            "Child patients", "Archive a child (Admin)", message="Child patient archived; the record and its "
            "history are kept", extra={"deletedChildPatientId": STR, "deletedChildPatientName": STR,
                                       "deleted": obj({"childPatient": {"const": True},
                                                       "childClinicalProformas": INT, "followUpVisits": INT,
                                                       "prescriptions": INT}),
                                       "archived": {"const": True},
                                       "kept": obj({"clinicalProformas": INT, "adlFiles": INT})},
            description="Deliberate difference: archived exactly as an adult patient is; nothing is deleted."),
        "child_patient_move_to_adult": Op(
            "Child patients", "Move a child of 18 or more to the adult clinic",
            obj({"patient": ref("Patient")}), message="Moved from the child clinic to the adult clinic",
            errors=(), body_required=False,
            description="One record, one CR number, all history kept; `clinic` becomes adult and "
                        "`adult_since` today (IST)."),
        "followups_by_child_patient": Op(
            "Follow-ups", "A child's follow-up notes", obj({"followups": arr("FollowUp"),
                                                            "pagination": ref("Pagination")}),
            message="Follow-up visits retrieved successfully"),
    }


OPENAPI = _openapi()
