"""Prescription pages: the editor (lines added, removed and reordered in place, formulary
picker, "repeat last", templates, live drug-safety warnings, override reason, drafts,
409 on a stale save), the prescription page with its PDF, and the patient's history
with what changed between prescriptions."""
from __future__ import annotations

import datetime as dt
import functools
import json
import re

from flask import Response, abort, flash, redirect, render_template, request, url_for

from .. import timeline
from ..auth import records
from ..auth.guard import principal
from ..clinical import service as proformas
from ..drafts import service as drafts
from ..errors import Conflict, DomainError
from ..web import record_or_abort
from ..extensions import db
from ..patients import reading as patients
from ..pages import error_messages
from . import bp, service
from .service import LINE_KEYS, OVERRIDE_REQUIRED

ID = "int(max=2147483647)"
SUGGEST = {
    "dosage": ["1-0-1", "1-1-1", "1-0-0", "0-1-0", "0-0-1", "1-1-0", "0-1-1", "1-0-1½", "½-0-½", "SOS", "STAT",
               "OD", "BD", "TDS", "QID", "HS"],
    "when_to_take": ["Before Food", "After Food", "With Food", "Empty Stomach", "Bedtime", "Morning", "Afternoon",
                     "Evening", "Night", "Before Breakfast", "After Breakfast", "After Lunch", "After Dinner"],
    "frequency": ["Once Daily", "Twice Daily", "Thrice Daily", "Four Times Daily", "Every 6 Hours",
                  "Every 8 Hours", "Every 12 Hours", "Alternate Day", "Weekly", "SOS", "Tapering Dose"],
    "duration": ["3 Days", "5 Days", "7 Days", "10 Days", "14 Days", "21 Days", "1 Month", "2 Months", "3 Months",
                 "6 Months", "As Directed"],
    "quantity": ["1", "2", "3", "5", "7", "10", "15", "20", "30", "60", "90", "100"],
}
_LINE = re.compile(r"^lines-(\d{1,2})-([a-z_]+)$")
BLANK = 3


def _indexed_lines(form) -> list[tuple[int, dict]]:
    rows: dict[int, dict] = {}
    for name, value in form.items(multi=True):
        m = _LINE.match(name)
        if m and m.group(2) in LINE_KEYS:
            rows.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return [(i, rows[i]) for i in sorted(rows)]


def _lines_from_form(form) -> list[dict]:
    return [line for _i, line in _indexed_lines(form)]


def _choices() -> dict:
    """The editor's lists: forms, timings, frequencies and duration units (prescriptions/lines.py
    accepts exactly these; anything else belongs in Details)."""
    from . import instructions as ins
    from . import lines as L
    freq = [L._label(k) for k in ins.FREQUENCY]
    hours = [f"Every {n} Hours" for n in (2, 4, 6, 8, 12)]
    freq = freq[:5] + hours + freq[5:]
    return {"forms": L.FORMS, "when": [L._label(k) for k in ins.WHEN], "frequency": freq,
            "units": [("days", "days"), ("weeks", "weeks"), ("months", "months")],
            "named": list(L.NAMED_DURATIONS.values())}


class _Form(dict):
    def items(self, multi=False):
        for k, v in super().items():
            for x in (v if isinstance(v, list) else [v]):
                yield k, x

    def get(self, k, default=None):
        v = super().get(k, default)
        return v[0] if isinstance(v, list) and v else v


def _proforma_or_404(proforma_id: int):
    return record_or_abort(proformas.get, proforma_id, principal(), audit_read=False)


def _followup_or_404(followup_id: int):
    from ..followups import service as followups
    return record_or_abort(followups.get, followup_id, principal(), audit_read=False)


def _is_followup(source) -> bool:
    from ..followups.models import FollowUp
    return isinstance(source, FollowUp)


