"""Rooms and each doctor's room for the day: the lookups every OPD operation shares.

"Today" is always the server's IST calendar day (``timeutil.today_ist``); a doctor's room of an
earlier day means nothing today.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ..audit import service as audit
from ..auth.models import User
from ..errors import Conflict, ValidationError, field_error
from ..extensions import db
from ..patients.models import PatientVisit
from ..timeutil import today_ist
from .models import DoctorRoom, Room


def number_key(room_number: str) -> str:
    """The form a room number is compared in: trimmed, lower-cased."""
    return room_number.strip().lower()


def room_by_number(room_number: str) -> Room | None:
    return db.session.execute(select(Room).where(Room.number_key == number_key(room_number))).scalar_one_or_none()


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


def leave(doctor: User) -> bool:
    """Clear the doctor's room for today; False when there was none. The caller commits."""
    seat = db.session.execute(select(DoctorRoom).where(DoctorRoom.user_id == doctor.id,
                                                       DoctorRoom.day == today_ist())).scalar_one_or_none()
    if seat is None:
        return False
    audit.record("room_clear", "doctor_rooms", seat.id, details={"doctor_id": doctor.id, "room_id": seat.room_id})
    db.session.delete(seat)
    return True
