"""Rooms and each doctor's room for the day: the lookups every OPD operation shares.

"Today" is always the server's IST calendar day (``timeutil.today_ist``); a doctor's room of an
earlier day means nothing today.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select, text
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..auth.models import User
from ..errors import Conflict, NotFound, ValidationError, field_error
from ..extensions import db
from ..patients.models import OPEN_VISIT_STATUSES, Patient, PatientVisit
from ..timeutil import today_ist
from .models import MAX_CAPACITY, MIN_CAPACITY, DoctorRoom, Room


def number_key(room_number: str) -> str:
    """The form a room number is compared in: trimmed, lower-cased."""
    return room_number.strip().lower()


def room_by_number(room_number: str) -> Room | None:
    return db.session.execute(select(Room).where(Room.number_key == number_key(room_number))).scalar_one_or_none()


def any_rooms() -> bool:
    """Whether any room has been set up (active or not)."""
    return db.session.execute(select(Room.id).limit(1)).first() is not None


def active_rooms() -> list[Room]:
    return list(db.session.execute(select(Room).where(Room.is_active.is_(True))
                                   .order_by(func.length(Room.room_number), Room.room_number)).scalars())


def room_of(user_id: int, day: dt.date | None = None) -> Room | None:
    """The room this doctor sits in on ``day`` (today, IST, by default), or None."""
    return db.session.execute(select(Room).join(DoctorRoom, DoctorRoom.room_id == Room.id).where(
        DoctorRoom.user_id == user_id, DoctorRoom.day == (day or today_ist()))).scalar_one_or_none()


def doctors_in(room_id: int, day: dt.date | None = None) -> list[tuple[User, DoctorRoom]]:
    """Doctors sitting in the room on ``day``, earliest first."""
    return list(db.session.execute(select(User, DoctorRoom).join(DoctorRoom, DoctorRoom.user_id == User.id).where(
        DoctorRoom.room_id == room_id, DoctorRoom.day == (day or today_ist()))
        .order_by(DoctorRoom.since, DoctorRoom.id)).all())


def occupancy(day: dt.date | None = None) -> list[dict]:
    """Every active room with who sits in it on ``day`` and that day's queue size:
    ``{"room", "doctors": [User], "capacity", "slots_left", "full", "patients_today"}``."""
    day = day or today_ist()
    rooms = active_rooms()
    seated: dict[int, list[User]] = {}
    for user, seat in db.session.execute(select(User, DoctorRoom).join(DoctorRoom, DoctorRoom.user_id == User.id)
                                         .where(DoctorRoom.day == day).order_by(DoctorRoom.since, DoctorRoom.id)):
        seated.setdefault(seat.room_id, []).append(user)
    counts = dict(db.session.execute(select(PatientVisit.room_id, func.count(PatientVisit.id)).where(
        PatientVisit.visit_date == day, PatientVisit.room_id.is_not(None)).group_by(PatientVisit.room_id)).all())
    out = []
    for room in rooms:
        doctors = seated.get(room.id, [])
        left = max(room.doctor_capacity - len(doctors), 0)
        out.append({"room": room, "doctors": doctors, "capacity": room.doctor_capacity, "slots_left": left,
                    "full": left == 0, "patients_today": counts.get(room.id, 0)})
    return out


def sit(doctor: User, room: Room, by: User | None = None) -> DoctorRoom:
    """Seat a doctor (Faculty or Resident) in ``room`` for today (IST). Re-choosing the same
    room keeps the seat; choosing another moves the doctor. Refused when the room is inactive
    or already holds ``doctor_capacity`` other doctors. Audited; the caller commits."""
    if not doctor.is_doctor:
        raise ValidationError("Only Faculty and Residents sit in OPD rooms",
                              errors=[field_error("user_id", "Not a doctor", doctor.id)])
    if not room.is_active:
        raise ValidationError(f"Room {room.room_number} is not in use",
                              errors=[field_error("room_number", "This room is inactive", room.room_number)])
    day = today_ist()
    seat = db.session.execute(select(DoctorRoom).where(DoctorRoom.user_id == doctor.id, DoctorRoom.day == day)
                              .with_for_update()).scalar_one_or_none()
    if seat is not None and seat.room_id == room.id:
        return seat
    others = db.session.execute(select(func.count(DoctorRoom.id)).where(
        DoctorRoom.room_id == room.id, DoctorRoom.day == day, DoctorRoom.user_id != doctor.id)).scalar_one()
    if others >= room.doctor_capacity:
        raise Conflict(f"Room {room.room_number} is full ({room.doctor_capacity} of {room.doctor_capacity} doctors)")
    old_room_id = seat.room_id if seat is not None else None
    if seat is None:
        seat = DoctorRoom(user_id=doctor.id, day=day)
        db.session.add(seat)
    seat.room_id, seat.assigned_by = room.id, (by.id if by is not None and by.id != doctor.id else None)
    seat.since = dt.datetime.now(dt.timezone.utc)
    db.session.flush()
    audit.record("room_select" if by is None or by.id == doctor.id else "room_move", "doctor_rooms", seat.id,
                 details={"doctor_id": doctor.id, "room_id": room.id, "old_room_id": old_room_id})
    return seat


def take_waiting(doctor: User, room: Room) -> list[PatientVisit]:
    """When the doctor is the only one seated in the room today, give them the room's
    unassigned waiting visits of today (audited). The caller commits."""
    day = today_ist()
    if len(doctors_in(room.id, day)) != 1:
        return []
    taken = list(db.session.execute(select(PatientVisit).where(
        PatientVisit.visit_date == day, PatientVisit.room_id == room.id, PatientVisit.assigned_doctor_id.is_(None),
        PatientVisit.visit_status.in_(OPEN_VISIT_STATUSES))).scalars())
    for visit in taken:
        visit.assigned_doctor_id = doctor.id
        patient = db.session.get(Patient, visit.patient_id)
        patient.assigned_doctor_id, patient.assigned_doctor_name = doctor.id, doctor.name
        audit.record("visit_route", "patient_visits", visit.id, patient_id=visit.patient_id,
                     details={"doctor_id": doctor.id, "room_id": room.id, "reason": "doctor_seated"})
    return taken


def leave(doctor: User) -> bool:
    """Clear the doctor's room for today; False when there was none. The caller commits."""
    seat = db.session.execute(select(DoctorRoom).where(DoctorRoom.user_id == doctor.id,
                                                       DoctorRoom.day == today_ist())).scalar_one_or_none()
    if seat is None:
        return False
    audit.record("room_clear", "doctor_rooms", seat.id, details={"doctor_id": doctor.id, "room_id": seat.room_id})
    db.session.delete(seat)
    return True


