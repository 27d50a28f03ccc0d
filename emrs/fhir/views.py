"""/fhir: FHIR R4 read routes. Thin: check the query string, call the service, wrap the
resources in a Bundle. Authentication (bearer token) and roles: auth.guard and the
permission map; errors answer in OperationOutcome (emrs/doors.py) for these paths."""
from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlencode

from flask import request

from ..auth.guard import principal
from ..doors import fhir_response
from ..errors import DomainError, ValidationError
from . import bp, service

DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_PAGE = 100_000
JSON_FORMATS = ("json", "application/json", "application/fhir+json")
# The date of the capability statement below: change it when the statement changes.
CAPABILITY_DATE = "2026-12-05"


def _params(*allowed: str) -> dict[str, str]:
    """The query string: only the named parameters (plus _format, and _count/_page where
    given), each at most once. Anything else is a 400, not silently ignored."""
    known = set(allowed) | {"_format"}
    unknown = sorted(k for k in request.args if k not in known)
    if unknown:
        supported = ", ".join(sorted(known))
        raise ValidationError(f"Unsupported parameter(s): {', '.join(u[:50] for u in unknown)}. "
                              f"Supported here: {supported}")
    for key in request.args:
        if len(request.args.getlist(key)) > 1:
            raise ValidationError(f"{key} may be given only once")
    fmt = request.args.get("_format")
    if fmt is not None and fmt.split(";")[0].strip() not in JSON_FORMATS:
        raise DomainError("Only JSON is served: _format=json or application/fhir+json", status=406)
    return {k: request.args[k] for k in request.args}


def _int_param(params: dict, name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 9 or int(raw) < 1:
        raise ValidationError(f"{name} must be a positive whole number")
    return min(int(raw), maximum)


def _paging(params: dict) -> tuple[int, int]:
    count = _int_param(params, "_count", DEFAULT_COUNT, MAX_COUNT)  # larger asks are capped
    page = _int_param(params, "_page", 1, MAX_PAGE)
    return page, count


def _base() -> str:
    """The FHIR base on PUBLIC_BASE_URL: never the request's Host header, which the caller
    chooses (links given out must not point a client, with its token, elsewhere)."""
    from ..web import public_url
    return public_url(bp.url_prefix)


def _url(params: dict) -> str:
    from ..web import public_url
    query = urlencode({k: v for k, v in params.items() if k != "_format"})
    return public_url(request.path) + (f"?{query}" if query else "")


def _self_url() -> str:
    from ..web import public_url
    query = request.query_string.decode("latin-1")
    return public_url(request.path) + (f"?{query}" if query else "")


def _bundle(resources: list[dict], *, total: int | None, params: dict | None = None, page: int = 1,
            count: int | None = None, more: bool = False, modes: list[str] | None = None) -> dict:
    base = _base()
    links = [{"relation": "self", "url": _self_url()}]
    if params is not None and count is not None:
        if more:
            links.append({"relation": "next", "url": _url({**params, "_count": str(count), "_page": str(page + 1)})})
        if page > 1:
            links.append({"relation": "previous",
                          "url": _url({**params, "_count": str(count), "_page": str(page - 1)})})
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()),
              "meta": {"lastUpdated": dt.datetime.now(dt.timezone.utc).isoformat()},
              "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    bundle["entry"] = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                        "search": {"mode": (modes[i] if modes else "match")}}
                       for i, r in enumerate(resources)]
    return bundle


# ------------------------------------------------------------------ routes

@bp.get("/metadata", endpoint="metadata")
def metadata():
    _params()
    return fhir_response(service.capability_statement(_base(), CAPABILITY_DATE))


@bp.get("/Patient/<patient_id>", endpoint="patient_read")
def patient_read(patient_id):
    _params()
    return fhir_response(service.read_patient(patient_id))


@bp.get("/Patient", endpoint="patient_search")
def patient_search():
    params = _params("identifier", "name", "_count", "_page")
    page, count = _paging(params)
    if ("identifier" in params) == ("name" in params):
        raise ValidationError("Search patients by identifier=<system>|<value> or by name=<text> (one of the two)")
    resources, total, estimated = service.search_patients(identifier=params.get("identifier"),
                                                          name=params.get("name"), page=page, count=count)
    more = page * count < total
    return fhir_response(_bundle(resources, total=None if estimated else total, params=params, page=page,
                                 count=count, more=more))


def _for_patient(resource_type: str):
    params = _params("patient", "_count", "_page")
    page, count = _paging(params)
    if not params.get("patient", "").strip():
        raise ValidationError(f"{resource_type} search needs patient=<id>")
    found = service.search_for_patient(resource_type, params["patient"], principal(), base=_base())
    shown = found[(page - 1) * count: page * count]
    return fhir_response(_bundle(shown, total=len(found), params=params, page=page, count=count,
                                 more=page * count < len(found)))


@bp.get("/Encounter", endpoint="encounter_search")
def encounter_search():
    return _for_patient("Encounter")


@bp.get("/Condition", endpoint="condition_search")
def condition_search():
    return _for_patient("Condition")


@bp.get("/MedicationRequest", endpoint="medication_request_search")
def medication_request_search():
    return _for_patient("MedicationRequest")


@bp.get("/QuestionnaireResponse", endpoint="questionnaire_response_search")
def questionnaire_response_search():
    return _for_patient("QuestionnaireResponse")


@bp.get("/Observation", endpoint="observation_search")
def observation_search():
    return _for_patient("Observation")


@bp.get("/Questionnaire", endpoint="questionnaire_search")
def questionnaire_search():
    """Every rating-scale instrument (no patient data)."""
    params = _params("_count", "_page")
    page, count = _paging(params)
    found = service.questionnaires(_base())
    return fhir_response(_bundle(found[(page - 1) * count: page * count], total=len(found), params=params,
                                 page=page, count=count, more=page * count < len(found)))


@bp.get("/Questionnaire/<resource_id>", endpoint="questionnaire_read")
def questionnaire_read(resource_id):
    _params()
    return fhir_response(service.read_questionnaire(resource_id, _base()))


def _read(resource_type: str, resource_id: str):
    _params()
    return fhir_response(service.read_resource(resource_type, resource_id, principal(), base=_base()))


@bp.get("/Encounter/<resource_id>", endpoint="encounter_read")
def encounter_read(resource_id):
    return _read("Encounter", resource_id)


@bp.get("/Condition/<resource_id>", endpoint="condition_read")
def condition_read(resource_id):
    return _read("Condition", resource_id)


@bp.get("/MedicationRequest/<resource_id>", endpoint="medication_request_read")
def medication_request_read(resource_id):
    return _read("MedicationRequest", resource_id)


@bp.get("/QuestionnaireResponse/<resource_id>", endpoint="questionnaire_response_read")
def questionnaire_response_read(resource_id):
    return _read("QuestionnaireResponse", resource_id)


@bp.get("/Observation/<resource_id>", endpoint="observation_read")
def observation_read(resource_id):
    return _read("Observation", resource_id)


@bp.get("/Patient/<patient_id>/$everything", endpoint="patient_everything")
def patient_everything(patient_id):
    _params()
    resources = service.everything(patient_id, principal(), base=_base())
    modes = ["match"] + ["include"] * (len(resources) - 1)
    return fhir_response(_bundle(resources, total=1, modes=modes))
