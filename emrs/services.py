"""Service mode: one codebase deployed either as one process or as the spec's five
services (api-contract.md §11), selected with ``EMRS_SERVICES``.

Every blueprint is always registered, so ``url_for`` keeps working in every template;
the endpoints of services that are not enabled are *refused* before authentication
with a 404 (the API's envelope, or the 404 page), and navigation hides them (they are
stored in ``app.config["EMRS_DISABLED_ENDPOINTS"]``).

Always served, whatever the mode: ``/health``, static files, the dashboard (``/``,
``/calendar``, ``/api/dashboard``: its figures cross every service), the API docs and the
sign-in/account pages (``/login``, ``/logout``, ``/profile`` …) — a page of any
service must be able to send an anonymous user to sign in. The ``user`` service owns
the user administration pages (``/admin/…``), the audit trail, ``/api/users``,
``/api/session`` and the ``/api`` root.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, request

USER = "user"
PATIENTS = "out-patients-card-and-out-patient-record"
CLINICAL = "adult-walk-in-clinical-performa"
INTAKE = "out-patient-intake-record"
PRESCRIPTION = "prescription"
SERVICES = (USER, PATIENTS, CLINICAL, INTAKE, PRESCRIPTION)

# API path prefixes (a prefix matches itself and anything below "<prefix>/").
# `/api/sessions` (visits) is served by both the patient service (this codebase keeps
# visits with the patient record) and the user service, where the spec's gateway
# table (§11) routes it.
API_PREFIXES: dict[str, tuple[str, ...]] = {
    USER: ("/api", "/api/users", "/api/session", "/api/sessions"),
    PATIENTS: ("/api/patients", "/api/patient-cards", "/api/out-patient-records",
               "/api/patient-files", "/api/sessions", "/api/rooms", "/api/referrals", "/api/child-patient",
               "/api/instruments", "/api/assessments"),
    CLINICAL: ("/api/clinical-proformas", "/api/clinical-options", "/api/icd", "/api/icd11",
               "/api/follow-ups"),
    INTAKE: ("/api/outpatient-intake-records", "/api/adl-files", "/api/child-cap-workup"),
    PRESCRIPTION: ("/api/prescriptions", "/api/medicines"),
}

# Blueprints outside /api owned by one service (FHIR R4 read access, the OPD day — rooms,
# queues, referrals — and patient reports go with the patient record; follow-up notes with
# the clinical notes). The dashboard (`/`, `/calendar`, `/api/dashboard`) stays shared.
PAGE_BLUEPRINTS: dict[str, tuple[str, ...]] = {
    USER: ("audit",),
    # rating scales: their pages hang off the patient (/patients/<id>/assessments), as does their API
    PATIENTS: ("patients", "fhir", "opd", "reports", "children", "assessments"),
    CLINICAL: ("clinical", "drafts", "followups"),
    INTAKE: ("intake", "cap"),  # a child's CAP work-up is the child's intake record
    PRESCRIPTION: ("prescriptions",),
}
# Pages of the auth blueprint under these paths belong to the user service.
USER_PAGE_PREFIXES = ("/admin",)


def parse_services(value) -> tuple[str, ...]:
    """``EMRS_SERVICES`` (comma string or list) -> the enabled services, in spec order.

    Empty or unset means all five. An unknown name is a startup error.
    """
    if value is None:
        return SERVICES
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(i).strip() for i in items if str(i).strip()]
    if not names:
        return SERVICES
    for name in names:
        if name not in SERVICES:
            raise ValueError(f"EMRS_SERVICES: unknown service {name!r}; "
                             f"known services: {', '.join(SERVICES)}")
    return tuple(s for s in SERVICES if s in names)


def _matches(path: str, prefix: str) -> bool:
    if prefix == "/api":  # the root only, not everything under it
        return path.rstrip("/") == "/api"
    return path == prefix or path.startswith(prefix + "/")


def services_of_rule(blueprint: str | None, path: str) -> set[str] | None:
    """The services that serve one URL rule; None = shared (served by every process)."""
    if path == "/api" or path.startswith("/api/"):
        owners = {s for s, prefixes in API_PREFIXES.items() if any(_matches(path, p) for p in prefixes)}
        return owners or None
    if blueprint == "auth":
        return {USER} if any(_matches(path, p) for p in USER_PAGE_PREFIXES) else None
    owners = {s for s, bps in PAGE_BLUEPRINTS.items() if blueprint in bps}
    return owners or None


def disabled_endpoints(app: Flask, enabled: tuple[str, ...]) -> frozenset[str]:
    """Endpoints none of whose URL rules belongs to an enabled (or shared) service."""
    owners: dict[str, set[str] | None] = {}
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        rule_owners = services_of_rule(blueprint, rule.rule)
        if rule.endpoint in owners and owners[rule.endpoint] is None:
            continue
        if rule_owners is None:
            owners[rule.endpoint] = None
        else:
            owners.setdefault(rule.endpoint, set()).update(rule_owners)
    on = set(enabled)
    return frozenset(ep for ep, svc in owners.items() if svc is not None and not (svc & on))


def configure(app: Flask) -> None:
    """Read EMRS_SERVICES (after all blueprints are registered) and store the result."""
    enabled = parse_services(app.config.get("EMRS_SERVICES"))
    app.config["EMRS_ENABLED_SERVICES"] = enabled
    app.config["EMRS_DISABLED_ENDPOINTS"] = disabled_endpoints(app, enabled)


def refuse_disabled():
    """before_request: a route of a service this process does not run is not found."""
    if request.endpoint in current_app.config.get("EMRS_DISABLED_ENDPOINTS", ()):
        abort(404)


def is_enabled_endpoint(endpoint: str) -> bool:
    return endpoint not in current_app.config.get("EMRS_DISABLED_ENDPOINTS", ())


def service_name(app: Flask) -> str:
    """The `service` of /health: the one enabled service, else EMRS_SERVICE_NAME."""
    enabled = app.config.get("EMRS_ENABLED_SERVICES") or SERVICES
    if len(enabled) == 1:
        return enabled[0]
    return app.config.get("EMRS_SERVICE_NAME") or "emrs"
