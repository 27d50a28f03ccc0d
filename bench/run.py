#!/usr/bin/env python
"""Measure EMRS patient search, list and pages with concurrent HTTP clients.

    python bench/run.py --database-url postgresql://postgres@127.0.0.1:5432/emrs_bench --label 1m

Starts `waitress-serve --threads 16 --call emrs:create_app` on a free loopback port against the
bench database (or uses --url of a running server), signs in as bench@emrs.local (API bearer
token and a browser session through /login with its CSRF token), runs each scenario for a
bounded time and request count after a warm-up, checks that misspelled names find the intended
patient in the top 5, prints a Markdown table and writes bench/results/<label>.json.

    --processes N     N waitress processes, each on its own port (--threads each)
    --front nginx     one nginx (1 worker, keep-alive upstreams) in front of them
    --client wrk      drive the load with wrk (bench/wrk.lua) instead of Python threads: one wrk
                      instance (1 thread) per process, the clients split between them, latency
                      histograms merged

Client and server share the machine's cores: the numbers include the load generator's cost.
For each scenario the CPU time of the server processes, of the database's backends and of the
client is recorded (from /proc), with the load average before it.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCH_EMAIL = "bench@emrs.local"
BENCH_PASSWORD = os.environ.get("BENCH_PASSWORD", "Bench-Passw0rd-2025")

NAME_TERMS = ["sharma", "sandhu", "gurpreet", "grewal", "harpreet kaur", "malhotra", "dhillon",
              "sukhwinder singh", "gurpr", "malho", "rakesh kumar", "bains"]
MISSPELT = [  # (query, words the intended patient's name must contain)
    ("Sandhoo", ["sandhu"]), ("Shrma", ["sharma"]), ("Mahinder Singh Gill", ["mohinder", "singh", "gill"]),
    ("Jaspreet Kour", ["jaspreet", "kaur"]), ("Singh Gurpreet", ["gurpreet", "singh"]),
    ("Gurpreet Singh Sandhoo", ["gurpreet", "singh", "sandhu"]), ("Rakesh Shrma", ["rakesh", "sharma"]),
    ("Grewal Sukhwinder Singh", ["sukhwinder", "singh", "grewal"]), ("Paramjeet Kour Dhilon",
                                                                     ["paramjit", "kaur", "dhillon"]),
    ("Harbhajan Singh Baines", ["harbhajan", "singh", "bains"]), ("Suneeta Devi Varma", ["sunita", "devi", "verma"]),
    ("Mahinder", ["mohinder"]), ("Kour", ["kaur"]),
]

# Names written in Gurmukhi/Devanagari (bench/seed.py --native-share): by their own words, whole and
# as they are typed, and across scripts (the other Indic script, Latin spellings of them).
NATIVE_TERMS = ["ਹਰਜੀਤ ਸਿੰਘ ਢਿੱਲੋਂ", "राजेश कुमार शर्मा", "ਢਿੱਲੋਂ", "शर्मा", "ਗੁਰਪ੍ਰੀਤ ਕੌਰ", "ਸੰਧੂ", "ਹਰਜੀ",
                "अग्रवाल", "सुनीता देवी", "ਬਰਾੜ", "मल्हो", "ਮਨਜੀਤ ਕੌਰ ਗਿੱਲ"]
CROSS_TERMS = [  # (query, words every answer must have, by key)
    ("Harjeet Dhillon", ["harjit", "dhillon"]), ("Harjit Dhilon", ["harjit", "dhillon"]),
    ("Rajesh Sharma", ["rajesh", "sharma"]), ("Rajesh Sarma", ["rajesh", "sharma"]),
    ("हरजीत ढिल्लों", ["harjit", "dhillon"]), ("ਰਾਜੇਸ਼ ਸ਼ਰਮਾ", ["rajesh", "sharma"]),
    ("ਗੁਰਪ੍ਰੀਤ ਸੰਧੂ", ["gurpreet", "sandhu"]), ("Sukhvinder Brar", ["sukhwinder", "brar"]),
    ("सुनीता वर्मा", ["sunita", "verma"]), ("Manjeet Kour Gill", ["manjit", "kaur", "gill"]),
]


def script_check(site, app_dir: str, limit: int = 20) -> list[dict]:
    """Cross-script search: of the first `limit` answers, how many have every intended word (by
    key, in any script) and how many of those are written in another script than the query."""
    sys.path.insert(0, app_dir)
    from emrs.patients.names import word_key, words as name_words

    def scripts(text):
        return {"gurmukhi" if "\u0a00" <= w[0] <= "\u0a7f" else "devanagari" if "\u0900" <= w[0] <= "\u097f"
                else "latin" for w in name_words(text)}
    out = []
    for term, want in CROSS_TERMS:
        status, body = site.get_json("/api/patients/search?" + urlencode({"q": term, "limit": limit}))
        names = [p["name"] for p in body.get("data", {}).get("patients", [])] if status == 200 else []
        keys = {word_key(w) for w in want}
        matching = [n for n in names if keys <= {word_key(w) for w in name_words(n)}]
        other = [n for n in matching if not scripts(n) & scripts(term)]
        out.append({"query": term, "answers": len(names), "all_words_match": len(matching),
                    "in_another_script": len(other), "examples": (other or matching)[:3]})
    return out


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------ server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int, seconds: float, proc) -> bool:
    """Wait until GET /login on the loopback port answers (or the process exits)."""
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/login")
            if c.getresponse().status in (200, 302):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def start_server(db_url: str, threads: int, extra_env: dict, app_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ)
    env.update({"DATABASE_URL": db_url, "RATELIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING",
                "ACCESS_TOKEN_EXPIRATION_SECONDS": "3600",
                "SECRET_KEY": env.get("SECRET_KEY", "bench-secret-key-not-for-production")})
    env.update(extra_env)
    exe = Path(sys.executable).parent / "waitress-serve"
    cmd = [str(exe), f"--threads={threads}", f"--listen=127.0.0.1:{port}", "--connection-limit=200",
           "--call", "emrs:create_app"]
    proc = subprocess.Popen(cmd, cwd=app_dir, env=env, stdout=subprocess.DEVNULL, stderr=open(
        RESULTS / "server.log", "ab"), start_new_session=True)
    if _answers(port, 30, proc):
        return proc, f"http://127.0.0.1:{port}"
    if proc.poll() is not None:
        raise SystemExit(f"waitress exited ({proc.returncode}); see bench/results/server.log")
    proc.terminate()
    raise SystemExit("waitress did not start within 30 s")


def start_servers(db_url: str, n: int, threads: int, extra_env: dict, app_dir: Path) -> list:
    """n waitress processes, started one after the other (each imports the application)."""
    return [start_server(db_url, threads, extra_env, app_dir) for _ in range(n)]


NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream emrs {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://emrs;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering on;
        }}
    }}
}}
"""


