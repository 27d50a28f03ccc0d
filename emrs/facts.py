"""The small facts a patient's page shows beside the record, from several domains, in one
statement.

Is a visit open, and of which day? Which proforma would a prescription start from? Has the
patient been seen before (a follow-up rather than a first note)? Has anyone scored a rating
scale? Each is one short look-up in its own domain; asked one by one they were four round
trips, and four statements for PostgreSQL to plan, on every view of the page. A domain
registers each fact as a scalar SQL expression over the patient (and today's date) from its
own service, so the rule stays in one place; the page reads the facts it needs in one SELECT,
prepared on PostgreSQL once per set of facts.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

from sqlalchemy import Date, Integer, bindparam, select
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from .prepared import Prepared
from .timeutil import today_ist

PATIENT: BindParameter = bindparam("patient_id", type_=Integer)
DAY: BindParameter = bindparam("day", type_=Date)  # today in India, decided by the server

Fact = Callable[[BindParameter, BindParameter], ColumnElement]

_FACTS: dict[str, tuple[Fact, bool]] = {}
_STATEMENTS: dict[tuple[str, ...], Prepared] = {}
_generation = [0]


def register(name: str, fact: Fact, uses_day: bool = False) -> None:
    """``fact(patient, day)`` is a scalar expression (a scalar sub-query, EXISTS …) over the
    two bound parameters; ``uses_day`` when it reads ``day``."""
    _FACTS[name] = (fact, uses_day)
    _STATEMENTS.clear()
    _generation[0] += 1  # a changed statement gets a new prepared name


def _statement(names: tuple[str, ...]) -> Prepared:
    prepared = _STATEMENTS.get(names)
    if prepared is None:
        def build(_postgresql: bool):
            return select(*[_FACTS[n][0](PATIENT, DAY).label(n) for n in names])
        params = (("patient_id", "integer"),) + ((("day", "date"),) if any(_FACTS[n][1] for n in names) else ())
        name = "emrs_facts_" + hashlib.sha1(f"{_generation[0]}:{','.join(names)}".encode()).hexdigest()[:12]
        prepared = _STATEMENTS[names] = Prepared(name, build, params, named=True)
    return prepared


def read(patient_id: int, names) -> Any:
    """The named facts of one patient, as one row read by name (``row.open_visit_id``)."""
    names = tuple(sorted(set(names)))
    unknown = [n for n in names if n not in _FACTS]
    if unknown:
        raise KeyError(f"no such patient fact: {', '.join(unknown)}")
    return _statement(names).rows({"patient_id": patient_id, "day": today_ist()})[0]


def known() -> list[str]:
    return sorted(_FACTS)
