"""Shared pieces of bench/opd_load.py and bench/faults.py: a throw-away EMRS stack on
loopback (own database, migrations, users made with the CLI, waitress, upload folder)
that is always taken down again, keep-alive HTTP clients with a timeout on every
request, sign-in (bearer token; browser session with its CSRF token) and latency
statistics.

Everything here talks to 127.0.0.1 only.
"""
from __future__ import annotations

import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import seed  # noqa: E402  (one way to drop and create a bench database)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"  # server logs of the runs (not committed)
PASSWORD = os.environ.get("BENCH_PASSWORD", "Bench-Passw0rd-2025")
BIN = Path(sys.executable).parent


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "?"


def machine() -> dict:
    info = {"cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        mem = [l for l in open("/proc/meminfo") if l.startswith("MemTotal")]
        info["mem_gb"] = round(int(mem[0].split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def git_commit(app_dir: Path) -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(app_dir), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(app_dir), "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":!bench"], capture_output=True, text=True, timeout=10).stdout.strip()
        return head + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


# ------------------------------------------------------------------------------ statistics

def percentile(sorted_ms: list[float], p: float) -> float | None:
    if not sorted_ms:
        return None
    k = (len(sorted_ms) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_ms) - 1)
    return round(sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (k - lo), 1)


class Recorder:
    """Per action: latencies, error count, every status seen (599 = no HTTP answer)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.actions: dict[str, dict] = {}

    def add(self, action: str, status: int, ms: float, error: str | None = None) -> None:
        with self.lock:
            a = self.actions.setdefault(action, {"ms": [], "errors": 0, "statuses": {}, "error_kinds": {}})
            a["ms"].append(ms)
            a["statuses"][status] = a["statuses"].get(status, 0) + 1
            if not 200 <= status < 400:
                a["errors"] += 1
                if error:
                    a["error_kinds"][error] = a["error_kinds"].get(error, 0) + 1

    def summary(self, seconds: float) -> dict:
        out = {}
        with self.lock:
            for name, a in self.actions.items():
                ms = sorted(a["ms"])
                out[name] = {"count": len(ms), "errors": a["errors"], "p50_ms": percentile(ms, 50),
                             "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
                             "max_ms": round(ms[-1], 1) if ms else None,
                             "per_s": round(len(ms) / seconds, 2) if seconds else None,
                             "statuses": {str(k): v for k, v in sorted(a["statuses"].items())},
                             "error_kinds": a["error_kinds"]}
        return out


# ------------------------------------------------------------------------------ HTTP

@dataclass
class Answer:
    status: int  # 599: no HTTP answer (connection refused/reset, timeout)
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    error: str | None = None
    ms: float = 0.0

    def json(self) -> dict:
        try:
            value = json.loads(self.body or b"{}")
            return value if isinstance(value, dict) else {}
        except ValueError:
            return {}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    """One keep-alive connection to a loopback server; every request has a timeout.
    A failed exchange closes the connection (the next request opens a new one) and
    answers status 599 with the exception's class name as the error."""

    def __init__(self, base: str, timeout: float = 30.0):
        parts = urlsplit(base)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("loopback servers only")
        self.host, self.port, self.timeout = parts.hostname, parts.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.token: str | None = None
        self.cookie: str | None = None
        self.csrf: str | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
                auth: str | None = None) -> Answer:
        """auth: "api" (bearer token), "web" (session cookie) or None."""
        h = dict(headers or {})
        if auth == "api" and self.token:
            h["Authorization"] = f"Bearer {self.token}"
            h.setdefault("Accept", "application/json")
        elif auth == "web" and self.cookie:
            h["Cookie"] = self.cookie
            h.setdefault("Accept", "text/html")
        if isinstance(body, str):
            body = body.encode()
        t0 = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=h)
            resp = self.conn.getresponse()
            data = resp.read()
            merged: dict[str, str] = {}
            for k, v in resp.getheaders():
                merged[k.lower()] = merged[k.lower()] + "\n" + v if k.lower() in merged else v
            answer = Answer(resp.status, data, merged)
            if (resp.getheader("Connection") or "").lower() == "close":
                self.close()
            if auth == "web" and _session_cookie(merged):
                self.cookie = _session_cookie(merged)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            answer = Answer(599, error=type(exc).__name__)
        answer.ms = (time.perf_counter() - t0) * 1000
        return answer

    def get(self, path: str, auth: str | None = "api", headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers, auth=auth)

    def post_json(self, path: str, data: dict, method: str = "POST") -> Answer:
        return self.request(method, path, json.dumps(data), {"Content-Type": "application/json"}, auth="api")

    def post_form(self, path: str, form: dict | list, headers: dict | None = None) -> Answer:
        h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, urlencode(form, doseq=True), h, auth="web")

    def post_multipart(self, path: str, fields: dict, files: list[tuple[str, str, bytes, str]]) -> Answer:
        body, ctype = multipart(fields, files)
        return self.request("POST", path, body, {"Content-Type": ctype}, auth="api")

    # -------------------------------------------------------------- sign-in

    def api_login(self, email: str, password: str = PASSWORD) -> None:
        a = self.request("POST", "/api/users/login", json.dumps({"email": email, "password": password}),
                         {"Content-Type": "application/json"})
        token = a.json().get("data", {}).get("accessToken")
        if a.status != 200 or not token:
            raise RuntimeError(f"API login of {email} failed: {a.status} {a.text()[:200]}")
        self.token = token

    def web_login(self, email: str, password: str = PASSWORD) -> None:
        a = self.request("GET", "/login")
        cookie = _session_cookie(a.headers)
        token = csrf_token(a.text())
        form = {"email": email, "password": password}
        if token:
            form["csrf_token"] = token
        b = self.request("POST", "/login", urlencode(form), {"Content-Type": "application/x-www-form-urlencoded",
                                                             "Cookie": cookie or ""})
        new = _session_cookie(b.headers)
        if b.status != 302 or not new:
            raise RuntimeError(f"web login of {email} failed: {b.status}")
        self.cookie = new
        page = self.get("/", auth="web")
        self.csrf = csrf_token(page.text()) or token