def start_nginx(bases: list[str]) -> tuple[subprocess.Popen, str]:
    """One nginx worker balancing over the waitress processes (least connections)."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="emrs-bench-nginx-"))
    servers = "        least_conn;\n" + "\n".join(f"        server {urlsplit(b).netloc};" for b in bases)
    (work / "nginx.conf").write_text(NGINX_CONF.format(dir=work, servers=servers, port=port))
    proc = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)], stdout=subprocess.DEVNULL,
                            stderr=open(RESULTS / "server.log", "ab"), start_new_session=True)
    proc.workdir = work  # removed after the run
    if _answers(port, 10, proc):
        return proc, f"http://127.0.0.1:{port}"
    stop_server(proc)
    raise SystemExit(f"nginx did not start; see {work}/error.log")


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# ------------------------------------------------------------------------------ sign in

class Site:
    def __init__(self, base: str):
        parts = urlsplit(base)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("loopback servers only")
        self.host, self.port = parts.hostname, parts.port or 80
        self.token = None
        self.cookie = None

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def at(self, base: str) -> "Site":
        """The same sign-in (token, cookie: rows in the shared database) on another process."""
        other = Site(base)
        other.token, other.cookie = self.token, self.cookie
        return other

    def api_login(self) -> None:
        c = self.conn()
        c.request("POST", "/api/users/login", json.dumps({"email": BENCH_EMAIL, "password": BENCH_PASSWORD}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        body = json.loads(r.read())
        if r.status != 200 or "accessToken" not in body.get("data", {}):
            raise SystemExit(f"API login failed: {r.status} {body}")
        self.token = body["data"]["accessToken"]

    def web_login(self) -> None:
        c = self.conn()
        c.request("GET", "/login")
        r = c.getresponse()
        html = r.read().decode()
        cookie = _session_cookie(r)
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
            re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
        form = {"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
        if m:
            form["csrf_token"] = m.group(1)
        c.request("POST", "/login", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded",
                                                      "Cookie": cookie or ""})
        r = c.getresponse()
        r.read()
        new = _session_cookie(r)
        if r.status != 302 or not new:
            raise SystemExit(f"web login failed: {r.status}")
        self.cookie = new

    def api_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def web_headers(self) -> dict:
        return {"Cookie": self.cookie, "Accept": "text/html"}

    def get_json(self, path: str) -> tuple[int, dict]:
        c = self.conn()
        c.request("GET", path, headers=self.api_headers())
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"{}")


def _session_cookie(resp) -> str | None:
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie" and v.startswith("emrs_session="):
            return v.split(";", 1)[0]
    return None


# ------------------------------------------------------------------------------ load

def percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = (len(sorted_ms) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (k - lo)


def run_load(sites: list[Site], paths: list[str], headers: dict, clients: int, duration: float, max_requests: int,
             warmup: float, meter: Meter | None = None, think: float = 0.0) -> dict:
    """`clients` threads, each with its own keep-alive connection (to the sites in turn), GET
    paths in rotation. `think` > 0: after each answer the client pauses a random time, exponential
    with that mean in seconds (a person reading the page), so the offered load is at most
    clients / think requests per second; 0 is a closed loop (the next request at once)."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    by_path: dict[str, list[float]] = {}
    errors = [0] * clients
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    budget = [max_requests]
    phase = {"record": False, "stop": False}

    def worker(i: int):
        site = sites[i % len(sites)]
        conn = site.conn()
        rng = random.Random(i)
        n = rng.randrange(len(paths))
        while not phase["stop"]:
            path = paths[n % len(paths)]
            n += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                status = r.status
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = site.conn()
            except (OSError, http.client.HTTPException):
                status = 599
                conn.close()
                conn = site.conn()
            dt_ms = (time.perf_counter() - t0) * 1000
            if phase["record"]:
                with lock:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                lat[i].append(dt_ms)
                by_path.setdefault(path, []).append(dt_ms)
                if not 200 <= status < 300:
                    errors[i] += 1
                    statuses[status] = statuses.get(status, 0) + 1
            if think > 0:
                time.sleep(min(rng.expovariate(1 / think), 10 * think))
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    if meter:
        meter.start()
    phase["record"] = True
    t_start = time.perf_counter()
    end = t_start + duration
    while time.perf_counter() < end and budget[0] > 0:
        time.sleep(0.05)
    elapsed = time.perf_counter() - t_start
    phase["stop"] = True
    if meter:
        meter.stop()
    for t in threads:
        t.join(60)
    all_ms = sorted(x for part in lat for x in part)
    n = len(all_ms)
    return {"client": "python", "clients": clients, "think_s": think, "requests": n, "errors": sum(errors), "error_statuses": statuses,
            "seconds": round(elapsed, 2), "rps": round(n / elapsed, 1) if elapsed else 0,
            "p50_ms": round(percentile(all_ms, 50), 2), "p95_ms": round(percentile(all_ms, 95), 2),
            "p99_ms": round(percentile(all_ms, 99), 2), "max_ms": round(all_ms[-1], 2) if all_ms else None,
            "distinct_paths": len(set(paths)),
            # per path, when there are few: which terms are slow (median, count)
            "per_path_p50_ms": {p: [round(percentile(sorted(v), 50), 1), len(v)] for p, v in sorted(by_path.items())}
            if len(set(paths)) <= 30 else None}


