"""/api/prescriptions (contract §10): adapters over emrs.prescriptions.service."""
from __future__ import annotations

from flask import Response, request

from ..auth import records
from ..auth.guard import principal
from ..doors import envelope_error
from ..errors import ValidationError, field_error
from ..prescriptions import service
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import ID, INT, RX, STR, arr, list_of, null, obj, Op, page_params, query
from .users import parse_id


def _dict(row, warnings=None):
    d = service.prescription_dict(row)
    if warnings is not None:
        d["warnings"] = warnings
    return d


@bp.post("/prescriptions", endpoint="prescriptions_create")
def prescriptions_create():
    row, warnings = service.save_for_proforma(json_body(), principal())
    n = len(row.lines or [])
    return ok({"prescription": _dict(row, warnings)},
              f"Prescription created successfully with {n} medication(s)", status=201)


@bp.get("/prescriptions", endpoint="prescriptions_list")
def prescriptions_list():
    page, limit = pagination()
    filters, errors = {}, []
    for key in ("patient_id", "clinical_proforma_id", "followup_id"):
        raw = (request.args.get(key) or "").strip()
        if raw:
            if raw.isdecimal() and len(raw) < 10:
                filters[key] = int(raw)
            else:
                errors.append(field_error(key, f"{key} must be a positive integer", raw[:20], "query"))
    decision = (request.args.get("doctor_decision") or "").strip()
    if decision:
        if decision in ("simple_case", "complex_case"):
            filters["doctor_decision"] = decision
        else:
            errors.append(field_error("doctor_decision", "doctor_decision must be simple_case or complex_case",
                                      decision[:20], "query"))
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    rows, total = service.list_prescriptions(filters, page, limit, principal())
    return ok({"prescriptions": [_dict(r) for r in rows], "pagination": page_object(page, limit, total)},
              "Prescriptions retrieved successfully")


@bp.get("/prescriptions/by-proforma/<proforma_id>", endpoint="prescriptions_by_proforma")
def prescriptions_by_proforma(proforma_id):
    clinical_proforma_id = parse_id(proforma_id, "clinical_proforma_id")
    records.check(principal(), records.READ, records.PRESCRIPTION)
    row = service.for_proforma(clinical_proforma_id)
    if row is None:
        return _not_found()
    service.get(row.id, principal())  # audited read
    return ok({"prescription": _dict(row)})


def _not_found():
    return envelope_error("Prescription not found", 404)


@bp.get("/prescriptions/by-patient/<patient_id>", endpoint="prescriptions_by_patient")
def prescriptions_by_patient(patient_id):
    from ..patients import reading as patients
    records.check(principal(), records.READ, records.PRESCRIPTION)
    patient = patients.get_patient(parse_id(patient_id, "patient_id"), audit_action="prescription_list_view")
    return ok({"prescriptions": [_dict(r) for r in service.for_patient(patient.id)]})


@bp.get("/prescriptions/<rx_id>", endpoint="prescriptions_get")
def prescriptions_get(rx_id):
    override = (request.args.get("clinical_proforma_id") or "").strip()
    if override:
        records.check(principal(), records.READ, records.PRESCRIPTION)
        row = service.for_proforma(parse_id(override, "clinical_proforma_id"))
        if row is None:
            return _not_found()
        service.get(row.id, principal())
    else:
        row = service.get(parse_id(rx_id), principal())
    return ok({"prescription": _dict(row)}, "Prescription retrieved successfully")


@bp.put("/prescriptions/<rx_id>", endpoint="prescriptions_update")
def prescriptions_update(rx_id):
    row = service.get(parse_id(rx_id), principal(), audit_read=False)
    row, warnings = service.update(row, json_body(), principal())
    return ok({"prescription": _dict(row, warnings)}, "Prescription updated successfully")


@bp.delete("/prescriptions/<rx_id>", endpoint="prescriptions_delete")
def prescriptions_delete(rx_id):
    """Withdraws the prescription (kept, marked, restorable by an Admin); the original deleted it."""
    row = service.get(parse_id(rx_id), principal(), audit_read=False)
    body = json_body(required=False)
    service.withdraw(row, principal(), body.get("reason") or request.args.get("reason"))
    return ok(message="Prescription deleted successfully")


@bp.get("/prescriptions/<rx_id>/versions", endpoint="prescriptions_versions")
def prescriptions_versions(rx_id):
    """Every version of the prescription, oldest first, with its signer and reason (EMRS addition)."""
    row = service.get(parse_id(rx_id), principal(), include_withdrawn=True)
    return ok({"prescription_id": row.id, "withdrawn_at": _dict(row)["withdrawn_at"],
               "versions": service.version_history(row)})


