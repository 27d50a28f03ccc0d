"""Out-patient intake record = ADL file (contract §9): the same handlers under the
spec's ``/api/outpatient-intake-records`` and the legacy ``/api/adl-files``.

Routes are registered by one loop over both prefixes, static paths before
``/<id>``, so the two answer identically. Endpoints: ``api.intake_<name>`` and
``api.adl_<name>``.
"""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..errors import ValidationError
from ..intake import record_room
from ..intake import service
from ..patients import reading as patients
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import (DATE_RANGE, DATETIME, ID, INT, INTAKE_FILE, NUM, OPTIONAL_NOTE, STR, arr, list_of,
                             null, obj, Op, page_params, query, ref)
from .users import parse_id

PREFIXES = (("/outpatient-intake-records", "intake"), ("/adl-files", "adl"))


def _record(record_id: str, audit_read: bool = True):
    return service.get(parse_id(record_id), audit_read=audit_read)


# ------------------------------------------------------------------ collection

def list_files():
    filters, errors = record_room.parse_filters(request.args)
    page, limit = pagination()
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    include_all = (request.args.get("include_all") or "").strip().lower() in ("true", "1", "yes")
    rows, total = record_room.list_records(filters, page, limit, include_all=include_all, reader=principal())
    return ok({"files": record_room.record_api_dicts(rows, principal()), "pagination": page_object(page, limit, total)})


def create_file():
    record, created = service.upsert(json_body(), principal())
    if created:
        return ok({"adl_file": record_room.record_api_dict(record, principal())}, "ADL file created successfully", status=201)
    return ok({"adl_file": record_room.record_api_dict(record, principal())}, "ADL file updated successfully")


def stats():
    return ok({"stats": record_room.stats()})


def status_stats():
    return ok({"statusStats": record_room.status_stats()})


def active():
    return ok({"activeFiles": record_room.for_reader(record_room.active_files(), principal())})


def to_retrieve():
    return ok({"filesToRetrieve": record_room.for_reader(record_room.all_to_retrieve(), principal())})


def _ids():
    body = json_body(required=False)
    ids = body.get("file_ids")
    if not isinstance(ids, list) or not ids:
        raise ValidationError("File IDs array is required")
    return ids


def bulk_retrieve():
    done, errors = record_room.bulk_retrieve(_ids(), principal())
    return ok({"retrieved": record_room.record_api_dicts(done, principal()), "errors": errors},
              f"Retrieved {len(done)} files successfully")


def bulk_return():
    done, errors = record_room.bulk_return(_ids(), principal())
    return ok({"returned": record_room.record_api_dicts(done, principal()), "errors": errors},
              f"Returned {len(done)} files successfully")


def by_patient(patient_id):
    patient = patients.get_patient(parse_id(patient_id, "patient_id"), audit_action="intake_list_view")
    return ok({"adlFiles": patients.intake_records(patient.id, principal())})


def by_adl_no(adl_no):
    return ok({"adlFile": record_room.record_api_dict(service.by_adl_no(adl_no), principal())})


# ------------------------------------------------------------------ one record

def get_file(record_id):
    return ok({"adlFile": record_room.record_api_dict(_record(record_id), principal())})


def update_file(record_id):
    record = _record(record_id, audit_read=False)
    body = dict(json_body())
    status = body.pop("file_status", None)
    store = False
    if status not in (None, "", record.file_status):
        if status == "stored" and record.file_status == "created":
            store = True
        else:
            raise ValidationError(f"The file status cannot be changed to {str(status)[:20]} here: use retrieve, "
                                  f"return or archive. Current status: {record.file_status}")
    location = body.pop("physical_file_location", None) if store else None
    if store and not body:
        record_room.store(record, principal(), location=location)
    else:
        try:
            service.update_workup(record, body, principal())
        except ValidationError as exc:
            if not (store and exc.message == "No valid fields to update"):
                raise
        if store:
            record_room.store(record, principal(), location=location)
    return ok({"adlFile": record_room.record_api_dict(record, principal())}, "ADL file updated successfully")


def delete_file(record_id):
    record_room.delete(_record(record_id, audit_read=False), principal())
    return ok(message="ADL file deleted successfully")


def retrieve(record_id):
    record = record_room.retrieve(_record(record_id, audit_read=False), principal(), note=_note())
    return ok({"adlFile": record_room.record_api_dict(record, principal())}, "ADL file retrieved successfully")


def return_file(record_id):
    record = record_room.return_file(_record(record_id, audit_read=False), principal(), note=_note())
    return ok({"adlFile": record_room.record_api_dict(record, principal())}, "ADL file returned to storage successfully")


def archive(record_id):
    record = record_room.archive(_record(record_id, audit_read=False), principal(), note=_note())
    return ok({"adlFile": record_room.record_api_dict(record, principal())}, "ADL file archived successfully")


def movement_history(record_id):
    record = _record(record_id)
    return ok({"adlFile": record_room.record_api_dict(record, principal()), "movementHistory": record_room.movement_history(record)})


def _note():
    body = json_body(required=False)
    return body.get("notes", body.get("note"))


# ------------------------------------------------------------------ registration (static paths first)

