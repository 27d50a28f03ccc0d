"""Admin: the audit trail, filterable by patient (id or CR no.), user, action, record
kind and IST date range; one patient's and one user's trail; the filtered view as CSV."""
from __future__ import annotations

import csv
import io
import json

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for

from ..auth import users as accounts
from ..auth.models import User
from ..downloads import content_disposition
from ..extensions import db
from ..pages import page_number
from ..spreadsheet import safe_cell
from ..timeutil import IST, as_utc, ist_text, today_ist
from . import bp, service

ID = "int(max=2147483647)"


def _users() -> list[User]:
    return accounts.everyone()


def _render(f: service.Filters, errors: list[str], *, patient=None, patient_id=None, user=None):
    page = page_number()
    rows, total = service.search(f, page) if not errors else ([], 0)  # a bad filter shows nothing, never all
    for message in errors:
        flash(message, "warning")
    scope = {"patient_id": patient_id} if patient_id is not None else ({"user_id": user.id} if user else {})
    endpoint = "audit.patient" if patient_id is not None else ("audit.user" if user else "audit.index")
    # The scoped view's own filter is in its URL, not in the query string.
    args = {k: v for k, v in f.query_args().items()
            if not (patient_id is not None and k == "patient") and not (user and k == "user_id")}
    return render_template("audit/index.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // service.PAGE_SIZE)), f=f, args=args, link_args={**scope, **args}, endpoint=endpoint,
                           scope=scope, scope_patient=patient, scope_patient_id=patient_id, scope_user=user,
                           users=_users(), ist_time=ist_text, export_args=f.query_args(), **service.choices())


@bp.get("/")
def index():
    f, errors = service.parse_filters(request.args)
    return _render(f, errors)


@bp.get(f"/patient/<{ID}:patient_id>")
def patient(patient_id: int):
    """One patient's trail; the patient may have been archived (the trail stays)."""
    from ..patients.models import Patient
    f, errors = service.parse_filters(request.args)
    f.patient_id = patient_id
    return _render(f, errors, patient=db.session.get(Patient, patient_id), patient_id=patient_id)


@bp.get(f"/user/<{ID}:user_id>")
def user(user_id: int):
    who = db.session.get(User, user_id)
    if who is None:
        abort(404)
    f, errors = service.parse_filters(request.args)
    f.user_id = user_id
    return _render(f, errors, user=who)


COLUMNS = ["When (IST)", "User id", "User", "Action", "Record", "Record id", "Patient id", "Patient CR no.",
           "Patient", "IP address", "Request id", "Details"]


def _csv_row(row) -> list:
    log, user_name, patient_name, patient_cr = row
    when = as_utc(log.created_at)
    details = json.dumps(log.details, ensure_ascii=False, sort_keys=True) if log.details else ""
    return [safe_cell(v) for v in (
        when.astimezone(IST).isoformat(timespec="seconds"), log.user_id, user_name, log.action, log.entity,
        log.entity_id, log.patient_id, patient_cr, patient_name, log.ip_address, log.request_id, details)]


@bp.get("/export.csv")
def export():
    """The current filtered view as CSV, streamed (any size), newest first. Audited."""
    f, errors = service.parse_filters(request.args)
    if errors:
        for message in errors:
            flash(message, "warning")
        return redirect(url_for("audit.index", **f.query_args()))
    service.record_now("audit_export", "audit_log", None, patient_id=f.patient_id,
                       details={"filters": f.names()})

    def generate():
        buf = io.StringIO()
        writer = csv.writer(buf)
        buf.write("\ufeff")  # Excel opens UTF-8 (Devanagari, Gurmukhi names) only with the BOM
        writer.writerow(COLUMNS)
        for row in service.export_rows(f):
            writer.writerow(_csv_row(row))
            if buf.tell() > 16384:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    suffix = (f"-patient-{f.patient_id}" if f.patient_id else "") + (f"-user-{f.user_id}" if f.user_id else "")
    resp = Response(stream_with_context(generate()), mimetype="text/csv")
    resp.headers["Content-Disposition"] = content_disposition(f"audit{suffix}-{today_ist().isoformat()}.csv")
    resp.headers["Cache-Control"] = "no-store"
    return resp