def _editor_urls(source) -> dict:
    """Where the editor's buttons go: the proforma's editor or the follow-up's."""
    if _is_followup(source):
        edit = functools.partial(url_for, "prescriptions.edit_followup", followup_id=source.id)
        return {"edit": edit(), "repeat": edit(repeat=1), "check": url_for("prescriptions.check_followup",
                                                                            followup_id=source.id),
                "template": None, "back": url_for("followups.show", followup_id=source.id),
                "what": "follow-up", "key": f"rx:fu:{source.id}"}
    edit = functools.partial(url_for, "prescriptions.edit", proforma_id=source.id)
    return {"edit": edit(), "repeat": edit(repeat=1), "check": url_for("prescriptions.check", proforma_id=source.id),
            "template": url_for("prescriptions.save_template", proforma_id=source.id),
            "back": url_for("clinical.proforma_show", proforma_id=source.id), "what": "proforma",
            "key": f"rx:{source.id}"}


def _previous(source, patient_id: int):
    if _is_followup(source):
        return service.last_for_patient(patient_id, exclude_followup_id=source.id)
    return service.last_for_patient(patient_id, exclude_proforma_id=source.id)


def _rx_or_abort(rx_id: int, **kwargs):
    return record_or_abort(service.get, rx_id, principal(), **kwargs)


def _warnings(lines, patient) -> list[dict]:
    try:
        return service.warnings_for(service.normalise_lines(lines), patient)
    except DomainError:  # invalid lines: the form shows their errors instead
        return []


def _render(source, patient, lines, *, row=None, status=200, errors=None, warnings=None, needs_override=False,
            draft=None, conflict=False, values=None):
    user = principal()
    previous = _previous(source, patient.id)
    urls = _editor_urls(source)
    written_on = service.Basis(source.visit_date, source if not _is_followup(source)
                               else service.latest_diagnosed_proforma(patient.id, source.visit_date), source)
    return render_template(
        "prescriptions/edit.html", proforma=written_on, urls=urls, patient=patient,
        patient_info=patients.with_extras([patient])[0], lines=service.editor_lines(lines), blank=BLANK, row=row,
        suggest=SUGGEST, choices=_choices(), errors=errors or [], warnings=warnings if warnings is not None else _warnings(lines, patient),
        needs_override=needs_override, templates=service.templates_for(user), previous=previous,
        draft=draft, draft_key=urls["key"], draft_patient=patient.id, conflict=conflict,
        values=values or {}, limits=service.LIMITS, version=(values or {}).get("version") or (row.version if row else ""),
        reason_required=row is not None and records.reason_required(user, row.signer_id),
        may_write=records.may(user, records.AMEND, records.PRESCRIPTION, row.signer_id) if row is not None
        else records.may(user, records.CREATE, records.PRESCRIPTION)), status


@bp.route(f"/proforma/<{ID}:proforma_id>", methods=["GET", "POST"], endpoint="edit")
def edit(proforma_id: int):
    return _edit(_proforma_or_404(proforma_id))


@bp.route(f"/follow-up/<{ID}:followup_id>", methods=["GET", "POST"], endpoint="edit_followup")
def edit_followup(followup_id: int):
    """The editor for a prescription written from a follow-up note: the same rules and page."""
    return _edit(_followup_or_404(followup_id))


