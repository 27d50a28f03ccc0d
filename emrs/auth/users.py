"""Look-ups of user accounts for the other domains: who a patient can be sent to, which
accounts a list can be filtered by. The other domains ask here instead of querying users."""
from __future__ import annotations

import functools
from typing import NamedTuple

from sqlalchemy import and_, select

from ..errors import ValidationError, field_error
from ..extensions import db
from ..prepared import Prepared
from .models import DOCTOR_ROLES, User, grade_label


def is_active_doctor():
    """The condition on users: an active Faculty member or Resident."""
    return and_(User.role.in_(DOCTOR_ROLES), User.is_active.is_(True))


@functools.cache  # built once: the patient pages ask on every view
def _active_doctors():
    return select(User).where(is_active_doctor()).order_by(User.name)


def active_doctors() -> list[User]:
    """Who a patient can be sent to: active Faculty and Residents, by name."""
    return list(db.session.execute(_active_doctors()).scalars())


class DoctorChoice(NamedTuple):
    """A doctor as a form's "send to" list shows them (no account objects: a page read on
    every view lists every doctor of the department)."""
    id: int
    name: str
    role: str
    grade: str | None

    @property
    def sub_role(self) -> str | None:
        return grade_label(self.grade)


_DOCTOR_CHOICES = Prepared("emrs_doctor_choices", lambda _pg: select(User.id, User.name, User.role, User.grade)
                           .where(is_active_doctor()).order_by(User.name), (), named=True)


def doctor_choices() -> list[DoctorChoice]:
    """active_doctors() as the choices of a form, from one statement planned once."""
    return [DoctorChoice(*row) for row in _DOCTOR_CHOICES.rows({})]


def with_roles(roles) -> list[User]:
    """Every account of these roles, active or not, by name (the people a list of records
    can be filtered by: someone who left still created what they created)."""
    return list(db.session.execute(select(User).where(User.role.in_(tuple(roles))).order_by(User.name)).scalars())


def everyone() -> list[User]:
    """Every account, by name."""
    return list(db.session.execute(select(User).order_by(User.name)).scalars())


def get(user_id: int | None) -> User | None:
    """The account with this id, or None (also for no id)."""
    return db.session.get(User, user_id) if user_id else None


def doctor_to_assign(doctor_id, field: str = "assigned_doctor_id") -> User:
    """The active Faculty member or Resident ``doctor_id`` names (an int or its digits),
    else ValidationError on ``field``."""
    if isinstance(doctor_id, str) and doctor_id.strip().isdecimal() and len(doctor_id.strip()) < 10:
        doctor_id = int(doctor_id)
    if isinstance(doctor_id, bool) or not isinstance(doctor_id, int) or not 0 < doctor_id < 2**31:
        raise ValidationError("Validation failed", errors=[field_error(field, "Choose a doctor", doctor_id)])
    user = db.session.get(User, doctor_id)
    if user is None or not user.is_active or user.role not in DOCTOR_ROLES:
        raise ValidationError("Validation failed", errors=[field_error(
            field, "The assigned doctor must be an active Faculty member or Resident", doctor_id)])
    return user