# ------------------------------------------------------------------ room management (Admin, PWO)

ROOM_NUMBER_MAX = 20
DESCRIPTION_MAX = 500


def _bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.strip().lower() in ("true", "1", "yes", "on")
    raise ValidationError("Validation failed", errors=[field_error(name, f"{name} must be true or false", value)])


def _clean_room(data: dict, room: Room | None) -> dict:
    """The fields of a room to create (``room`` None: number required) or change (partial)."""
    out, errors = {}, []
    if "room_number" in data or room is None:
        raw = data.get("room_number")
        number = raw.strip() if isinstance(raw, str) else ""
        if not number:
            errors.append(field_error("room_number", "Room number is required", raw))
        elif len(number) > ROOM_NUMBER_MAX:
            errors.append(field_error("room_number", f"Room number must be at most {ROOM_NUMBER_MAX} characters",
                                      number[:40]))
        else:
            out["room_number"] = number
    if "description" in data:
        raw = data.get("description")
        if raw is not None and not isinstance(raw, str):
            errors.append(field_error("description", "Description must be text", None))
        else:
            text = (raw or "").strip()
            if len(text) > DESCRIPTION_MAX:
                errors.append(field_error("description", f"Description must be at most {DESCRIPTION_MAX} characters",
                                          None))
            else:
                out["description"] = text or None
    if "doctor_capacity" in data or room is None:
        raw = data.get("doctor_capacity", MIN_CAPACITY if room is None else None)
        ok = (not isinstance(raw, bool) and isinstance(raw, (int, str)) and str(raw).strip().isdecimal()
              and len(str(raw).strip()) < 10 and MIN_CAPACITY <= int(str(raw).strip()) <= MAX_CAPACITY)
        if ok:
            out["doctor_capacity"] = int(str(raw).strip())
        else:
            errors.append(field_error("doctor_capacity",
                                      f"Doctor capacity must be a whole number from {MIN_CAPACITY} to {MAX_CAPACITY}",
                                      raw if isinstance(raw, (int, str)) and len(str(raw)) < 20 else None))
    if "is_active" in data and data.get("is_active") is not None:
        try:
            out["is_active"] = _bool(data.get("is_active"), "is_active")
        except ValidationError as exc:
            errors += exc.errors
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    if "room_number" in out:
        other = room_by_number(out["room_number"])
        if other is not None and (room is None or other.id != room.id):
            raise Conflict(f"Room number already exists: {other.room_number}",
                           errors=[field_error("room_number", "Another room has this number", out["room_number"])])
    return out