def _session_cookie(headers: dict) -> str | None:
    m = re.search(r"(?:^|\n)(emrs_session=[^;\s]+)", headers.get("set-cookie") or "")
    return m.group(1) if m else None


def csrf_token(html: str) -> str | None:
    for pattern in (r'name="csrf_token"[^>]*value="([^"]+)"', r'value="([^"]+)"[^>]*name="csrf_token"',
                    r'"X-CSRFToken"\s*:\s*"([^"]+)"', r'name="csrf-token"\s+content="([^"]+)"'):
        m = re.search(pattern, html)
        if m:
            return m.group(1)
    return None


def multipart(fields: dict, files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """files: (field name, file name, content, content type)."""
    boundary = "----emrsbench" + secrets.token_hex(12)
    out = []
    for k, v in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for name, filename, content, ctype in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                   f"Content-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class FormReader(HTMLParser):
    """The fields of the first <form> with this id, or whose action ends with
    `action_suffix`: what a browser would send (inputs, checked boxes, selected options,
    textareas)."""

    def __init__(self, action_suffix: str | None = None, form_id: str | None = None):
        super().__init__(convert_charrefs=True)
        self.suffix, self.form_id = action_suffix, form_id
        self.inside = False
        self.done = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self.done and (
                (self.form_id and a.get("id") == self.form_id)
                or (self.suffix and (a.get("action") or "").split("?")[0].endswith(self.suffix))):
            self.inside = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "file", "reset", "image"):
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._select_first, self._select_chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a and not self._select_chosen:
                self.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None
        elif tag == "form":
            self.inside, self.done = False, True

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)


def read_form(html: str, action_suffix: str | None = None, form_id: str | None = None) -> list[tuple[str, str]]:
    reader = FormReader(action_suffix, form_id)
    reader.feed(html)
    return reader.fields


# ------------------------------------------------------------------------------ the stack

def admin_url(url: str) -> tuple[str, str]:
    """seed.admin_url, for loopback databases only (the fault scripts restart the server)."""
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback databases only")
    return seed.admin_url(url)


def default_restart_cmd(database_url: str) -> list[str]:
    """`pg_ctlcluster --skip-systemctl-redirect <version> <cluster> restart` for the
    cluster listening on the URL's port (from pg_lsclusters)."""
    port = urlsplit(database_url).port or 5432
    try:
        out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SystemExit(f"pg_lsclusters failed ({exc}); give --restart-cmd")
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 3 and cols[2] == str(port):
            return ["pg_ctlcluster", "--skip-systemctl-redirect", cols[0], cols[1], "restart"]
    raise SystemExit(f"no PostgreSQL cluster on port {port} in pg_lsclusters; give --restart-cmd")


