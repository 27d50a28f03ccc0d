"""Rooms and each doctor's room for the day: the lookups every OPD operation shares.

"Today" is always the server's IST calendar day (``timeutil.today_ist``); a doctor's room of an
earlier day means nothing today.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ..auth.models import User
from ..extensions import db
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
