"""Follow-up pages: the form (required clinical assessment, optional files, autosaved draft),
the read-only note with its versions, amending, withdrawing, and the patient page's timeline
entries. Who may do what is the service's (auth/records.py) answer."""
from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for

from .. import timeline
from ..auth import records
from ..auth.guard import principal
from ..drafts import service as drafts
from ..errors import Conflict, DomainError
from ..extensions import db
from ..pages import form_errors
from ..patients import reading as patients
from ..submission import once_per_submission
from ..timeutil import ist_text, today_ist
from ..web import record_or_abort
from . import bp, service
from .models import MAX_ASSESSMENT

ID = "int(max=2147483647)"
NEW_KEY = "followup:new"


def _patient_or_404(patient_id: int, audit_action=None):
    try:
        return patients.get_patient(patient_id, audit_action=audit_action)
    except DomainError:
        abort(404)


def _followup_or_abort(followup_id: int, **kwargs):
    return record_or_abort(service.get, followup_id, principal(), **kwargs)


def _files_chosen():
    return [f for f in request.files.getlist("files") if f and f.filename]


def _render_form(patient, values, *, errors=None, general=None, status=200, draft=None, returning=True):
    from ..patients import files as patient_files
    last = service.for_patient(patient.id)[:1]
    return render_template(
        "followups/form.html", patient=patient, patient_info=patients.with_extras([patient])[0], values=values,
        field_errors=errors or {}, general=general or [], draft=draft, draft_key=NEW_KEY, returning=returning,
        today=today_ist(), max_length=MAX_ASSESSMENT, accept=patient_files.ACCEPT, max_files=patient_files.MAX_FILES,
        max_size=patient_files.MAX_FILE_SIZE, last=last[0] if last else None,
        total=service.total_visits(patient.id)), status


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@once_per_submission  # a second POST of the same form lands on the note the first one saved
def new():
    raw = request.values.get("patient_id", "")
    if not raw.isdecimal() or len(raw) > 9:
        abort(404)
    patient = _patient_or_404(int(raw))
    user = principal()
    if request.method == "POST":
        data = {"patient_id": patient.id, "clinical_assessment": request.form.get("clinical_assessment", ""),
                "visit_date": request.form.get("visit_date") or None}
        try:
            row, number, total = service.create(data, user, files=_files_chosen())
        except DomainError as exc:
            db.session.rollback()
            errors, general = form_errors(exc, keep_summary=True)
            return _render_form(patient, data, errors=errors, general=general,
                                status=422 if exc.status == 400 else exc.status)
        drafts.discard(user, patient.id, NEW_KEY, reason="submitted")
        flash(f"Follow-up visit {number} of {total} saved.", "success")
        return redirect(url_for("followups.show", followup_id=row.id))
    from ..audit import service as audit
    audit.record_now("followup_form_open", "registered_patient", patient.id, patient_id=patient.id)
    returning = service.returning(patient.id)
    draft = drafts.offer(user, patient.id, NEW_KEY) if returning else None
    values = dict(draft["data"]) if draft else {}
    values.setdefault("visit_date", today_ist().isoformat())
    general = [] if returning else [service.NOT_RETURNING.format(name=patient.name)]
    return _render_form(patient, values, general=general, draft=draft, returning=returning)


def _versions(row) -> list[dict]:
    """The note's versions for its page, newest first, with IST times."""
    out = []
    for v in service.version_history(row):
        when = {k: ist_text(dt.datetime.fromisoformat(v[k]), "%d %b %Y, %H:%M") + " IST" if v[k] else ""
                for k in ("authored_at", "superseded_at")}
        out.append({**v, "when": when["authored_at"], "replaced_when": when["superseded_at"]})
    return out[::-1]


def _show(row, *, status=200, errors=None, values=None, conflict=False, withdraw_errors=None):
    from ..assessments import service as assessments
    from ..prescriptions import service as rx_service
    patient = _patient_or_404(row.patient_id)
    user = principal()
    number, total = service.numbers_for(row)
    return render_template(
        "followups/show.html", f=row, info=service.followup_dict(row), patient=patient,
        patient_info=patients.with_extras([patient])[0], number=number, total=total,
        files=service.files_of(row), rx=rx_service.for_followup(row.id) if row.is_active else None,
        versions=_versions(row), can_amend=row.is_active and service.may_amend(row, user),
        can_withdraw=row.is_active and service.may_withdraw(row, user),
        may_prescribe=row.is_active and records.may(user, records.CREATE, records.PRESCRIPTION),
        reason_required=True, errors=errors or {}, values=values or {}, conflict=conflict,
        withdraw_errors=withdraw_errors or [], max_length=MAX_ASSESSMENT,
        scales=assessments.linked_to(user, followup_id=row.id)), status