def _edit(proforma):
    """The editor for the prescription of ``proforma`` (a proforma or a follow-up note)."""
    patient = patients.get_patient(proforma.patient_id, audit_action=None)
    row = service.for_source(proforma)
    user = principal()
    urls = _editor_urls(proforma)
    key = urls["key"]
    source_key = "followup_id" if _is_followup(proforma) else "clinical_proforma_id"
    if row is not None and not records.may(user, records.AMEND, records.PRESCRIPTION, row.signer_id):
        flash(records.message(user, records.AMEND, records.PRESCRIPTION), "error")
        return redirect(url_for("prescriptions.show", rx_id=row.id))
    if request.method == "POST":
        lines = _lines_from_form(request.form)
        data = {source_key: proforma.id, "patient_id": patient.id, "prescription": lines,
                "require_medicine": True,  # the page saves no empty prescription (the API may: contract)
                "follow_up_date": request.form.get("follow_up_date"), "advice": request.form.get("advice"),
                "override_reason": request.form.get("override_reason"), "version": request.form.get("version")}
        data["change_reason"] = request.form.get("change_reason")
        values = {k: request.form.get(k, "") for k in ("follow_up_date", "advice", "override_reason", "version",
                                                         "change_reason")}
        try:
            row, _warnings = service.save_for_proforma(data, user)
        except Conflict as exc:
            db.session.rollback()
            return _render(proforma, patient, lines, row=row, status=409, errors=[exc.message], conflict=True,
                           values=values)
        except DomainError as exc:
            db.session.rollback()
            needs = exc.code == OVERRIDE_REQUIRED
            msgs = [exc.message] if needs else error_messages(exc)
            return _render(proforma, patient, lines, row=row, status=422, errors=msgs, needs_override=needs,
                           values=values)
        drafts.discard(user, patient.id, key, reason="submitted")
        flash(f"Prescription saved ({len(row.lines)} medicine{'s' if len(row.lines) != 1 else ''}).", "success")
        return redirect(url_for("prescriptions.show", rx_id=row.id))
    from ..audit import service as audit
    audit.record_now("prescription_form_open", "followup_visits" if _is_followup(proforma) else "clinical_proforma",
                     proforma.id, patient_id=patient.id)
    draft = drafts.offer(user, patient.id, key)
    values = {}
    if draft:
        form = _Form(draft["data"])
        lines = _lines_from_form(form)
        values = {k: form.get(k) or "" for k in ("follow_up_date", "advice")}
    elif request.args.get("repeat") == "1":
        previous = _previous(proforma, patient.id)
        lines = [dict(l) for l in (previous.lines if previous else [])]
        if previous:
            flash(f"Copied {len(lines)} line(s) from the prescription of "
                  f"{_visit_date(previous).strftime('%d %b %Y')}: check each dose.", "info")
    elif request.args.get("template", "").isdecimal() and len(request.args["template"]) < 10:
        try:
            tpl = service.template_for(user, int(request.args["template"]))
            lines = [dict(l) for l in tpl.lines]
            flash(f"Template “{tpl.name}” applied.", "info")
        except DomainError:
            lines = []
            flash("Template not found.", "error")
    else:
        lines = [dict(l) for l in (row.lines if row else [])]
        if row:
            values = {"follow_up_date": row.follow_up_date.isoformat() if row.follow_up_date else "",
                      "advice": row.advice or ""}
    return _render(proforma, patient, lines, row=row, draft=draft, values=values)


def _visit_date(rx_row):
    return service.basis(rx_row).visit_date


@bp.post(f"/proforma/<{ID}:proforma_id>/check", endpoint="check")
def check(proforma_id: int):
    """Live drug-safety warnings while prescribing (htmx)."""
    return _check(_proforma_or_404(proforma_id))


@bp.post(f"/follow-up/<{ID}:followup_id>/check", endpoint="check_followup")
def check_followup(followup_id: int):
    """Live drug-safety warnings while prescribing from a follow-up note (htmx)."""
    return _check(_followup_or_404(followup_id))


def _check(proforma):
    patient = patients.get_patient(proforma.patient_id, audit_action=None)
    indexed = _indexed_lines(request.form)
    previews = service.preview_lines([line for _i, line in indexed])
    lines = [p["line"] for p in previews if p and p["line"]]
    return render_template("prescriptions/_check.html", warnings=service.warnings_for(lines, patient),
                           previews=[(i, p) for (i, _l), p in zip(indexed, previews)])


