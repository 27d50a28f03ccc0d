"""Read statements that PostgreSQL plans once per connection instead of on every request.

psycopg2 sends every statement as text, so PostgreSQL parses and plans it each time. For the
statement that reads patients with their joined names and visit facts (emrs.patients.reading)
that is most of its cost: about 1 ms of the database's CPU planned each time against 0.2 ms
with one generic plan (bench/README.md). A Prepared statement is sent once per database
connection as `PREPARE name (types) AS …`, then run as `EXECUTE name(…)` with a generic plan
(`SET LOCAL plan_cache_mode = force_generic_plan`, for this transaction only; nothing else
in the application is prepared). A new connection (after a restart or a recycle) prepares
it again: SQLAlchemy clears the connection's `info` when it replaces a connection.

Other databases (SQLite) run the same statement through SQLAlchemy. Rows come back as plain
tuples in the statement's column order. The `EXECUTE` itself is a textual statement built once
with its result columns declared (untyped, as the driver returns them): SQLAlchemy then compiles
it once and keeps its result description, instead of building a processor for each of the ~100
columns from the cursor's description on every request (a third of a by-id request's SQL CPU). Named prepared statements need the application to talk
to PostgreSQL itself (as docker/compose.yaml does), not through a transaction-pooling proxy such
as pgbouncer in transaction mode.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

from sqlalchemy import column, text
from sqlalchemy.sql import Select

from .extensions import db


class Prepared:
    def __init__(self, name: str, build: Callable[[bool], Select], params: Sequence[tuple[str, str]],
                 named: bool = False):
        """`build(postgresql)` returns the statement with its bound parameters named as in
        `params` ((name, PostgreSQL type) in the order EXECUTE passes them); on PostgreSQL a
        list parameter is compared with `= ANY(:name)`, elsewhere with an expanding IN.
        `named`: rows are read by the statement's column names (else by position only)."""
        self.name, self.build, self.params, self.named = name, build, tuple(params), named
        self._statements: dict[bool, Select] = {}
        self._prepare: str | None = None
        self._execute = None

    def statement(self, postgresql: bool) -> Select:
        if postgresql not in self._statements:  # built once (construction costs more than running it)
            self._statements[postgresql] = self.build(postgresql)
        return self._statements[postgresql]

    def _prepare_sql(self, dialect) -> str:
        if self._prepare is None:
            compiled = self.statement(True).compile(dialect=dialect)
            sql = compiled.string
            for i, (name, _type) in enumerate(self.params, 1):
                sql, n = re.subn(rf"%\({re.escape(name)}\)s", f"${i}", sql)
                if not n:
                    raise ValueError(f"{self.name}: parameter {name} is not in the statement")

            def literal(name, value):
                if type(value) is int:
                    return str(value)
                if type(value) is str and "\\" not in value and "\x00" not in value:
                    return "'" + value.replace("'", "''").replace("%", "%%") + "'"
                raise ValueError(f"{self.name}: parameter {name} is neither listed nor an integer or a string")

            def constant(m):  # the statement's own constants (LIMIT 1, 'cap'): written into the text
                return literal(m.group(1), compiled.params.get(m.group(1)))

            def constant_list(m):  # IN (a constant tuple), e.g. the open visit statuses
                values = compiled.params.get(m.group(1))
                if not isinstance(values, (list, tuple)) or not values:
                    raise ValueError(f"{self.name}: parameter {m.group(1)} is a list the statement does not hold")
                return ", ".join(literal(m.group(1), v) for v in values)
            sql = re.sub(r"%\((\w+)\)s", constant, sql)
            sql = re.sub(r"__\[POSTCOMPILE_(\w+)\]", constant_list, sql)
            types = f" ({', '.join(t for _, t in self.params)})" if self.params else ""
            self._prepare = f"PREPARE {self.name}{types} AS {sql.replace('%%', '%')}"
        return self._prepare

    def rows(self, values: dict) -> list:
        conn = db.session.connection()
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement(False), values).all()
        prepared = conn.connection.info.setdefault("emrs_prepared", set())
        if self.name not in prepared:
            # No parameters: sent as written. Through SQLAlchemy, so that a dead connection met
            # here (a read is not pinged before: emrs/resilience.py) throws the pool away and
            # the read is retried, as on any other statement.
            conn.exec_driver_sql(self._prepare_sql(conn.dialect), execution_options={"no_parameters": True})
            prepared.add(self.name)
        return conn.execute(self._execute_statement(), {name: values[name] for name, _ in self.params}).all()

    def _execute_statement(self):
        if self._execute is None:
            selected = self.statement(True).selected_columns
            names = [c.name for c in selected] if self.named else [f"c{i}" for i in range(len(selected))]
            placeholders = f"({', '.join(f':{name}' for name, _ in self.params)})" if self.params else ""
            self._execute = text(f"SET LOCAL plan_cache_mode = force_generic_plan; "
                                 f"EXECUTE {self.name}{placeholders}").columns(*[column(n) for n in names])
        return self._execute
