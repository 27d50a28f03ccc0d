#!/usr/bin/env python
"""Resident memory of one waitress process over 100,000 requests (issue 20: RSS ≤ 120 MB).

    python bench/rss.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_bench_1m

Starts one `waitress-serve --threads 4 --call emrs:create_app` on a free loopback port with
bench/run.py's helpers (same server settings), signs in the same way (API bearer token;
browser session through /login with its CSRF token), then sends --requests requests from
--clients threads (one keep-alive connection each) in a fixed mix: a patient by id through
the API, the list, a name search, the patient page as the signed-in user (half of them a
50-entry timeline), /health. It prints VmRSS of the server process (/proc/<pid>/status) once
started, at the start of the load (after the sign-ins), after every --every requests and at
the end, with VmHWM (the peak), and writes bench/results/<label>.json. Bounded by --requests and
--max-seconds; loopback only.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (NAME_TERMS, RESULTS, ROOT, Site, _commit, bench_database, log, machine,  # noqa: E402
                 sample_numbers, start_server, stop_server)

MIX = (("by_id", 35), ("list", 15), ("search", 15), ("page", 10), ("health", 25))  # % of requests


def memory(pid: int) -> dict:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)  # kB
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_bench_1m")
    ap.add_argument("--label", default="rss-100k")
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--every", type=int, default=20_000, help="read the server's memory after this many")
    ap.add_argument("--clients", type=int, default=4, help="client threads")
    ap.add_argument("--threads", type=int, default=4, help="waitress threads (the production setting)")
    ap.add_argument("--max-seconds", type=float, default=900, help="stop after this long whatever the count")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--app-dir", default=os.environ.get("EMRS_APP_DIR") or str(ROOT))
    ap.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the server")
    ns = ap.parse_args(argv)

    manifest, max_id, n_patients, pg_version, timeline_ids = bench_database(ns.database_url)
    rng = random.Random(ns.seed)
    _crs, _mobiles, ids = sample_numbers(ns.database_url, max_id, 400, rng)
    paths = {
        "by_id": [f"/api/patients/{i}" for i in ids],
        "list": ["/api/patients?page=1&limit=20"],
        "search": ["/api/patients/search?" + urlencode({"q": t, "limit": 10}) for t in NAME_TERMS],
        "page": [p for pair in zip((f"/patients/{i}" for i in ids), (f"/patients/{i}" for i in timeline_ids))
                 for p in pair],
        "health": ["/health"],
    }
    kinds = [k for k, share in MIX for _ in range(share)]

    proc, base = start_server(ns.database_url, ns.threads, dict(kv.split("=", 1) for kv in ns.env), Path(ns.app_dir))
    log(f"waitress on {base} (threads {ns.threads}, pid {proc.pid})")
    checkpoints: list[dict] = []
    state = {"sent": 0, "done": 0, "next": ns.every, "stop": False}
    counts = {k: 0 for k, _ in MIX}
    errors: dict[str, int] = {}
    lock = threading.Lock()
    try:
        started = memory(proc.pid)  # before the sign-ins: scrypt password checks take ~32 MB each, briefly
        site = Site(base)
        site.api_login()
        site.web_login()
        headers = {"api": site.api_headers(), "web": site.web_headers(), "none": {"Accept": "application/json"}}
        kind_headers = {"by_id": "api", "list": "api", "search": "api", "page": "web", "health": "none"}
        t0 = time.perf_counter()
        checkpoints.append({"requests": 0, "seconds": 0.0, **memory(proc.pid)})
        log(f"start: {checkpoints[-1]}")

        def client(i: int) -> None:
            r = random.Random(ns.seed * 1000 + i)
            conn = site.conn()
            while True:
                with lock:  # a slot first: exactly --requests are sent
                    if state["stop"] or state["sent"] >= ns.requests:
                        break
                    state["sent"] += 1
                kind = r.choice(kinds)
                path = r.choice(paths[kind])
                try:
                    conn.request("GET", path, headers=headers[kind_headers[kind]])
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                except (OSError, http.client.HTTPException):
                    status = 599
                    conn.close()
                    conn = site.conn()
                with lock:
                    state["done"] += 1
                    counts[kind] += 1
                    if not 200 <= status < 300:
                        errors[f"{kind} {status}"] = errors.get(f"{kind} {status}", 0) + 1
                    if state["done"] == state["next"]:  # exactly every --every answers
                        state["next"] += ns.every
                        checkpoints.append({"requests": state["done"], "seconds": round(time.perf_counter() - t0, 1),
                                            **memory(proc.pid)})
                        log(f"{checkpoints[-1]}  errors {sum(errors.values())}")
                    if time.perf_counter() - t0 > ns.max_seconds:
                        state["stop"] = True
            conn.close()

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(ns.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(ns.max_seconds + 60)
        elapsed = time.perf_counter() - t0
        end = {"requests": state["done"], "seconds": round(elapsed, 1), **memory(proc.pid)}
        if checkpoints[-1]["requests"] != end["requests"]:
            checkpoints.append(end)
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}) during the run; see bench/results/server.log")
    finally:
        stop_server(proc)

    out = {"label": ns.label, "patients": n_patients, "visits": manifest.get("visits"), "postgres": pg_version,
           "server": f"1 x waitress-serve --threads {ns.threads} (bench settings: RATELIMIT_ENABLED=false, "
                     "LOG_LEVEL=WARNING)", "server_env": dict(kv.split("=", 1) for kv in ns.env),
           "clients": ns.clients, "mix_percent": dict(MIX), "requests": state["done"], "by_kind": counts,
           "errors": errors, "seconds": round(elapsed, 1), "rps": round(state["done"] / elapsed, 1),
           "stopped_by_time": state["done"] < ns.requests, "memory_mb_started": started, "memory_mb": checkpoints,
           "vmhwm_mb": end["VmHWM"], "app_dir": ns.app_dir, "app_commit": _commit(ns.app_dir),
           "machine": machine(), "load_avg_after": [round(x, 2) for x in os.getloadavg()],
           "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - elapsed))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{ns.label}.json").write_text(json.dumps(out, indent=2))
    print()
    print(f"{state['done']:,} requests in {elapsed:.0f} s ({out['rps']} req/s), {sum(errors.values())} errors "
          f"{errors or ''}; by kind {counts}")
    print(f"server started: VmRSS {started['VmRSS']} MB, VmHWM {started['VmHWM']} MB (before the sign-ins)")
    print("\n| requests | seconds | VmRSS MB | VmHWM MB |\n|---:|---:|---:|---:|")
    for c in checkpoints:
        print(f"| {c['requests']:,} | {c['seconds']} | {c['VmRSS']} | {c['VmHWM']} |")
    print(f"\nwritten: {RESULTS / (ns.label + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
