"""OPD pages: the registration counter (new patient straight into a room's queue, returning
patient by CR number, QR scan or name), the OPD slip, and Today's Patients with its room
picker and row actions. Thin: parse, call emrs/opd/queue.py, render."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from ..audit import service as audit
from ..auth.models import ADMIN, PWO
from ..auth.guard import principal
from ..doors import is_htmx
from ..downloads import content_disposition
from ..errors import DomainError, ValidationError, field_error
from ..pages import IdUrls, form_errors
from ..patients import fields as F
from ..patients import registration
from ..submission import once_per_submission
from . import bp, queue, rooms, slip

ID = "int(max=2147483647)"
QUICK_FIELDS = ("name", "sex", "age", "contact_number")


def _room_choices():
    return rooms.occupancy()


def _refusal(exc: DomainError) -> str:
    """One sentence for a refusal shown above a list or a box: the refusal's own message
    when it says more than "Validation failed", else its field messages."""
    fields, general = form_errors(exc, keep_summary=True)
    return " ".join(general or [m for ms in fields.values() for m in ms])


# ------------------------------------------------------------------ the counter

def _counter(status=200, *, values=None, field_errors=None, general=None, q="", matches=None, requeue_error=None,
             room_choice=""):
    return render_template("opd/counter.html", occupancy=_room_choices(), values=values or {},
                           field_errors=field_errors or {}, general=general or [], q=q, matches=matches,
                           last=queue.last_visits([p.id for p in matches or []]), requeue_error=requeue_error,
                           room_choice=room_choice), status


@bp.get("/opd/counter", endpoint="counter")
def counter():
    return _counter()


@bp.post("/opd/counter/register", endpoint="counter_register")
@once_per_submission
def counter_register():
    """A new patient: the quick card and the room, one step; then the slip."""
    values = {k: request.form.get(k, "") for k in QUICK_FIELDS}
    room_value = (request.form.get("assigned_room") or "").strip()
    try:
        if not room_value:  # nothing is saved: the card's own errors are shown with this one
            _clean, errors = F.clean(values, registration.QUICK_NAMES, partial=False)
            raise ValidationError("Validation failed", errors=errors + [field_error("assigned_room", "Choose a room")])
        patient = registration.register(values, principal(), step="quick", room=room_value)
    except DomainError as exc:
        fe, general = form_errors(exc)
        return _counter(422, values=values, field_errors=fe, general=general, room_choice=room_value)
    visit = queue.todays_visit_of(patient)
    return redirect(url_for("opd.slip_page", visit_id=visit.id))


@bp.post("/opd/counter/requeue", endpoint="counter_requeue")
def counter_requeue():
    """The one box: an exact CR number (typed, or a QR scan: the scanner types it and Enter)
    queues that patient; anything else searches by name and lists the matches. Sending it
    twice is harmless: a patient already waiting in that room keeps their token."""
    term = (request.form.get("q") or "").strip()[:100]
    room_value = request.form.get("room") or None
    patient_id = request.form.get("patient_id")
    try:
        if patient_id and patient_id.isdecimal() and len(patient_id) < 10:
            from ..patients import reading
            patient = reading.get_patient(int(patient_id), audit_action=None)
            matches = []
        else:
            patient, matches = queue.find_for_requeue(term)
        if patient is None:
            if term:
                audit.record_now("patient_search", "registered_patient", None,
                                 details={"page": "counter", "results": len(matches)})
            msg = None if matches else (f"No patient matches “{term}”." if term else "Type a CR number or a name.")
            return _counter(200 if matches else 422, q=term, matches=matches, requeue_error=msg,
                            room_choice=room_value or "")
        visit = queue.requeue(patient, principal(), room_value)
    except DomainError as exc:
        return _counter(422, q=term, requeue_error=_refusal(exc), room_choice=room_value or "")
    return redirect(url_for("opd.slip_page", visit_id=visit.id))


# ------------------------------------------------------------------ the slip

def _slip_visit(visit_id: int):
    try:
        visit, patient = queue.visit_today(visit_id)
    except DomainError:
        abort(404)
    return visit, patient


@bp.get(f"/opd/visits/<{ID}:visit_id>/slip", endpoint="slip_page")
def slip_page(visit_id: int):
    visit, patient = _slip_visit(visit_id)
    audit.record_now("slip_view", "patient_visits", visit.id, patient_id=patient.id)
    facts = queue.slip_facts(visit)
    return render_template("opd/slip_page.html", qr_svg=slip.qr_svg(patient.cr_no or str(patient.id)), **facts)


@bp.get(f"/opd/visits/<{ID}:visit_id>/slip.pdf", endpoint="slip_pdf")
def slip_pdf(visit_id: int):
    visit, patient = _slip_visit(visit_id)
    size = (request.args.get("size") or "a6").lower()
    if size not in slip.SIZES:
        abort(404)
    try:
        data = slip.render(queue.slip_facts(visit), size)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("opd.slip_page", visit_id=visit.id))
    audit.record_now("slip_print", "patient_visits", visit.id, patient_id=patient.id, details={"size": size})
    name = f"opd-slip-{patient.cr_no or patient.id}-{visit.visit_date.isoformat()}-{size}.pdf"
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(name, inline=True)})


# ------------------------------------------------------------------ Today's Patients

def _filters():
    args = request.values
    room_id = args.get("room", "")
    return {"wanted": queue.ALL if args.get("scope") == "all" or args.get("all") == "1" else None,
            "room_id": int(room_id) if room_id.isdecimal() and len(room_id) < 10 else None,
            "search": (args.get("q") or "").strip()[:100],
            "include_completed": args.get("completed") == "1"}


def _list_context(message=None, undo_visit=None):
    user = principal()
    f = _filters()
    rows, view = queue.todays_list(user, wanted=f["wanted"], room_id=f["room_id"], search=f["search"],
                                   include_completed=f["include_completed"])
    grouped = queue.by_room(rows, limit=queue.PANEL_ROWS) if user.role in (ADMIN, PWO) and not f["room_id"] else None
    shown = [r for panel in grouped for r in panel["rows"]] if grouped is not None else rows
    # Patients with an open risk item (readers of rating scales only: others' rows carry none),
    # for the banner above the list; a row cut from its room panel is linked to its scales page.
    risky = [r for r in rows if r["risk"]]
    shown_visits = {r["visit"].id for r in shown}
    return dict(rows=rows, view=view, grouped=grouped, filters=f, message=message, undo_visit=undo_visit,
                risky=risky, shown_visits=shown_visits,
                csrf=generate_csrf(), visit_url=IdUrls("visit_id"), patient_url=IdUrls("patient_id"),
                proforma_url=IdUrls("proforma_id"), followup_url=IdUrls("followup_id"),
                active=rooms.active_rooms(), doctors=_doctors_for_claim(user),
                **queue.row_actions(user, shown, view["my_room"]))


def _doctors_for_claim(user):
    if user.role != ADMIN:
        return []
    from ..auth import users
    return users.active_doctors()


@bp.get("/patients/today", endpoint="today")
def today():
    user = principal()
    picker = None
    if user.is_doctor and rooms.room_of(user.id) is None:
        picker = rooms.occupancy()
    return render_template("opd/today.html", picker=picker, refresh_seconds=refresh_seconds(), **_list_context())


def refresh_seconds() -> int:
    """How often the list refreshes itself (OPD_LIST_REFRESH_SECONDS, 15 s by default)."""
    value = current_app.config.get("OPD_LIST_REFRESH_SECONDS", 15)
    return value if isinstance(value, int) and value >= 1 else 15


@bp.get("/opd/today/list", endpoint="today_list")
def today_list():
    """The list alone (htmx polls it every 15 s — OPD_LIST_REFRESH_SECONDS —; the filter boxes stay outside it)."""
    return render_template("opd/_today_list.html", **_list_context())


@bp.post("/opd/today/room", endpoint="pick_room")
def pick_room():
    raw = request.form.get("room_id") or ""
    try:
        room = queue.room_for(int(raw) if raw.isdecimal() and len(raw) < 10 else raw, field="room_id")
        _seat, taken = queue.sit_and_route(principal(), room)
    except DomainError as exc:
        flash(_refusal(exc), "error")
    else:
        extra = f" {len(taken)} waiting patient(s) are now yours." if taken else ""
        flash(f"You are in room {room.room_number} today.{extra}", "success")
    return redirect(url_for("opd.today"))


def _act(visit_id: int, do, done: str):
    """Run one row action; the list fragment (htmx) or back to the page with a message."""
    undo = None
    try:
        visit, patient = queue.visit_today(visit_id)
        visit = do(visit, patient)
        message, category = done.format(name=patient.name, room=visit.room_no or "—", token=visit.token_no or "—"), \
            "success"
        if visit.visit_status == "completed":
            undo = visit
    except DomainError as exc:
        message, category = _refusal(exc), "error"
    if is_htmx():
        return render_template("opd/_today_list.html", **_list_context(message=(category, message), undo_visit=undo))
    flash(message, category)
    return redirect(url_for("opd.today"))


@bp.post(f"/opd/visits/<{ID}:visit_id>/start", endpoint="start")
def start(visit_id: int):
    """"See patient": the visit is with the doctor now; straight on to the proforma, or for a
    returning patient to the follow-up note (``next=followup``)."""
    try:
        visit, patient = queue.visit_today(visit_id)
        queue.start(visit, patient, principal())
    except DomainError as exc:
        flash(_refusal(exc), "error")
        return redirect(url_for("opd.today"))
    if request.form.get("next") == "proforma" and patient.clinic == "child":
        return redirect(url_for("child_clinical.new", patient_id=patient.id))
    if request.form.get("next") == "proforma":
        return redirect(url_for("clinical.proforma_new", patient_id=patient.id,
                                prefill=1 if visit.visit_type == "follow_up" else None))
    if request.form.get("next") == "followup":
        return redirect(url_for("followups.new", patient_id=patient.id))
    flash(f"{patient.name} is with you now.", "success")
    return redirect(url_for("opd.today"))


@bp.post(f"/opd/visits/<{ID}:visit_id>/room", endpoint="change_room")
def change_room(visit_id: int):
    room = request.form.get("new_room") or ""
    return _act(visit_id, lambda v, p: queue.change_room(v, p, room, principal()),
                "{name} moved to room {room}, token {token}.")


@bp.post(f"/opd/visits/<{ID}:visit_id>/transfer", endpoint="transfer")
def transfer(visit_id: int):
    target = request.form.get("target_doctor_id") or ""
    return _act(visit_id, lambda v, p: queue.transfer(v, p, target, principal()), "{name} transferred.")


@bp.post(f"/opd/visits/<{ID}:visit_id>/claim", endpoint="claim")
def claim(visit_id: int):
    doctor = request.form.get("doctor_id") or None
    return _act(visit_id, lambda v, p: queue.claim(v, p, principal(), doctor), "{name} added to the list.")


@bp.post(f"/opd/visits/<{ID}:visit_id>/complete", endpoint="complete")
def complete(visit_id: int):
    return _act(visit_id, lambda v, p: queue.complete(v, p, principal()), "{name}'s visit is completed.")


@bp.post(f"/opd/visits/<{ID}:visit_id>/reopen", endpoint="reopen")
def reopen(visit_id: int):
    return _act(visit_id, lambda v, p: queue.reopen(v, p, principal()), "{name} is back in the queue.")

