#!/usr/bin/env python
"""Simulated OPD day: N concurrent staff, each looping through a patient's visit.

    python bench/opd_load.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_opd_load \
        --users 50 --duration 600

Creates its own database on that URL (drop/create, `flask db upgrade`), staff accounts
with `flask users create --no-otp`, starts `waitress-serve --threads 16 --call
emrs:create_app` on a free loopback port (RATELIMIT_ENABLED=false, LOG_LEVEL=WARNING,
UPLOAD_FOLDER in a temporary folder) and stops it at the end, also on Ctrl-C.
(`--reuse-database` keeps an existing, e.g. seeded, database: only the accounts are added.)

Each simulated user signs in twice (a bearer token for the JSON API, a browser session
with its CSRF token; the users arrive spread over --ramp seconds and wait out a 503),
then loops until --duration:

  register   POST /api/patients/register-complete
  search     the header quick search as the browser sends it (GET /patients/quick-search,
             HX-Request) or GET /api/patients/search, half each, for part of the name or CR
  page       GET /patients/<id> (browser: the patient page with its timeline)
  proforma   POST /api/clinical-proformas (walk-in; a complex decision in --complex of them,
             which creates the intake record in the same transaction)
  prescribe  POST /api/prescriptions with 2–3 lines
  print      GET /prescriptions/<id>/pdf (browser)

with --think seconds (uniform 0..2×think) between actions (default 0: as fast as the
server answers). Per action: count, errors (non-2xx/3xx and no answer), p50/p95/p99;
total requests/s. Markdown on stdout, JSON in bench/results/opd-load-<label>.json.
Every request has a timeout (--timeout); the run stops at --duration.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import (ROOT, Client, Recorder, Stack, git_commit, install_sigterm, loadavg, log,  # noqa: E402
                     machine, percentile, write_json)

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
ACTIONS = ("register", "search", "page", "proforma", "prescribe", "print")

FIRST = ["Gurpreet", "Harpreet", "Manpreet", "Jaspreet", "Sukhwinder", "Harbhajan", "Kulwant", "Balwinder",
         "Paramjit", "Rajinder", "Rakesh", "Ramesh", "Sunita", "Anita", "Geeta", "Seema", "Neelam", "Mohinder",
         "Simranjit", "Kamaljit", "Vinod", "Deepak", "Pooja", "Kiran", "Satnam", "Baldev", "Amandeep", "Navneet"]
MIDDLE = ["Singh", "Kaur", "Kumar", "Devi", "Rani", ""]
LAST = ["Sandhu", "Sidhu", "Gill", "Grewal", "Dhillon", "Bains", "Sharma", "Verma", "Gupta", "Chauhan", "Thakur",
        "Garg", "Bansal", "Arora", "Malhotra", "Kapoor", "Randhawa", "Brar", "Sekhon", "Aulakh"]
PLACES = [("Chandigarh", "Chandigarh", "Chandigarh"), ("Mohali", "SAS Nagar", "Punjab"),
          ("Ludhiana", "Ludhiana", "Punjab"), ("Patiala", "Patiala", "Punjab"), ("Panchkula", "Panchkula", "Haryana"),
          ("Ambala", "Ambala", "Haryana"), ("Shimla", "Shimla", "Himachal Pradesh")]
# (medicine, dosage, when, duration, qty): one from each group, the third group in half of the
# prescriptions — no combination needs a drug-safety override reason.
MEDICINES = [
    [("Sertraline 50 mg", "0-0-1", "After Food", "1 Month", "30"),
     ("Escitalopram 10 mg", "0-0-1", "After Food", "1 Month", "30"),
     ("Olanzapine 5 mg", "0-0-1", "Bedtime", "1 Month", "30")],
    [("Clonazepam 0.5 mg", "0-0-1", "Bedtime", "2 Weeks", "14"),
     ("Lorazepam 1 mg", "0-0-1", "Bedtime", "2 Weeks", "14")],
    [("Propranolol 20 mg", "1-0-1", "After Food", "1 Month", "60"),
     ("Trihexyphenidyl 2 mg", "1-0-0", "After Food", "1 Month", "30")],
]
MOODS = ["Sad", "Anxious", "Irritable", "Euthymic", "Elated"]
DIAGNOSES = [("F32.1", "Moderate depressive episode"), ("F41.1", "Generalized anxiety disorder"),
             ("F20.0", "Paranoid schizophrenia"), ("F31.1", "Bipolar affective disorder"),
             ("F42.2", "Mixed obsessional thoughts and acts")]


def describe(answer) -> str | None:
    """An error answer in a few words: status and the envelope's message or the page title."""
    if answer.status < 400:
        return None
    message = answer.json().get("message")
    if not message:
        m = re.search(r"<title>([^<]{0,80})", answer.text())
        message = m.group(1).strip() if m else ""
    return f"HTTP {answer.status} {message[:100]}".strip()