def pg_ready(database_url: str) -> bool:
    parts = urlsplit(database_url)
    try:
        r = subprocess.run(["pg_isready", "-q", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
                            "-t", "1"], timeout=5)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class Stack:
    """Own database (drop/create + migrations), users from the CLI, a waitress process
    and an upload folder. `close()` stops what it started; use it in a finally."""

    def __init__(self, database_url: str, label: str, app_dir: Path = ROOT, threads: int = 16,
                 extra_env: dict | None = None):
        self.url = database_url
        self.label = label
        self.app_dir = Path(app_dir)
        self.threads = threads
        self.extra_env = dict(extra_env or {})
        self.tmp = Path(tempfile.mkdtemp(prefix=f"emrs-{label}-"))
        self.upload_folder = self.tmp / "uploads"
        self.upload_folder.mkdir()
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        LOGS.mkdir(parents=True, exist_ok=True)
        self.server_log = LOGS / f"{label}-server.log"
        self.server_log.write_text("")
        self.starts = 0

    # -------------------------------------------------------------- database

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({"DATABASE_URL": self.url, "RATELIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING",
                    "UPLOAD_FOLDER": str(self.upload_folder), "ACCESS_TOKEN_EXPIRATION_SECONDS": "3600",
                    "LOG_DIR": "", "SECRET_KEY": env.get("SECRET_KEY", "bench-secret-key-not-for-production"),
                    "JWT_SECRET": env.get("JWT_SECRET", "bench-jwt-secret-not-for-production"),
                    "PASSWORD_HASH_METHOD": env.get("PASSWORD_HASH_METHOD", "scrypt")})
        env.update(self.extra_env)
        return env

    def recreate_database(self) -> None:
        admin_url(self.url)  # loopback only
        seed.recreate_database(self.url)

    def flask(self, *args: str) -> str:
        exe = BIN / "flask"
        r = subprocess.run([str(exe) if exe.exists() else "flask", "--app", "emrs", *args], cwd=self.app_dir,
                           env=self.env(), capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"flask {args[0]} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        return r.stdout

    def prepare(self, users: list[tuple[str, str, str]]) -> dict[str, int]:
        """Fresh database, migrations, users [(email, name, role)] without login codes."""
        self.recreate_database()
        self.flask("db", "upgrade")
        return self.create_users(users)

    def create_users(self, users: list[tuple[str, str, str]]) -> dict[str, int]:
        """`flask users create ... --no-otp` for each (a few at a time: each is a process)."""
        from concurrent.futures import ThreadPoolExecutor

        def one(user):
            email, name, role = user
            out = self.flask("users", "create", "--email", email, "--name", name, "--role", role,
                             "--password", PASSWORD, "--no-otp")
            return email, int(out.strip().splitlines()[-1])

        with ThreadPoolExecutor(4) as pool:
            return dict(pool.map(one, users))

    def db(self):
        conn = psycopg2.connect(self.url, connect_timeout=5)
        conn.autocommit = True
        return conn

    # -------------------------------------------------------------- server

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 60) -> None:
        if self.port is None:
            self.port = free_port()
        exe = BIN / "waitress-serve"
        cmd = [str(exe), f"--threads={self.threads}", f"--listen=127.0.0.1:{self.port}", "--connection-limit=300",
               "--call", "emrs:create_app"]
        self.starts += 1
        with open(self.server_log, "ab") as out:
            out.write(f"--- start {self.starts} {time.strftime('%H:%M:%S')}\n".encode())
            self.proc = subprocess.Popen(cmd, cwd=self.app_dir, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.time() + wait
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"waitress exited ({self.proc.returncode}); see {self.server_log}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/login")
                status = c.getresponse().status
                c.close()
                if status in (200, 302):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop_server()
        raise SystemExit(f"waitress did not answer within {wait} s")

    def kill(self) -> None:
        """SIGKILL the server's process group (our own: start_new_session)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop_server(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def server_errors(self) -> dict:
        """Counts of the server log's error lines (unhandled errors are logged with tracebacks)."""
        text = self.server_log.read_text(errors="replace") if self.server_log.exists() else ""
        kinds: dict[str, int] = {}
        for line in text.splitlines():
            if " ERROR " in line or " CRITICAL " in line:
                key = re.sub(r"\d+", "N", line.split(" ", 3)[-1])[:120]
                kinds[key] = kinds.get(key, 0) + 1
        exc = re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception|Timeout)\w*): ", text, re.M)
        return {"error_lines": kinds, "exceptions": {e: exc.count(e) for e in sorted(set(exc))}}

    def close(self, keep_tmp: bool = False) -> None:
        self.stop_server()
        if not keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def install_sigterm() -> None:
    """SIGTERM behaves like Ctrl-C, so the finally blocks stop what we started."""
    def _raise(_sig, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _raise)


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, default=str))
    return path