ROUTES = [
    ("", "list", list_files, ["GET"]),
    ("", "create", create_file, ["POST"]),
    ("/stats", "stats", stats, ["GET"]),
    ("/status-stats", "status_stats", status_stats, ["GET"]),
    ("/active", "active", active, ["GET"]),
    ("/to-retrieve", "to_retrieve", to_retrieve, ["GET"]),
    ("/bulk-retrieve", "bulk_retrieve", bulk_retrieve, ["POST"]),
    ("/bulk-return", "bulk_return", bulk_return, ["POST"]),
    ("/patient/<patient_id>", "by_patient", by_patient, ["GET"]),
    ("/adl/<adl_no>", "by_adl_no", by_adl_no, ["GET"]),
    ("/<record_id>", "get", get_file, ["GET"]),
    ("/<record_id>", "update", update_file, ["PUT"]),
    ("/<record_id>", "delete", delete_file, ["DELETE"]),
    ("/<record_id>/retrieve", "retrieve", retrieve, ["POST"]),
    ("/<record_id>/return", "return", return_file, ["POST"]),
    ("/<record_id>/archive", "archive", archive, ["POST"]),
    ("/<record_id>/movement-history", "movement_history", movement_history, ["GET"]),
]

ENDPOINT_NAMES = tuple(name for _path, name, _view, _methods in ROUTES)

for _prefix, _name in PREFIXES:
    for _path, _route, _view, _methods in ROUTES:
        bp.add_url_rule(_prefix + _path, f"{_name}_{_route}", _view, methods=_methods)


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

def _intake_ops(kind: str) -> dict:
    """The intake-record operations; the same under both prefixes (api/intake.py)."""
    legacy = kind == "adl"
    tag = "Intake records (legacy /api/adl-files)" if legacy else "Intake records"
    say = (lambda s: s + " (legacy path)") if legacy else (lambda s: s)
    from ..intake.models import INTAKE_FILE_STATUSES
    return {
        "list": Op(tag, say("List intake records"), list_of("files", "IntakeRecord"), params=(
            *page_params(),
            query("file_status", {"type": "string", "enum": list(INTAKE_FILE_STATUSES)}, "File status."),
            query("is_active", {"type": "string", "enum": ["true", "false"]}, "Active or not."),
            query("created_by", ID, "Creator (user id)."),
            query("last_accessed_by", ID, "Last accessed by (user id)."),
            *DATE_RANGE,
            query("include_all", {"type": "string", "enum": ["true", "false"]},
                  "true: every record; otherwise only those linked to a complex-case proforma.")),
            description="Newest first; the date range is on file_created_date."),
        "create": Op(tag, say("Create (or update) the patient's intake record"), obj({"adl_file": ref("IntakeRecord")}),
                     status=201, also=(200,), message="ADL file created successfully", body="IntakeRecordInput",
                     errors=(404,),
                     description="201 when created; 200 \"ADL file updated successfully\" when the patient "
                                 "already had one (one record per patient)."),
        "stats": Op(tag, say("Intake record statistics"), obj({"stats": obj({
            k: INT for k in ("total_files", "created_files", "stored_files", "retrieved_files", "archived_files",
                             "active_files", "inactive_files")} | {"avg_visits_per_file": NUM})})),
        "status_stats": Op(tag, say("Counts by file status"), obj({"statusStats": arr(obj({
            "file_status": {"type": "string", "enum": list(INTAKE_FILE_STATUSES)}, "count": INT}))})),
        "active": Op(tag, say("Files out of the record room"), obj({"activeFiles": arr({"allOf": [
            ref("IntakeRecord"), obj({"with_whom": null(STR), "retrieved_at": null(DATETIME)})]})})),
        "to_retrieve": Op(tag, say("Stored active files (to retrieve)"), obj({"filesToRetrieve": arr("IntakeRecord")})),
        "bulk_retrieve": Op(tag, say("Retrieve several files"), obj({"retrieved": arr("IntakeRecord"),
                                                                     "errors": arr(STR)}),
                            message="Retrieved 1 files successfully",
                            body=obj({"file_ids": {"type": "array", "minItems": 1, "items": ID}})),
        "bulk_return": Op(tag, say("Return several files to storage"), obj({"returned": arr("IntakeRecord"),
                                                                           "errors": arr(STR)}),
                          message="Returned 1 files successfully",
                          body=obj({"file_ids": {"type": "array", "minItems": 1, "items": ID}})),
        "by_patient": Op(tag, say("A patient's intake record"), obj({"adlFiles": arr("IntakeRecord")})),
        "by_adl_no": Op(tag, say("Intake record by ADL number"), INTAKE_FILE, errors=(404,)),
        "get": Op(tag, say("One intake record"), INTAKE_FILE),
        "update": Op(tag, say("Update the work-up or file fields"), INTAKE_FILE,
                     message="ADL file updated successfully", body="IntakeRecordUpdate", errors=(409,)),
        "delete": Op(tag, say("Archive an intake record"), message="ADL file deleted successfully",
                     description="Soft delete: the file is archived and made inactive."),
        "retrieve": Op(tag, say("Retrieve the file from the record room"), INTAKE_FILE,
                       message="ADL file retrieved successfully", body=OPTIONAL_NOTE, body_required=False),
        "return": Op(tag, say("Return the file to the record room"), INTAKE_FILE,
                     message="ADL file returned to storage successfully", body=OPTIONAL_NOTE, body_required=False),
        "archive": Op(tag, say("Archive the file"), INTAKE_FILE, message="ADL file archived successfully",
                      body=OPTIONAL_NOTE, body_required=False),
        "movement_history": Op(tag, say("Movements of the physical file"),
                               obj({"adlFile": ref("IntakeRecord"), "movementHistory": arr("FileMovement")})),
    }


OPENAPI = {f"{kind}_{name}": op for kind in ("intake", "adl") for name, op in _intake_ops(kind).items()}
