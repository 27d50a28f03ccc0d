"""/api/rooms and a doctor's room for the day (/api/users/rooms/..., /api/users/:id/change-room):
thin adapters over emrs.opd.rooms, in the original system's shapes."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..errors import ValidationError, field_error
from ..opd import rooms
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .users import parse_id


def _one(room) -> dict:
    return rooms.room_json(room, rooms.seated([room.id])[room.id])


@bp.get("/rooms", endpoint="rooms_list")
def rooms_list():
    page, limit = pagination(default_limit=10)
    raw = (request.args.get("is_active") or "").strip().lower()
    if raw not in ("", "true", "false"):
        raise ValidationError("Validation failed", errors=[field_error("is_active", "is_active must be true or false",
                                                                       raw[:10], "query")])
    rows, total = rooms.list_rooms(page, limit, None if raw == "" else raw == "true", request.args.get("search"))
    seats = rooms.seated(r.id for r in rows)
    return ok({"rooms": [rooms.room_json(r, seats[r.id]) for r in rows], "pagination": page_object(page, limit, total)})


@bp.get("/rooms/<room_id>", endpoint="rooms_get")
def rooms_get(room_id):
    return ok(_one(rooms.get_room(parse_id(room_id))))


@bp.post("/rooms", endpoint="rooms_create")
def rooms_create():
    room = rooms.create_room(json_body(), principal())
    return ok(_one(room), "Room created successfully", 201)


@bp.put("/rooms/<room_id>", endpoint="rooms_update")
def rooms_update(room_id):
    room = rooms.update_room(parse_id(room_id), json_body(), principal())
    return ok(_one(room), "Room updated successfully")


@bp.delete("/rooms/<room_id>", endpoint="rooms_delete")
def rooms_delete(room_id):
    force = (request.args.get("force") or "").strip().lower() == "true"
    room = rooms.delete_room(parse_id(room_id), principal(), force=force)
    return ok({"id": room.id, "room_number": room.room_number}, "Room deleted successfully")


# ------------------------------------------------------------------ a doctor's room today

@bp.get("/users/rooms/available", endpoint="users_rooms_available")
def users_rooms_available():
    return ok(rooms.availability())


@bp.get("/users/rooms/my-room", endpoint="users_rooms_my_room")
def users_rooms_my_room():
    return ok(rooms.my_room(principal()))


@bp.post("/users/rooms/select", endpoint="users_rooms_select")
def users_rooms_select():
    """The server decides the day and time; a client's ``assignment_time`` is ignored."""
    data = json_body()
    seat = rooms.select_room(principal(), data.get("room_number"))
    mine = rooms.my_room(principal())
    return ok({"room": mine["current_room"], "assignment_time": mine["room_assignment_time"], "room_id": seat.room_id},
              f"You are in room {mine['current_room']} today")


@bp.post("/users/rooms/clear", endpoint="users_rooms_clear")
def users_rooms_clear():
    left = rooms.clear_room(principal())
    return ok({"current_room": None, "room_assignment_time": None, "cleared": left},
              "Room cleared" if left else "You had no room today")


@bp.put("/users/<user_id>/change-room", endpoint="users_change_room")
def users_change_room(user_id):
    data = json_body()
    moved = rooms.change_room(principal(), parse_id(user_id), data.get("new_room"))
    return ok(moved, f"{moved['doctor']['name']} moved to room {moved['new_room']}")