def today_ist() -> str:
    return dt.datetime.now(IST).date().isoformat()


class SimUser(threading.Thread):
    def __init__(self, n: int, base: str, email: str, rec: Recorder, ns, phase: dict):
        super().__init__(daemon=True, name=f"user-{n}")
        self.n, self.email, self.rec, self.ns, self.phase = n, email, rec, ns, phase
        self.rng = random.Random(ns.seed * 1000 + n)
        self.api = Client(base, ns.timeout)   # keep-alive connection for the JSON API
        self.web = Client(base, ns.timeout)   # and one for the browser pages
        self.journeys = 0
        self.sign_in_retries = 0
        self.patients: list[tuple[int, str, str]] = []  # (id, name, cr_no) this user registered
        self.failure: str | None = None

    # -------------------------------------------------------------- helpers

    def record(self, action: str, answer) -> bool:
        if self.phase["record"]:
            self.rec.add(action, answer.status, answer.ms, answer.error or describe(answer))
        if answer.status == 401 and action != "page":
            try:
                self.api.api_login(self.email)  # token lifetime: an hour on this server
            except RuntimeError:
                pass
        return 200 <= answer.status < 400

    def think(self) -> None:
        if self.ns.think > 0:
            time.sleep(self.rng.uniform(0, 2 * self.ns.think))

    # -------------------------------------------------------------- one patient's visit

    def patient_body(self) -> dict:
        r = self.rng
        first, middle, last = r.choice(FIRST), r.choice(MIDDLE), r.choice(LAST)
        name = " ".join(x for x in (first, middle, last) if x)
        city, district, state = r.choice(PLACES)
        return {"name": name, "age": r.randint(14, 85), "sex": r.choices(["M", "F", "Other"], [55, 44, 1])[0],
                "contact_number": str(r.randint(6, 9)) + "".join(str(r.randint(0, 9)) for _ in range(9)),
                "father_name": f"{r.choice(FIRST)} {r.choice(LAST)}", "category": r.choice(["GEN", "SC", "OBC", "EWS"]),
                "marital_status": r.choice(["married", "single", "widowed"]), "occupation": r.choice(
                    ["unskilled", "skilled", "student", "household_housewife", "retired"]),
                "religion": r.choice(["sikhism", "hinduism"]), "locality": r.choice(["urban", "rural"]),
                "city": city, "district": district, "state": state, "country": "India",
                "pin_code": str(r.randint(140001, 160102)), "address_line": f"House {r.randint(1, 3000)}, Ward {r.randint(1, 40)}",
                "assigned_room": str(r.choice([101, 102, 103, 104, 201]))}

    def visit(self) -> None:
        r = self.rng
        # 1. register
        a = self.api.post_json("/api/patients/register-complete", self.patient_body())
        if not self.record("register", a):
            return
        p = a.json().get("data", {}).get("patient", {})
        pid, name, cr = p.get("id"), p.get("name") or "", p.get("cr_no") or ""
        self.patients.append((pid, name, cr))
        self.think()
        # 2. search: someone (often an earlier patient) by part of the name, or the CR number
        sid, sname, scr = r.choice(self.patients[-20:])
        term = scr if r.random() < 0.3 else sname.split()[0][:r.randint(4, 8)] + (
            " " + sname.split()[-1][:3] if r.random() < 0.5 else "")
        if r.random() < 0.5:
            a = self.web.get("/patients/quick-search?" + urlencode({"q": term}), auth="web",
                             headers={"HX-Request": "true"})
        else:
            a = self.api.get("/api/patients/search?" + urlencode({"q": term, "limit": 10}))
        self.record("search", a)
        self.think()
        # 3. the patient page with its timeline
        a = self.web.get(f"/patients/{pid}", auth="web")
        self.record("page", a)
        self.think()
        # 4. walk-in proforma
        code, diagnosis = r.choice(DIAGNOSES)
        body = {"patient_id": pid, "visit_date": today_ist(), "visit_type": "first_visit",
                "room_no": str(r.choice([101, 102, 103, 104, 201])), "informant_present": r.random() < 0.7,
                "mood": r.sample(MOODS, r.randint(1, 2)), "diagnosis": diagnosis, "icd_code": code,
                "case_severity": r.choice(["mild", "moderate", "severe"]),
                "doctor_decision": "complex_case" if r.random() < self.ns.complex else "simple_case"}
        a = self.api.post_json("/api/clinical-proformas", body)
        if not self.record("proforma", a):
            return
        data = a.json().get("data", {})
        proforma = data.get("clinical_proforma") or data.get("proforma") or {}
        self.think()
        # 5. prescribe
        lines = [{"medicine": m, "dosage": d, "when": w, "duration": du, "qty": q}
                 for m, d, w, du, q in [r.choice(g) for g in MEDICINES[:r.randint(2, 3)]]]
        a = self.api.post_json("/api/prescriptions", {"patient_id": pid, "clinical_proforma_id": proforma.get("id"),
                                                      "prescription": lines, "advice": "Review after 4 weeks"})
        if not self.record("prescribe", a):
            return
        rx = a.json().get("data", {}).get("prescription", {})
        self.think()
        # 6. print
        a = self.web.get(f"/prescriptions/{rx.get('id')}/pdf", auth="web")
        if a.ok and not a.body.startswith(b"%PDF"):
            a.status, a.error = 598, "not a PDF"
        self.record("print", a)
        self.journeys += self.phase["record"]
        self.think()

    def sign_in(self) -> None:
        """Staff arrive over --ramp seconds; a busy server's 503 is waited out (Retry-After)."""
        time.sleep(self.rng.uniform(0, self.ns.ramp))
        for attempt in range(10):
            try:
                self.api.api_login(self.email)
                self.web.web_login(self.email)
                return
            except RuntimeError as exc:
                self.sign_in_retries += 1
                if attempt == 9 or not re.search(r"failed: (503|599)", str(exc)):
                    raise
                time.sleep(5)

    def run(self) -> None:
        try:
            self.sign_in()
        except RuntimeError as exc:
            self.failure = str(exc)
            return
        self.phase["ready"].release()
        while not self.phase["stop"]:
            try:
                self.visit()
            except Exception as exc:  # a bug of the load generator must not pass as a server error
                self.failure = f"{type(exc).__name__}: {exc}"
                return
        self.api.close()
        self.web.close()