@bp.post(f"/proforma/<{ID}:proforma_id>/template", endpoint="save_template")
def save_template(proforma_id: int):
    _proforma_or_404(proforma_id)
    try:
        tpl = service.save_template(principal(), request.form.get("template_name"), _lines_from_form(request.form))
        flash(f"Saved as template “{tpl.name}”.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("prescriptions.edit", proforma_id=proforma_id))


@bp.get(f"/<{ID}:rx_id>", endpoint="show")
def show(rx_id: int):
    row = _rx_or_abort(rx_id, include_withdrawn=True)
    proforma = service.basis(row)
    patient = patients.get_patient(row.patient_id, audit_action=None, include_archived=True)
    from . import instructions
    edit_url = (url_for("prescriptions.edit_followup", followup_id=row.followup_id) if row.followup_id
                else url_for("prescriptions.edit", proforma_id=row.clinical_proforma_id))
    return render_template("prescriptions/show.html", row=row, proforma=proforma, patient=patient, edit_url=edit_url,
                           patient_info=patients.with_extras([patient])[0],
                           described=[instructions.describe(l) for l in row.lines or []],
                           versions=_versions(row), shown_version=_shown_version(row), signer=_signer(row))


def _versions(row) -> list[dict]:
    """The prescription's versions with their times as IST text for the page."""
    if row.version <= 1:
        return []
    from ..timeutil import ist_text
    out = []
    for v in service.version_history(row):
        when = {k: ist_text(dt.datetime.fromisoformat(v[k]), "%d %b %Y, %H:%M") + " IST" if v[k] else ""
                for k in ("signed_at", "superseded_at")}
        out.append({**v, "signed_when": when["signed_at"], "replaced_when": when["superseded_at"]})
    return out


def _shown_version(row):
    """?version=N shows an earlier version of the prescription (read-only)."""
    raw = request.args.get("version", "")
    if not raw.isdecimal() or len(raw) > 6 or int(raw) == row.version:
        return None
    return next((v for v in _versions(row) if v["version"] == int(raw)), None)


def _signer(row):
    from ..auth.models import User
    return db.session.get(User, row.signer_id) if row.signer_id else None


@bp.get(f"/<{ID}:rx_id>/pdf", endpoint="pdf")
def pdf(rx_id: int):
    from ..downloads import content_disposition
    from .printing import pdf_for
    row = _rx_or_abort(rx_id, audit_read=False)  # the print's own audit row, once it is made
    try:
        data, filename = pdf_for(row, request.args.get("size"))
    except DomainError as exc:
        if exc.status == 404:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for("prescriptions.show", rx_id=rx_id))
    service.printed(row)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(filename, inline=True)})


@bp.get(f"/patient/<{ID}:patient_id>", endpoint="history")
def history(patient_id: int):
    try:
        patient = patients.get_patient(patient_id, audit_action="prescription_list_view")
    except DomainError:
        abort(404)
    items = service.history(patient.id)
    dates = {it["row"].id: _visit_date(it["row"]) for it in items}
    return render_template("prescriptions/history.html", patient=patient, items=items, dates=dates,
                           patient_info=patients.with_extras([patient])[0])


@bp.app_template_filter("rx_name")
def _rx_name(line) -> str:
    """{{ line|rx_name }}: "Escitalopram 10 mg"."""
    return service.line_name(line) if isinstance(line, dict) else ""


@bp.app_template_filter("strength")
def _strength(value) -> str:
    """{{ "10mg"|strength }}: "10 mg"."""
    from .lines import format_strength
    return format_strength(value)


@bp.app_template_filter("rx_change")
def _rx_change(change) -> str:
    return service.change_text(change)


# ------------------------------------------------------------------ timeline

def _timeline(patient_id: int):
    from ..auth.navigation import allowed
    if not records.reads_all(principal(), records.PRESCRIPTION):
        return None  # a welfare officer does not see prescriptions on the patient page either
    link = timeline.url_maker("prescriptions.show", "rx_id") if allowed("prescriptions.show") else None

    def entry(row) -> timeline.TimelineEntry:
        meds = [service.line_name(l) for l in (json.loads(row.text1) if row.text1 else None) or []]
        return timeline.TimelineEntry(
            kind="prescription", id=row.id, when=timeline.aware(row.at),
            title=f"Prescription · {len(meds)} medicine{'s' if len(meds) != 1 else ''}",
            summary=", ".join(meds[:4]) + (" …" if len(meds) > 4 else ""),
            url=link(row.id) if link else None,
            badges=["override"] if row.num1 else [])
    return entry


timeline.register("prescription", service.timeline_rows, _timeline)


def _draft_url(draft):
    parts = draft.form_key.split(":")
    if len(parts) == 2 and parts[1].isdecimal():
        return url_for("prescriptions.edit", proforma_id=int(parts[1]))
    if len(parts) == 3 and parts[1] == "fu" and parts[2].isdecimal():
        return url_for("prescriptions.edit_followup", followup_id=int(parts[2]))
    return None


drafts.register_form("rx", "Prescription", _draft_url)
