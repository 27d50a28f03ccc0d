"""Rooms and seats for the OPD tests (rows, committed)."""
from __future__ import annotations

from emrs.extensions import db
from emrs.opd import rooms
from emrs.opd.models import Room


def room(number: str, capacity: int = 1, active: bool = True) -> Room:
    row = Room(room_number=number, number_key=rooms.number_key(number), doctor_capacity=capacity, is_active=active)
    db.session.add(row)
    db.session.commit()
    return row


def seat(doctor, room_row) -> None:
    """Seat a doctor for today without routing (rooms.sit), committed."""
    rooms.sit(doctor, room_row)
    db.session.commit()
