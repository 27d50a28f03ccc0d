"""Report pages: the patient page's "Report (PDF)" and "Excel" buttons, the patients list's
bulk export form. Thin: the service decides who sees what and audits; render.py makes bytes."""
from __future__ import annotations

from flask import flash, redirect, request, url_for

from ..auth.guard import principal
from ..auth.permissions import DEPARTMENT, list_scope
from ..errors import DomainError
from ..pages import error_messages
from . import bp, render, service

ID = "int(max=2147483647)"


@bp.app_context_processor
def _bulk_export_allowed():
    def allowed() -> bool:
        user = principal()
        return user is not None and list_scope(user) == DEPARTMENT
    return {"may_bulk_export": allowed}


@bp.get(f"/patients/<{ID}:patient_id>/report", endpoint="patient_report")
def patient_report(patient_id: int):
    fmt = service.parse_format(request.args.get("format"))
    return render.file_response(service.patient_report(patient_id, principal(), fmt), fmt)


@bp.post("/patients/reports/bulk", endpoint="bulk")
def bulk():
    """The patients list's export form: registration dates (IST), at most 1,000 patients."""
    data = {"format": "xlsx", "date_from": request.form.get("date_from") or None,
            "date_to": request.form.get("date_to") or None}
    try:
        report = service.bulk_report(data, principal())
    except DomainError as exc:
        flash("Export not made: " + " ".join(error_messages(exc)), "error")
        return redirect(url_for("patients.index"))
    return render.file_response(report, "xlsx")