def get_room(room_id: int) -> Room:
    room = db.session.get(Room, room_id)
    if room is None:
        raise NotFound("Room not found")
    return room


def list_rooms(page: int = 1, limit: int = 10, is_active: bool | None = None,
               search: str | None = None) -> tuple[list[Room], int]:
    """Rooms by number (shortest first, so 2 comes before 10), filtered; (rows, total)."""
    q = select(Room)
    if is_active is not None:
        q = q.where(Room.is_active.is_(is_active))
    term = (search or "").strip().lower()[:ROOM_NUMBER_MAX * 2]
    if term:
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(or_(Room.number_key.like(like, escape="\\"), func.lower(Room.description).like(like, escape="\\")))
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(func.length(Room.room_number), Room.room_number, Room.id)
                              .offset((page - 1) * limit).limit(limit)).scalars().all()
    return list(rows), total


def seated(room_ids, day: dt.date | None = None) -> dict[int, list[tuple[User, DoctorRoom]]]:
    """room id -> [(doctor, seat)] on ``day``, earliest first."""
    ids = list(room_ids)
    out: dict[int, list] = {i: [] for i in ids}
    if not ids:
        return out
    for user, seat in db.session.execute(select(User, DoctorRoom).join(DoctorRoom, DoctorRoom.user_id == User.id)
                                         .where(DoctorRoom.room_id.in_(ids), DoctorRoom.day == (day or today_ist()))
                                         .order_by(DoctorRoom.since, DoctorRoom.id)):
        out[seat.room_id].append((user, seat))
    return out


def room_json(room: Room, doctors: list[tuple[User, DoctorRoom]]) -> dict:
    """The original's room object: the columns, today's doctors, and ``assigned_doctor`` (the
    first doctor's name, for clients of the one-doctor rooms; null when nobody sits there)."""
    from ..serialize import json_value
    body = room.to_dict()
    body["assigned_doctors"] = [{"id": u.id, "name": u.name, "role": u.role, "assignment_time": json_value(s.since)}
                                for u, s in doctors]
    body["assigned_doctor"] = doctors[0][0].name if doctors else None
    return body


def history(room: Room) -> dict:
    """What points at the room: visits, patients and doctor-days (any date)."""
    return {
        "visits": db.session.execute(select(func.count(PatientVisit.id)).where(PatientVisit.room_id == room.id))
        .scalar_one(),
        "patients": db.session.execute(select(func.count(Patient.id)).where(Patient.assigned_room_id == room.id))
        .scalar_one(),
        "doctor_days": db.session.execute(select(func.count(DoctorRoom.id)).where(DoctorRoom.room_id == room.id))
        .scalar_one(),
    }


