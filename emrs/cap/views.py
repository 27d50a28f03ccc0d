"""CAP work-up pages: open the child's work-up, the sections (each saved on its own, with
htmx when there is JavaScript, plain form posts otherwise), the read-only view with the
growth charts. Repeatable rows: "Add a row" and "Remove" are submit buttons/checkboxes, so
they work without any script."""
from __future__ import annotations

import json
import re

from flask import abort, flash, make_response, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..errors import Conflict, DomainError
from ..extensions import db
from ..intake.models import IntakeRecord
from ..pages import form_errors
from ..patients import reading as patients
from . import bp, service, spec

ID = "int(max=2147483647)"
_ROW = re.compile(r"^(?P<field>[a-z0-9_]+)-(?P<i>\d{1,2})-(?P<col>[a-z0-9_]+)$")


def _record_or_404(record_id: int, audit_read=True) -> IntakeRecord:
    try:
        return service.get(record_id, audit_read=audit_read)
    except DomainError:
        abort(404)


def sections() -> list[dict]:
    out = []
    for key, title, fields in spec.SECTIONS:
        out.append({"key": key, "title": title, "fields": [
            {"name": f.name, "kind": f.kind, "label": spec.label(f), "values": f.values, "keys": f.keys,
             "max_rows": f.max_rows, "textarea": f.textarea, "lo": f.lo, "hi": f.hi,
             "columns": [(k, k.replace("_", " ").capitalize()) for k in f.keys]} for f in fields]})
    return out


def parse_section(form, key: str) -> tuple[dict, str | None]:
    """A submitted section as the service's input: rows from ``field-i-col`` names (rows
    ticked "remove" left out), unchecked boxes as false. Returns (data, field to add a row to)."""
    fields = next(fs for k, _t, fs in spec.SECTIONS if k == key)
    data: dict = {}
    for f in fields:
        if f.kind == "rows":
            rows: dict[int, dict] = {}
            removed = set()
            for name, value in form.items(multi=True):
                m = _ROW.match(name)
                if not m or m["field"] != f.name:
                    continue
                i = int(m["i"])
                if m["col"] == "remove":
                    removed.add(i)
                elif m["col"] in f.keys:
                    rows.setdefault(i, {})[m["col"]] = value
            data[f.name] = [r for i, r in sorted(rows.items()) if i not in removed and any(v.strip() for v in r.values())]
        elif f.kind == "bool":
            data[f.name] = f.name in form
        else:
            data[f.name] = form.get(f.name, "")
    add = form.get("add_row")
    return data, add if add in {f.name for f in fields if f.kind == "rows"} else None


def _page(record, template: str, errors=None, **extra):
    patient = patients.get_patient(record.patient_id, audit_action=None, include_archived=True)
    info = patients.with_extras([patient])[0]
    values = {key: dict(record.cap_sections or {}) for key in spec.SECTION_KEYS}
    return render_template(template, record=record, patient=patient, patient_info=info, sections=sections(),
                           values=values, filled=service.section_filled(record),
                           reg=service.registration_facts(patient), growth=service.growth_view(patient),
                           errors=errors or {}, **extra)


@bp.post("/open", endpoint="open_for_child")
def open_for_child():
    """Creating again opens the existing work-up (one per child)."""
    raw = request.form.get("patient_id", "")
    if not raw.isdecimal() or len(raw) > 9:
        abort(404)
    existing = service.for_child(int(raw))
    if existing is not None:
        return redirect(url_for("cap.edit", record_id=existing.id))
    try:
        record = service.create({"child_patient_id": int(raw)}, principal())
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("patients.show", patient_id=int(raw)))
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("patients.index"))
    flash(f"CAP work-up {record.adl_no} opened.", "success")
    return redirect(url_for("cap.edit", record_id=record.id))


@bp.get(f"/<{ID}:record_id>/edit", endpoint="edit")
def edit(record_id: int):
    add = request.args.get("add")
    return _page(_record_or_404(record_id), "cap/edit.html", extra_rows={add: 1} if add in spec.FIELDS else {},
                 message=None, message_key=None)


@bp.get(f"/<{ID}:record_id>", endpoint="show")
def show(record_id: int):
    return _page(_record_or_404(record_id), "cap/show.html")


@bp.post(f"/<{ID}:record_id>/section/<key>", endpoint="save_section")
def save_section(record_id: int, key: str):
    record = _record_or_404(record_id, audit_read=False)
    if key not in spec.SECTION_KEYS:
        abort(404)
    section = next(s for s in sections() if s["key"] == key)
    data, add_row = parse_section(request.form, key)
    status, errors, message, conflict = 200, {}, None, False
    try:
        service.update(record, data, principal(), section=key, expected_version=request.form.get("version"))
    except Conflict as exc:
        db.session.rollback()
        status, message, conflict = 409, exc.message, True
    except DomainError as exc:
        db.session.rollback()
        if exc.message == "No valid fields to update":
            status = 200
        else:
            status = 422 if exc.status == 400 else exc.status
            errors, general = form_errors(exc)
            message = general[0] if general else "Please correct the highlighted fields."
    record = db.session.get(IntakeRecord, record.id)
    values = dict(record.cap_sections or {}) if status == 200 else {**(record.cap_sections or {}), **data}
    extra_rows = {add_row: 1} if add_row else {}
    patient = patients.get_patient(record.patient_id, audit_action=None, include_archived=True)
    growth = service.growth_view(patient) if key == "physical_exam" and status == 200 else None
    if not request.headers.get("HX-Request"):
        if status == 200:
            flash(f"Saved “{section['title']}”.", "success")
            target = url_for("cap.edit", record_id=record.id) + (f"?add={add_row}" if add_row else "")
            return redirect(target + f"#sec-{key}")
        return make_response(_page(record, "cap/edit.html", errors=errors, extra_rows=extra_rows, message=message,
                                   message_key=key), status)
    resp = make_response(render_template(
        "cap/_section.html", record=record, s=section, v=values, errors=errors, message=message,
        conflict=conflict, saved=status == 200 and not add_row, filled=service.section_filled(record),
        extra_rows=extra_rows, oob=True, growth=growth), status)
    return resp


# ------------------------------------------------------------------ timeline entry

def _timeline(patient_id: int):
    from .. import timeline
    from ..auth.navigation import allowed
    link = timeline.url_maker("cap.show", "record_id") if allowed("cap.show") else None

    def entry(row):
        if row.text3 != "cap":  # the newest work-up is an adult's intake record (emrs/intake/views.py)
            return None
        filled = service.sections_filled(json.loads(row.text4) if row.text4 else {})
        return timeline.TimelineEntry(
            kind="cap_work_up", id=row.id, when=timeline.aware(row.at), title=f"CAP work-up {row.text1}",
            summary=f"{sum(filled.values())} of {len(filled)} sections filled · file {row.text2}",
            url=link(row.id) if link else None, badges=[row.text2])
    return entry


def _register_timeline():
    from .. import timeline
    from ..intake import service as intake
    timeline.register("cap_work_up", intake.timeline_rows, _timeline)


_register_timeline()
