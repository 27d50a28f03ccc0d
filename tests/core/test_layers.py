"""Views -> services -> models: a door (a page module, the JSON API) parses the request,
calls services and answers; it never builds a query. Read from the source with ``ast``,
so a query written into a view or an API module fails here the day it is written.

A door may still fetch one row by its primary key (``db.session.get``) and roll back a
refused write; every other look-up belongs to the service that owns the rows."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "emrs"

# What builds or sends a query.
QUERY_BUILDERS = {"select", "or_", "and_", "not_", "func", "text", "exists", "case", "literal", "literal_column",
                  "bindparam", "update", "delete", "insert", "union", "union_all", "aliased", "Select"}
SESSION_QUERIES = {"execute", "scalars", "scalar", "query", "connection"}


def door_modules() -> list[Path]:
    """Page modules (views*.py, *_views.py in a domain) and the API blueprint's modules."""
    found = set(PACKAGE.glob("*/views*.py")) | set(PACKAGE.glob("*/*_views.py")) | set(PACKAGE.glob("api/*.py"))
    return sorted(found)


def _problems(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            out += [f"line {node.lineno}: imports {a.name} from {node.module}"
                    for a in node.names if a.name in QUERY_BUILDERS]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sqlalchemy" \
                and node.attr in QUERY_BUILDERS:
            out.append(f"line {node.lineno}: sqlalchemy.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in SESSION_QUERIES and _is_session(node.value):
            out.append(f"line {node.lineno}: session.{node.attr}")
        elif isinstance(node, ast.Attribute) and node.attr in ("query", "exec_driver_sql"):
            out.append(f"line {node.lineno}: .{node.attr}")
    return out


def _is_session(node) -> bool:
    """db.session, session or anything.session."""
    return (isinstance(node, ast.Attribute) and node.attr == "session") or \
        (isinstance(node, ast.Name) and node.id == "session")


def test_the_doors_are_found():
    names = {str(p.relative_to(PACKAGE)) for p in door_modules()}
    assert {"patients/views.py", "intake/views.py", "intake/record_room_views.py", "api/patients.py",
            "api/intake.py", "api/idempotency.py"} <= names


@pytest.mark.parametrize("path", door_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_door_builds_a_query(path):
    problems = _problems(path)
    assert problems == [], f"{path.relative_to(PACKAGE)} builds queries (move them into the service): {problems}"


def test_the_check_sees_a_query(tmp_path):
    door = tmp_path / "views.py"
    door.write_text("from sqlalchemy import func, select\n"
                    "def index():\n"
                    "    db.session.execute(select(User))\n"
                    "    return db.session.scalars(q), User.query.all()\n")
    assert len(_problems(door)) == 5