def create_room(data: dict, actor: User) -> Room:
    values = _clean_room(data, None)
    room = Room(room_number=values["room_number"], number_key=number_key(values["room_number"]),
                description=values.get("description"), doctor_capacity=values["doctor_capacity"],
                is_active=values.get("is_active", True))
    db.session.add(room)
    db.session.flush()
    audit.record("room_create", "rooms", room.id, user_id=actor.id,
                 details={"room_number": room.room_number, "doctor_capacity": room.doctor_capacity})
    db.session.commit()
    return room


def update_room(room_id: int, data: dict, actor: User) -> Room:
    """Change a room's number, description, capacity or state. A new number changes no visit,
    patient or seat: they point at the room's id, and each visit keeps the number printed on
    its day's slip. Capacity cannot drop below the doctors seated there today."""
    room = get_room(room_id)
    values = _clean_room(data, room)
    if "doctor_capacity" in values:
        here = len(doctors_in(room.id))
        if values["doctor_capacity"] < here:
            raise ValidationError(f"{here} doctors sit in room {room.room_number} today: capacity cannot be "
                                  f"less than {here}", errors=[field_error("doctor_capacity",
                                                                           f"At least {here} today",
                                                                           values["doctor_capacity"])])
    if values.get("is_active") is False and room.is_active and doctors_in(room.id):
        raise Conflict(f"Doctors sit in room {room.room_number} today: move them to another room before "
                       "deactivating it")
    changed = sorted(k for k, v in values.items() if getattr(room, k) != v)
    for key, value in values.items():
        setattr(room, key, value)
    if "room_number" in values:
        room.number_key = number_key(values["room_number"])
    db.session.flush()
    audit.record("room_update", "rooms", room.id, user_id=actor.id,
                 details={"fields": changed, "room_number": room.room_number})
    db.session.commit()
    return room


def set_room_active(room_id: int, active: bool, actor: User) -> Room:
    return update_room(room_id, {"is_active": active}, actor)


def delete_room(room_id: int, actor: User, force: bool = False) -> Room:
    """Delete a room that nothing ever pointed at. A room with history (a visit, a patient,
    a doctor's day) is deactivated instead, never deleted — ``force`` changes nothing."""
    room = get_room(room_id)
    used = history(room)
    if any(used.values()):
        parts = [f"{n} {label}" for n, label in ((used["visits"], "visit(s)"), (used["patients"], "patient(s)"),
                                                 (used["doctor_days"], "doctor day(s)")) if n]
        audit.record("room_delete_refused", "rooms", room.id, user_id=actor.id,
                     details={**used, "force": bool(force)})
        db.session.commit()
        raise Conflict(f"Room {room.room_number} has history ({', '.join(parts)}) and cannot be deleted: "
                       "deactivate it instead. Its history is kept.", code="ROOM_HAS_HISTORY")
    audit.record("room_delete", "rooms", room.id, user_id=actor.id, details={"room_number": room.room_number})
    db.session.delete(room)
    db.session.commit()
    return room


# ------------------------------------------------------------------ a doctor's room (API and pages)

def availability(day: dt.date | None = None) -> dict:
    """The original's ``GET /api/users/rooms/available``: every active room's number, those
    with a free doctor slot, today's patients per room (visits today), and who sits where."""
    rooms = occupancy(day)
    seats = seated([o["room"].id for o in rooms], day)
    occupied = {}
    for o in rooms:
        if not o["doctors"]:
            continue
        doctors = [{"doctor_id": u.id, "doctor_name": u.name} for u, _s in seats[o["room"].id]]
        occupied[o["room"].room_number] = {"capacity": o["capacity"], "doctors": doctors,
                                           "slots_remaining": o["slots_left"],
                                           "doctor_id": doctors[0]["doctor_id"], "doctor_name": doctors[0]["doctor_name"]}
    return {"rooms": [o["room"].room_number for o in rooms],
            "available_rooms": [o["room"].room_number for o in rooms if not o["full"]],
            "distribution": distribution([o["room"] for o in rooms]),
            "distribution_today": {o["room"].room_number: o["patients_today"] for o in rooms},
            "occupied_rooms": occupied}


