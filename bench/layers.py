"""Where one request's CPU goes, layer by layer (bench/cpu.py --layers).

An instrumenting profiler of a few dozen chosen functions, not a sampling one: each chosen
function is wrapped so that the CPU time of its thread (`time.thread_time`, i.e. not time spent
waiting for PostgreSQL) is charged to its layer *exclusively* — while a hook runs a SQL
statement, the statement's CPU is charged to "SQL", not to the hook. What no chosen function
covers is charged to the layer that encloses it (Flask's dispatch, Werkzeug's request and
response objects, the middleware: "Flask dispatch").

The HTTP server is real: waitress runs in this process (one worker thread, requests one at a
time, keep-alive), and an `http.client` connection in the main thread sends the requests. Its
layer is the process's CPU (`time.process_time`) minus the client thread's minus the
application's (everything inside the WSGI call). The database's own CPU is read from the
PostgreSQL backends of the pool's connections (`/proc/<pid>/stat`, loopback only).
"""
from __future__ import annotations

import functools
import http.client
import os
import statistics
import threading
import time
from collections import defaultdict

TICK = os.sysconf("SC_CLK_TCK")


class Ledger:
    """Per-thread exclusive CPU accounting: a stack of layers, the running one charged."""

    def __init__(self):
        self.local = threading.local()
        self.own: dict[str, float] = defaultdict(float)        # layer -> CPU s (exclusive)
        self.calls: dict[str, int] = defaultdict(int)
        self.sql_under: dict[str, float] = defaultdict(float)  # layer that issued SQL -> SQL CPU s
        self.lock = threading.Lock()

    def _state(self):
        st = self.local.__dict__
        if "stack" not in st:
            st["stack"], st["mark"] = [], 0.0
        return st

    def enter(self, layer: str) -> None:
        st = self._state()
        now = time.thread_time()
        if st["stack"]:
            self.own[st["stack"][-1]] += now - st["mark"]
        st["stack"].append(layer)
        st["mark"] = now
        self.calls[layer] += 1

    def leave(self) -> None:
        st = self._state()
        now = time.thread_time()
        layer = st["stack"].pop()
        spent = now - st["mark"]
        self.own[layer] += spent
        if layer == "SQL" and st["stack"]:
            self.sql_under[st["stack"][-1]] += spent
        st["mark"] = now

    def wrap(self, layer: str, fn):
        if getattr(fn, "_layer", None):
            return fn
        ledger = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ledger.enter(layer)
            try:
                return fn(*args, **kwargs)
            finally:
                ledger.leave()
        wrapper._layer = layer
        return wrapper

    def clear(self):
        self.own.clear()
        self.calls.clear()
        self.sql_under.clear()


def _patch(ledger: Ledger, owner, name: str, layer: str) -> None:
    fn = getattr(owner, name, None)
    if fn is not None:
        setattr(owner, name, ledger.wrap(layer, fn))


HOOK_LAYERS = {  # a hook's layer in the budget table (by function name); the rest: "hooks (other)"
    "enforce": "session and permission",
    "csrf_after_authentication": "CSRF",
    "after_request": "security headers, ETag, request log",
    "end_session": "teardown (end the DB session)",
}


def _hook_name(h) -> str:
    fn = getattr(h, "func", h)  # functools.partial (Flask-Limiter's hook)
    name = getattr(fn, "__name__", type(fn).__name__)
    module = getattr(fn, "__module__", None) or "?"
    if module.startswith("flask_limiter"):
        return "hook limiter." + name
    return f"hook {module.split('.')[-1]}.{name}"


