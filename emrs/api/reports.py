"""/api/patients/:id/report and /api/patients/reports/bulk: the patient report as a file
(emrs/reports/service.py decides who sees which sections and audits every export)."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..reports import render, service
from . import bp
from .envelope import json_body
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