def markdown(summary: dict, totals: dict, ns, load: str) -> str:
    out = [f"{ns.users} users, {totals['seconds']:.0f} s measured (after {ns.warmup:.0f} s warm-up), "
           f"think {ns.think} s, waitress --threads {ns.threads}; load average before/after: {load}\n",
           "| action | count | errors | p50 ms | p95 ms | p99 ms | per s |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ACTIONS:
        s = summary.get(name)
        if s:
            out.append(f"| {name} | {s['count']} | {s['errors']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
                       f"{s['per_s']} |")
    out.append(f"| **all** | {totals['requests']} | {totals['errors']} | {totals['p50_ms']} | {totals['p95_ms']} | "
               f"{totals['p99_ms']} | **{totals['rps']}** |")
    out.append(f"\nCompleted visits (register → print): {totals['journeys']} ({totals['journeys_per_min']}/min).")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_opd_load")
    ap.add_argument("--reuse-database", action="store_true",
                    help="keep the database (e.g. one loaded by bench/seed.py); add accounts only")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--accounts", type=int, default=10, help="staff accounts the users sign in with (Residents)")
    ap.add_argument("--duration", type=float, default=600, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=5, help="seconds before measuring (first PDF, templates)")
    ap.add_argument("--think", type=float, default=0.0, help="mean pause between actions, seconds")
    ap.add_argument("--ramp", type=float, default=10, help="users sign in spread over this many seconds")
    ap.add_argument("--complex", type=float, default=0.2, help="share of complex-case proformas")
    ap.add_argument("--timeout", type=float, default=30, help="seconds per request")
    ap.add_argument("--threads", type=int, default=16, help="waitress threads")
    ap.add_argument("--label", default=None, help="results file: opd-load-<label>.json")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--app-dir", default=str(ROOT), help="application source the server runs")
    ap.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the server")
    ns = ap.parse_args(argv)
    label = ns.label or f"{ns.users}u-{int(ns.duration)}s"
    install_sigterm()
    load_before = loadavg()
    stack = Stack(ns.database_url, f"opd-load-{label}", Path(ns.app_dir), ns.threads,
                  dict(kv.split("=", 1) for kv in ns.env))
    rec = Recorder()
    phase = {"record": False, "stop": False, "ready": threading.Semaphore(0)}
    users: list[SimUser] = []
    try:
        run_id = time.strftime("%H%M%S")
        accounts = [(f"opd{run_id}-{i}@emrs.local", f"Dr Load Resident {i}", "Resident")
                    for i in range(max(1, min(ns.accounts, ns.users)))]
        t0 = time.time()
        if ns.reuse_database:
            stack.create_users(accounts)
        else:
            stack.prepare(accounts)
        stack.start()
        log(f"database {ns.database_url} ready, waitress on {stack.base} ({time.time() - t0:.1f} s)")
        users = [SimUser(i, stack.base, accounts[i % len(accounts)][0], rec, ns, phase) for i in range(ns.users)]
        for u in users:
            u.start()
        signed_in = 0
        deadline = time.time() + 120 + ns.ramp
        while signed_in < len(users) and time.time() < deadline:
            if phase["ready"].acquire(timeout=1):
                signed_in += 1
            elif all(not u.is_alive() for u in users):
                break
        failed = [u.failure for u in users if u.failure]
        if failed:
            raise SystemExit(f"{len(failed)} users could not start: {failed[0]}")
        log(f"{signed_in} users signed in; warm-up {ns.warmup:.0f} s")
        time.sleep(ns.warmup)
        phase["record"] = True
        start = time.perf_counter()
        log(f"measuring for {ns.duration:.0f} s")
        next_note = start + 60
        while time.perf_counter() - start < ns.duration:
            time.sleep(0.2)
            if time.perf_counter() >= next_note:
                next_note += 60
                n = sum(s["count"] for s in rec.summary(1).values())
                log(f"{time.perf_counter() - start:.0f} s: {n} requests, load {loadavg()}")
            if stack.proc.poll() is not None:
                raise SystemExit(f"the server exited ({stack.proc.returncode}); see {stack.server_log}")
        seconds = time.perf_counter() - start
        phase["record"] = False
        phase["stop"] = True
        for u in users:
            u.join(ns.timeout + 5)
    finally:
        phase["stop"] = True
        stack.close()
    load_after = loadavg()
    broken = [u.failure for u in users if u.failure]
    summary = rec.summary(seconds)
    all_ms = sorted(ms for a in rec.actions.values() for ms in a["ms"])
    journeys = sum(u.journeys for u in users)
    totals = {"requests": len(all_ms), "errors": sum(s["errors"] for s in summary.values()),
              "seconds": round(seconds, 1), "rps": round(len(all_ms) / seconds, 1),
              "p50_ms": percentile(all_ms, 50), "p95_ms": percentile(all_ms, 95), "p99_ms": percentile(all_ms, 99),
              "journeys": journeys, "journeys_per_min": round(journeys / seconds * 60, 1)}
    load = f"{load_before} / {load_after}"
    result = {"label": label, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "users": ns.users,
              "accounts": len(accounts), "duration_s": ns.duration, "warmup_s": ns.warmup, "think_s": ns.think,
              "complex_share": ns.complex, "timeout_s": ns.timeout, "waitress_threads": ns.threads,
              "server_env": ns.env, "database": ns.database_url, "reused_database": ns.reuse_database,
              "app_commit": git_commit(Path(ns.app_dir)), "machine": machine(), "loadavg_before_after": load,
              "ramp_s": ns.ramp, "sign_in_retries": sum(u.sign_in_retries for u in users),
              "actions": summary, "totals": totals, "server_log": stack.server_errors(),
              "load_generator_failures": broken}
    path = write_json(f"opd-load-{label}.json", result)
    print()
    print(markdown(summary, totals, ns, load))
    if broken:
        print(f"\nload generator failures: {broken[:3]}")
    errs = result["server_log"]
    if errs["error_lines"]:
        print(f"\nserver log errors: {errs}")
    print(f"\nwritten: {path}")
    return 0 if totals["errors"] == 0 and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