def distribution(rooms: list[Room]) -> dict[str, int]:
    """The original's ``distribution``: every active room's adult patients of all time (active
    patients whose room is that room), one grouped query."""
    counts = dict(db.session.execute(select(Patient.assigned_room_id, func.count(Patient.id)).where(
        Patient.assigned_room_id.in_([r.id for r in rooms] or [0]), Patient.is_active.is_(True),
        Patient.clinic == "adult").group_by(Patient.assigned_room_id)).all())
    return {r.room_number: counts.get(r.id, 0) for r in rooms}


def assigned_patients(visits: list[PatientVisit]) -> dict:
    """The original's answer to a doctor taking a room: ``{patients_assigned, patients[{id,
    name, assigned_room, patient_type}]}`` — the room's waiting patients this seat gave the
    doctor (``take_waiting``; none when another doctor already sat there), by token."""
    ids = [v.patient_id for v in sorted(visits, key=lambda v: (v.token_no or 0, v.id))]
    found = {row.id: row for row in db.session.execute(select(
        Patient.id, Patient.name, Patient.assigned_room, Patient.clinic).where(Patient.id.in_(ids or [0])))}
    patients = [{"id": i, "name": found[i].name, "assigned_room": found[i].assigned_room,
                 "patient_type": found[i].clinic} for i in ids if i in found]
    return {"patients_assigned": len(patients), "patients": patients}


def my_room(user: User) -> dict:
    """``{current_room, room_assignment_time}`` for today (IST); nulls when none."""
    from ..serialize import json_value
    seat = db.session.execute(select(DoctorRoom, Room).join(Room, Room.id == DoctorRoom.room_id).where(
        DoctorRoom.user_id == user.id, DoctorRoom.day == today_ist())).first()
    if seat is None:
        return {"current_room": None, "room_assignment_time": None}
    return {"current_room": seat[1].room_number, "room_assignment_time": json_value(seat[0].since)}


def _room_named(room_number, field: str = "room_number") -> Room:
    if not isinstance(room_number, (str, int)) or isinstance(room_number, bool) or not str(room_number).strip():
        raise ValidationError("Validation failed", errors=[field_error(field, "Room number is required",
                                                                       room_number if isinstance(room_number, str)
                                                                       else None)])
    text = str(room_number).strip()
    room = room_by_number(text) if len(text) <= ROOM_NUMBER_MAX else None
    if room is None:
        raise NotFound(f"Room {text[:ROOM_NUMBER_MAX]} does not exist")
    return room


def select_room(doctor: User, room_number) -> tuple[DoctorRoom, dict]:
    """The doctor chooses today's room (the server decides the day and the time): the seat
    and the patients it gave them (``assigned_patients``)."""
    room = _room_named(room_number)
    seat = sit(doctor, room)
    taken = take_waiting(doctor, room)
    db.session.commit()
    return seat, assigned_patients(taken)


def clear_room(doctor: User) -> bool:
    left = leave(doctor)
    db.session.commit()
    return left


def change_room(actor: User, doctor_id: int, new_room) -> dict:
    """An Admin moves a doctor to another room for today:
    ``{doctor, old_room, new_room, assignment_time, patients_assigned, patients}``."""
    from ..serialize import json_value
    doctor = db.session.get(User, doctor_id)
    if doctor is None:
        raise NotFound("User not found")
    if not doctor.is_active:
        raise ValidationError(f"{doctor.name}'s account is deactivated")
    room = _room_named(new_room, "new_room")
    old = room_of(doctor.id)
    seat = sit(doctor, room, by=actor)
    taken = take_waiting(doctor, room)
    db.session.commit()
    return {"doctor": {"id": doctor.id, "name": doctor.name, "role": doctor.role},
            "old_room": old.room_number if old is not None else None, "new_room": room.room_number,
            "assignment_time": json_value(seat.since), **assigned_patients(taken)}


def doctors_today() -> list[dict]:
    """Every active doctor (Faculty, Resident) and their room today, for the Admin's panel."""
    from ..auth.models import DOCTOR_ROLES
    seats = dict(db.session.execute(select(DoctorRoom.user_id, DoctorRoom.room_id)
                                    .where(DoctorRoom.day == today_ist())).all())
    doctors = db.session.execute(select(User).where(User.role.in_(tuple(DOCTOR_ROLES)), User.is_active.is_(True))
                                 .order_by(User.name, User.id)).scalars().all()
    return [{"doctor": d, "room_id": seats.get(d.id)} for d in doctors]