def run_wrk(bases: list[str], paths: list[str], header: tuple[str, str], clients: int, duration: float,
            max_requests: int, warmup: float, meter: Meter | None = None) -> dict:
    """wrk instances (one thread each), one per base with the clients split between them: a
    warm-up run, then the measured run; latency histograms merged."""
    bases = bases[:clients]
    split = [clients // len(bases) + (1 if i < clients % len(bases) else 0) for i in range(len(bases))]
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    script = str(Path(__file__).with_name("wrk.lua"))

    def launch(seconds: float, budget: int) -> list[subprocess.Popen]:
        return [subprocess.Popen(["wrk", "-t1", f"-c{c}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
                                  "-s", script, base, "--", f.name, header[0], header[1], str(budget)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for base, c in zip(bases, split)]

    try:
        if warmup > 0:
            for p in launch(warmup, 0):
                p.communicate(timeout=warmup + 60)
        if meter:
            meter.start()
        outs = [p.communicate(timeout=duration + 60)[0] for p in launch(duration, max_requests // len(bases))]
        if meter:
            meter.stop()
    finally:
        os.unlink(f.name)
    hist: dict[int, int] = {}
    requests = errors = 0
    rps = 0.0
    seconds = 0.0
    for out in outs:
        lines = [l.split(" ", 2)[1:] for l in out.splitlines() if l.startswith("emrs-bench ")]
        if not any(kind == "summary" for kind, _ in lines):
            raise SystemExit(f"wrk gave no result:\n{out}")
        for kind, rest in lines:
            if kind == "summary":
                v = {k: int(x) for k, x in (kv.split("=") for kv in rest.split())}
                requests += v["requests"]
                errors += v["non2xx"] + v["connect"] + v["read"] + v["write"] + v["timeout"]
                rps += v["requests"] / (v["duration_us"] / 1e6)
                seconds = max(seconds, v["duration_us"] / 1e6)
            elif kind == "histogram":
                for pair in rest.split():
                    value, count = pair.split(":")
                    hist[int(value)] = hist.get(int(value), 0) + int(count)
    ms = sorted((value / 1000, count) for value, count in hist.items())
    return {"client": "wrk", "clients": clients, "wrk_instances": len(bases), "requests": requests,
            "errors": errors, "error_statuses": {}, "seconds": round(seconds, 2), "rps": round(rps, 1),
            "p50_ms": round(hist_percentile(ms, 50), 2), "p95_ms": round(hist_percentile(ms, 95), 2),
            "p99_ms": round(hist_percentile(ms, 99), 2), "max_ms": round(ms[-1][0], 2) if ms else None,
            "distinct_paths": len(set(paths)), "per_path_p50_ms": None}


def hist_percentile(values: list[tuple[float, int]], p: float) -> float:
    """percentile() of the samples a sorted (value, count) histogram stands for."""
    total = sum(c for _, c in values)
    if not total:
        return float("nan")
    k = (total - 1) * p / 100
    lo_rank, hi_rank = int(k), min(int(k) + 1, total - 1)
    lo = hi = None
    seen = 0
    for value, count in values:
        if lo is None and seen + count > lo_rank:
            lo = value
        if seen + count > hi_rank:
            hi = value
            break
        seen += count
    return lo + (hi - lo) * (k - int(k))


# ------------------------------------------------------------------------------ CPU accounting

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes and their threads (children not included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot (/proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / TICK, sum(v) / TICK


class Meter:
    """CPU seconds spent during the measured part of a scenario by the server processes, by the
    front (nginx), by the database backends of the bench database (found by their process
    title and polled, so that connections opened and closed meanwhile count too), by the load
    generator (this process's threads, or the wrk children) and by the whole machine."""

    def __init__(self, server_pids: list[int], front_pids: list[int], db_url: str):
        self.server_pids, self.front_pids = server_pids, front_pids
        self.title = f" {urlsplit(db_url).path.lstrip('/')} ".encode()
        self.result: dict = {}

    def _client(self) -> float:
        import resource
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def _backends(self) -> dict[int, float]:
        out = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    title = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if title.startswith(b"postgres: ") and self.title in title:
                    out[int(entry)] = cpu_seconds([int(entry)])
        return out

    def _poll(self) -> None:
        while not self.done.wait(0.2):
            for pid, cpu in self._backends().items():
                self.last[pid] = cpu
                self.first.setdefault(pid, 0.0)  # born during the window: all of its CPU counts
        self.poll_cpu = time.thread_time()

    def start(self) -> None:
        self.first = self._backends()
        self.last = dict(self.first)
        self.done = threading.Event()
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.t0 = time.perf_counter()
        self.c0 = self._sample()
        self.poller.start()

    def _sample(self) -> tuple:
        return (cpu_seconds(self.server_pids), cpu_seconds(self.front_pids), self._client(), *machine_busy())

    def stop(self) -> None:
        c1 = self._sample()
        wall = time.perf_counter() - self.t0
        self.done.set()
        self.poller.join()
        for pid, cpu in self._backends().items():
            self.last[pid] = cpu
            self.first.setdefault(pid, 0.0)
        db = sum(self.last[pid] - self.first[pid] for pid in self.last)
        server, front, client, busy, total = [b - a for a, b in zip(self.c0, c1)]
        client -= self.poll_cpu  # the poller's own time is not the load generator's
        self.result = {"wall_s": round(wall, 2), "server_cpu_s": round(server, 2), "front_cpu_s": round(front, 2),
                       "db_cpu_s": round(db, 2), "client_cpu_s": round(client, 2), "machine_busy_s": round(busy, 2),
                       "machine_cores_busy": round(busy / total * (os.cpu_count() or 1), 2) if total else None,
                       "others_cpu_s": round(busy - server - front - db - client - self.poll_cpu, 2)}


# ------------------------------------------------------------------------------ inputs

def sample_numbers(db_url: str, n_patients: int, k: int, rng: random.Random) -> tuple[list[str], list[str], list[int]]:
    ids = rng.sample(range(1, n_patients + 1), min(k, n_patients))
    conn = psycopg2.connect(db_url)
    with conn.cursor() as cur:
        cur.execute("SELECT id, cr_no, contact_number FROM registered_patient WHERE id = ANY(%s) ORDER BY id", (ids,))
        rows = cur.fetchall()
    conn.close()
    return [r[1] for r in rows], [r[2] for r in rows], [r[0] for r in rows]


def misspelling_check(site: Site, known: list[dict], app_dir: str) -> list[dict]:
    """Pass: a top-5 name has every intended word, spelled as intended or as a transliteration
    variant with the same name key (the data has Sandhoo/Kour/Mahinder spellings too, and a
    patient really written "Mahinder Singh Gill" is a right answer to that query). `exact_at`
    is the rank of the intended spelling itself."""
    sys.path.insert(0, app_dir)
    from emrs.patients.names import word_key
    out = []
    for term, words in MISSPELT:
        status, body = site.get_json("/api/patients/search?" + urlencode({"q": term, "limit": 5}))
        names = [p["name"] for p in body.get("data", {}).get("patients", [])] if status == 200 else []
        ids = [p["id"] for p in body.get("data", {}).get("patients", [])] if status == 200 else []
        hit = exact = None
        for rank, name in enumerate(names, 1):
            have = set(re.findall(r"[a-z]+", name.lower()))
            if exact is None and all(w in have for w in words):
                exact = rank
            if hit is None and all(word_key(w) in {word_key(h) for h in have} for w in words):
                hit = rank
        seeded = [k for k in known if all(w in k["name"].lower().split() for w in words)
                  and len(words) == len(k["name"].split())]
        seeded_rank = next((i + 1 for i, pid in enumerate(ids) if seeded and pid == seeded[0]["id"]), None)
        out.append({"query": term, "intended": " ".join(words), "top5": names, "found_at": hit, "exact_at": exact,
                    "pass": hit is not None, "seeded_patient_rank": seeded_rank})
    return out


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    try:
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
        info["cpu_model"] = cpu[0] if cpu else None
        mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")]
        info["mem_gb"] = round(int(mem[0].split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def _commit(app_dir: str) -> str | None:
    marker = Path(app_dir) / ".bench-commit"  # written when the snapshot is taken
    if marker.exists():
        return marker.read_text().strip() + " (snapshot)"
    try:
        return subprocess.run(["git", "-C", str(app_dir), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip() + " (+ working-tree changes, if any)"
    except OSError:
        return None


def bench_database(db_url: str) -> tuple[dict, int, int, str, list[int]]:
    """(the seed's manifest or {}, max patient id, patients, PostgreSQL version, the patients with a
    50-entry timeline) of a seeded bench database."""
    dbname = urlsplit(db_url).path.lstrip("/")
    manifest_path = RESULTS / f"seed-{dbname}.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    conn = psycopg2.connect(db_url)
    with conn.cursor() as cur:
        cur.execute("SELECT max(id), count(*) FROM registered_patient")
        max_id, n_patients = cur.fetchone()
        cur.execute("SELECT version()")
        pg_version = cur.fetchone()[0]
        timeline_ids = manifest.get("timeline_patient_ids") or []
        if not timeline_ids:
            cur.execute("SELECT patient_id FROM patient_visits GROUP BY patient_id HAVING count(*) >= 50 LIMIT 200")
            timeline_ids = [r[0] for r in cur.fetchall()]
    conn.close()
    return manifest, max_id, n_patients, pg_version, timeline_ids


# ------------------------------------------------------------------------------ main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/emrs_bench")
    ap.add_argument("--label", required=True)
    ap.add_argument("--url", help="a running server on loopback (default: start waitress)")
    ap.add_argument("--threads", type=int, default=16, help="waitress threads (of each process)")
    ap.add_argument("--processes", type=int, default=1, help="waitress processes, each on its own port")
    ap.add_argument("--front", choices=("none", "nginx"), default="none",
                    help="nginx: one nginx worker in front of the processes (the clients talk to it)")
    ap.add_argument("--client", choices=("python", "wrk"), default="python",
                    help="load generator: Python threads (one keep-alive connection each) or wrk")
    ap.add_argument("--duration", type=float, default=15, help="seconds measured per scenario")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per scenario")
    ap.add_argument("--max-requests", type=int, default=50_000, help="cap per scenario")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--think", type=float, default=0.0,
                    help="python client: mean pause (s, exponential) after each answer; 0 = closed loop")
    ap.add_argument("--app-dir", default=os.environ.get("EMRS_APP_DIR") or str(ROOT),
                    help="application source the server runs (default: this checkout)")
    ap.add_argument("--check-only", action="store_true",
                    help="only the misspelling check; update it in an existing bench/results/<label>.json")
    ap.add_argument("--env", action="append", default=[], help="extra KEY=VALUE for the server")
    ns = ap.parse_args(argv)
    if ns.think and ns.client != "python":
        ap.error("--think needs the python client (wrk has no pauses)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    manifest, max_id, n_patients, pg_version, timeline_ids = bench_database(ns.database_url)
    rng = random.Random(ns.seed)
    crs, mobiles, ids = sample_numbers(ns.database_url, max_id, 400, rng)

    extra_env = dict(kv.split("=", 1) for kv in ns.env)
    servers: list[subprocess.Popen] = []
    nginx = None
    results = {}
    try:
        if ns.url:
            bases = [ns.url]
        else:
            started = start_servers(ns.database_url, ns.processes, ns.threads, extra_env, Path(ns.app_dir))
            servers = [proc for proc, _ in started]
            bases = [base for _, base in started]
            log(f"waitress x{ns.processes} on {', '.join(bases)} (threads {ns.threads} each, "
                f"pids {', '.join(str(p.pid) for p in servers)})")
            if ns.front == "nginx":
                nginx, front = start_nginx(bases)
                bases = [front]
                log(f"nginx on {front} (pid {nginx.pid})")
        site = Site(bases[0])
        sites = [site.at(b) for b in bases]
        front_pids = [nginx.pid] + _children(nginx.pid) if nginx else []
        site.api_login()
        site.web_login()
        q = lambda term, limit=10: "/api/patients/search?" + urlencode({"q": term, "limit": limit})
        scenarios = [
            ("search_name", "search by name substring", 1, "api",
             [q(t) for t in NAME_TERMS]),
            ("search_misspelt", "search by misspelled name", 1, "api", [q(t) for t, _ in MISSPELT]),
            ("search_cr", "search by CR (exact and prefix)", 1, "api",
             [q(c) for c in crs[:100]] + [q(c[:-2]) for c in crs[100:200]]),
            ("search_mobile", "search by mobile", 1, "api", [q(m) for m in mobiles[:200]]),
            ("search_native", "search by Gurmukhi/Devanagari name", 1, "api", [q(t) for t in NATIVE_TERMS]),
            ("search_cross", "search across scripts (Latin variants, other script)", 1, "api",
             [q(t) for t, _ in CROSS_TERMS]),
            ("search_digits", "search by CR digits alone and by trailing 4-6 digits", 1, "api",
             [q(c[2:]) for c in crs[:100]] + [q(c[-(4 + i % 3):]) for i, c in enumerate(crs[100:200])]),
            ("patient_page", "patient page, 50-entry timeline", 16, "web",
             [f"/patients/{i}" for i in timeline_ids]),
            ("list", "GET /api/patients?page=1&limit=20", 16, "api", ["/api/patients?page=1&limit=20"]),
            ("patient_by_id", "GET /api/patients/<id>", 16, "api", [f"/api/patients/{i}" for i in ids]),
            ("health", "GET /health (no credentials, as a monitor)", 16, "none", ["/health"]),
        ]
        only = set(ns.only.split(",")) if ns.only else None
        if ns.check_only:
            only = {"-"}
        t_run = time.time()
        for key, title, clients, kind, paths in scenarios:
            if only and key not in only:
                continue
            if time.time() - t_run > 240:  # tokens live an hour on our server, 5 minutes by default
                site.api_login()
            headers = (site.api_headers() if kind == "api" else site.web_headers() if kind == "web"
                       else {"Accept": "application/json"})
            # sanity: the first path answers 2xx before load
            c = site.conn()
            c.request("GET", paths[0], headers=headers)
            r = c.getresponse()
            r.read()
            if not 200 <= r.status < 300:
                raise SystemExit(f"{key}: {paths[0]} answered {r.status}")
            load_before = os.getloadavg()
            meter = Meter([p.pid for p in servers], front_pids, ns.database_url)
            for s_ in sites:
                s_.token = site.token
            if ns.client == "wrk":
                header = (("Authorization", f"Bearer {site.token}") if kind == "api" else ("Cookie", site.cookie)
                          if kind == "web" else ("X-Bench", "1"))
                res = run_wrk(bases, paths, header, clients, ns.duration, ns.max_requests, ns.warmup, meter)
            else:
                res = run_load(sites, paths, headers, clients, ns.duration, ns.max_requests, ns.warmup, meter,
                               think=ns.think)
            for proc in servers + ([nginx] if nginx else []):
                if proc.poll() is not None:
                    raise SystemExit(f"{key}: a server exited ({proc.returncode}) during the scenario "
                                     "(killed from outside? see bench/results/server.log)")
            res["title"] = title
            res["load_avg_before"] = [round(x, 2) for x in load_before]
            res["cpu"] = meter.result
            if res["requests"] and meter.result:
                n = res["requests"]
                res["cpu_ms_per_request"] = {k: round(meter.result[f"{k}_cpu_s"] * 1000 / n, 2)
                                             for k in ("server", "front", "db", "client", "others")}
            results[key] = res
            per = res.get("cpu_ms_per_request", {})
            log(f"{key:16} {clients:>2} clients  {res['requests']:>6} req  {res['errors']} err  "
                f"p50 {res['p50_ms']:7.2f}  p95 {res['p95_ms']:7.2f}  p99 {res['p99_ms']:7.2f} ms  "
                f"{res['rps']:8.1f} req/s  | load {load_before[0]:.2f}  CPU ms/req: server {per.get('server')} "
                f"front {per.get('front')} db {per.get('db')} client {per.get('client')} others {per.get('others')}")
        check = misspelling_check(site, manifest.get("known_patients", []), ns.app_dir)
        scripts = script_check(site, ns.app_dir)
    finally:
        for proc in ([nginx] if nginx else []) + servers:
            stop_server(proc)
        if nginx:
            import shutil
            shutil.rmtree(nginx.workdir, ignore_errors=True)

    if ns.check_only and (RESULTS / f"{ns.label}.json").exists():
        prev = json.loads((RESULTS / f"{ns.label}.json").read_text())
        results = prev.get("scenarios", {})
    server = ns.url or (f"{ns.processes} x waitress-serve --threads {ns.threads}"
                        + (" behind 1 nginx worker" if ns.front == "nginx" else "")
                        + " (DB pool defaults per process: DB_POOL_SIZE=10, DB_MAX_OVERFLOW=5)")
    out = {"label": ns.label, "patients": n_patients, "visits": manifest.get("visits"), "server": server,
           "client": ns.client, "think_s": ns.think, "processes": ns.processes, "front": ns.front,
           "server_env": extra_env, "app_dir": ns.app_dir, "app_commit": _commit(ns.app_dir), "postgres": pg_version, "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
           "duration_s": ns.duration, "warmup_s": ns.warmup, "scenarios": results, "misspelling_top5": check,
           "cross_script_top20": scripts}
    (RESULTS / f"{ns.label}.json").write_text(json.dumps(out, indent=2))
    print()
    print(f"### {ns.label}: {n_patients:,} patients, {manifest.get('visits') or '?'} visits\n")
    print(f"{server}; client: {ns.client}" + (f", mean pause {ns.think} s after each answer" if ns.think else "") + "\n")
    print("| scenario | clients | requests | errors | p50 ms | p95 ms | p99 ms | req/s | load before | "
          "CPU ms/req server / front / db / client / others |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key, r in results.items():
        per = r.get("cpu_ms_per_request") or {}
        cpu = " / ".join(f"{per.get(k, float('nan')):.2f}" for k in ("server", "front", "db", "client", "others"))
        print(f"| {r['title']} | {r['clients']} | {r['requests']} | {r['errors']} | {r['p50_ms']:.1f} | "
              f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['rps']:.0f} | "
              f"{(r.get('load_avg_before') or ['?'])[0]} | {cpu} |")
    print("\n| misspelled query | intended (words) | found at (any spelling) | intended spelling at | pass |")
    print("|---|---|---:|---:|---|")
    for c in check:
        print(f"| {c['query']} | {c['intended']} | {c['found_at'] or '-'} | {c['exact_at'] or '-'} | "
              f"{'pass' if c['pass'] else 'FAIL'} |")
    print("\n| cross-script query | answers (first 20) | with every word (by key) | of those in another script | e.g. |")
    print("|---|---:|---:|---:|---|")
    for c in scripts:
        print(f"| {c['query']} | {c['answers']} | {c['all_words_match']} | {c['in_another_script']} | "
              f"{', '.join(c['examples'][:2])} |")
    print(f"\nwritten: {RESULTS / (ns.label + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
