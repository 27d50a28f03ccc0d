#!/usr/bin/env python
"""Per-request Python CPU and SQL statements of the 16-client scenarios, in-process.

    python bench/cpu.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_bench_1m
    python bench/cpu.py ... --only by_id --n 300 --top 30     # cProfile table of one handler

Builds the application the way waitress does (`emrs:create_app`, bench server settings), signs
in as bench@emrs.local (bearer token; browser session through /login with its CSRF token), then
calls the WSGI application directly (no HTTP, no client) N times per scenario and reports, per
request: CPU time of this process (`time.process_time`, i.e. Python, not PostgreSQL), wall time,
and how many SQL statements were sent. With --top, a cProfile of the N requests is printed.

With --layers the requests go through a real waitress server in this process instead, and the
CPU of each request is split into layers (HTTP server, Flask dispatch, each hook, session and
permission, SQL, audit, JSON or rendering; bench/layers.py), with the SQL round trips and the
database backends' CPU: the cost budget of issue 20 (bench/README.md).

    python bench/cpu.py --layers --only by_id,list,search,page --n 300 [--json out.json]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_EMAIL = "bench@emrs.local"
BENCH_PASSWORD = os.environ.get("BENCH_PASSWORD", "Bench-Passw0rd-2025")
NAME_TERMS = ["sharma", "sandhu", "gurpreet", "grewal", "harpreet kaur", "malhotra", "dhillon",
              "sukhwinder singh", "gurpr", "malho", "rakesh kumar", "bains"]  # as bench/run.py


def by_package(prof: cProfile.Profile, n: int) -> str:
    """Own CPU time (cProfile tottime) summed per package, per request, with the profiler's overhead."""
    sums: dict[str, float] = {}
    for (path, _line, func), (_cc, _nc, tt, _ct, _callers) in pstats.Stats(prof).stats.items():
        if "site-packages/" in path:
            key = path.split("site-packages/", 1)[1].split("/", 1)[0]
        elif "/templates/" in path:
            key = "templates (Jinja code)"
        elif "/emrs/" in path:
            key = "emrs/" + path.split("/emrs/", 1)[1].split("/", 1)[0].removesuffix(".py")
        elif path == "~":
            key = "C: " + func.split("'")[1] if "'" in func else "C: " + func
        else:
            key = "stdlib" if "/lib/python" in path else path
        sums[key] = sums.get(key, 0.0) + tt
    total = sum(sums.values())
    ranked = sorted(sums.items(), key=lambda kv: -kv[1])
    lines = [f"    {v / n * 1000:7.3f} ms  {v / total:5.1%}  {k}" for k, v in ranked]
    return "\n".join(lines[:25]) + f"\n    {total / n * 1000:7.3f} ms  total (profiled)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_bench_1m")
    ap.add_argument("--n", type=int, default=300, help="measured requests per scenario")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--only", help="comma-separated: page,list,by_id,search,health")
    ap.add_argument("--top", type=int, default=0, help="print the N most expensive functions (cProfile)")
    ap.add_argument("--sort", default="tottime", help="cProfile sort key (tottime, cumulative)")
    ap.add_argument("--packages", action="store_true", help="CPU by package (cProfile own time, summed)")
    ap.add_argument("--sql", action="store_true", help="print the statements of one request")
    ap.add_argument("--path", action="append", default=[],
                    help="also measure this path (API bearer token; prefix web: for the browser session)")
    ap.add_argument("--email", default=BENCH_EMAIL,
                    help="sign in as this account (e.g. bench.today.doctor@emrs.local after bench/today.py)")
    ap.add_argument("--app-dir", default=os.environ.get("EMRS_APP_DIR") or str(ROOT))
    ap.add_argument("--layers", action="store_true",
                    help="through waitress in this process: CPU per layer and per hook (bench/layers.py)")
    ap.add_argument("--limiter", action="store_true",
                    help="keep the rate limiter on (production; the bench turns it off)")
    ap.add_argument("--json", help="--layers: also write the figures to this file")
    ns = ap.parse_args(argv)

    os.environ.update({"DATABASE_URL": ns.database_url, "RATELIMIT_ENABLED": "true" if ns.limiter else "false",
                       "LOG_LEVEL": "WARNING", "ACCESS_TOKEN_EXPIRATION_SECONDS": "3600"})
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
    sys.path.insert(0, ns.app_dir)
    from sqlalchemy import event
    from werkzeug.test import EnvironBuilder

    from emrs import create_app
    from emrs.extensions import db

    app = create_app()
    client = app.test_client()
    r = client.post("/api/users/login", json={"email": ns.email, "password": BENCH_PASSWORD})
    token = r.get_json()["data"]["accessToken"]
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"email": ns.email, "password": BENCH_PASSWORD, "csrf_token": csrf})
    assert r.status_code == 302, r.status_code
    cookie = f"emrs_session={client.get_cookie('emrs_session').value}"

    dbname = urlsplit(ns.database_url).path.lstrip("/")
    seeded = ROOT / "bench" / "results" / f"seed-{dbname}.json"
    if not seeded.exists():  # a copy of the seeded database (createdb -T): the original's manifest
        seeded = ROOT / "bench" / "results" / "seed-emrs_bench_1m.json"
    timeline_ids = json.loads(seeded.read_text())["timeline_patient_ids"]
    with app.app_context():
        max_id = db.session.execute(db.text("SELECT max(id) FROM registered_patient")).scalar()
        engine = db.engine
    import random
    rng = random.Random(7)
    ids = [rng.randrange(1, max_id + 1) for _ in range(400)]
    api = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    web = {"Cookie": cookie, "Accept": "text/html"}
    scenarios = {
        "page": ([f"/patients/{i}" for i in timeline_ids], web),
        "list": (["/api/patients?page=1&limit=20"], api),
        "by_id": ([f"/api/patients/{i}" for i in ids], api),
        "health": (["/health"], {"Accept": "application/json"}),
        "search": ([f"/api/patients/search?q={t.replace(' ', '+')}&limit=10" for t in NAME_TERMS], api),
    }
    for extra in ns.path:
        scenarios[extra] = ([extra.removeprefix("web:")], web if extra.startswith("web:") else api)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    environs: dict = {}

    def environ_for(path, headers) -> dict:
        """Built once per path, outside the measured part (under waitress, waitress builds it)."""
        key = (path, id(headers))
        if key not in environs:
            environs[key] = EnvironBuilder(path=path, headers=headers,
                                           environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
        return environs[key]

    def call(path, headers):
        environ = dict(environ_for(path, headers), **{"wsgi.input": io.BytesIO()})
        status = []
        body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        return status[0], body

    only = set(ns.only.split(",")) if ns.only else set(scenarios)
    only |= set(ns.path)
    if ns.layers:
        sys.path.insert(0, str(ROOT / "bench"))
        import layers
        chosen = {k: v for k, v in scenarios.items() if k in only}
        results = layers.measure(app, engine, chosen, ns.n, ns.warmup)
        print(layers.table(results))
        print()
        print(layers.hooks_table(results))
        if ns.json:
            Path(ns.json).write_text(json.dumps(results, indent=1))
        return 0
    for name, (paths, headers) in scenarios.items():
        if name not in only:
            continue
        for i in range(ns.warmup):
            st, body = call(paths[i % len(paths)], headers)
            assert st.startswith("200"), (name, st, body[:300])
        if ns.sql:
            statements.clear()
            call(paths[0], headers)
            print(f"--- {name}: {len(statements)} statements")
            for s in statements:
                print("   ", " ".join(s.split())[:300])
        for path in paths:
            environ_for(path, headers)
        prof = cProfile.Profile(time.process_time) if ns.top or ns.packages else None  # CPU, not waits
        cpu, wall, nsql, size = [], [], [], 0
        for i in range(ns.n):
            statements.clear()
            c0, w0 = time.process_time(), time.perf_counter()
            if prof:
                prof.enable()
            st, body = call(paths[i % len(paths)], headers)
            if prof:
                prof.disable()
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
            nsql.append(len(statements))
            size = len(body)
        p10 = sorted(cpu)[len(cpu) // 10]
        print(f"{name:6} n={ns.n}  CPU/request p10 {p10:.2f} ms  median {statistics.median(cpu):.2f} ms"
              f"  wall median {statistics.median(wall):.2f} ms  SQL statements {min(nsql)}–{max(nsql)}"
              f"  body {size} bytes")
        if prof and ns.packages:
            print(by_package(prof, ns.n))
        if prof and ns.top:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(ns.sort).print_stats(ns.top)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
