"""Child patient pages: register a child (the Child Guidance Clinic's card, with today's room
and the OPD slip), edit the registration, and move a child of 18 or more to the adult clinic.
Thin: parse, call emrs/children/service.py, render. The child's page is the patient page."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from .. import timeline
from ..audit import service as audit
from ..auth.guard import principal
from ..errors import Conflict, DomainError
from ..pages import form_errors
from ..patients import fields as F
from ..submission import once_per_submission
from ..timeutil import today_ist
from . import bp, service

ID = "int(max=2147483647)"


def _form_values(names) -> dict:
    return {n: request.form.get(n, "") for n in names if n in request.form}


def _rooms():
    from ..opd import rooms
    return rooms.occupancy()


@bp.route("/new", methods=["GET", "POST"], endpoint="new")
@once_per_submission
def new():
    values = _form_values(F.CHILD_NAMES) if request.method == "POST" else {
        "seen_in_walk_in_on": today_ist().isoformat(), "country": "India"}
    field_errors, general = {}, []
    room = (request.form.get("queue_room") or "").strip() or None
    if request.method == "POST":
        try:
            child = service.register(values, principal(), room=room)
        except DomainError as exc:
            field_errors, general = form_errors(exc)
        else:
            if room:
                from ..opd import queue
                flash(f"Child registered: {child.name}, {child.cr_no}, CGC {child.cgc_number}. In the queue of room "
                      f"{child.assigned_room}.", "success")
                return redirect(url_for("opd.slip_page", visit_id=queue.todays_visit_of(child).id))
            flash(f"Child registered: {child.name}, {child.cr_no}, CGC {child.cgc_number}.", "success")
            return redirect(url_for("patients.show", patient_id=child.id))
    status = 422 if request.method == "POST" else 200
    return render_template("children/form.html", patient=None, values=values, field_errors=field_errors,
                           general=general, groups=F.CHILD_GROUPS, cfields=F.CHILD_FIELDS, occupancy=_rooms(),
                           queue_room=room or "", conflict=False, version=None), status


@bp.route(f"/<{ID}:patient_id>/edit", methods=["GET", "POST"], endpoint="edit")
def edit(patient_id: int):
    try:
        child = service.get_child(patient_id, audit_action=None)
    except DomainError:
        abort(404)
    field_errors, general, conflict = {}, [], False
    if request.method == "POST":
        values = _form_values(F.CHILD_NAMES)
        try:
            service.update(child, values, principal(), expected_version=request.form.get("version") or child.version,
                           ignore_empty=False)
        except Conflict as exc:
            if exc.code == "STALE":
                conflict, general = True, [exc.message]
            else:
                field_errors, general = form_errors(exc)
        except DomainError as exc:
            field_errors, general = form_errors(exc)
        else:
            flash("Child's registration saved.", "success")
            return redirect(url_for("patients.show", patient_id=child.id))
    else:
        audit.record_now("child_patient_view", "registered_patient", child.id, patient_id=child.id,
                         details={"page": "children/form.html"})
        values = {n: getattr(child, n) for n in F.CHILD_NAMES}
        values = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}
    status = 409 if conflict else (422 if request.method == "POST" else 200)
    return render_template("children/form.html", patient=child, values=values, field_errors=field_errors,
                           general=general, groups=F.CHILD_GROUPS, cfields=F.CHILD_FIELDS, occupancy=[],
                           queue_room="", conflict=conflict,
                           version=request.form.get("version") if conflict else child.version), status


@bp.post(f"/<{ID}:patient_id>/move-to-adult", endpoint="move_to_adult")
def move_to_adult(patient_id: int):
    try:
        child = service.get_child(patient_id, audit_action=None)
    except DomainError:
        abort(404)
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation to move the child to the adult clinic.", "error")
        return redirect(url_for("patients.show", patient_id=child.id))
    try:
        service.move_to_adult(child, principal())
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(f"{child.name} moved from the child clinic to the adult clinic. Same record, same CR number.",
              "success")
    return redirect(url_for("patients.show", patient_id=patient_id))


# ------------------------------------------------------------------ timeline: the move at 18

def _moves(patient_id: int):
    def entry(row) -> timeline.TimelineEntry:
        return timeline.TimelineEntry(kind="clinic", id=row.id, when=timeline.aware(row.at),
                                      title="Moved from the child clinic to the adult clinic",
                                      summary="Same record and CR number; the child clinic's history is kept",
                                      badges=["adult clinic"])
    return entry


timeline.register("clinic", service.timeline_rows, _moves)
