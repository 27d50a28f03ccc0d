#!/usr/bin/env python
"""EXPLAIN (ANALYZE, BUFFERS) of the SQL the patients service really sends.

    python bench/explain.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_bench > bench/results/explain-1m.txt

Calls emrs.patients.search.search() + reading.with_extras() and search.list_patient_dicts() (what the API
sends) inside an app context, captures every SELECT they send (SQLAlchemy
`before_cursor_execute`), and runs EXPLAIN (ANALYZE, BUFFERS) on each with the same parameters,
in the same transaction (so a `SET LOCAL` the service sent applies). The patients statements
are prepared once per connection (emrs/prepared.py): their `EXECUTE` is explained with the
generic plan they run with, and the prepared text is printed once.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = [  # (kind, search term or None for the list)
    ("name substring (common surname)", "sharma"),
    ("name substring (fragment)", "malho"),
    ("name, two words", "harpreet kaur"),
    ("misspelled name", "Sandhoo"),
    ("misspelled, swapped words", "Singh Gurpreet"),
    ("misspelled full name", "Gurpreet Singh Sandhoo"),
    ("CR exact", None),
    ("CR prefix", None),
    ("mobile exact", None),
    ("CR digits alone", None),
    ("CR trailing 4 digits", None),
    ("Gurmukhi full name", "ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ"),
    ("Devanagari word", "शर्मा"),
    ("Gurmukhi, being typed", "ਹਰਜੀ"),
    ("Latin variant of a Gurmukhi name", "Harjit Dhilon"),
    ("Latin variant of a Devanagari name", "Rajesh Sarma"),
    ("Devanagari for a Gurmukhi name", "हरजीत ढिल्लों"),
    ("list page 1", None),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_bench")
    ap.add_argument("--app-dir", default=os.environ.get("EMRS_APP_DIR") or str(ROOT))
    ap.add_argument("--only", help="substring of a case name")
    ns = ap.parse_args(argv)
    os.environ.update({"DATABASE_URL": ns.database_url, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": "false",
                       "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key-not-for-production")})
    sys.path.insert(0, ns.app_dir)
    from sqlalchemy import event, text

    from emrs import create_app
    from emrs.extensions import db
    from emrs.patients import reading, search

    app = create_app()
    with app.app_context():
        row = db.session.execute(text("SELECT cr_no, contact_number FROM registered_patient "
                                      "WHERE id = (SELECT max(id) / 2 FROM registered_patient)")).one()
        terms = {"CR exact": row.cr_no, "CR prefix": row.cr_no[:-2], "mobile exact": row.contact_number,
                 "CR digits alone": row.cr_no[2:], "CR trailing 4 digits": row.cr_no[-4:]}
        captured: list[tuple[str, object]] = []
        shown: set[str] = set()
        capturing = [False]

        @event.listens_for(db.engine, "before_cursor_execute")
        def _capture(conn, cursor, statement, parameters, context, executemany):
            if capturing[0]:
                captured.append((statement, parameters))

        for kind, term in CASES:
            if ns.only and ns.only not in kind:
                continue
            term = term or terms.get(kind)
            captured.clear()
            capturing[0] = True
            if kind.startswith("list"):
                rows, total, est = search.list_patient_dicts(1, 20)
            else:
                rows, total, est = search.search(term, 1, 10)
                reading.with_extras(rows)
            capturing[0] = False
            print("=" * 100)
            print(f"## {kind}: {term!r} -> {len(rows)} rows on the page, total {total}{' (estimated)' if est else ''}")
            raw = db.session.connection().connection.dbapi_connection  # the connection they ran on
            for i, (sql, params) in enumerate(captured, 1):
                cur = raw.cursor()
                stmt = cur.mogrify(sql, params).decode()
                if stmt.startswith("SET LOCAL") and "; EXECUTE " in stmt:
                    setting, execute = stmt.split("; ", 1)
                    cur.execute(setting)
                    name = execute.split()[1].split("(")[0]
                    if name not in shown:
                        shown.add(name)
                        cur.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", (name,))
                        print(f"\n--- prepared once per connection:\n{_short(cur.fetchone()[0], 2000)}")
                    stmt = execute
                elif not stmt.lstrip().upper().startswith("SELECT"):
                    if stmt.lstrip().upper().startswith("SET LOCAL"):
                        cur.execute(stmt)
                    cur.close()
                    continue
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt)
                plan = "\n".join(r[0] for r in cur.fetchall())
                cur.close()
                print(f"\n--- statement {i}:\n{_short(stmt)}\n")
                print(plan)
            db.session.rollback()
    return 0


def _short(sql: str, width: int = 600) -> str:
    one = re.sub(r"\s+", " ", sql)
    one = re.sub(r"SELECT registered_patient\.id AS id, registered_patient\.cr_no AS cr_no, .*? FROM registered_patient",
                 "SELECT registered_patient.<all columns> FROM registered_patient", one)
    one = re.sub(r"SELECT registered_patient\.id, registered_patient\.cr_no, .*?, registered_patient\.version, ",
                 "SELECT registered_patient.<all columns>, ", one)
    return one if len(one) <= width else one[:width] + " …"


if __name__ == "__main__":
    sys.exit(main())
