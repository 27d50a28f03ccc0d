"""The one audit hook. Every domain calls record() on each read or write of a
patient's data; auth calls it for logins, failures, OTP failures and lockouts.

record() only adds the row to the current transaction: the caller's commit
writes the clinical change and its audit row together, or neither.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
import functools
import json

from flask import g, has_request_context, request
from sqlalchemy import bindparam, func, insert, select

from ..extensions import db
from ..prepared import Prepared
from ..client import user_agent
from ..models_base import utcnow
from .models import AuditLog


def _request_facts() -> dict:
    if not has_request_context():
        return {}
    ua = user_agent() or None
    return {
        "ip_address": (request.remote_addr or "")[:45] or None,
        "request_id": getattr(g, "request_id", None),
        "user_agent": ua,
    }


def current_actor_id() -> int | None:
    """Id of the authenticated principal of this request (page or API), if any."""
    if not has_request_context():
        return None
    user = getattr(g, "principal", None)
    return user.id if user is not None else None


def _values(action: str, entity: str, entity_id=None, patient_id: int | None = None,
            user_id: int | None = None, details: dict | None = None) -> dict:
    return dict(
        user_id=user_id if user_id is not None else current_actor_id(),
        action=action[:40],
        entity=entity[:50],
        entity_id=None if entity_id is None else str(entity_id)[:64],
        patient_id=patient_id,
        details=details,
        **_request_facts(),
    )


def record(action: str, entity: str, entity_id=None, patient_id: int | None = None,
           user_id: int | None = None, details: dict | None = None) -> AuditLog:
    """Add an audit row to the current transaction.

    ``details`` must never carry passwords, codes, tokens or clinical free text:
    field names and ids only.
    """
    row = AuditLog(**_values(action, entity, entity_id, patient_id, user_id, details))
    db.session.add(row)
    return row


def insert_now(*args, **kwargs) -> None:
    """Insert the row straight away in the current transaction (a plain INSERT costs a
    fraction of the ORM's flush); the caller commits it with whatever else it did."""
    values = _values(*args, **kwargs)
    values["created_at"] = utcnow()
    db.session.connection().execute(_insert(), values)


def record_now(*args, **kwargs) -> None:
    """Record and commit at once (a read, or an event with no other write such as a failed
    login): the row is inserted, then everything is committed together."""
    insert_now(*args, **kwargs)
    db.session.commit()


# A read whose own statement inserts its audit row (patients.reading.read_patient on PostgreSQL:
# one round trip instead of two): the row record_now() would insert, as that statement's
# parameters, and the INSERT … SELECT that writes it for each row a source gives.
ROW_COLUMNS = ("user_id", "action", "entity", "entity_id", "patient_id", "ip_address", "request_id",
               "user_agent", "details", "created_at")
ROW_PARAMETER_TYPES = (("audit_user_id", "int"), ("audit_action", "varchar"), ("audit_entity", "varchar"),
                       ("audit_entity_id", "varchar"), ("audit_patient_id", "int"), ("audit_ip_address", "varchar"),
                       ("audit_request_id", "varchar"), ("audit_user_agent", "varchar"), ("audit_details", "jsonb"),
                       ("audit_created_at", "timestamptz"))


def row_parameters(action: str, entity: str, entity_id=None, patient_id: int | None = None) -> dict:
    """record_now()'s values as ``audit_<column>`` parameters (``details`` as JSON text: a read
    has none, stored as JSON null exactly as the ORM's JSON type stores None)."""
    values = _values(action, entity, entity_id, patient_id)
    values["created_at"] = utcnow()
    return {f"audit_{name}": json.dumps(values[name]) if name == "details" else values[name] for name in ROW_COLUMNS}


def insert_for_each(source, where):
    """A CTE inserting the audit row of row_parameters() once for each row of ``source``
    matching ``where`` (PostgreSQL: a data-modifying WITH runs even when nothing selects it)."""
    table = AuditLog.__table__
    rows = select(*[bindparam(f"audit_{name}") for name in ROW_COLUMNS]).select_from(source).where(where)
    return insert(table).from_select(list(ROW_COLUMNS), rows).returning(table.c.id).cte("audit_row")


def record_each_now(action: str, entity: str, patient_ids, details: dict | None = None) -> None:
    """One row per patient (the patient's id as the entity id too), inserted in one statement
    and committed: an export of many patients' records (each patient's trail shows it)."""
    now = utcnow()
    rows = [{**_values(action, entity, pid, patient_id=pid, details=details), "created_at": now}
            for pid in patient_ids]
    if rows:
        db.session.connection().execute(_insert(), rows)
    db.session.commit()


def record_list_read(action: str, entity: str, patient_ids) -> None:
    """A list read of clinical records: one audit row per page, naming the patients it returned
    (``details.patients``; ``patient_id`` too when the page is one patient's)."""
    ids = sorted({int(p) for p in patient_ids if p is not None})
    record_now(action, entity, None, patient_id=ids[0] if len(ids) == 1 else None,
               details={"patients": ids, "count": len(ids)})


@functools.cache
def _insert():
    return AuditLog.__table__.insert()


def _recent_statement(_postgresql: bool):
    from ..auth.models import User
    return (select(AuditLog.id, AuditLog.action, AuditLog.user_id, AuditLog.created_at, User.name.label("who"))
            .outerjoin(User, User.id == AuditLog.user_id)
            .where(AuditLog.patient_id == bindparam("patient_id"))
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(bindparam("limit")))


# The patient page runs it on every view (Admin): planned once per connection.
_RECENT = Prepared("emrs_audit_recent", _recent_statement, (("patient_id", "integer"), ("limit", "integer")),
                   named=True)


def recent_for_patient(patient_id: int, limit: int = 20) -> list[tuple]:
    """The patient's latest audit rows (id, action, user_id, created_at) with the name of who
    acted, newest first: [(row, name or None)]."""
    return [(r, r.who) for r in _RECENT.rows({"patient_id": patient_id, "limit": limit})]


def entities_with_action(action: str, patient_ids, entity_ids) -> set[str]:
    """Which of these entity ids (of these patients) have a row of ``action``: one statement,
    on the patient index (e.g. the prescriptions whose PDF was handed out)."""
    entity_ids = [str(i) for i in entity_ids if i is not None]
    patient_ids = list(patient_ids)
    if not entity_ids or not patient_ids:
        return set()
    return set(db.session.execute(select(AuditLog.entity_id).where(
        AuditLog.patient_id.in_(patient_ids), AuditLog.action == action,
        AuditLog.entity_id.in_(entity_ids)).distinct()).scalars())


def count(action: str | None = None, user_id: int | None = None) -> int:
    q = select(func.count(AuditLog.id))
    if action:
        q = q.where(AuditLog.action == action)
    if user_id is not None:
        q = q.where(AuditLog.user_id == user_id)
    return db.session.execute(q).scalar_one()


# ------------------------------------------------------------------ the admin's audit page

PAGE_SIZE = 50


@dataclass
class Filters:
    """What the audit page and its CSV export show. Dates are Asia/Kolkata days."""
    patient_id: int | None = None
    user_id: int | None = None
    action: str | None = None
    entity: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def query_args(self) -> dict:
        """The filters as the page's query string (for paging and export links)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                out["patient" if f.name == "patient_id" else f.name] = v.isoformat() if isinstance(v, dt.date) else v
        return out

    def names(self) -> list[str]:
        return sorted(f.name for f in fields(self) if getattr(self, f.name) is not None)


def _patient_ref(raw: str) -> int | None:
    """A patient by CR no. (any case) or by id; ids of patients no longer registered still count."""
    from ..patients.models import Patient
    found = db.session.execute(select(Patient.id).where(func.upper(Patient.cr_no) == raw.upper())).scalar()
    if found is not None:
        return found
    return int(raw) if _is_id(raw) else None


def _is_id(raw: str) -> bool:
    return raw.isascii() and raw.isdigit() and len(raw) < 10 and int(raw) > 0


def _date(raw: str, label: str, errors: list[str]) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(raw[:10])
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2999:
        errors.append(f"{label} must be a date (YYYY-MM-DD).")
        return None
    return day


def parse_filters(args) -> tuple[Filters, list[str]]:
    """Filters from a query string; bad values are reported and left out, never a 500."""
    f, errors = Filters(), []
    raw = (args.get("patient") or args.get("patient_id") or "").strip()[:50]
    if raw:
        f.patient_id = _patient_ref(raw)
        if f.patient_id is None:
            errors.append(f"No patient with id or CR no. “{raw}”.")
    raw = (args.get("user_id") or "").strip()
    if raw:
        if _is_id(raw):
            f.user_id = int(raw)
        else:
            errors.append("User must be chosen from the list.")
    f.action = (args.get("action") or "").strip()[:40] or None
    f.entity = (args.get("entity") or "").strip()[:50] or None
    raw_from, raw_to = (args.get("date_from") or "").strip(), (args.get("date_to") or "").strip()
    f.date_from = _date(raw_from, "From", errors) if raw_from else None
    f.date_to = _date(raw_to, "To", errors) if raw_to else None
    if f.date_from and f.date_to and f.date_from > f.date_to:
        errors.append("The From date is after the To date.")
        f.date_from = f.date_to = None
    return f, errors


def _conditions(f: Filters) -> list:
    from ..timeutil import ist_day_bounds_utc
    out = []
    if f.patient_id is not None:
        out.append(AuditLog.patient_id == f.patient_id)
    if f.user_id is not None:
        out.append(AuditLog.user_id == f.user_id)
    if f.action:
        out.append(AuditLog.action == f.action)
    if f.entity:
        out.append(AuditLog.entity == f.entity)
    if f.date_from:
        out.append(AuditLog.created_at >= ist_day_bounds_utc(f.date_from)[0])
    if f.date_to:
        out.append(AuditLog.created_at < ist_day_bounds_utc(f.date_to)[1])
    return out


def _rows_query(f: Filters):
    from ..auth.models import User
    from ..patients.models import Patient
    return (select(AuditLog, User.name.label("user_name"), Patient.name.label("patient_name"),
                   Patient.cr_no.label("patient_cr_no"))
            .outerjoin(User, User.id == AuditLog.user_id)
            .outerjoin(Patient, Patient.id == AuditLog.patient_id)
            .where(*_conditions(f)).order_by(AuditLog.id.desc()))


def search(f: Filters, page: int = 1, per_page: int = PAGE_SIZE) -> tuple[list, int]:
    """(rows of (AuditLog, user name, patient name, patient CR no.), total), newest first."""
    total = db.session.execute(select(func.count(AuditLog.id)).where(*_conditions(f))).scalar_one()
    rows = db.session.execute(_rows_query(f).offset((page - 1) * per_page).limit(per_page)).all()
    return rows, total


def export_rows(f: Filters):
    """Every row of the filtered view, newest first, fetched in batches (for streaming)."""
    yield from db.session.execute(_rows_query(f).execution_options(yield_per=500))


def choices() -> dict[str, list[str]]:
    """The actions and record kinds present in the trail (the page's select boxes)."""
    return {"actions": list(db.session.execute(select(AuditLog.action).distinct().order_by(AuditLog.action))
                            .scalars()),
            "entities": list(db.session.execute(select(AuditLog.entity).distinct().order_by(AuditLog.entity))
                             .scalars())}
