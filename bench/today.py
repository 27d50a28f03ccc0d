#!/usr/bin/env python
"""Today's Patients on a big database: one room with 60 patients waiting (and --rooms − 1
other rooms as busy), a doctor seated in it, N clients reading the list.

    createdb -h 127.0.0.1 -U postgres -T emrs_bench_1m emrs_bench_today   # a copy: this script writes
    python bench/today.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_bench_today

The database must be seeded (bench/seed.py) and migrated to the OPD schema. The script adds
rooms T1…Tn, a Faculty account seated in T1 today and 60 of today's visits per room (tokens
1…60, random patients), straight in SQL; starts one `waitress-serve --threads 16` (bench server
settings, loopback); and measures, each for --duration seconds after a --warmup:

  doctor_page   GET /patients/today as the seated doctor (the whole page)
  doctor_list   GET /opd/today/list with HX-Request (what the page polls every 15 s)
  doctor_api    GET /api/patients?date=<today> as the doctor (bearer token)
  admin_page    GET /patients/today as the Admin: every room's panel

Per scenario: requests, errors, p50/p95/p99 and requests/s; Markdown on stdout and
bench/results/today-<label>.json. The first list load of the server also closes earlier
days' open visits (the lazy midnight close), as in production: that is why this runs on a
copy. --cleanup removes the rooms, seat and visits it added (not the audit rows).
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import Client, Recorder, Stack, git_commit, install_sigterm, loadavg, log, machine, write_json  # noqa: E402

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
DOCTOR = ("bench.today.doctor@emrs.local", "Dr Bench Today", "Faculty")
ADMIN = "bench@emrs.local"


def setup(stack: Stack, rooms: int, per_room: int, seed: int) -> dict:
    """Rooms T1…Tn, the doctor seated in T1 today, ``per_room`` visits of today in each."""
    today = dt.datetime.now(IST).date()
    conn = stack.db()
    cur = conn.cursor()
    cur.execute("SELECT id FROM users WHERE email = %s", (DOCTOR[0],))
    row = cur.fetchone()
    doctor_id = row[0] if row else stack.create_users([DOCTOR])[DOCTOR[0]]
    room_ids = []
    for n in range(1, rooms + 1):
        number = f"T{n}"
        cur.execute("INSERT INTO rooms (room_number, number_key, doctor_capacity, is_active, created_at, updated_at) "
                    "VALUES (%s, %s, 2, true, now(), now()) ON CONFLICT (number_key) DO NOTHING", (number, number.lower()))
        cur.execute("SELECT id FROM rooms WHERE number_key = %s", (number.lower(),))
        room_ids.append(cur.fetchone()[0])
    cur.execute("DELETE FROM doctor_rooms WHERE user_id = %s AND day = %s", (doctor_id, today))
    cur.execute("INSERT INTO doctor_rooms (user_id, room_id, day, since) VALUES (%s, %s, %s, now())",
                (doctor_id, room_ids[0], today))
    cur.execute("SELECT max(id) FROM registered_patient")
    max_id = cur.fetchone()[0]
    rng = random.Random(seed)
    patients = rng.sample(range(1, max_id + 1), rooms * per_room)
    cur.execute("DELETE FROM patient_visits WHERE visit_date = %s AND room_id = ANY(%s)", (today, room_ids))
    rows = []
    for i, pid in enumerate(patients):
        room = room_ids[i // per_room]
        token = i % per_room + 1
        status = "scheduled" if token > 10 else "in_progress"
        rows.append(cur.mogrify("(%s, %s, 'follow_up', false, %s, %s, %s, %s, %s, now() - %s * interval '1 minute', now())",
                                (pid, today, doctor_id if room == room_ids[0] else None, f"T{room_ids.index(room) + 1}",
                                 room, token, status, per_room - token)).decode())
    cur.execute("INSERT INTO patient_visits (patient_id, visit_date, visit_type, has_file, assigned_doctor_id, room_no, "
                "room_id, token_no, visit_status, created_at, updated_at) VALUES " + ",".join(rows))
    cur.execute("ANALYZE patient_visits")
    conn.close()
    return {"doctor_id": doctor_id, "room_ids": room_ids, "today": today.isoformat()}


def cleanup(stack: Stack, world: dict) -> None:
    conn = stack.db()
    cur = conn.cursor()
    cur.execute("DELETE FROM patient_visits WHERE room_id = ANY(%s)", (world["room_ids"],))
    cur.execute("DELETE FROM doctor_rooms WHERE room_id = ANY(%s)", (world["room_ids"],))
    cur.execute("UPDATE registered_patient SET assigned_room_id = NULL WHERE assigned_room_id = ANY(%s)",
                (world["room_ids"],))
    cur.execute("DELETE FROM rooms WHERE id = ANY(%s)", (world["room_ids"],))
    conn.close()


def measure(stack: Stack, name: str, path: str, who: str, auth: str, clients: int, duration: float, warmup: float,
            headers: dict | None = None, think: float = 0.0) -> dict:
    rec = Recorder()
    conns = []
    for _ in range(clients):
        c = Client(stack.base)
        if auth == "api":
            c.api_login(who, stack_password())
        else:
            c.web_login(who, stack_password())
        conns.append(c)
    stop_at = {"warm": time.time() + warmup}
    stop_at["end"] = stop_at["warm"] + duration

    def loop(c: Client):
        rng = random.Random(id(c))
        while time.time() < stop_at["end"]:
            a = c.get(path, auth=auth, headers=headers)
            if time.time() >= stop_at["warm"]:
                rec.add(name, a.status, a.ms, a.error)
            if think > 0:  # a paced client: exponential pauses of mean `think` seconds
                time.sleep(min(rng.expovariate(1 / think), 10 * think))

    threads = [threading.Thread(target=loop, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    return rec.summary(duration)[name]


def stack_password() -> str:
    from loadkit import PASSWORD
    return PASSWORD


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--label", default="1m")
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--per-room", type=int, default=60)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean pause (s) after each answer: clients / think requests per second; 0 = closed loop")
    ap.add_argument("--cleanup", action="store_true", help="remove the rooms, seat and visits afterwards")
    ns = ap.parse_args(argv)
    install_sigterm()
    stack = Stack(ns.database_url, f"today-{ns.label}", threads=ns.threads)
    world = setup(stack, ns.rooms, ns.per_room, ns.seed)
    log(f"set up: {ns.rooms} rooms × {ns.per_room} visits today; doctor {world['doctor_id']} in T1")
    results = {}
    try:
        stack.start()
        today = world["today"]
        first = Client(stack.base)
        first.web_login(DOCTOR[0], stack_password())
        t0 = time.perf_counter()
        a = first.get("/patients/today", auth="web")  # the first load of the day also closes earlier days
        results["first_load_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        assert a.ok and "Which room" not in a.text(), (a.status, a.text()[:300])
        first.close()
        scenarios = [
            ("doctor_page", "/patients/today", DOCTOR[0], "web", None),
            ("doctor_list", "/opd/today/list", DOCTOR[0], "web", {"HX-Request": "true"}),
            ("doctor_api", f"/api/patients?date={today}", DOCTOR[0], "api", None),
            ("admin_page", "/patients/today", ADMIN, "web", None),
        ]
        for name, path, who, auth, headers in scenarios:
            log(f"{name}: {ns.clients} clients, {ns.duration:g} s ({loadavg()})")
            results[name] = measure(stack, name, path, who, auth, ns.clients, ns.duration, ns.warmup, headers,
                                    ns.think)
    finally:
        stack.close()
        if ns.cleanup:
            cleanup(stack, world)
    print(f"\nToday's Patients, {ns.rooms} rooms × {ns.per_room} patients, {ns.clients} clients, "
          f"waitress 1 × {ns.threads} threads" + (f", mean pause {ns.think} s after each answer" if ns.think else "")
          + f"; first load of the day {results.get('first_load_ms')} ms\n")
    print("| scenario | requests | errors | p50 ms | p95 ms | p99 ms | req/s |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if isinstance(r, dict):
            print(f"| {name} | {r['count']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['per_s']} |")
    path = write_json(f"today-{ns.label}.json", {"label": ns.label, "machine": machine(), "commit": git_commit(Path.cwd()),
                                                 "rooms": ns.rooms, "per_room": ns.per_room, "clients": ns.clients, "think_s": ns.think,
                                                 "results": results})
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
