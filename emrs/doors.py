"""The doors a request comes in by, and how each one answers an error.

    page       a browser page: a whole HTML document
    fragment   part of a page for htmx (``HX-Request: true``, not a boosted link)
    api        the JSON API under /api: bearer tokens, the envelope of domain/api-contract.md
    fhir       FHIR R4 under /fhir: the same bearer tokens, FHIR resources

This module is the one place that tells the doors apart and the one place that says how
each answers a refusal: the API with the envelope ``{"success": false, "message": ...}``,
FHIR with an OperationOutcome, a page or a fragment with the error page. A domain error
(``emrs.errors.DomainError``) that a view does not turn into something better itself
(a form with its errors, a flash message) is answered here, by a handler registered once
on the app (``register``): no view needs a decorator for it.

It imports nothing of the application above ``errors`` and ``extensions``, so every door
module (auth.guard, web, the blueprints) may import it and it imports none of them.
"""
from __future__ import annotations

import json

from flask import Response, jsonify, render_template, request

from .errors import DomainError
from .extensions import db

PAGE, FRAGMENT, API, FHIR = "page", "fragment", "api", "fhir"


# ------------------------------------------------------------------ which door

def _under(prefix: str) -> bool:
    return request.path == prefix or request.path.startswith(prefix + "/")


def is_api() -> bool:
    """/api: the JSON API (whichever route, or none: an unknown /api path is still the API)."""
    return _under("/api")


def is_fhir() -> bool:
    """/fhir: authenticates exactly like /api (bearer token) but answers in FHIR."""
    return _under("/fhir")


def is_api_or_fhir() -> bool:
    """The doors for other systems: bearer tokens, no session cookie, no CSRF, no pages."""
    return is_api() or is_fhir()


def sent_by_htmx() -> bool:
    """Any request htmx sent, a boosted link or form included (it swaps whatever comes
    back, so a redirect to the sign-in page must be an ``HX-Redirect``)."""
    return bool(request.headers.get("HX-Request"))


def is_htmx() -> bool:
    """The request wants a fragment of the page: htmx sent it, and not as a boosted link
    or form (those replace the whole body and want the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def wants_json() -> bool:
    """A page's script asks (htmx, or fetch preferring JSON, as autosave does): a refusal
    is answered in the envelope, not with a page or a redirect."""
    return sent_by_htmx() or request.accept_mimetypes.best == "application/json"


def door() -> str:
    if is_fhir():
        return FHIR
    if is_api():
        return API
    return FRAGMENT if is_htmx() else PAGE


def wants_api_root() -> bool:
    """`GET /` from an API client (an Accept header without text/html, as curl's `*/*`;
    not htmx) gets the API's root document; a browser, which always asks for text/html,
    gets the dashboard."""
    if request.path != "/" or request.method != "GET" or sent_by_htmx() or not request.headers.get("Accept"):
        return False
    return not any(mime == "text/html" for mime, _q in request.accept_mimetypes)


# ------------------------------------------------------------------ how each door answers

def envelope_error(message: str, status: int = 400, **extra) -> Response:
    """The API's error envelope: ``{"success": false, "message": ...}`` plus any of
    ``extra`` that is not None (``code``, ``errors``, ``availableRoutes`` ...)."""
    body = {"success": False, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = jsonify(body)
    resp.status_code = status
    return resp


FHIR_JSON = "application/fhir+json"

# HTTP status -> OperationOutcome.issue.code (R4 value set issue-type).
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 409: "conflict", 413: "too-long", 415: "not-supported",
               429: "throttled", 503: "transient"}


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
    """FHIR's error answer: an OperationOutcome with the message and status."""
    resp = fhir_response(operation_outcome(message, status, code), status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="emrs-fhir"'
    return resp


def api_or_fhir_error(message: str, status: int, code: str | None = None, **extra) -> Response:
    """A refusal at the API or FHIR door, each in its own format (``extra`` is for the envelope)."""
    if is_fhir():
        return outcome_response(message, status, code)
    return envelope_error(message, status, code=code, **extra)


PAGE_TITLES = {403: "Not permitted", 404: "Not found"}


def page_error(message: str, status: int, title: str | None = None):
    """The error page (a fragment request gets it too: htmx leaves a 4xx/5xx unswapped)."""
    title = title or PAGE_TITLES.get(status) or ("Please try again" if status >= 500 else "Could not be done")
    return render_template("errors/error.html", status=status, title=title, message=message), status


def domain_error(exc: DomainError):
    """A service's refusal that no view handled: its message and status at every door
    (the envelope carries its field ``errors`` and ``code``). Nothing is kept."""
    db.session.rollback()
    if is_api_or_fhir():
        return api_or_fhir_error(exc.message, exc.status, code=exc.code or None, errors=exc.errors or None)
    return page_error(exc.message, exc.status)


def register(app) -> None:
    app.register_error_handler(DomainError, domain_error)
