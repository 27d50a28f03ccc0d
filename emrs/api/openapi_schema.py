"""The vocabulary of the OpenAPI document: the schema helpers, the ``Op`` record of what one
endpoint means, and the shapes several API modules share. Each API module describes its own
routes in a module-level ``OPENAPI`` table (endpoint without "api." -> ``Op``), next to the
routes; ``api/openapi.py`` collects the tables of the modules the app's routes live in and
builds the one document."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import ARRAY

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
ID = {"type": "integer", "minimum": 1, "maximum": 999_999_999}  # what api.users.parse_id accepts


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def arr(item) -> dict:
    return {"type": "array", "items": ref(item) if isinstance(item, str) else item}


def null(schema: dict) -> dict:
    """The schema or JSON null."""
    t = schema.get("type")
    if isinstance(t, str) and "$ref" not in schema:
        out = {**schema, "type": [t, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def obj(props: dict, required=None, description: str | None = None) -> dict:
    """An object; by default every listed property is always present. Extra keys are allowed
    (clients must ignore keys they do not know)."""
    out = {"type": "object", "properties": props,
           "required": list(props) if required is None else list(required)}
    if description:
        out["description"] = description
    return out


def _column_schema(column) -> dict:
    t = column.type
    if isinstance(t, Boolean):
        s = dict(BOOL)
    elif isinstance(t, Integer):
        s = dict(INT)
    elif isinstance(t, Numeric):
        s = dict(NUM)
    elif isinstance(t, DateTime):
        s = dict(DATETIME)
    elif isinstance(t, Date):
        s = dict(DATE)
    elif isinstance(t, String):
        s = dict(STR)
    elif isinstance(t, (JSON, ARRAY)):
        s = {"type": "array"}
    else:  # pragma: no cover - a new column type must be mapped here
        raise TypeError(f"no JSON schema for column {column} of type {t!r}")
    return null(s) if column.nullable else s


def model_schema(model, *, exclude=(), only=None, extra: dict | None = None, overrides: dict | None = None,
                 descriptions: dict | None = None, description: str | None = None) -> dict:
    """What ``serialize.column_dict`` makes of a row: every column (by column name), always
    present, plus ``extra`` (keys the service adds, always present too)."""
    props = {}
    for column in model.__table__.columns:
        if column.name in exclude or (only is not None and column.name not in only):
            continue
        props[column.name] = _column_schema(column)
    if only is not None:
        props = {k: props[k] for k in only if k in props}
    props.update(overrides or {})
    props.update(extra or {})
    for name, text in (descriptions or {}).items():
        if name in props and "$ref" not in props[name]:
            props[name] = {**props[name], "description": text}
    return obj(props, description=description)


def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def page_params(default: int = 10, cap: int | None = None) -> tuple:
    capped = f" (at most {cap} are returned per page)" if cap else ""
    return (query("page", {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 1},
                  "Page number, from 1."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": default},
                  f"Items per page, 1–1000{capped}."))


DATE_RANGE = (query("date_from", DATE, "From this date (YYYY-MM-DD), inclusive."),
              query("date_to", DATE, "Up to this date (YYYY-MM-DD), inclusive."))


def patient_filters() -> tuple:
    from ..patients.search import AGE_BANDS
    return (
        query("sex", {"type": "string", "enum": ["M", "F", "Other"]}, "Sex."),
        query("age_band", {"type": "string", "enum": list(AGE_BANDS)}, "Age band."),
        *DATE_RANGE,
        query("doctor_id", ID, "Assigned doctor (user id); `assigned_doctor_id` is accepted too."),
        query("complexity", {"type": "string", "enum": ["simple", "complex"]},
              "Case complexity (complex = has an intake record); `case_complexity` is accepted too."),
        query("has_adl_file", {"type": "string", "enum": ["true", "false"]}, "Has an intake record."),
        query("file_status", {"type": "string",
                              "enum": ["none", "created", "stored", "retrieved", "active", "archived"]},
              "Status of the patient's intake record file."),
        query("assigned_room", {"type": "string", "maxLength": 20}, "Room today; `room` is accepted too."),
    )


@dataclass(frozen=True)
class Op:
    """What one endpoint means. ``data``: schema of the success envelope's ``data`` (None =
    no data); ``errors``: error statuses beyond those derived from the route (401/403 from
    the permission map, 400/404 for id path parameters, 400/413 for a body)."""
    tag: str
    summary: str
    data: dict | None = None
    status: int = 200
    also: tuple = ()  # other success statuses with the same body
    message: str | None = None
    params: tuple = ()
    body: str | dict | None = None
    body_required: bool = True
    multipart: dict | None = None
    errors: tuple = ()
    extra: dict | None = None
    description: str = ""
    security: str | None = None
    content: dict | None = None
    example: dict | None = None
    response_example: dict | None = None
    limited: bool = False


def list_of(key: str, item: str) -> dict:
    return obj({key: arr(item), "pagination": ref("Pagination")})


# Shapes several modules share.
PATIENT = obj({"patient": ref("Patient")})
PROFORMA_LIST = list_of("proformas", "Proforma")
INTAKE_FILE = obj({"adlFile": ref("IntakeRecord")})
RX = obj({"prescription": ref("Prescription")})
USER = obj({"user": ref("User")})
FILES_AND_RECORD = obj({"files": arr(STR), "record": null(ref("PatientFileRecord"))})
OPTIONAL_NOTE = obj({"notes": null({"type": "string", "maxLength": 1000}),
                     "note": {**null(STR), "description": "Alias of notes."}}, required=())
LABEL_BODY = obj({"label": {"type": "string", "minLength": 1, "maxLength": 255}}, required=("label",))


def files_multipart(with_patient: bool = False, removals: bool = False) -> dict:
    binary = {"type": "string", "contentMediaType": "application/octet-stream"}
    props = {"files": {"type": "array", "items": binary, "maxItems": 20,
                       "description": "Files (max 10 MB each, 20 per request; JPEG, PNG, GIF, WebP, PDF, DOC, "
                                      "DOCX, TXT — the type is checked from the content)."},
             "attachments[]": {"type": "array", "items": binary, "description": "Same as files."}}
    required = []
    if with_patient:
        props = {"patient_id": {"type": "string", "pattern": r"^\d{1,9}$"}, **props}
        required.append("patient_id")
    if removals:
        props["files_to_remove"] = {"type": "array", "items": STR,
                                    "description": "Paths to remove (repeated field, or one JSON array string)."}
    return {"type": "object", "properties": props, "required": required}
