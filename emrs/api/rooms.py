"""/api/rooms and a doctor's room for the day (/api/users/rooms/..., /api/users/:id/change-room):
thin adapters over emrs.opd.rooms, in the original system's shapes."""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..errors import ValidationError, field_error
from ..opd import rooms
from ..opd.models import MAX_CAPACITY, MIN_CAPACITY, Room
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import BOOL, DATETIME, INT, STR, Op, arr, list_of, model_schema, null, obj, page_params, query, ref
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
    seat, given = rooms.select_room(principal(), data.get("room_number"))
    mine = rooms.my_room(principal())
    return ok({"room": mine["current_room"], "assignment_time": mine["room_assignment_time"], "room_id": seat.room_id,
               **given}, f"You are in room {mine['current_room']} today")


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

# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

ROOM = model_schema(Room, exclude=("number_key",), extra={
    "assigned_doctors": arr(obj({"id": INT, "name": STR, "role": STR, "assignment_time": DATETIME})),
    "assigned_doctor": {**null(STR), "description": "The first seated doctor's name (one-doctor rooms' clients)."}},
    description="An OPD room with the doctors seated in it today (IST).")
ROOM_NUMBER = {"type": "string", "minLength": 1, "maxLength": rooms.ROOM_NUMBER_MAX}
ROOM_FIELDS = {"room_number": ROOM_NUMBER, "description": null({"type": "string", "maxLength": 1000}),
               "doctor_capacity": {"type": "integer", "minimum": MIN_CAPACITY, "maximum": MAX_CAPACITY},
               "is_active": BOOL}
ASSIGNED = {  # what a doctor taking a room was given (the original's answer)
    "patients_assigned": {**INT, "description": "How many of the room's waiting, unassigned patients of today "
                                                "this seat gave the doctor (0 when another doctor already sits "
                                                "there: only a room's only doctor takes them)."},
    "patients": arr(obj({"id": INT, "name": STR, "assigned_room": null(STR),
                         "patient_type": {"type": "string", "enum": ["adult", "child"]}}))}
MY_ROOM = obj({"current_room": null(STR), "room_assignment_time": null(DATETIME)})

OPENAPI_SCHEMAS = {"Room": ROOM}
OPENAPI = {
    "rooms_list": Op("Rooms", "List rooms", list_of("rooms", "Room"), params=(
        *page_params(), query("is_active", {"type": "string", "enum": ["true", "false"]}, "Active or not."),
        query("search", {"type": "string", "maxLength": 100}, "Part of the room number.")),
        description="Ordered by room number; each room lists the doctors seated in it today."),
    "rooms_get": Op("Rooms", "One room", ref("Room")),
    "rooms_create": Op("Rooms", "Add a room", ref("Room"), status=201, message="Room created successfully",
                       body=obj(ROOM_FIELDS, required=("room_number",)), errors=(409,),
                       description="Room numbers are unique ignoring case and surrounding spaces (409)."),
    "rooms_update": Op("Rooms", "Change a room", ref("Room"), message="Room updated successfully",
                       body=obj(ROOM_FIELDS, required=()), errors=(409,),
                       description="Renaming keeps every visit, patient and doctor-day pointing at the room; "
                                   "visits keep the number printed that day. Capacity cannot drop below the "
                                   "doctors seated today, and an occupied room cannot be deactivated (409)."),
    "rooms_delete": Op("Rooms", "Delete a room without history", obj({"id": INT, "room_number": STR}),
                       message="Room deleted successfully", errors=(409,),
                       params=(query("force", {"type": "string"}, "Ignored: a room with history is never deleted."),),
                       description="A room any visit, patient or doctor-day points at is refused with 409 "
                                   "(code ROOM_HAS_HISTORY): deactivate it instead."),
    "users_rooms_available": Op("Rooms", "Rooms and their occupancy today", obj({
        "rooms": arr(STR), "available_rooms": arr(STR),
        "distribution": {"type": "object", "additionalProperties": INT,
                         "description": "Each active room's adult patients of all time (active patients whose "
                                        "room it is)."},
        "distribution_today": {"type": "object", "additionalProperties": INT},
        "occupied_rooms": {"type": "object", "additionalProperties": obj({
            "capacity": INT, "doctors": arr(obj({"doctor_id": INT, "doctor_name": STR})), "slots_remaining": INT,
            "doctor_id": null(INT), "doctor_name": null(STR)})}})),
    "users_rooms_my_room": Op("Rooms", "My room today", MY_ROOM),
    "users_rooms_select": Op("Rooms", "Sit in a room today", obj({"room": STR, "assignment_time": DATETIME,
                                                                 "room_id": INT, **ASSIGNED}),
                             message="You are in room 7 today", body=obj({"room_number": ROOM_NUMBER}),
                             errors=(404, 409),
                             description="Faculty and Residents. The server decides the day (IST) and time; a "
                                         "client's assignment_time is ignored. 409 when the room is full."),
    "users_rooms_clear": Op("Rooms", "Leave my room", obj({"current_room": {"type": "null"},
                                                          "room_assignment_time": {"type": "null"},
                                                          "cleared": BOOL}), message="Room cleared"),
    "users_change_room": Op("Rooms", "Move a doctor to another room (Admin)", obj({
        "doctor": obj({"id": INT, "name": STR, "role": STR}), "old_room": null(STR), "new_room": STR,
        "assignment_time": DATETIME, **ASSIGNED}), message="Dr X moved to room 7", body=obj({"new_room": ROOM_NUMBER}),
        errors=(409,)),
}
