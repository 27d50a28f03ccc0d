"""/api/patient-files (api-contract.md §7) and the /api/patients/.../files aliases (§5).

Thin adapters over ``patients.files``. A file's "path" in JSON is the authorised
download route ``/api/patient-files/<patient_id>/download/<file_id>``.
"""
from __future__ import annotations

import json

from flask import request
from werkzeug.routing import PathConverter

from ..auth.guard import principal
from ..errors import ValidationError
from ..patients import files as files_service
from ..patients.files_views import download_response
from ..patients.reading import get_patient
from . import bp
from .envelope import ok, parse_json
from .openapi_schema import BOOL, FILES_AND_RECORD, INT, STR, arr, files_multipart, null, obj, Op, ref
from .users import parse_id

class _FilePathConverter(PathConverter):
    """Like ``path`` but may start with "/": the stored path is sent URL-encoded
    (``%2Fapi%2F...``) and arrives decoded. The service decides what is acceptable."""
    regex = ".+?"
    part_isolating = False


@bp.record_once
def _register_converter(state):
    state.app.url_map.converters.setdefault("filepath", _FilePathConverter)


FILE_FIELDS = ("files", "attachments[]")
UNEXPECTED_FIELD = 'Unexpected file field name. Use "files" or "attachments[]" as the field name.'
INVALID_PATIENT_ID = "Invalid patient ID format"


def _uploaded() -> list:
    """The uploaded files of this request, from the two accepted field names only."""
    for key in request.files.keys():
        if key not in FILE_FIELDS:
            raise ValidationError(UNEXPECTED_FIELD)
    storages = []
    for key in FILE_FIELDS:
        storages.extend(request.files.getlist(key))
    if len(storages) > files_service.MAX_FILES:
        raise ValidationError(files_service.TOO_MANY)
    return storages


def _patient_id_field(raw) -> int:
    raw = (raw or "").strip() if isinstance(raw, str) else raw
    if not isinstance(raw, str) or not raw.isdecimal() or len(raw) > 9 or int(raw) < 1:
        raise ValidationError(INVALID_PATIENT_ID)
    return int(raw)


def _patient(patient_id: int):
    return get_patient(patient_id, audit_action=None)


def _listing_data(patient, actor, audit_read: bool = True) -> tuple[list, dict | None, bool, list]:
    listing = files_service.list_files(patient, actor, audit_read=audit_read)
    rows = listing.files
    rows_oldest_first = sorted(rows, key=lambda r: r.id)
    paths = [files_service.api_path(r) for r in rows_oldest_first]
    return paths, files_service.record_json(patient, rows), listing.can_edit, rows_oldest_first


def _files_to_remove() -> list[str]:
    """files_to_remove as an array (JSON body), a JSON string, or repeated form fields."""
    values: list = []
    if request.is_json:
        body = parse_json()
        if not isinstance(body, dict):
            raise ValidationError("Malformed JSON: the request body must be a JSON object")
        raw = body.get("files_to_remove", body.get("files_to_remove[]", []))
        values = raw if isinstance(raw, list) else [raw]
    else:
        values = request.form.getlist("files_to_remove") + request.form.getlist("files_to_remove[]")
    out: list[str] = []
    for v in values:
        if v is None or v == "":
            continue
        if isinstance(v, str) and v.strip().startswith("["):
            try:
                parsed = json.loads(v)
            except ValueError:
                raise ValidationError("files_to_remove must be an array of file paths")
            if not isinstance(parsed, list):
                raise ValidationError("files_to_remove must be an array of file paths")
            out.extend(parsed)
        else:
            out.append(v)
    if any(not isinstance(v, str) for v in out):
        raise ValidationError(files_service.INVALID_PATH)
    return out


# ------------------------------------------------------------------ handlers

def _create(patient_id: int | None = None):
    storages = _uploaded()
    if patient_id is None:
        patient_id = _patient_id_field(request.form.get("patient_id"))
    if not files_service._real_files(storages):
        raise ValidationError(files_service.NO_FILES)
    patient = _patient(patient_id)
    actor = principal()
    added = files_service.upload(patient, storages, actor)
    paths, record, _can_edit, rows = _listing_data(patient, actor, audit_read=False)
    return ok({"files": [files_service.api_path(r) for r in added], "record": record,
               "file_details": [files_service.file_json(r) for r in added]},
              f"{len(added)} file(s) uploaded successfully", 201)


def _update(raw_patient_id: str):
    patient_id = parse_id(raw_patient_id, "patient_id")
    storages = _uploaded()
    remove_refs = _files_to_remove()
    patient = _patient(patient_id)
    actor = principal()
    if not files_service._real_files(storages) and not remove_refs:
        raise ValidationError("No files to update")
    remove = []
    for ref in remove_refs:
        row = files_service.resolve_path(patient, ref)
        if row not in remove:
            remove.append(row)
    files_service.update(patient, storages, remove, actor)
    paths, record, _can_edit, _rows = _listing_data(patient, actor, audit_read=False)
    return ok({"files": paths, "record": record}, "Files updated successfully")


def _get(raw_patient_id: str):
    patient_id = parse_id(raw_patient_id, "patient_id")
    patient = _patient(patient_id)
    paths, record, can_edit, rows = _listing_data(patient, principal())
    return ok({"patient_id": patient.id, "files": paths, "record": record, "can_edit": can_edit,
               "file_details": [files_service.file_json(r) for r in rows]})


