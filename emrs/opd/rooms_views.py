"""Room management pages (Admin and welfare officers): /rooms list with search and an
active/inactive filter, add and edit forms, activate/deactivate, delete (only a room with
no history), and the Admin's "Doctors today" panel to move a doctor to another room."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..auth.guard import principal
from ..auth.navigation import allowed
from ..doors import is_htmx
from ..errors import DomainError
from ..extensions import db
from ..pages import form_errors, page_number
from ..submission import once_per_submission
from . import bp, rooms
from .models import MAX_CAPACITY, MIN_CAPACITY, Room

ID = "int(max=2147483647)"
PAGE_SIZE = 25
STATES = {"active": True, "inactive": False, "all": None}


def _back():
    return redirect(url_for("opd.rooms", q=request.form.get("q") or None, state=request.form.get("state") or None),
                    code=303)


@bp.get("/rooms", endpoint="rooms")
def rooms_page():
    q = (request.args.get("q") or "").strip()[:40]
    state = request.args.get("state", "active")
    if state not in STATES:
        state = "active"
    page = page_number()
    rows, total = rooms.list_rooms(page, PAGE_SIZE, STATES[state], q)
    ids = [r.id for r in rows]
    ctx = dict(rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)), q=q, state=state,
               seated=rooms.seated_count(ids), used=rooms.with_history(ids))
    if is_htmx():
        return render_template("opd/_rooms_rows.html", **ctx)
    if allowed("opd.room_move_doctor"):
        ctx["doctors"] = rooms.doctors_today()
        ctx["active_rooms"] = rooms.active_rooms()
    return render_template("opd/rooms.html", **ctx)


def _form(room, values: dict, errors: dict | None = None, message: str | None = None, status: int = 200):
    return render_template("opd/room_form.html", room=room, values=values, field_errors=errors or {},
                           message=message, capacities=range(MIN_CAPACITY, MAX_CAPACITY + 1),
                           max_number=rooms.ROOM_NUMBER_MAX, max_description=rooms.DESCRIPTION_MAX), status


def _refused(exc: DomainError, room, values: dict):
    db.session.rollback()
    by_field, top = form_errors(exc, keep_summary=True)
    errors = {path: "; ".join(msgs) for path, msgs in by_field.items()}
    if exc.status == 409 and not top:
        top = [exc.message]
    return _form(room, {k: (v or "")[:600] for k, v in values.items()}, errors, top[0] if top else None,
                 status=422 if exc.status in (400, 409) else exc.status)


def _values() -> dict:
    return {"room_number": request.form.get("room_number", ""), "description": request.form.get("description", ""),
            "doctor_capacity": request.form.get("doctor_capacity", "")}


@bp.route("/rooms/new", methods=["GET", "POST"], endpoint="room_new")
@once_per_submission
def room_new():
    if request.method == "GET":
        return _form(None, {"room_number": "", "description": "", "doctor_capacity": "1"})
    values = _values()
    try:
        room = rooms.create_room(values, principal())
    except DomainError as exc:
        return _refused(exc, None, values)
    flash(f"Added room {room.room_number}.", "success")
    return redirect(url_for("opd.rooms"), code=303)


@bp.route(f"/rooms/<{ID}:room_id>/edit", methods=["GET", "POST"], endpoint="room_edit")
def room_edit(room_id: int):
    room = db.session.get(Room, room_id)
    if room is None:
        flash("That room does not exist.", "error")
        return redirect(url_for("opd.rooms"))
    if request.method == "GET":
        return _form(room, {"room_number": room.room_number, "description": room.description or "",
                            "doctor_capacity": str(room.doctor_capacity)})
    values = _values()
    try:
        rooms.update_room(room.id, values, principal())
    except DomainError as exc:
        return _refused(exc, room, values)
    flash(f"Saved room {room.room_number}.", "success")
    return redirect(url_for("opd.rooms"), code=303)


@bp.post(f"/rooms/<{ID}:room_id>/active", endpoint="room_set_active")
def room_set_active(room_id: int):
    active = request.form.get("active", "")
    if active not in ("0", "1"):
        flash("Say whether the room is to be deactivated or activated.", "error")
        return _back()
    try:
        room = rooms.set_room_active(room_id, active == "1", principal())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back()
    flash(f"Room {room.room_number} is {'in use again' if room.is_active else 'deactivated: no longer offered'}.",
          "success")
    return _back()


@bp.post(f"/rooms/<{ID}:room_id>/delete", endpoint="room_delete")
def room_delete(room_id: int):
    try:
        room = rooms.delete_room(room_id, principal())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back()
    flash(f"Deleted room {room.room_number} (it had no history).", "success")
    return _back()


@bp.post(f"/rooms/doctors/<{ID}:user_id>", endpoint="room_move_doctor")
def room_move_doctor(user_id: int):
    """The Admin moves a doctor to another room for today, or clears their room."""
    number = (request.form.get("room_number") or "").strip()
    try:
        if number:
            moved = rooms.change_room(principal(), user_id, number)
            flash(f"{moved['doctor']['name']} now sits in room {moved['new_room']} today.", "success")
        else:
            left = rooms.unseat(principal(), user_id)
            flash("Cleared the doctor's room for today." if left else "That doctor had no room today.", "success")
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("opd.rooms") + "#doctors-today", code=303)
