"""Backup and restore of the database (`flask --app emrs backup` / `restore`).

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists --no-owner``
in one transaction (a failed restore changes nothing). When the application's
connections select a schema through ``search_path`` (``options=-csearch_path=…``),
only that schema is dumped and restored. SQLite: a consistent copy made with
sqlite3's online backup API, and copied back the same way.

The password is handed to the PostgreSQL tools in ``PGPASSWORD``, never on the
command line.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why."""


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def schema_from_engine_options(options: dict | None) -> str | None:
    """The first schema of ``-csearch_path=…`` in the engine's connect_args, if any."""
    raw = ((options or {}).get("connect_args") or {}).get("options") or ""
    m = re.search(r"(?:-c\s*|--)search_path=([^\s]+)", raw)
    if not m:
        return None
    first = m.group(1).split(",")[0].strip().strip('"')
    return first or None


def default_output(url: str, directory: str | os.PathLike) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    ext = "dump" if is_postgres(url) else "sqlite"
    return Path(directory) / f"emrs-{stamp}.{ext}"


def _pg_command(url: str) -> tuple[str, dict]:
    """(libpq URI without password, environment with PGPASSWORD)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    u = u.set(drivername="postgresql", password=None)
    # Driver-only query options (none are needed by the tools) are dropped.
    return u.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found on PATH (Debian: apt install postgresql-client)")
    return path


def _run(cmd: list[str], env: dict) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise BackupError(f"{Path(cmd[0]).name} failed (exit {proc.returncode}): "
                          + ("; ".join(detail[-5:]) if detail else "no output"))


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_copy(src: Path, dst: Path) -> None:
    source = sqlite3.connect(str(src))
    try:
        target = sqlite3.connect(str(dst))
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def backup(url: str, output: str | os.PathLike, schema: str | None = None) -> Path:
    """Write a backup of the database at ``url`` to ``output``; return its path."""
    out = Path(output).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if is_postgres(url):
        uri, env = _pg_command(url)
        cmd = [_tool("pg_dump"), "--format=custom", f"--file={out}", "--no-owner"]
        if schema:
            cmd.append(f"--schema={schema}")
        _run(cmd + [f"--dbname={uri}"], env)
        return out
    if is_sqlite(url):
        src = _sqlite_path(url)
        if not src.exists():
            raise BackupError(f"the SQLite database {src} does not exist")
        if out.exists():
            out.unlink()
        _sqlite_copy(src, out)
        return out
    raise BackupError(f"backups support PostgreSQL and SQLite, not {make_url(url).get_backend_name()}")


def restore(url: str, path: str | os.PathLike, schema: str | None = None) -> None:
    """Replace the contents of the database at ``url`` with the backup at ``path``."""
    src = Path(path)
    if not src.is_file():
        raise BackupError(f"backup file {src} does not exist")
    if is_postgres(url):
        uri, env = _pg_command(url)
        cmd = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction"]
        if schema:
            cmd.append(f"--schema={schema}")
        _run(cmd + [f"--dbname={uri}", str(src)], env)
        return
    if is_sqlite(url):
        with open(src, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise BackupError(f"{src} is not a SQLite database file")
        _sqlite_copy(src, _sqlite_path(url))
        return
    raise BackupError(f"restore supports PostgreSQL and SQLite, not {make_url(url).get_backend_name()}")
