"""Test database helpers: a fresh, migrated database (SQLite file or a PostgreSQL
schema) for each purpose, so tests never touch a developer's data."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

PG_PREFIXES = ("postgresql://", "postgresql+psycopg2://", "postgres://")


def base_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL") or None
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def is_pg(url: str | None) -> bool:
    return bool(url) and url.startswith(PG_PREFIXES)


def _schema(name: str) -> str:
    """Per-process schema names, so two test runs on one database never collide."""
    return f"emrs_{name}_{os.getpid()}"


def fresh_database(name: str) -> tuple[str, dict]:
    """Return (url, engine options) of an empty database for ``name``.

    PostgreSQL: a schema ``emrs_<name>_<pid>`` (dropped and re-created) selected through
    search_path. SQLite: a new file in a temporary directory.
    """
    url = base_url()
    if is_pg(url):
        schema = _schema(name)
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            # pg_trgm lives in public, shared by every test schema (the migration's
            # CREATE EXTENSION IF NOT EXISTS then finds it there).
            where = conn.execute(text("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                      "WHERE extname = 'pg_trgm'")).scalar()
            if where is None:
                conn.execute(text("CREATE EXTENSION pg_trgm WITH SCHEMA public"))
            elif where != "public":
                conn.execute(text("ALTER EXTENSION pg_trgm SET SCHEMA public"))
        eng.dispose()
        return url, {"connect_args": {"options": f"-csearch_path={schema},public", "connect_timeout": 5},
                     "pool_pre_ping": True}
    path = Path(tempfile.mkdtemp(prefix=f"emrs-{name}-")) / "test.sqlite"
    return f"sqlite:///{path}", {"connect_args": {"timeout": 15}}


def drop_database(name: str) -> None:
    url = base_url()
    if is_pg(url):
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{_schema(name)}" CASCADE'))
        eng.dispose()