@bp.get(f"/<{ID}:followup_id>", endpoint="show")
def show(followup_id: int):
    return _show(_followup_or_abort(followup_id, include_withdrawn=True))


@bp.route(f"/<{ID}:followup_id>/amend", methods=["GET", "POST"], endpoint="amend")
def amend(followup_id: int):
    row = _followup_or_abort(followup_id, audit_read=request.method == "GET")
    user = principal()
    if not service.may_amend(row, user):
        flash(records.message(user, records.AMEND, records.FOLLOWUP), "error")
        return redirect(url_for("followups.show", followup_id=row.id))
    if request.method == "GET":
        values = {"clinical_assessment": row.clinical_assessment, "visit_date": row.visit_date.isoformat(),
                  "version": row.version}
        return _render_amend(row, values)
    values = {k: request.form.get(k, "") for k in ("clinical_assessment", "visit_date", "amend_reason", "version")}
    data = {"clinical_assessment": values["clinical_assessment"], "amend_reason": values["amend_reason"]}
    if values["visit_date"]:
        data["visit_date"] = values["visit_date"]
    try:
        service.amend(row, data, user, expected_version=values["version"] or row.version)
    except Conflict as exc:
        db.session.rollback()
        return _render_amend(row, values, general=[exc.message], status=409, conflict=True)
    except DomainError as exc:
        db.session.rollback()
        errors, general = form_errors(exc, keep_summary=True)
        return _render_amend(row, values, errors=errors, general=general, status=422 if exc.status == 400
                             else exc.status)
    flash("Follow-up note amended: the earlier version is kept.", "success")
    return redirect(url_for("followups.show", followup_id=row.id))


def _render_amend(row, values, *, errors=None, general=None, status=200, conflict=False):
    patient = _patient_or_404(row.patient_id)
    return render_template("followups/amend.html", f=row, patient=patient,
                           patient_info=patients.with_extras([patient])[0], values=values,
                           field_errors=errors or {}, general=general or [], conflict=conflict,
                           max_length=MAX_ASSESSMENT, today=today_ist()), status


@bp.post(f"/<{ID}:followup_id>/withdraw", endpoint="withdraw")
def withdraw(followup_id: int):
    row = _followup_or_abort(followup_id, audit_read=False)
    user = principal()
    if not service.may_withdraw(row, user):
        flash(records.message(user, records.WITHDRAW, records.FOLLOWUP), "error")
        return redirect(url_for("followups.show", followup_id=row.id))
    try:
        service.withdraw(row, user, request.form.get("reason"))
    except DomainError as exc:
        db.session.rollback()
        return _show(row, status=422 if exc.status == 400 else exc.status,
                     withdraw_errors=[e["msg"] for e in exc.errors] or [exc.message])
    flash("Follow-up note withdrawn. It stays in the record, marked withdrawn.", "success")
    return redirect(url_for("followups.show", followup_id=row.id))


# ------------------------------------------------------------------ timeline

def _timeline(patient_id: int):
    from ..auth.navigation import allowed
    readable = records.reads_all(principal(), records.FOLLOWUP)  # a welfare officer sees no clinical text
    link = timeline.url_maker("followups.show", "followup_id") if readable and allowed("followups.show") else None

    def entry(f) -> timeline.TimelineEntry:
        text = f.text1 or ""
        return timeline.TimelineEntry(
            kind="follow_up", id=f.id, when=timeline.aware(f.at),
            title=f"Follow-up visit {f.num1} of {f.num2} · {f.day.strftime('%d %b %Y')}",
            summary=(text[:120] + (" …" if len(text) > 120 else "")) if readable else "",
            url=link(f.id) if link else None,
            badges=[f"visit {f.num1}"])
    return entry


timeline.register("follow_up", service.timeline_rows, _timeline)


def _draft_url(draft):
    if draft.form_key == NEW_KEY and draft.patient_id:
        return url_for("followups.new", patient_id=draft.patient_id)
    return None


drafts.register_form("followup", "Follow-up note", _draft_url)