def with_history(room_ids) -> set[int]:
    """The rooms among ``room_ids`` that anything ever pointed at (they can only be deactivated)."""
    ids = list(room_ids)
    if not ids:
        return set()
    used = set(db.session.execute(select(PatientVisit.room_id).where(PatientVisit.room_id.in_(ids)).distinct())
               .scalars())
    used |= set(db.session.execute(select(Patient.assigned_room_id).where(Patient.assigned_room_id.in_(ids))
                                   .distinct()).scalars())
    used |= set(db.session.execute(select(DoctorRoom.room_id).where(DoctorRoom.room_id.in_(ids)).distinct())
                .scalars())
    return used


def unseat(actor: User, doctor_id: int) -> bool:
    """An Admin clears a doctor's room for today; False when they had none."""
    doctor = db.session.get(User, doctor_id)
    if doctor is None:
        raise NotFound("User not found")
    left = leave(doctor)
    db.session.commit()
    return left


def seated_count(room_ids, day: dt.date | None = None) -> dict[int, int]:
    return {rid: len(rows) for rid, rows in seated(room_ids, day).items()}


# ------------------------------------------------------------------ a room by its number, a token in it
def room_for(value, field: str = "assigned_room") -> Room:
    """The active room named by ``value`` (its number, or its id as an int); else a
    ValidationError on ``field`` that says why."""
    room = None
    if isinstance(value, int) and not isinstance(value, bool):
        room = db.session.get(Room, value) if 0 < value < 2**31 else None
    elif isinstance(value, str) and value.strip() and len(value.strip()) <= 20:
        room = room_by_number(value)
    elif value in (None, "") or (isinstance(value, str) and not value.strip()):
        raise ValidationError("Choose a room", errors=[field_error(field, "Choose a room")])
    else:
        raise ValidationError("Room must be a room number of at most 20 characters",
                              errors=[field_error(field, "Room must be a room number of at most 20 characters")])
    if room is None:
        shown = value if isinstance(value, str) else str(value)
        raise ValidationError(f"There is no room {shown.strip()[:20]}",
                              errors=[field_error(field, "No such room", shown.strip()[:20])])
    if not room.is_active:
        raise ValidationError(f"Room {room.room_number} is not in use",
                              errors=[field_error(field, "This room is inactive", room.room_number)])
    return room

def _lock_room(room: Room) -> None:
    """Serialise token numbers per room: PostgreSQL locks the room's row until the commit;
    SQLite has one writer at a time, taken here by a no-op write before the read."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("UPDATE rooms SET number_key = number_key WHERE id = :id"), {"id": room.id})
    else:
        db.session.execute(select(Room.id).where(Room.id == room.id).with_for_update())

def place(visit: PatientVisit, room: Room, day: dt.date) -> None:
    """Give the visit the next token of ``room`` (under the room's lock) and flush. The
    unique (visit_date, room_id, token_no) is the last guard: a clash is a 409, nothing saved."""
    _lock_room(room)
    top = db.session.execute(select(func.max(PatientVisit.token_no)).where(
        PatientVisit.visit_date == day, PatientVisit.room_id == room.id)).scalar()
    visit.room_id, visit.room_no, visit.token_no = room.id, room.room_number, (top or 0) + 1
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("The room's queue changed while saving; try again")

def room_of_assignment(room_value) -> Room | None:
    """The room an assignment (``POST /api/patients/assign``, the patient page's *Assign*)
    names: an active room by number, None when none is named. Once rooms are set up, a room
    number that names no active room is refused (ValidationError on ``room_no``); before any
    room exists (a first run), the number stays the free text the original stored."""
    if room_value in (None, "") or not isinstance(room_value, str) or not room_value.strip():
        return None
    if not any_rooms():
        return None
    return room_for(room_value, field="room_no")
