#!/usr/bin/env python
"""Fault checks of EMRS under load: a PostgreSQL restart, SIGKILLed app processes and
concurrent edits of one record. Loopback only; every loop and request is bounded.

    python bench/faults.py all --database-url postgresql://postgres@127.0.0.1:5433/emrs_faults
    python bench/faults.py restart|sigkill|conflict [options]

Each check creates its own database on --database-url (drop/create, `flask db upgrade`),
accounts with `flask users create --no-otp`, starts `waitress-serve --threads 16 --call
emrs:create_app` on a free loopback port (RATELIMIT_ENABLED=false, LOG_LEVEL=WARNING,
UPLOAD_FOLDER in a temporary folder), prints one verdict line, writes
bench/results/faults-<check>.json and stops what it started (also on Ctrl-C).

restart   8 clients register patients and read them back by id for --duration (40 s);
          at --restart-at (10 s) PostgreSQL is restarted with --restart-cmd (default:
          `pg_ctlcluster --skip-systemctl-redirect <ver> <cluster> restart` for the
          cluster on the URL's port, from pg_lsclusters). Reports every status seen
          while the database was down (expected: 503 envelopes only), the time from
          PostgreSQL accepting connections again (pg_isready) to the app's first 2xx
          (target ≤ 5 s, the app is not restarted) and whether every acknowledged
          write is in the database (checked with psycopg2 by the returned ids).
sigkill   writers save complex-case proformas (the intake record is created in the
          same transaction) and upload files; the waitress process is SIGKILLed
          --kills times at random moments and started again. Then, directly in the
          database and on disk: no complex proforma without its intake record, no
          intake record pointing at a missing proforma, no file row without its stored
          file (same size and SHA-256), every acknowledged write present. Stored files
          without a row (written before the row committed) are allowed by the design:
          `flask files sweep` removes them; the check runs it and verifies none is left.
conflict  two clients load the same record and save different changes at the same
          moment (a proforma and a prescription over the API with their version, an
          intake-record section and the patient card as browser forms), --repeat times
          each: exactly one must get 2xx, the other 409, and the stored record must
          hold the winner's change.

The restart check refuses a cluster on port 5432 (usually shared) unless --restart-cmd
is given explicitly.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import re
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import (ROOT, Answer, Client, Stack, default_restart_cmd, git_commit,  # noqa: E402
                     install_sigterm, loadavg, log, machine, pg_ready, read_form, write_json)

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
NAMES = ["Gurpreet Singh", "Harpreet Kaur", "Rakesh Sharma", "Sunita Devi", "Mohinder Singh Gill", "Anita Verma",
         "Kulwant Singh Sandhu", "Seema Rani", "Vinod Kumar", "Jaspreet Kaur Dhillon"]


def today_ist() -> str:
    return dt.datetime.now(IST).date().isoformat()


def envelope_503(a: Answer) -> bool:
    """The 503 a client may see: the JSON envelope (API) or the error page (browser), with Retry-After."""
    if a.status != 503 or "retry-after" not in a.headers:
        return False
    if a.headers.get("content-type", "").startswith("application/json"):
        body = a.json()
        return body.get("success") is False and bool(body.get("message"))
    return "Database unavailable" in a.text()


def signed_in(base: str, email: str, web: bool = False, timeout: float = 15) -> Client:
    c = Client(base, timeout)
    c.api_login(email)
    if web:
        c.web_login(email)
    return c


def new_stack(ns, check: str, users: list[tuple[str, str, str]]) -> tuple[Stack, dict]:
    stack = Stack(ns.database_url, f"faults-{check}", Path(ns.app_dir), ns.threads)
    t0 = time.time()
    ids = stack.prepare(users)
    stack.start()
    log(f"{check}: database and accounts ready, waitress on {stack.base} ({time.time() - t0:.1f} s)")
    return stack, ids


def header(check: str, ns, load_before: str) -> dict:
    return {"check": check, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "database": ns.database_url,
            "app_commit": git_commit(Path(ns.app_dir)), "machine": machine(), "loadavg_before": load_before,
            "waitress_threads": ns.threads}


# ============================================================================== restart

def check_restart(ns) -> dict:
    load_before = loadavg()
    restart_cmd = shlex.split(ns.restart_cmd) if ns.restart_cmd else default_restart_cmd(ns.database_url)
    if not ns.restart_cmd and (urlsplit(ns.database_url).port or 5432) == 5432:
        raise SystemExit("restart: the cluster on port 5432 is usually shared; use your own cluster "
                         "(e.g. pg_createcluster 15 faults --port 5433) or pass --restart-cmd explicitly")
    email = "faults-restart@emrs.local"
    stack, _ = new_stack(ns, "restart", [(email, "Dr Restart Resident", "Resident")])
    events: list[tuple] = []  # (t_sent, t_done, kind, status, error, envelope_503)
    acked: dict[int, str] = {}  # patient id -> marker written with it
    unacked: list[str] = []     # markers of registrations not answered 2xx
    lock = threading.Lock()
    stop = threading.Event()
    pg = {"restart_start": None, "restart_end": None, "down_seen": None, "up": None, "cmd_rc": None,
          "cmd_output": ""}
    t0 = time.perf_counter()

    def note(kind: str, a: Answer, sent: float) -> None:
        with lock:
            events.append((sent - t0, time.perf_counter() - t0, kind, a.status, a.error, envelope_503(a)))

    def api_client(i: int) -> None:
        rng = random.Random(i)
        c = signed_in(stack.base, email)
        mine: list[int] = []
        n = 0
        while not stop.is_set():
            n += 1
            marker = f"restart-{i}-{n}"
            body = {"name": rng.choice(NAMES), "age": rng.randint(18, 80), "sex": rng.choice("MF"),
                    "address_line": marker, "contact_number": "9" + "".join(str(rng.randint(0, 9)) for _ in range(9))}
            sent = time.perf_counter()
            a = c.post_json("/api/patients/register-complete", body)
            note("write", a, sent)
            pid = a.json().get("data", {}).get("patient", {}).get("id") if a.ok else None
            with lock:
                if pid:
                    acked[pid] = marker
                    mine.append(pid)
                else:
                    unacked.append(marker)
            if mine and not stop.is_set():
                sent = time.perf_counter()
                a = c.get(f"/api/patients/{rng.choice(mine)}")
                note("read", a, sent)
            if not a.ok:
                time.sleep(0.1)  # a client backs off a little after an error

    def web_client() -> None:
        rng = random.Random(99)
        c = signed_in(stack.base, email, web=True)
        while not stop.is_set():
            with lock:
                ids = list(acked)[-50:]
            if not ids:
                time.sleep(0.1)
                continue
            sent = time.perf_counter()
            a = c.get(f"/patients/{rng.choice(ids)}", auth="web")
            note("page", a, sent)
            time.sleep(0.05 if a.ok else 0.2)

    def restarter() -> None:
        if stop.wait(ns.restart_at):
            return
        pg["restart_start"] = time.perf_counter() - t0
        log(f"restart: running {' '.join(restart_cmd)}")
        r = subprocess.run(restart_cmd, capture_output=True, text=True, timeout=120)
        pg["restart_end"] = time.perf_counter() - t0
        pg["cmd_rc"], pg["cmd_output"] = r.returncode, (r.stdout + r.stderr)[-500:]

    def watcher() -> None:
        while not stop.is_set() and pg["up"] is None:
            if pg["restart_start"] is None:
                time.sleep(0.05)
                continue
            ready = pg_ready(ns.database_url)
            now = time.perf_counter() - t0
            if not ready and pg["down_seen"] is None:
                pg["down_seen"] = now
            elif ready and (pg["down_seen"] is not None or pg["restart_end"] is not None):
                pg["up"] = now
            time.sleep(0.05)

    threads = [threading.Thread(target=api_client, args=(i,), daemon=True) for i in range(ns.clients)]
    threads += [threading.Thread(target=web_client, daemon=True), threading.Thread(target=restarter, daemon=True),
                threading.Thread(target=watcher, daemon=True)]
    try:
        for t in threads:
            t.start()
        while time.perf_counter() - t0 < ns.duration:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(30)
        app_alive = stack.proc.poll() is None
        conn = stack.db()
        with conn.cursor() as cur:
            ids = list(acked)
            cur.execute("SELECT id, address_line FROM registered_patient WHERE id = ANY(%s)", (ids,))
            stored = dict(cur.fetchall())
            cur.execute("SELECT count(*) FROM registered_patient WHERE address_line = ANY(%s)", (unacked,))
            unacked_committed = cur.fetchone()[0]
        conn.close()
    finally:
        stop.set()
        stack.close()
    if pg["restart_start"] is None:
        raise SystemExit("restart: the restart never ran (duration shorter than --restart-at?)")
    up = pg["up"] if pg["up"] is not None else pg["restart_end"]
    first_ok = min((e[1] for e in events if e[3] // 100 == 2 and e[1] > up), default=None)
    recovery = round(first_ok - up, 2) if first_ok is not None else None
    app_down_end = first_ok if first_ok is not None else float("inf")
    during = [e for e in events if pg["restart_start"] <= e[1] <= app_down_end]
    unexpected = []
    for e in events:
        # a 503 envelope is right for a request sent before the app served again and
        # answered after the restart began (a retried read may be answered a little later)
        ok = e[3] // 100 == 2 or (e[3] == 503 and e[5] and e[0] <= app_down_end and e[1] >= pg["restart_start"])
        if not ok:
            unexpected.append({"t_sent": round(e[0], 2), "t_done": round(e[1], 2), "kind": e[2], "status": e[3],
                               "error": e[4], "envelope": e[5]})
    missing = [i for i in acked if i not in stored]
    wrong = [i for i, m in acked.items() if i in stored and stored[i] != m]
    statuses_down = {f"{k[0]} {k[1]}": v for k, v in sorted(Counter((e[2], e[3]) for e in during).items())}
    passed = (not unexpected and recovery is not None and recovery <= ns.target_recovery and not missing
              and not wrong and app_alive and pg["cmd_rc"] == 0)
    result = {**header("restart", ns, load_before), "restart_cmd": restart_cmd, "clients": ns.clients,
              "duration_s": ns.duration, "restart_at_s": ns.restart_at,
              "timeline_s": {"restart_cmd_started": _r(pg["restart_start"]), "postgres_refused_first_seen":
                             _r(pg["down_seen"]), "restart_cmd_returned": _r(pg["restart_end"]),
                             "postgres_accepting_again": _r(up), "app_first_2xx_after": _r(first_ok)},
              "restart_cmd_rc": pg["cmd_rc"], "restart_cmd_output": pg["cmd_output"],
              "recovery_s": recovery, "target_recovery_s": ns.target_recovery,
              "statuses_while_down": statuses_down,
              "statuses_all": {f"{k[0]} {k[1]}": v for k, v in sorted(Counter((e[2], e[3]) for e in events).items())},
              "non_envelope_503": sum(1 for e in during if e[3] == 503 and not e[5]),
              "unexpected": unexpected[:50], "unexpected_count": len(unexpected),
              "writes_acknowledged": len(acked), "acknowledged_missing": missing[:50],
              "acknowledged_wrong_content": wrong[:50],
              "writes_not_acknowledged": len(unacked), "not_acknowledged_but_committed": unacked_committed,
              "app_process_survived": app_alive, "server_log": stack.server_errors(), "loadavg_after": loadavg(),
              "pass": passed}
    result["verdict"] = (
        f"restart: {'PASS' if passed else 'FAIL'} — while PostgreSQL was down: {statuses_down or 'no requests'}; "
        f"{len(unexpected)} unexpected answers; first 2xx {recovery} s after PostgreSQL accepted connections "
        f"(target ≤ {ns.target_recovery} s, app not restarted); {len(acked) - len(missing) - len(wrong)}/{len(acked)} "
        f"acknowledged writes in the database; {unacked_committed} of {len(unacked)} unacknowledged writes committed")
    return result


def _r(x):
    return round(x, 2) if isinstance(x, (int, float)) else x


# ============================================================================== sigkill

def check_sigkill(ns) -> dict:
    load_before = loadavg()
    email = "faults-sigkill@emrs.local"
    stack, _ = new_stack(ns, "sigkill", [(email, "Dr Sigkill Resident", "Resident")])
    lock = threading.Lock()
    stop = threading.Event()
    statuses: Counter = Counter()
    acked_proformas: list[tuple[int, int | None]] = []      # (proforma id, intake record id)
    acked_files: list[tuple[int, int, str, int]] = []        # (patient id, file id, sha256, size)
    kills: list[dict] = []
    t0 = time.perf_counter()

    def count(kind: str, a: Answer) -> None:
        with lock:
            statuses[(kind, a.status if a.status != 599 else f"599 {a.error}")] += 1

    def wait_for_server(_c: Client) -> None:
        time.sleep(0.2)  # the server is being killed or starting again

    def writer(i: int) -> None:
        rng = random.Random(100 + i)
        c = signed_in(stack.base, email)
        while not stop.is_set():
            a = c.post_json("/api/patients/register-complete", {"name": rng.choice(NAMES), "age": rng.randint(18, 80),
                                                                "sex": rng.choice("MF")})
            count("register", a)
            if not a.ok:
                wait_for_server(c)
                continue
            pid = a.json()["data"]["patient"]["id"]
            a = c.post_json("/api/clinical-proformas", {
                "patient_id": pid, "visit_date": today_ist(), "doctor_decision": "complex_case",
                "diagnosis": "Moderate depressive episode", "icd_code": "F32.1", "mood": ["Sad"],
                "adl_reasoning": "Needs a full work-up", "history_narrative": "Low mood for two years " * 20,
                "prescriptions": [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1", "when": "After Food"}]})
            count("complex proforma", a)
            if a.ok:
                data = a.json().get("data", {})
                with lock:
                    acked_proformas.append((data["clinical_proforma"]["id"], data["adl_file"]["id"]))
            else:
                wait_for_server(c)

    def uploader(i: int, patients: list[int]) -> None:
        rng = random.Random(200 + i)
        c = signed_in(stack.base, email, timeout=60)
        while not stop.is_set():
            files = []
            for k in range(rng.randint(1, 3)):
                size = rng.randint(256 * 1024, 3 * 1024 * 1024)
                content = b"%PDF-1.4\n" + rng.randbytes(size)
                files.append(("files", f"scan-{i}-{k}.pdf", content, "application/pdf"))
            pid = rng.choice(patients)
            a = c.post_multipart("/api/patient-files/create", {"patient_id": str(pid)}, files)
            count("upload", a)
            if a.ok:
                details = a.json().get("data", {}).get("file_details", [])
                sent = {hashlib.sha256(f[2]).hexdigest(): len(f[2]) for f in files}
                with lock:
                    for d in details:
                        acked_files.append((pid, d["id"], d["sha256"], d["size_bytes"]))
                        if d["sha256"] not in sent:
                            statuses[("upload", "2xx with a SHA-256 that was not sent")] += 1
            else:
                wait_for_server(c)

    def killer() -> None:
        rng = random.Random(ns.seed)
        for k in range(ns.kills):
            if stop.wait(rng.uniform(ns.min_gap, ns.max_gap)):
                return
            at = time.perf_counter() - t0
            stack.kill()
            down = rng.uniform(0.2, 1.5)
            time.sleep(down)
            try:
                stack.start()
            except SystemExit as exc:
                kills.append({"at_s": round(at, 2), "restart_error": str(exc)})
                stop.set()
                return
            kills.append({"at_s": round(at, 2), "back_after_s": round(time.perf_counter() - t0 - at, 2)})
            log(f"sigkill: kill {k + 1}/{ns.kills} at {at:.1f} s, serving again {kills[-1]['back_after_s']} s later")

    try:
        c = signed_in(stack.base, email)
        patients = []
        for n in range(10):
            a = c.post_json("/api/patients/register-complete", {"name": NAMES[n], "age": 30 + n, "sex": "MF"[n % 2]})
            patients.append(a.json()["data"]["patient"]["id"])
        c.close()
        threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(ns.writers)]
        threads += [threading.Thread(target=uploader, args=(i, patients), daemon=True) for i in range(ns.uploaders)]
        threads.append(threading.Thread(target=killer, daemon=True))
        for t in threads:
            t.start()
        while time.perf_counter() - t0 < ns.duration and not (len(kills) == ns.kills and
                                                             time.perf_counter() - t0 > (kills[-1]["at_s"] + 5)):
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(70)
        stack.stop_server()  # nothing in flight while the disk and the database are checked
        before = integrity(stack)
        swept = None
        after = before
        if before["files_without_row"]:
            swept = stack.flask("files", "sweep", "--older-than-minutes", "0").strip()
            after = integrity(stack)
        conn = stack.db()
        with conn.cursor() as cur:
            ids = [p for p, _ in acked_proformas]
            cur.execute("SELECT id FROM clinical_proforma WHERE id = ANY(%s)", (ids,))
            have = {r[0] for r in cur.fetchall()}
        conn.close()
        missing_proformas = [p for p in ids if p not in have]
        file_rows = {(r["patient_id"], r["id"]) for r in after["rows"]}
        missing_files = [f for f in acked_files if (f[0], f[1]) not in file_rows]
    finally:
        stop.set()
        stack.close()
    hard = {k: after[k] for k in ("complex_without_intake", "intake_without_proforma", "complex_patient_without_intake",
                                  "rows_without_file", "rows_with_wrong_content")}
    http_5xx = {f"{k[0]} {k[1]}": v for k, v in statuses.items() if isinstance(k[1], int) and k[1] >= 500}
    passed = (len(kills) == ns.kills and all("restart_error" not in k for k in kills) and not any(hard.values())
              and not after["files_without_row"] and not missing_proformas and not missing_files and not http_5xx
              and not statuses.get(("upload", "2xx with a SHA-256 that was not sent")))
    orphans = before["files_without_row"]
    result = {**header("sigkill", ns, load_before), "writers": ns.writers, "uploaders": ns.uploaders,
              "kills": kills, "statuses": {f"{k[0]} {k[1]}": v for k, v in sorted(statuses.items(), key=str)},
              "http_5xx": http_5xx, "acknowledged_proformas": len(acked_proformas),
              "acknowledged_proformas_missing": missing_proformas[:50], "acknowledged_files": len(acked_files),
              "acknowledged_files_missing": missing_files[:50],
              "before_sweep": {k: v for k, v in before.items() if k != "rows"},
              "sweep_output": swept, "after_sweep": {k: v for k, v in after.items() if k != "rows"},
              "server_log": stack.server_errors(), "loadavg_after": loadavg(), "pass": passed}
    result["verdict"] = (
        f"sigkill: {'PASS' if passed else 'FAIL'} — {len(kills)} kills; {len(acked_proformas)} complex proformas and "
        f"{len(acked_files)} files acknowledged, missing {len(missing_proformas)}/{len(missing_files)}; "
        f"complex without intake {len(hard['complex_without_intake'])}, intake without proforma "
        f"{len(hard['intake_without_proforma'])}, file rows without file {len(hard['rows_without_file'])}, "
        f"wrong content {len(hard['rows_with_wrong_content'])}; stored files without a row: {len(orphans)} "
        f"(allowed: written before the row committed) -> {len(after['files_without_row'])} after `flask files sweep`; "
        f"HTTP 5xx: {http_5xx or 'none'}")
    return result


def integrity(stack: Stack) -> dict:
    """Database and upload folder, read directly (the server is stopped)."""
    conn = stack.db()
    with conn.cursor() as cur:
        cur.execute("SELECT p.id FROM clinical_proforma p LEFT JOIN adl_files a ON a.id = p.adl_file_id "
                    "WHERE p.doctor_decision = 'complex_case' AND a.id IS NULL")
        complex_without = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT a.id FROM adl_files a LEFT JOIN clinical_proforma p ON p.id = a.clinical_proforma_id "
                    "WHERE a.clinical_proforma_id IS NOT NULL AND p.id IS NULL")
        intake_without = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT DISTINCT p.patient_id FROM clinical_proforma p WHERE p.doctor_decision = 'complex_case' "
                    "AND NOT EXISTS (SELECT 1 FROM adl_files a WHERE a.patient_id = p.patient_id)")
        patient_without = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id, patient_id, stored_name, size_bytes, sha256, is_deleted FROM patient_files")
        rows = [dict(zip(("id", "patient_id", "stored_name", "size_bytes", "sha256", "is_deleted"), r))
                for r in cur.fetchall()]
        cur.execute("SELECT count(*) FROM clinical_proforma")
        n_proformas = cur.fetchone()[0]
    conn.close()
    root = stack.upload_folder
    on_disk = {}
    for path in root.rglob("*"):
        if path.is_file():
            on_disk[str(path.relative_to(root))] = path
    referenced = {f"{r['patient_id']}/{r['stored_name']}" for r in rows}
    rows_without_file, wrong = [], []
    for r in rows:
        if r["is_deleted"]:
            continue
        path = on_disk.get(f"{r['patient_id']}/{r['stored_name']}")
        if path is None:
            rows_without_file.append(r["id"])
        elif path.stat().st_size != r["size_bytes"] or hashlib.sha256(path.read_bytes()).hexdigest() != r["sha256"]:
            wrong.append(r["id"])
    now = time.time()
    orphans = [{"path": rel, "bytes": p.stat().st_size, "age_s": round(now - p.stat().st_mtime, 1)}
               for rel, p in sorted(on_disk.items()) if rel not in referenced]
    return {"proformas": n_proformas, "file_rows": len(rows), "files_on_disk": len(on_disk),
            "complex_without_intake": complex_without, "intake_without_proforma": intake_without,
            "complex_patient_without_intake": patient_without, "rows_without_file": rows_without_file,
            "rows_with_wrong_content": wrong, "files_without_row": orphans, "rows": [
                {"id": r["id"], "patient_id": r["patient_id"]} for r in rows if not r["is_deleted"]]}


# ============================================================================== conflict



def check_conflict(ns) -> dict:
    load_before = loadavg()
    emails = ["faults-conflict-a@emrs.local", "faults-conflict-b@emrs.local"]
    stack, _ = new_stack(ns, "conflict", [(emails[0], "Dr Asha Resident", "Resident"),
                                          (emails[1], "Dr Balraj Faculty", "Faculty")])
    try:
        clients = [signed_in(stack.base, e, web=True) for e in emails]
        a = clients[0]
        pid = a.post_json("/api/patients/register-complete", {"name": "Harbhajan Singh Bains", "age": 52, "sex": "M",
                                                              "father_name": "Kartar Singh"}).json()["data"]["patient"]["id"]
        body = a.post_json("/api/clinical-proformas", {"patient_id": pid, "visit_date": today_ist(),
                                                       "doctor_decision": "complex_case", "diagnosis": "Start",
                                                       "icd_code": "F32.1"}).json()
        proforma_id = body["data"]["clinical_proforma"]["id"]
        record_id = body["data"]["adl_file"]["id"]
        a.post_json("/api/prescriptions", {"patient_id": pid, "clinical_proforma_id": proforma_id,
                                           "prescription": [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1"}]})
        kinds = {
            "proforma (API PUT with version)": (
                lambda c: _proforma_load(c, proforma_id),
                lambda c, st, v: c.post_json(f"/api/clinical-proformas/{proforma_id}",
                                             {"version": st, "diagnosis": v}, method="PUT"),
                lambda c: c.get(f"/api/clinical-proformas/{proforma_id}").json()["data"]["proforma"]["diagnosis"],
                (200,)),
            "prescription (API POST with version)": (
                lambda c: c.get(f"/api/prescriptions/by-proforma/{proforma_id}").json()["data"]["prescription"]["version"],
                lambda c, st, v: c.post_json("/api/prescriptions", {
                    "patient_id": pid, "clinical_proforma_id": proforma_id, "version": st, "advice": v,
                    "prescription": [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1"}]}),
                lambda c: c.get(f"/api/prescriptions/by-proforma/{proforma_id}").json()["data"]["prescription"]["advice"],
                (200, 201)),
            "intake record section (browser form)": (
                lambda c: _section_load(c, record_id, "history_present_illness"),
                lambda c, st, v: c.post_form(f"/intake/{record_id}/section/history_present_illness",
                                             _with(st, "history_narrative", v), {"HX-Request": "true"}),
                lambda c: c.get(f"/api/adl-files/{record_id}").json()["data"]["adlFile"]["history_narrative"],
                (200,)),
            "patient card (browser form)": (
                lambda c: _card_load(c, pid),
                lambda c, st, v: c.post_form(f"/patients/{pid}/card", _with(st, "father_name", v)),
                lambda c: c.get(f"/api/patients/{pid}").json()["data"]["patient"]["father_name"],
                (302,)),
        }
        out = {}
        for name, (load, save, stored, ok_statuses) in kinds.items():
            out[name] = race(name, clients, load, save, stored, ok_statuses, ns.repeat)
            log(f"conflict: {name}: {out[name]['outcomes']}")
    finally:
        stack.close()
    passed = all(k["pass"] for k in out.values())
    result = {**header("conflict", ns, load_before), "repeat": ns.repeat, "kinds": out,
              "server_log": stack.server_errors(), "loadavg_after": loadavg(), "pass": passed}
    summary = "; ".join(f"{n.split(' (')[0]}: {k['exactly_one_winner']}/{k['reps']} one 2xx + one 409, "
                        f"{k['lost_updates']} lost updates, {k['overlapping']} overlapping" for n, k in out.items())
    result["verdict"] = f"conflict: {'PASS' if passed else 'FAIL'} — {summary}"
    return result


def _proforma_load(c: Client, proforma_id: int) -> int:
    return c.get(f"/api/clinical-proformas/{proforma_id}").json()["data"]["proforma"]["version"]


def _section_load(c: Client, record_id: int, key: str) -> list[tuple[str, str]]:
    page = c.get(f"/intake/{record_id}/edit", auth="web").text()
    fields = read_form(page, action_suffix=f"/intake/{record_id}/section/{key}")
    m = re.search(r'id="intake-version"[^>]*value="(\d+)"', page)
    if not fields or not m:
        raise SystemExit("conflict: the intake edit page has no section form or version")
    return fields + [("version", m.group(1))]


def _card_load(c: Client, pid: int) -> list[tuple[str, str]]:
    page = c.get(f"/patients/{pid}/card", auth="web").text()
    fields = read_form(page, form_id="card-form")
    if not any(k == "version" for k, _ in fields) or not any(k == "csrf_token" for k, _ in fields):
        raise SystemExit("conflict: the card form has no version or CSRF token")
    return fields


def _with(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in fields if k != name] + [(name, value)]


def race(name, clients, load, save, stored, ok_statuses, repeat) -> dict:
    outcomes: Counter = Counter()
    lost, overlapping, problems = 0, 0, []
    for rep in range(repeat):
        states = [load(c) for c in clients]
        values = [f"Saved by {who} in round {rep}" for who in ("A", "B")]
        answers: list = [None, None]
        times: list = [None, None]
        barrier = threading.Barrier(2)

        def go(i):
            barrier.wait(10)
            sent = time.perf_counter()
            answers[i] = save(clients[i], states[i], values[i])
            times[i] = (sent, time.perf_counter())

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        st = [a.status if a is not None else None for a in answers]
        if None in st:
            problems.append({"round": rep, "error": "no answer within 60 s"})
            outcomes["no answer"] += 1
            continue
        if max(t[0] for t in times) < min(t[1] for t in times):
            overlapping += 1
        winners = [i for i in range(2) if st[i] in ok_statuses]
        conflicts = [i for i in range(2) if st[i] == 409]
        now = stored(clients[0])
        if len(winners) == 1 and len(conflicts) == 1:
            key = "one 2xx + one 409"
            if now != values[winners[0]]:
                lost += 1
                problems.append({"round": rep, "statuses": st, "stored": now, "winner": values[winners[0]]})
        elif len(winners) == 2:
            key = "both 2xx (lost update)"
            lost += 1
            problems.append({"round": rep, "statuses": st, "stored": now})
        else:
            key = "statuses " + "+".join(map(str, sorted(st)))
            problems.append({"round": rep, "statuses": st, "stored": now,
                             "bodies": [answers[i].text()[:300] for i in range(2) if st[i] not in ok_statuses + (409,)]})
        outcomes[key] += 1
    exact = outcomes["one 2xx + one 409"]
    return {"reps": repeat, "outcomes": dict(outcomes), "exactly_one_winner": exact, "lost_updates": lost,
            "overlapping": overlapping, "problems": problems[:20], "pass": exact == repeat and lost == 0}


# ============================================================================== main

CHECKS = {"restart": check_restart, "sigkill": check_sigkill, "conflict": check_conflict}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("check", choices=[*CHECKS, "all"])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5433/emrs_faults")
    ap.add_argument("--restart-cmd", help="command that restarts PostgreSQL (default: pg_ctlcluster … restart "
                                          "for the cluster on the URL's port)")
    ap.add_argument("--app-dir", default=str(ROOT), help="application source the server runs")
    ap.add_argument("--threads", type=int, default=16, help="waitress threads")
    ap.add_argument("--seed", type=int, default=11)
    g = ap.add_argument_group("restart")
    g.add_argument("--clients", type=int, default=8)
    g.add_argument("--duration", type=float, default=None, help="seconds (restart: 40, sigkill: 60)")
    g.add_argument("--restart-at", type=float, default=10)
    g.add_argument("--target-recovery", type=float, default=5.0)
    g = ap.add_argument_group("sigkill")
    g.add_argument("--kills", type=int, default=6)
    g.add_argument("--min-gap", type=float, default=3, help="seconds between kills, at least")
    g.add_argument("--max-gap", type=float, default=8, help="seconds between kills, at most")
    g.add_argument("--writers", type=int, default=3)
    g.add_argument("--uploaders", type=int, default=3)
    g = ap.add_argument_group("conflict")
    g.add_argument("--repeat", type=int, default=50)
    ns = ap.parse_args(argv)
    install_sigterm()
    checks = list(CHECKS) if ns.check == "all" else [ns.check]
    verdicts, failed = [], False
    for name in checks:
        defaults = {"restart": 40, "sigkill": 90}
        run_ns = argparse.Namespace(**vars(ns))
        if run_ns.duration is None:
            run_ns.duration = defaults.get(name, 0)
        result = CHECKS[name](run_ns)
        path = write_json(f"faults-{name}.json", result)
        print(result["verdict"], flush=True)
        print(f"  written: {path}", flush=True)
        verdicts.append(result["verdict"])
        failed |= not result["pass"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
