"""/api/patients/:id/report and /api/patients/reports/bulk: the patient report as a file
(emrs/reports/service.py decides who sees which sections and audits every export)."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..reports import render, service
from . import bp
from .envelope import json_body
from .openapi_schema import DATE, ID, Op, obj, query
from .users import parse_id


@bp.get("/patients/<patient_id>/report", endpoint="patients_report")
def patients_report(patient_id):
    """?format=xlsx | pdf (html: the same PDF, the original's print view). The file itself."""
    pid = parse_id(patient_id)
    fmt = service.parse_format(request.args.get("format"))
    return render.file_response(service.patient_report(pid, principal(), fmt), fmt)


@bp.post("/patients/reports/bulk", endpoint="patients_reports_bulk")
def patients_reports_bulk():
    """{format: 'xlsx', date_from?, date_to?, patient_ids?[]}: one workbook of many patients."""
    return render.file_response(service.bulk_report(json_body(), principal()), "xlsx")


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

OPENAPI = {
    "patients_report": Op("Patients", "The patient's report (A4 PDF or Excel)", params=(
        query("format", {"type": "string", "enum": ["pdf", "xlsx", "html"]},
              "pdf (default; html is the same PDF) or xlsx."),),
        content={"application/pdf": {"schema": _BINARY}, XLSX: {"schema": _BINARY}},
        description="Details, the first walk-in proforma, the intake record, follow-up notes and prescriptions "
                    "with strengths (Excel: one sheet per kind, one row per medicine line). A welfare officer gets "
                    "the patient's details only. Every export is audited."),
    "patients_reports_bulk": Op("Patients", "Excel of many patients", body=obj({
        "format": {"type": "string", "enum": ["xlsx"]}, "date_from": DATE, "date_to": DATE,
        "patient_ids": {"type": "array", "maxItems": 1000, "items": ID}}, required=()),
        content={XLSX: {"schema": _BINARY}}, errors=(403, 404),
        description="Patients registered in the IST date range and/or the listed ids, at most 1,000 (400 beyond); "
                    "404 when none. Junior Residents export one patient at a time (403). Audited per patient."),
}
