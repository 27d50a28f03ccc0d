"""Collision-free identifiers (never the clock, unlike the original).

CR and PSY numbers come from a per-year counter row that is incremented with one
atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (PostgreSQL and SQLite
both support it), inside the caller's transaction: two registrations at the same
moment get consecutive numbers, and a rolled-back registration gives its number
back only if nothing else took one after it (gaps are possible, duplicates not).

ADL numbers are ``ADL{yyyy}`` + 8 random upper-case alphanumerics; the unique
constraint on ``adl_files.adl_no`` is the final guard and the caller retries.
"""
from __future__ import annotations

import secrets
import string

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models_base import utcnow
from .models import NumberSequence

ALPHABET = string.ascii_uppercase + string.digits


def next_value(name: str, year: int) -> int:
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = NumberSequence.__table__
    now = utcnow()
    stmt = insert(table).values(name=name, year=year, last_value=1, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name, table.c.year],
        set_={"last_value": table.c.last_value + 1, "updated_at": now},
    ).returning(table.c.last_value)
    return db.session.execute(stmt).scalar_one()


def next_cr_no(year: int) -> str:
    """CR{yyyy}{6-digit per-year sequence}, e.g. CR2025000042."""
    return f"CR{year}{next_value('CR', year):06d}"


def next_cgc_no(year: int) -> str:
    """The Child Guidance Clinic number: CGC{yyyy}{6-digit per-year sequence}."""
    return f"CGC{year}{next_value('CGC', year):06d}"


def next_psy_no(year: int) -> str:
    return f"PSY{year}{next_value('PSY', year):06d}"


def random_adl_no(year: int) -> str:
    return f"ADL{year}" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def current_value(name: str, year: int) -> int:
    return db.session.execute(select(NumberSequence.last_value).where(
        NumberSequence.name == name, NumberSequence.year == year)).scalar_one_or_none() or 0
