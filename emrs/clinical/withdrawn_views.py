"""Withdrawn records (Admin): proformas and prescriptions that were withdrawn and patient files
that were deleted. Nothing clinical is hard-deleted by the app: each can be restored here, and a
deleted file can be purged from disk once its retention period (FILE_RETENTION_DAYS) is over.
Every restore and purge is audited."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..errors import DomainError
from ..patients import files as patient_files
from ..prescriptions import service as rx
from . import bp, service

ID = "int(max=2147483647)"


@bp.get("/withdrawn", endpoint="withdrawn")
def withdrawn():
    return render_template("clinical/withdrawn.html", **service.withdrawn_records(),
                           purge_due=patient_files.purge_due)


@bp.post(f"/withdrawn/<kind>/<{ID}:record_id>/restore", endpoint="withdrawn_restore")
def withdrawn_restore(kind: str, record_id: int):
    actor = principal()
    try:
        if kind == "proforma":
            service.restore(service.get(record_id, actor, audit_read=False, include_withdrawn=True), actor)
        elif kind == "prescription":
            rx.restore(rx.get(record_id, actor, audit_read=False, include_withdrawn=True), actor)
        elif kind == "file":
            patient_files.restore_file(record_id, actor)
        elif kind == "followup":
            from ..followups import service as followups
            followups.restore(followups.get(record_id, actor, audit_read=False, include_withdrawn=True), actor)
        else:
            abort(404)
        flash(f"The {'follow-up note' if kind == 'followup' else kind} was restored.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("clinical.withdrawn"))


@bp.post(f"/withdrawn/file/<{ID}:file_id>/purge", endpoint="withdrawn_purge")
def withdrawn_purge(file_id: int):
    try:
        row = patient_files.purge_file(file_id, principal())
        flash(f"“{row.original_name}” was removed from disk. Its record stays in the audit trail.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("clinical.withdrawn"))