def _delete(raw_patient_id: str, file_ref):
    patient_id = parse_id(raw_patient_id, "patient_id")
    patient = _patient(patient_id)
    actor = principal()
    row = file_ref if not isinstance(file_ref, str) else files_service.resolve_path(patient, file_ref)
    files_service.delete_file(patient, row.id, actor)
    paths, record, _can_edit, _rows = _listing_data(patient, actor, audit_read=False)
    return ok({"files": paths, "record": record}, "File deleted successfully")


# ------------------------------------------------------------------ /api/patient-files

@bp.get("/patient-files/stats", endpoint="patient_files_stats")
def patient_files_stats():
    return ok({"stats": files_service.stats()})


def _register_file_routes() -> None:
    """The same four handlers under /api/patient-files (§7) and the /api/patients/files
    aliases (§5); only the endpoint names differ."""
    views = [("create", ["POST"], "/create", lambda: _create()),
             ("update", ["PUT"], "/update/<patient_id>", lambda patient_id: _update(patient_id)),
             ("get", ["GET"], "/<patient_id>", lambda patient_id: _get(patient_id)),
             ("delete", ["DELETE"], "/delete/<patient_id>/<filepath:file_path>",
              lambda patient_id, file_path: _delete(patient_id, file_path))]
    for prefix, endpoint in (("/patient-files", "patient_files_{}"), ("/patients/files", "patients_files_{}_alias")):
        for name, methods, path, view in views:
            bp.add_url_rule(prefix + path, endpoint.format(name), view, methods=methods,
                            merge_slashes=False)


@bp.get("/patient-files/<patient_id>/download/<file_id>", endpoint="patient_files_download")
def patient_files_download(patient_id, file_id):
    pid = parse_id(patient_id, "patient_id")
    fid = parse_id(file_id, "file_id")
    patient = _patient(pid)
    path, mime, name = files_service.open_for_download(patient, fid, principal())
    return download_response(path, mime, name)


# ------------------------------------------------------------------ /api/patients aliases (§5)

_register_file_routes()


@bp.post("/patients/<patient_id>/files", endpoint="patients_files_upload")
def patients_files_upload(patient_id):
    return _create(parse_id(patient_id, "id"))


@bp.get("/patients/<patient_id>/files", endpoint="patients_files_list")
def patients_files_list(patient_id):
    pid = parse_id(patient_id, "id")
    patient = _patient(pid)
    paths, _record, _can_edit, _rows = _listing_data(patient, principal())
    return ok({"files": paths, "count": len(paths)})


@bp.delete("/patients/<patient_id>/files/<filepath:file_ref>", endpoint="patients_files_remove",
           merge_slashes=False)
def patients_files_remove(patient_id, file_ref):
    """``file_ref``: the file id, its stored name or its path as returned by the API."""
    pid = parse_id(patient_id, "id")
    if file_ref.isdecimal():
        ref = parse_id(file_ref, "file_id")
        patient = _patient(pid)
        row = files_service.find_file(patient, ref)
    else:
        patient = _patient(pid)
        row = files_service.resolve_path(patient, file_ref)
    return _delete(str(pid), row)


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

FILES_CREATE = obj({"files": arr(STR), "record": null(ref("PatientFileRecord")),
                    "file_details": arr("PatientFile")})

OPENAPI = {
    # ---------------------------------------------------------------- patient files
    "patient_files_stats": Op("Patient files", "File statistics", obj({"stats": obj({k: INT for k in (
        "total_records", "patients_with_files", "total_files", "files_this_month", "files_this_week")})})),
    "patient_files_download": Op("Patient files", "Download a stored file",
                                 content={"application/octet-stream": {"schema": {
                                     "type": "string", "contentMediaType": "application/octet-stream"}}},
                                 description="Images inline, other types as attachments; the Content-Type is "
                                             "the type detected at upload."),
    "patient_files_create": Op("Patient files", "Upload files for a patient", FILES_CREATE, status=201,
                               message="1 file(s) uploaded successfully",
                               multipart=files_multipart(with_patient=True), errors=(404,)),
    "patient_files_update": Op("Patient files", "Add and remove a patient's files", FILES_AND_RECORD,
                               message="Files updated successfully", multipart=files_multipart(removals=True),
                               body=obj({"files_to_remove": {"anyOf": [arr(STR), STR]}}), errors=(403,)),
    "patient_files_get": Op("Patient files", "A patient's files", obj({
        "patient_id": INT, "files": arr(STR), "record": null(ref("PatientFileRecord")), "can_edit": BOOL,
        "file_details": arr("PatientFile")})),
    "patient_files_delete": Op("Patient files", "Delete one file", FILES_AND_RECORD,
                               message="File deleted successfully", errors=(403,)),
    "patients_files_upload": Op("Patient files", "Upload files for a patient (patients path)", FILES_CREATE,
                                status=201, message="1 file(s) uploaded successfully",
                                multipart=files_multipart()),
    "patients_files_list": Op("Patient files", "A patient's file paths (patients path)",
                              obj({"files": arr(STR), "count": INT})),
    "patients_files_remove": Op("Patient files", "Delete one file (patients path)", FILES_AND_RECORD,
                                message="File deleted successfully", errors=(403,)),
}
for _name in ("create", "update", "get", "delete"):  # the /api/patients/files/... aliases
    _spec = OPENAPI[f"patient_files_{_name}"]
    OPENAPI[f"patients_files_{_name}_alias"] = Op(**{**_spec.__dict__, "summary": _spec.summary + " (patients path)"})
