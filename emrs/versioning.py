"""Edits checked against the version the editor saw (design §5: concurrent edits never
silently overwrite each other).

Comparing the version of the row this request loaded is not enough: two saves based on
the same version both load it, both see their version match, and the later commit
replaces the earlier one (bench/faults.py conflict found this for every versioned
record). `lock_for_edit` first re-reads the row with SELECT ... FOR UPDATE: a concurrent
save of the same row waits there until the other transaction has ended and then reads
the committed row, so one save wins and the other gets the 409. SQLite has no row locks:
there a write that changes nothing takes the database's write lock first, which does the
same for every table.
"""
from __future__ import annotations

from sqlalchemy import text

from .errors import Conflict, ValidationError, field_error
from .extensions import db


def lock_for_edit(row, expected_version=None, message: str | None = None) -> None:
    """Lock ``row`` for the rest of the transaction and refresh it; with
    ``expected_version`` (the version the editor saw) a different current version is a
    Conflict (409, code STALE) and a value that is not a whole number a 400."""
    if db.session.get_bind().dialect.name == "sqlite":
        table = type(row).__table__.name  # a model's table name, never input
        db.session.execute(text(f'UPDATE "{table}" SET version = version WHERE id = :id'), {"id": row.id})
    db.session.refresh(row, with_for_update=True)
    if expected_version in (None, ""):
        return
    if isinstance(expected_version, bool) or not str(expected_version).strip().isdecimal() \
            or len(str(expected_version).strip()) > 9:
        raise ValidationError("Validation failed", errors=[field_error("version", "version must be an integer")])
    if int(str(expected_version).strip()) != row.version:
        raise Conflict(message or "This record was changed by someone else after you opened it. "
                                  "Reload to see their changes.", code="STALE")