def instrument(app, ledger: Ledger) -> None:
    """Wrap the layers' functions in `app` (and the libraries) once."""
    from flask import templating
    from sqlalchemy.engine import base
    from sqlalchemy.orm import session as orm_session

    from emrs.audit import service as audit

    # Each registered hook, by name (the per-hook table) — its layer for the budget.
    for funcs in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs,
                  app.teardown_appcontext_funcs if isinstance(app.teardown_appcontext_funcs, dict) else {}):
        for key, hooks in funcs.items():
            funcs[key] = [ledger.wrap(_hook_name(h), h) for h in hooks]
    app.teardown_appcontext_funcs[:] = [ledger.wrap(_hook_name(h), h) for h in app.teardown_appcontext_funcs]
    # The browser session cookie (Flask's signed cookie: open and save).
    si = app.session_interface
    for name in ("open_session", "save_session"):
        setattr(si, name, ledger.wrap("hook flask.session_cookie", getattr(si, name)))
    # Views: every endpoint's function.
    for endpoint, fn in list(app.view_functions.items()):
        app.view_functions[endpoint] = ledger.wrap("view (service code)", fn)
    # SQL: execution (compile, cursor, result set-up), commit and rollback, pool check-out.
    for name in ("execute", "exec_driver_sql", "_commit_impl", "_rollback_impl"):
        _patch(ledger, base.Connection, name, "SQL")
    for name in ("connection", "get"):
        _patch(ledger, orm_session.Session, name, "SQL")
    # Serialization and rendering.
    _patch(ledger, templating, "_render", "render (Jinja)")
    _patch(ledger, templating, "_stream", "render (Jinja)")
    provider = app.json
    for name in ("response", "dumps"):
        setattr(provider, name, ledger.wrap("JSON", getattr(provider, name)))
    # Audit rows.
    for name in ("record_now", "record", "record_each_now", "record_list_read"):
        _patch(ledger, audit, name, "audit")


def budget_layer(layer: str) -> str:
    if layer.startswith("hook "):
        return HOOK_LAYERS.get(layer.rsplit(".", 1)[-1], "hooks (other)")
    return layer


