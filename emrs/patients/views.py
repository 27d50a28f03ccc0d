"""Patient pages: registration in two steps, edit, list and search, the patient
page with its timeline, visits and Today's Patients. Thin: parse, call the services."""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from flask import abort, flash, redirect, render_template, request, url_for

from .. import facts, timeline
from ..audit import service as audit
from ..auth.guard import principal
from ..auth.navigation import allowed
from ..auth import users
from ..doors import is_htmx
from ..pages import form_errors, page_number
from ..downloads import content_disposition
from ..errors import Conflict, DomainError
from ..extensions import db
from ..spreadsheet import safe_cell, xlsx_cell
from ..submission import once_per_submission
from . import bp, reading, registration, search, visits
from . import fields as F
from ..timeutil import ist_text, today_ist

ID = "int(max=2147483647)"
PAGE_SIZE = 20


@bp.context_processor
def _patient_fields():
    return {"fields": F.ALL_FIELDS}


@bp.app_template_filter("abha")
def _abha_filter(value):
    """An ABHA number as XX-XXXX-XXXX-XXXX, on any page."""
    return F.format_abha(value) if value is not None else ""


def _doctors() -> list:
    return users.doctor_choices()


def _patient_or_404(patient_id: int, audit_action="patient_view"):
    try:
        return reading.get_patient(patient_id, audit_action=audit_action)
    except DomainError:
        abort(404)


# ------------------------------------------------------------------ list and search