@bp.post("/prescriptions/<rx_id>/restore", endpoint="prescriptions_restore")
def prescriptions_restore(rx_id):
    """Admin: undo a withdrawal (EMRS addition)."""
    row = service.get(parse_id(rx_id), principal(), audit_read=False, include_withdrawn=True)
    service.restore(row, principal())
    return ok({"prescription": _dict(row)}, "Prescription restored")


@bp.get("/prescriptions/<rx_id>/pdf", endpoint="prescriptions_pdf")
def prescriptions_pdf(rx_id):
    from ..downloads import content_disposition
    from ..prescriptions.printing import pdf_for
    row = service.get(parse_id(rx_id), principal(), audit_read=False)  # the print's own audit row
    data, filename = pdf_for(row, request.args.get("size"))
    service.printed(row)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(filename, inline=True),
                             "Cache-Control": "no-store"})


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- prescriptions
    "prescriptions_create": Op("Prescriptions", "Save the prescription of a proforma", RX, status=201,
                               message="Prescription created successfully with 2 medication(s)",
                               body="PrescriptionInput", errors=(404, 409),
                               example={"patient_id": 1, "clinical_proforma_id": 1, "prescription": [
                                   {"medicine": "Escitalopram 10 mg", "dosage": "0-0-1", "when": "After food",
                                    "duration": "1 month", "qty": "30"},
                                   {"medicine": "Clonazepam 0.25 mg", "dosage": "0-0-1",
                                    "when_to_take": "Bedtime", "duration": "2 weeks"}]},
                               description="One prescription per proforma: a new save replaces its lines. "
                                           "`data.prescription.warnings` lists drug-safety warnings. "
                                           "`follow_up_date` is not before the proforma's `visit_date` (400). "
                                           "Lines without a medicine are dropped (as in the original); a "
                                           "prescription left with none is saved but never printed."),
    "prescriptions_list": Op("Prescriptions", "List prescriptions", list_of("prescriptions", "Prescription"),
                             message="Prescriptions retrieved successfully", params=(
                                 *page_params(), query("patient_id", ID, "Patient."),
                                 query("clinical_proforma_id", ID, "Proforma."),
                                 query("followup_id", ID, "Follow-up note."),
                                 query("doctor_decision", {"type": "string",
                                                           "enum": ["simple_case", "complex_case"]},
                                       "The proforma's decision."))),
    "prescriptions_by_proforma": Op("Prescriptions", "The prescription of a proforma", RX, errors=(404,)),
    "prescriptions_by_patient": Op("Prescriptions", "A patient's prescriptions",
                                   obj({"prescriptions": arr("Prescription")})),
    "prescriptions_get": Op("Prescriptions", "One prescription", RX, message="Prescription retrieved successfully",
                            params=(query("clinical_proforma_id", ID,
                                          "When given, the prescription of this proforma instead."),)),
    "prescriptions_update": Op("Prescriptions", "Replace a prescription's lines", RX,
                               message="Prescription updated successfully", body="PrescriptionUpdate",
                               errors=(409,)),
    "prescriptions_delete": Op("Prescriptions", "Delete (withdraw) a prescription",
                               message="Prescription deleted successfully", errors=(403,), body_required=False,
                               body=obj({"reason": {"type": "string", "maxLength": 1000}}),
                               description="Withdraws it: the prescription stays, marked, is no longer listed "
                                           "or printed, and an Admin can restore it."),
    "prescriptions_versions": Op("Prescriptions", "Every version of a prescription", obj({
        "prescription_id": INT, "withdrawn_at": null(STR), "versions": arr(obj({
            "version": INT, "prescription": {"type": "array", "items": {"type": "object"}},
            "follow_up_date": null(STR), "advice": null(STR), "signed_by": null(INT),
            "signed_by_name": null(STR), "signed_at": null(STR), "change_reason": null(STR),
            "superseded_at": null(STR), "current": {"type": "boolean"}}))}),
        description="Oldest first, the current version last: a signed prescription is never edited in place; "
                    "each version names its signer and the reason for the change."),
    "prescriptions_restore": Op("Prescriptions", "Restore a withdrawn prescription (Admin)", RX,
                                message="Prescription restored"),
    "prescriptions_pdf": Op("Prescriptions", "The printable prescription (PDF)",
                            description="400 `This prescription has no medicine, so there is nothing to "
                                        "print. …` when it has no medicine line.",
                            params=(query("size", {"type": "string", "enum": ["A4", "A5"]}, "Page size."),),
                            content={"application/pdf": {"schema": {"type": "string",
                                                                    "contentMediaType": "application/pdf"}}}),
}