class Backends:
    """CPU of the PostgreSQL backends behind the pool's connections (same machine)."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.pids: set[int] = set()

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _rec):
            if engine.dialect.name == "postgresql":
                cur = dbapi_conn.cursor()
                cur.execute("SELECT pg_backend_pid()")
                self.pids.add(cur.fetchone()[0])
                cur.close()

    def cpu(self) -> float:
        total = 0
        for pid in list(self.pids):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    parts = f.read().rsplit(")", 1)[1].split()
                total += int(parts[11]) + int(parts[12])
            except (OSError, IndexError, ValueError):
                self.pids.discard(pid)
        return total / TICK


class Server:
    """waitress in this process, one worker thread, on a free loopback port."""

    def __init__(self, app, ledger: Ledger):
        from waitress.server import create_server
        self.app_cpu = 0.0
        outer = self

        def timed(environ, start_response):
            t0 = time.thread_time()
            ledger.enter("Flask dispatch")
            try:
                return list(app(environ, start_response))  # the body produced inside the timing
            finally:
                ledger.leave()
                outer.app_cpu += time.thread_time() - t0

        self.server = create_server(timed, host="127.0.0.1", port=0, threads=1, _start=True)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self):
        self.server.close()


def measure(app, engine, scenarios: dict, n: int, warmup: int) -> dict:
    """{scenario: {layer: ms per request, ...}} over n requests each (after warmup)."""
    from sqlalchemy import event

    ledger = Ledger()
    backends = Backends(engine)
    engine.dispose()  # new connections, so their backends are known
    instrument(app, ledger)
    server = Server(app, ledger)
    sql = {"n": 0, "wall": 0.0}
    started = threading.local()

    def before(*_a):
        started.t = time.perf_counter()

    def after(*_a):
        sql["n"] += 1
        sql["wall"] += time.perf_counter() - started.t
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    commits = {"n": 0}
    event.listen(engine, "commit", lambda *_a: commits.__setitem__("n", commits["n"] + 1))

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    results = {}
    try:
        for name, (paths, headers) in scenarios.items():
            def one(i):
                conn.request("GET", paths[i % len(paths)], headers=headers)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise SystemExit(f"{name}: {paths[i % len(paths)]} answered {r.status}: {body[:300]!r}")
                return len(body)
            for i in range(warmup):
                one(i)
            ledger.clear()
            server.app_cpu = 0.0
            sql.update(n=0, wall=0.0)
            commits["n"] = 0
            per_request = []
            size = 0
            c_client, c_proc, c_db, w0 = time.thread_time(), time.process_time(), backends.cpu(), time.perf_counter()
            for i in range(n):
                p0 = time.process_time()
                size = one(i)
                per_request.append(time.process_time() - p0)
            wall = time.perf_counter() - w0
            client = time.thread_time() - c_client
            proc = time.process_time() - c_proc
            dbcpu = backends.cpu() - c_db
            own = dict(ledger.own)
            app_total = server.app_cpu
            layers: dict[str, float] = defaultdict(float)
            for layer, s in own.items():
                layers[budget_layer(layer)] += s
            res = {
                "n": n, "body_bytes": size,
                "process_cpu_ms": proc / n * 1000,
                "process_cpu_median_ms": statistics.median(per_request) * 1000,
                "client_ms": client / n * 1000,
                "server_cpu_ms": (proc - client) / n * 1000,
                "http_server_ms": (proc - client - app_total) / n * 1000,
                "app_ms": app_total / n * 1000,
                "layers_ms": {k: v / n * 1000 for k, v in layers.items()},
                "hooks_ms": {k[5:]: v / n * 1000 for k, v in own.items() if k.startswith("hook ")},
                "sql_under_ms": {budget_layer(k): v / n * 1000 for k, v in ledger.sql_under.items()},
                "sql_statements": sql["n"] / n, "commits": commits["n"] / n,
                "sql_wall_ms": sql["wall"] / n * 1000,
                "db_cpu_ms": dbcpu / n * 1000,
                "wall_ms": wall / n * 1000,
            }
            results[name] = res
    finally:
        conn.close()
        server.close()
    return results


ORDER = ["HTTP server (waitress)", "Flask dispatch", "hooks (other)", "session and permission", "CSRF",
         "view (service code)", "SQL", "audit", "JSON", "render (Jinja)",
         "security headers, ETag, request log", "teardown (end the DB session)"]


def table(results: dict) -> str:
    names = list(results)
    rows = [
        "| layer (CPU ms per request) | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]

    def cell(res, layer):
        if layer == "HTTP server (waitress)":
            return res["http_server_ms"]
        return res["layers_ms"].get(layer, 0.0)
    for layer in ORDER:
        vals = []
        for nm in names:
            v = cell(results[nm], layer)
            sql = results[nm]["sql_under_ms"].get(layer)
            vals.append(f"{v:.2f}" + (f" (+{sql:.2f} SQL)" if sql and sql >= 0.005 else ""))
        rows.append(f"| {layer} | " + " | ".join(vals) + " |")
    rows.append("| **server total** | " + " | ".join(f"**{results[n]['server_cpu_ms']:.2f}**" for n in names) + " |")
    rows.append("| SQL statements / commits | " + " | ".join(
        f"{results[n]['sql_statements']:.1f} / {results[n]['commits']:.1f}" for n in names) + " |")
    rows.append("| SQL wall ms (round trips) | " + " | ".join(f"{results[n]['sql_wall_ms']:.2f}" for n in names) + " |")
    rows.append("| database CPU ms | " + " | ".join(f"{results[n]['db_cpu_ms']:.2f}" for n in names) + " |")
    rows.append("| client (http.client, not counted) | " + " | ".join(f"{results[n]['client_ms']:.2f}" for n in names) + " |")
    rows.append("| body bytes | " + " | ".join(str(results[n]['body_bytes']) for n in names) + " |")
    return "\n".join(rows)


def hooks_table(results: dict) -> str:
    names = list(results)
    hooks = sorted({h for r in results.values() for h in r["hooks_ms"]})
    rows = ["| hook (own CPU ms, SQL excluded) | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for h in hooks:
        rows.append(f"| {h} | " + " | ".join(f"{results[n]['hooks_ms'].get(h, 0.0):.3f}" for n in names) + " |")
    return "\n".join(rows)
