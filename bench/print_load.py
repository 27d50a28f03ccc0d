"""Twenty prints at once: N different prescriptions printed at the same moment through
waitress, first when nothing is stored yet (each print renders, in the print workers) and
then again (served from the stored copies). With `--prerender` the saves render ahead, as in
production, and the first prints are measured after they have settled.

    .venv/bin/python bench/print_load.py --n 20 --workers 1
    .venv/bin/python bench/print_load.py --n 20 --workers 2 --prerender

Per round: errors, p50/p95/max in ms, wall time. Markdown on stdout, JSON in
results/print-load-<label>.json. Loopback only; its own database (dropped and created).
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import Client, Stack, install_sigterm, loadavg, log, percentile, write_json  # noqa: E402

LINES = [{"medicine": "Escitalopram 10 mg", "dosage": "0-0-1", "when_to_take": "After Food",
          "duration": "1 Month", "quantity": "30"},
         {"medicine": "Clonazepam 0.25 mg", "dosage": "0-0-1", "when_to_take": "Bedtime", "duration": "2 Weeks"},
         {"medicine": "Propranolol 10 mg", "dosage": "1-0-1", "when_to_take": "After Food", "duration": "1 Month"}]


def make_prescriptions(base: str, email: str, n: int) -> list[int]:
    c = Client(base)
    c.api_login(email)
    today = time.strftime("%Y-%m-%d")
    ids = []
    for i in range(n):
        p = c.post_json("/api/patients/register-complete", {"name": f"Print Load Patient {i}", "age": 30 + i,
                                                           "sex": "F" if i % 2 else "M"}).json()["data"]["patient"]
        pf = c.post_json("/api/clinical-proformas", {"patient_id": p["id"], "visit_date": today,
                                                     "diagnosis": "Generalised anxiety disorder"}).json()["data"]
        rx = c.post_json("/api/prescriptions", {"clinical_proforma_id": pf["proforma"]["id"], "prescription": LINES,
                                                "advice": f"Review in four weeks ({i})"}).json()["data"]
        ids.append(rx["prescription"]["id"])
    c.close()
    return ids


def print_all(base: str, email: str, ids: list[int], timeout: float) -> dict:
    clients = []
    for _ in ids:
        c = Client(base, timeout=timeout)
        c.api_login(email)
        clients.append(c)
    gate = threading.Barrier(len(ids))
    results: list[tuple[int, float]] = []

    def one(c, rx_id):
        gate.wait()
        t = time.perf_counter()
        a = c.get(f"/api/prescriptions/{rx_id}/pdf")
        ok = a.status == 200 and a.body.startswith(b"%PDF")
        results.append((200 if ok else a.status, (time.perf_counter() - t) * 1000))

    threads = [threading.Thread(target=one, args=(c, rx_id)) for c, rx_id in zip(clients, ids)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for c in clients:
        c.close()
    ms = sorted(m for _, m in results)
    return {"prints": len(results), "errors": sum(1 for s, _ in results if s != 200),
            "statuses": sorted({s for s, _ in results}), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
            "max_ms": ms[-1] if ms else None, "wall_s": round(wall, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_print_load")
    ap.add_argument("--n", type=int, default=20, help="prescriptions printed at once")
    ap.add_argument("--workers", type=int, default=1, help="PDF_WORKERS of the server")
    ap.add_argument("--prerender", action="store_true", help="saves render ahead (PDF_PRERENDER=true)")
    ap.add_argument("--threads", type=int, default=16, help="waitress threads")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--label", default=None)
    ns = ap.parse_args(argv)
    label = ns.label or f"{ns.n}x-w{ns.workers}{'-prerender' if ns.prerender else ''}"
    install_sigterm()
    env = {"PDF_WORKERS": str(ns.workers), "PDF_PRERENDER": "true" if ns.prerender else "false",
           "PDF_QUEUE_TIMEOUT": "30"}
    stack = Stack(ns.database_url, f"print-load-{label}", threads=ns.threads, extra_env=env)
    env["PDF_CACHE_DIR"] = str(stack.tmp / "pdf-cache")
    stack.extra_env.update(env)
    email = f"print{time.strftime('%H%M%S')}@emrs.local"
    load_before = loadavg()
    try:
        stack.prepare([(email, "Dr Print Load", "Resident")])
        stack.start()
        ids = make_prescriptions(stack.base, email, ns.n)
        if ns.prerender:
            time.sleep(max(5.0, ns.n * 0.4 / max(1, ns.workers)))  # let the saves' renders settle
        rounds = {"first prints": print_all(stack.base, email, ids, ns.timeout),
                  "again (stored)": print_all(stack.base, email, ids, ns.timeout)}
        errors = stack.server_errors()
    finally:
        stack.close()
    print(f"\n### {ns.n} prescriptions printed at once — PDF_WORKERS={ns.workers}, "
          f"PDF_PRERENDER={'true' if ns.prerender else 'false'}, waitress {ns.threads} threads "
          f"(load before {load_before})\n")
    print("| round | prints | errors | p50 ms | p95 ms | max ms | wall s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rounds.items():
        print(f"| {name} | {r['prints']} | {r['errors']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
              f"{r['max_ms']:.0f} | {r['wall_s']} |")
    print(f"\nserver log errors: {errors}")
    write_json(f"print-load-{label}.json", {"n": ns.n, "workers": ns.workers, "prerender": ns.prerender,
                                       "rounds": rounds, "server_errors": errors, "load_before": load_before})
    return 0 if all(r["errors"] == 0 for r in rounds.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
