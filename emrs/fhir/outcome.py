"""FHIR responses: the content type, and errors as OperationOutcome resources.

Kept free of the domain so the guard and the error handlers can answer a /fhir
request in FHIR whatever went wrong (401, 403, 404, 405, 500 …)."""
from __future__ import annotations

import json

from flask import Response, request

FHIR_JSON = "application/fhir+json"

# HTTP status -> OperationOutcome.issue.code (R4 value set issue-type).
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 413: "too-long", 415: "not-supported",
               429: "throttled", 503: "transient"}


def is_fhir_path(path: str | None = None) -> bool:
    path = request.path if path is None else path
    return path == "/fhir" or path.startswith("/fhir/")


def fhir_response(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")), status=status,
                    content_type=f"{FHIR_JSON}; charset=utf-8")


def operation_outcome(message: str, status: int, code: str | None = None) -> dict:
    """One issue; ``code`` (e.g. SESSION_EXPIRED, as the API's envelope has it) goes in details."""
    issue = {"severity": "fatal" if status >= 500 else "error",
             "code": ISSUE_CODES.get(status, "exception" if status >= 500 else "processing")}
    if code:
        issue["details"] = {"text": code}
    issue["diagnostics"] = message
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_response(message: str, status: int, code: str | None = None) -> Response:
    resp = fhir_response(operation_outcome(message, status, code), status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="emrs-fhir"'
    return resp
