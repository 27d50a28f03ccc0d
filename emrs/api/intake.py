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