@bp.get("/", endpoint="index")
def index():
    term = (request.args.get("q") or "").strip()[:100]
    filters, errors = search.parse_filters(request.args)
    page = page_number()
    items, total, estimated, message = [], 0, False, None
    if errors:
        message = "; ".join(e["msg"] for e in errors)
    elif term and len(term) < 2:
        message = "Type at least 2 characters to search."
    else:
        items, total, estimated = search.list_patient_dicts(page, PAGE_SIZE, filters, search_term=term or None,
                                                            reader=principal())
    pages = max(1, -(-total // PAGE_SIZE))
    export_args = {k: v for k, v in request.args.items() if k in search.FILTER_KEYS + ("q",) and v}
    ctx = dict(items=items, total=total, estimated=estimated, page=page, pages=pages, q=term, filters=filters,
               message=message, doctors=_doctors(), args=request.args, export_args=export_args,
               own_only=search.browses_own(principal()))
    if is_htmx():
        return render_template("patients/_results.html", **ctx)
    return render_template("patients/index.html", **ctx)


@bp.get("/quick-search", endpoint="quick_search")
def quick_search():
    """The header search box: the first matches as you type (from 2 characters)."""
    term = (request.args.get("q") or "").strip()[:100]
    if len(term) < 2:
        return render_template("patients/_quick.html", items=[], term=term)
    rows, total, _ = search.search(term, 1, 8)
    return render_template("patients/_quick.html", items=rows, term=term, total=total)


EXPORT_LIMIT = 10_000
EXPORT_COLUMNS = [("cr_no", "CR No."), ("psy_no", "PSY No."), ("adl_no", "ADL No."), ("name", "Name"),
                  ("age", "Age"), ("sex", "Sex"), ("contact_number", "Mobile"),
                  ("abha_number", "ABHA number"), ("father_name", "Father's name"),
                  ("date", "Registered"), ("assigned_doctor_name", "Doctor"), ("assigned_room", "Room"),
                  ("case_complexity", "Case"), ("city", "City"), ("district", "District"), ("state", "State")]


@bp.get("/export.<any(csv, xlsx):fmt>", endpoint="export")
def export(fmt: str):
    """The current filtered list (at most 10,000 rows) as CSV or Excel. Audited."""
    import csv
    import io

    from flask import Response
    term = (request.args.get("q") or "").strip()[:100]
    filters, errors = search.parse_filters(request.args)
    if errors or (term and len(term) < 2):
        flash("Fix the filters before exporting.", "error")
        return redirect(url_for("patients.index"))
    items, total, _ = search.list_patient_dicts(1, EXPORT_LIMIT, filters, search_term=term or None,
                                                reader=principal())
    audit.record_now("patient_export", "registered_patient", None,
                     details={"format": fmt, "rows": len(items), "filters": sorted(filters), "search": bool(term)})
    header = [label for _, label in EXPORT_COLUMNS]
    table = [[("" if p.get(k) is None else p.get(k)) for k, _ in EXPORT_COLUMNS] for p in items]
    stamp = today_ist().isoformat()
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        for row in table:
            writer.writerow([safe_cell(v) for v in row])  # no formulas from patient data
        resp = Response("\ufeff" + buf.getvalue(), mimetype="text/csv")
    else:
        from openpyxl import Workbook
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Patients")
        ws.append(header)
        for row in table:
            ws.append([xlsx_cell(v) for v in row])
        out = io.BytesIO()
        wb.save(out)
        resp = Response(out.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    resp.headers["Content-Disposition"] = content_disposition(f"patients-{stamp}.{fmt}")
    return resp


# ------------------------------------------------------------------ registration

@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@once_per_submission  # a second POST of the same form lands on the patient the first one registered
def new():
    values = dict(request.form) if request.method == "POST" else {"date": today_ist().isoformat(),
                                                                   "department": "Psychiatry", "country": "India"}
    field_errors, general = {}, []
    if request.method == "POST":
        room = (request.form.get("queue_room") or "").strip() or None
        try:
            patient = registration.register(F.form_values(request.form, F.CARD_NAMES), principal(), step="card",
                                            room=room)
        except DomainError as exc:
            field_errors, general = form_errors(exc)
        else:
            if room:  # queued in the room: the slip, ready to print (it links on to the record)
                from ..opd import queue
                flash(f"Out-patient card saved: {patient.name}, {patient.cr_no}. In the queue of room "
                      f"{patient.assigned_room}.", "success")
                return redirect(url_for("opd.slip_page", visit_id=queue.todays_visit_of(patient).id))
            flash(f"Out-patient card saved: {patient.name}, {patient.cr_no}. Now the out-patient record.", "success")
            return redirect(url_for("patients.record_edit", patient_id=patient.id))
    status = 422 if request.method == "POST" else 200
    from ..opd import rooms
    return render_template("patients/card_form.html", patient=None, values=values, field_errors=field_errors,
                           general=general, groups=F.CARD_GROUPS, occupancy=rooms.occupancy(),
                           queue_room=request.form.get("queue_room", "")), status


@bp.get("/check-duplicates", endpoint="check_duplicates")
def check_duplicates():
    args = request.args
    exclude = args.get("exclude_id")
    matches = search.likely_duplicates(name=args.get("name"), sex=args.get("sex"), age=args.get("age"),
                                        mobile=args.get("contact_number"), cr_no=args.get("cr_no"),
                                        exclude_id=int(exclude) if exclude and exclude.isdecimal() and len(exclude) < 10
                                        else None)
    return render_template("patients/_duplicates.html", matches=matches)


def _edit(patient_id: int, names, groups, template: str, success_message: str, next_endpoint: str):
    patient = _patient_or_404(patient_id, audit_action=None)
    if patient.clinic == "child":  # a child's registration has its own form (emrs/children)
        return redirect(url_for("children.edit", patient_id=patient.id))
    field_errors, general, conflict = {}, [], False
    values = F.form_values(request.form, names) if request.method == "POST" else None
    if request.method == "POST":
        try:
            data = dict(values)
            if "assigned_doctor_id" in request.form:
                data["assigned_doctor_id"] = request.form.get("assigned_doctor_id")
                names = names + ("assigned_doctor_id",)
            registration.update(patient, data, principal(), names=names,
                           expected_version=request.form.get("version") or patient.version, ignore_empty=False)
        except Conflict as exc:
            if exc.code == "STALE":
                conflict = True
                general = [exc.message]
            else:
                field_errors, general = form_errors(exc)
        except DomainError as exc:
            field_errors, general = form_errors(exc)
        else:
            flash(success_message, "success")
            return redirect(url_for(next_endpoint, patient_id=patient.id))
    else:
        audit.record_now("patient_view", "registered_patient", patient.id, patient_id=patient.id,
                         details={"page": template})
        values = {n: getattr(patient, n) for n in names}
    status = 409 if conflict else (422 if request.method == "POST" else 200)
    return render_template(template, patient=patient, values=values, field_errors=field_errors, general=general,
                           groups=groups, conflict=conflict, doctors=_doctors(),
                           version=request.form.get("version") if conflict else patient.version), status


@bp.route(f"/<{ID}:patient_id>/card", methods=["GET", "POST"], endpoint="card_edit")
def card_edit(patient_id: int):
    return _edit(patient_id, F.CARD_NAMES, F.CARD_GROUPS, "patients/card_form.html",
                 "Out-patient card saved.", "patients.show")


@bp.route(f"/<{ID}:patient_id>/record", methods=["GET", "POST"], endpoint="record_edit")
def record_edit(patient_id: int):
    return _edit(patient_id, F.RECORD_NAMES, F.RECORD_GROUPS, "patients/record_form.html",
                 "Out-patient record saved.", "patients.show")


# ------------------------------------------------------------------ patient page

class OpenVisit(NamedTuple):
    id: int
    visit_date: dt.date


@bp.get(f"/<{ID}:patient_id>", endpoint="show")
def show(patient_id: int):
    try:
        # The patient object of the API (columns and joined facts) with its audit row, in the
        # transaction the rest of the page reads in: committed below, before the page is rendered.
        info = reading.read_patient(patient_id, commit=False)
    except DomainError:
        abort(404)
    recent = audit.recent_for_patient(patient_id, 15) if allowed("audit.patient") else None  # who reads the trail
    # The open visit, the proforma "Prescribe" starts from, "seen before?" (offers a follow-up
    # note) and how many scores: one statement (emrs/facts.py), each rule in its own domain.
    from ..assessments import service as assessments  # these three register facts (and assessments' panel)
    from ..clinical import service as _clinical  # noqa: F401
    from ..followups import service as _followups  # noqa: F401
    known = facts.read(patient_id, ("open_visit_id", "open_visit_date", "latest_proforma", "scored")
                       + (("seen_before",) if allowed("followups.new") else ()))
    open_visit = OpenVisit(known.open_visit_id, known.open_visit_date) if known.open_visit_id else None
    entries = timeline.entries(patient_id, 50)
    patient = info  # the template reads the same fields from it (patient.name, patient.cr_no …)
    from ..cap import service as cap  # a child's CAP work-up and growth charts (clinicians)
    cap_panel = cap.patient_panel(patient_id) if info.get("clinic") == "child" and allowed("cap.edit") else None
    scales = assessments.patient_panel(patient_id, principal(), scored=known.scored)
    doctors = _doctors()  # the send-to-doctor choices
    db.session.commit()  # the read's audit row: the page's reads are one transaction, on one connection
    return render_template("patients/show.html", patient=patient, info=info, entries=entries, recent=recent,
                           cap_panel=cap_panel, scales=scales,
                           ist_time=ist_text,
                           doctors=doctors, open_visit=open_visit, label_of=F.label_of,
                           latest_proforma=known.latest_proforma, returning=bool(getattr(known, "seen_before", False)),
                           audit_user_url=timeline.url_maker("audit.user", "user_id") if recent is not None else None)


@bp.get(f"/<{ID}:patient_id>/visits/<{ID}:visit_id>", endpoint="visit_detail")
def visit_detail(patient_id: int, visit_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    visit = visits.visit_of(patient.id, visit_id)
    if visit is None:
        abort(404)
    doctor = users.get(visit.assigned_doctor_id)
    audit.record_now("visit_view", "patient_visits", visit.id, patient_id=patient.id)
    return render_template("patients/_visit_detail.html", visit=visit, doctor=doctor, patient=patient)


@bp.post(f"/<{ID}:patient_id>/assign", endpoint="assign")
def assign(patient_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    try:
        visit = visits.assign(patient, principal(), request.form.get("assigned_doctor_id"),
                               request.form.get("room_no"), request.form.get("visit_date") or None,
                               request.form.get("notes") or None)
    except DomainError as exc:
        field_errors, general = form_errors(exc)
        flash(" ".join(general + [m for ms in field_errors.values() for m in ms]), "error")
    else:
        doctor = users.get(visit.assigned_doctor_id)
        flash(f"Assigned to {doctor.name}" + (f", room {visit.room_no}" if visit.room_no else "") +
              f" for {visit.visit_date.strftime('%d %b %Y')}.", "success")
    return redirect(url_for("patients.show", patient_id=patient.id))


@bp.post(f"/<{ID}:patient_id>/visits/complete", endpoint="complete_visit")
def complete_visit(patient_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    try:
        visits.complete_visit(patient, principal(), request.form.get("visit_date") or None)
        flash(f"Visit of {patient.name} marked as completed.", "success")
    except DomainError as exc:
        flash(exc.message, "error")
    back = request.form.get("back")
    return redirect(back if back in (url_for("opd.today"),) else url_for("patients.show", patient_id=patient.id))


@bp.post(f"/<{ID}:patient_id>/archive", endpoint="archive")
def archive(patient_id: int):
    patient = _patient_or_404(patient_id, audit_action=None)
    try:
        registration.archive(patient, principal())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("patients.show", patient_id=patient.id))
    flash(f"{patient.name} ({patient.cr_no}) archived. The record is kept.", "success")
    return redirect(url_for("patients.index"))


# ------------------------------------------------------------------ timeline: visits

def _visit_entries(patient_id: int):
    from datetime import datetime, time, timezone

    detail_url = timeline.url_maker("patients.visit_detail", "visit_id", patient_id=patient_id)
    nine_ist = time(3, 30, tzinfo=timezone.utc)  # 09:00 in India (no daylight saving) is 03:30 UTC

    def entry(v) -> timeline.TimelineEntry:
        when = datetime.combine(v.day, nine_ist)
        created = timeline.aware(v.at)
        if created.date() == when.date():
            when = created
        return timeline.TimelineEntry(
            kind="visit", id=v.id, when=when,
            title=("First visit" if v.text1 == "first_visit" else "Follow-up visit") +
                  f" · {v.day.strftime('%d %b %Y')}",
            summary=" · ".join(x for x in [v.text4, f"room {v.text3}" if v.text3 else None] if x),
            detail_url=detail_url(v.id),
            badges=[v.text2])
    return entry


timeline.register("visit", visits.timeline_rows, _visit_entries)
