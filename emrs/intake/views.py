"""Intake-record pages: the long work-up made bearable (a section index that shows what
is filled, each section saved on its own with htmx, autosaved drafts per section,
409 on a stale save), the read-only printable record, the list, the timeline entry."""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for

from .. import timeline
from ..auth import users
from ..auth.guard import principal
from ..auth.permissions import CLINICIANS
from ..drafts import service as drafts
from ..errors import Conflict, DomainError
from ..extensions import db
from ..patients import reading as patients
from . import bp, form, record_room, service
from ..pages import form_errors, page_number
from .models import IntakeRecord

ID = "int(max=2147483647)"
PAGE = 25


def _record_or_404(record_id: int, audit_read=True) -> IntakeRecord:
    try:
        return service.get(record_id, audit_read=audit_read)
    except DomainError:
        abort(404)


def _section_drafts(user, record) -> dict:
    rows = drafts.with_key_prefix(user, record.patient_id, f"intake:{record.id}:")
    out = {}
    for d in rows:
        out[d.form_key.rsplit(":", 1)[1]] = {"data": dict(d.data or {}), **drafts.time_facts(d)}
    return out


def _values(record, section_key: str, draft: dict | None) -> dict:
    """Field values for a section: the draft's typing when there is one."""
    values = {f: getattr(record, f) for f in form.section_fields(section_key)}
    if draft:
        parsed = form.parse_section(_MultiDict(draft["data"]), section_key)
        values.update({k: v for k, v in parsed.items() if k in values})
    return values


class _MultiDict(dict):
    """The draft's stored form (str or list of str per name) seen like request.form."""

    def items(self, multi=False):
        for k, v in super().items():
            if isinstance(v, list):
                for x in v:
                    yield k, x
            else:
                yield k, v

    def get(self, k, default=None):
        v = super().get(k, default)
        return v[0] if isinstance(v, list) and v else v


@bp.get(f"/<{ID}:record_id>/edit", endpoint="edit")
def edit(record_id: int):
    record = _record_or_404(record_id)
    if record.form == "cap":  # a child's intake record is the CAP work-up (emrs/cap)
        return redirect(url_for("cap.edit", record_id=record.id))
    patient = patients.get_patient(record.patient_id, audit_action=None, include_archived=True)
    user = principal()
    section_drafts = _section_drafts(user, record)
    sections = form.sections()
    values = {s["key"]: _values(record, s["key"], section_drafts.get(s["key"])) for s in sections}
    return render_template("intake/edit.html", record=record, patient=patient, sections=sections, values=values,
                           filled=service.section_filled(record), section_drafts=section_drafts,
                           patient_info=patients.with_extras([patient])[0], errors={}, saved=None,
                           blank_rows=form.BLANK_ROWS)


@bp.post(f"/<{ID}:record_id>/section/<key>", endpoint="save_section")
def save_section(record_id: int, key: str):
    record = _record_or_404(record_id, audit_read=False)
    if form.section_fields(key) is None or record.form == "cap":
        abort(404)
    section = next(s for s in form.sections() if s["key"] == key)
    user = principal()
    data = form.parse_section(request.form, key)
    status, errors, message, conflict = 200, {}, None, False
    try:
        service.update_workup(record, data, user, expected_version=request.form.get("version"), section=key)
    except Conflict as exc:
        db.session.rollback()
        status, message, conflict = 409, exc.message, True
    except DomainError as exc:
        db.session.rollback()
        status = 422 if exc.status == 400 else exc.status
        errors, general = form_errors(exc)
        message = general[0] if general else "Please correct the highlighted fields."
    if status == 200:
        drafts.discard(user, record.patient_id, f"intake:{record.id}:{key}", reason="submitted")
        record = db.session.get(IntakeRecord, record.id)
        values = {f: getattr(record, f) for f in form.section_fields(key)}
    else:
        values = {f: data.get(f) for f in form.section_fields(key)}
    resp = make_response(render_template(
        "intake/_section.html", record=record, s=section, v=values, errors=errors, message=message,
        conflict=conflict, saved=status == 200, filled=service.section_filled(db.session.get(IntakeRecord, record.id)),
        draft=None, blank_rows=form.BLANK_ROWS, oob=True), status)
    return resp


@bp.get(f"/<{ID}:record_id>", endpoint="show")
def show(record_id: int):
    record = _record_or_404(record_id)
    if record.form == "cap":
        return redirect(url_for("cap.show", record_id=record.id))
    patient = patients.get_patient(record.patient_id, audit_action=None, include_archived=True)
    creator = users.get(record.created_by)
    return render_template("intake/show.html", record=record, patient=patient, sections=form.sections(),
                           filled=service.section_filled(record), creator=creator,
                           patient_info=patients.with_extras([patient])[0])


@bp.post("/open", endpoint="open_for_patient")
def open_for_patient():
    """Creating again opens the existing record (one per patient)."""
    raw = request.form.get("patient_id", "")
    if not raw.isdecimal() or len(raw) > 9:
        abort(404)
    try:
        record, created = service.upsert({"patient_id": int(raw)}, principal())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("patients.index"))
    if created:
        flash(f"Intake record {record.adl_no} created.", "success")
    return redirect(url_for("intake.edit", record_id=record.id))


@bp.get("/", endpoint="index")
def index():
    """Every intake record (also those opened by hand, not from a complex-case proforma),
    through the same list as the API; a filter that does not parse is named and left out."""
    args = request.args
    filters, errors = record_room.parse_filters(args)
    for e in errors:
        flash(f"{e['msg']}.", "warning")
    page = page_number()
    rows, total = record_room.list_records(filters, page, PAGE, include_all=True)
    people = patients.patients_by_id(r.patient_id for r in rows)
    names = {pid: p.name for pid, p in people.items()}
    crs = {pid: p.cr_no for pid, p in people.items()}
    creators = users.with_roles(CLINICIANS)  # who opens intake records on these pages
    return render_template("intake/index.html", rows=rows, names=names, crs=crs, total=total, page=page,
                           pages=max(1, -(-total // PAGE)), args=args, creators=creators)


# ------------------------------------------------------------------ timeline entry

def _timeline(patient_id: int):
    from ..auth.navigation import allowed
    link = timeline.url_maker("intake.show", "record_id") if allowed("intake.show") else None

    def entry(row):
        if row.text3 == "cap":  # a child's CAP work-up has its own entry (emrs/cap/views.py)
            return None
        return timeline.TimelineEntry(
            kind="intake", id=row.id, when=timeline.aware(row.at), title=f"Intake record {row.text1}",
            summary=f"{row.num1} of {row.num2} sections filled · file {row.text2}",
            url=link(row.id) if link else None, badges=[row.text2])
    return entry


timeline.register("intake", service.timeline_rows, _timeline)


def _draft_url(draft):
    parts = draft.form_key.split(":")
    if len(parts) == 3 and parts[1].isdecimal():
        return url_for("intake.edit", record_id=int(parts[1])) + f"#sec-{parts[2]}"
    return None


drafts.register_form("intake", "Intake record (work-up)", _draft_url)
