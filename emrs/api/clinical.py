"""/api/clinical-proformas (contract §8): adapters over emrs.clinical.service."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..clinical import service
from ..errors import ValidationError, field_error
from ..patients import reading as patients
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .users import parse_id

PREFIX = "/clinical-proformas"


def _rx_block(rx) -> dict | None:
    if rx is None:
        return None
    return {"count": 1, "prescriptions": [rx.to_dict()]}


def _list(filters):
    page, limit = pagination()
    rows, total = service.list_proformas(filters, page, limit, principal())
    return ok({"proformas": service.proforma_dicts(rows), "pagination": page_object(page, limit, total)})


def _user_filter():
    raw = (request.args.get("user_id") or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or len(raw) > 9:
        raise ValidationError("Validation failed", errors=[field_error("user_id", "user_id must be a positive integer",
                                                                       raw[:20], "query")])
    return int(raw)


@bp.post(PREFIX, endpoint="proformas_create")
def proformas_create():
    proforma, record, rx = service.create(json_body(), principal())
    if record is not None:
        # Contract shape of the complex create: `prescriptions` is a sibling of `data`.
        return ok({"clinical_proforma": service.proforma_dict(proforma), "adl_file": record.to_dict()},
                  service.COMPLEX_CREATED, status=201, prescriptions=_rx_block(rx))
    return ok({"proforma": service.proforma_dict(proforma), "prescriptions": _rx_block(rx)},
              service.SIMPLE_CREATED, status=201)


@bp.get(PREFIX, endpoint="proformas_list")
def proformas_list():
    filters, errors = service.parse_filters(request.args)
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return _list(filters)


@bp.get(PREFIX + "/my-proformas", endpoint="proformas_mine")
def proformas_mine():
    return _list({"filled_by": principal().id})


@bp.get(PREFIX + "/complex-cases", endpoint="proformas_complex")
def proformas_complex():
    return _list({"doctor_decision": "complex_case"})


@bp.get(PREFIX + "/stats", endpoint="proformas_stats")
def proformas_stats():
    return ok({"stats": service.stats()})


@bp.get(PREFIX + "/decision-stats", endpoint="proformas_decision_stats")
def proformas_decision_stats():
    return ok({"decisionStats": service.decision_stats(_user_filter())})


@bp.get(PREFIX + "/visit-trends", endpoint="proformas_visit_trends")
def proformas_visit_trends():
    return ok({"trends": service.visit_trends(request.args.get("period", "week"), _user_filter())})


@bp.get(PREFIX + "/patient/<patient_id>", endpoint="proformas_by_patient")
def proformas_by_patient(patient_id):
    patient = patients.get_patient(parse_id(patient_id, "patient_id"), audit_action="proforma_list_view")
    return ok({"proformas": service.proforma_dicts(service.for_patient(patient.id, principal()))})


@bp.get(PREFIX + "/patient/<patient_id>/last-visit", endpoint="proformas_last_visit")
def proformas_last_visit(patient_id):
    patient = patients.get_patient(parse_id(patient_id, "patient_id"), audit_action="proforma_view")
    rows = service.for_patient(patient.id, principal())
    return ok({"proforma": service.proforma_dict(rows[0]) if rows else None})


@bp.get(PREFIX + "/<proforma_id>", endpoint="proformas_get")
def proformas_get(proforma_id):
    return ok({"proforma": service.proforma_dict(service.get(parse_id(proforma_id), principal()))})


@bp.get(PREFIX + "/<proforma_id>/versions", endpoint="proformas_versions")
def proformas_versions(proforma_id):
    """Every version of the proforma, oldest first (EMRS addition)."""
    row = service.get(parse_id(proforma_id), principal(), include_withdrawn=True)
    return ok({"proforma_id": row.id, "versions": service.version_history(row)})


@bp.post(PREFIX + "/<proforma_id>/restore", endpoint="proformas_restore")
def proformas_restore(proforma_id):
    """Admin: undo a withdrawal (EMRS addition)."""
    row = service.get(parse_id(proforma_id), principal(), audit_read=False, include_withdrawn=True)
    service.restore(row, principal())
    return ok({"proforma": service.proforma_dict(row)}, "Clinical proforma restored")


@bp.put(PREFIX + "/<proforma_id>", endpoint="proformas_update")
def proformas_update(proforma_id):
    row = service.get(parse_id(proforma_id), principal(), audit_read=False)
    proforma, record, rx = service.update(row, json_body(), principal())
    return ok({"clinical_proforma": service.proforma_dict(proforma),
               "adl_file": record.to_dict() if record is not None else None,
               "prescriptions": _rx_block(rx)}, "Clinical proforma updated successfully")


@bp.delete(PREFIX + "/<proforma_id>", endpoint="proformas_delete")
def proformas_delete(proforma_id):
    row = service.get(parse_id(proforma_id), principal(), audit_read=False)
    body = json_body(required=False)
    service.withdraw(row, principal(), body.get("reason") or request.args.get("reason"))
    return ok(message="Clinical proforma deleted successfully")
