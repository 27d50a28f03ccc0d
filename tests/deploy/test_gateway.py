"""The project's nginx gateway (docker/nginx/gateway-five.conf.template) in front of three
waitress processes of the app, all on loopback: one `user`, one
`out-patients-card-and-out-patient-record` and one full process standing in for the other
three services. Checks, through the gateway: each prefix reaches the right service, a token
issued by one process works on another and the refresh cookie rotates on any process, the
login rate limit is counted across processes (Redis), and /health of each upstream.

Skips when Debian's nginx is missing, unless EMRS_REQUIRE_GATEWAY=1 (CI), where that is a
failure. Without Redis at 127.0.0.1:6379 the cross-process rate-limit check skips."""
from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ..dbutil import drop_database, fresh_database, is_pg

pytestmark = pytest.mark.no_rollback

ROOT = Path(__file__).resolve().parents[2]
NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
WAITRESS = Path(sys.executable).with_name("waitress-serve")
TEMPLATE = ROOT / "docker" / "nginx" / "gateway-five.conf.template"
REDIS_URI = "redis://127.0.0.1:6379/15"  # this test's own Redis database
ADMIN_EMAIL = "gateway-admin@test.emrs.local"
PASSWORD = "Passw0rd-gateway"
AUTH_LIMIT = 4  # RATELIMIT_AUTH of every process: "4 per minute"
START_TIMEOUT = 40

USER = "user"
PATIENTS = "out-patients-card-and-out-patient-record"
FULL = "full"


def _require_nginx():
    if not Path(NGINX).exists():
        reason = f"nginx not found at {NGINX} (apt-get install nginx-light)"
        if os.environ.get("EMRS_REQUIRE_GATEWAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_answers() -> bool:
    try:
        import redis
        r = redis.Redis.from_url(REDIS_URI, socket_timeout=1, socket_connect_timeout=1)
        return bool(r.ping())
    except Exception:
        return False


def _clear_limits():
    """Forget the rate-limit counters in this test's Redis database (earlier runs, earlier tests)."""
    import redis
    r = redis.Redis.from_url(REDIS_URI, socket_timeout=2)
    for key in r.scan_iter("*LIMITER/*"):
        r.delete(key)


def request(port, method, path, body=None, headers=None, timeout=15):
    """(status, headers (lower-case names), parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        out_headers = {}
        for k, v in resp.getheaders():
            out_headers.setdefault(k.lower(), []).append(v)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        return resp.status, out_headers, payload
    finally:
        conn.close()


def _header(headers, name):
    values = headers.get(name.lower()) or [None]
    return values[0]


def _refresh_cookie(headers) -> str:
    for value in headers.get("set-cookie", []):
        if value.startswith("refreshToken="):
            return value.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no refreshToken cookie in {headers.get('set-cookie')}")


def _wait(check, what, timeout=START_TIMEOUT, procs=()):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for name, proc, log in procs:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if check():
                return
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    logs = "\n".join(f"--- {n}\n{_tail(l)}" for n, _, l in procs)
    raise AssertionError(f"timed out waiting for {what} ({last})\n{logs}")


def _tail(path, n=4000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def render_template(path: Path, values: dict) -> str:
    """What the nginx image's envsubst does: replace ${VAR} of the given variables only."""
    text = string.Template(path.read_text()).safe_substitute(values)
    missing = [k for k in ("GATEWAY_LISTEN",) if "${" + k + "}" in text]
    assert not missing and "${" not in text, "unrendered placeholder in " + path.name
    return text


def _nginx_conf(tmp: Path, server_block: Path) -> str:
    user = ""
    if os.geteuid() == 0:  # workers would switch to 'nobody', who cannot read the temp dir
        user = f"user {pwd.getpwuid(os.getuid()).pw_name};\n"
    return (f"{user}worker_processes 1;\nerror_log {tmp}/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"  access_log {tmp}/access.log;\n"
            f"  client_body_temp_path {tmp}/client_body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
            f"  scgi_temp_path {tmp}/scgi;\n"
            f"  include {server_block};\n"
            "}\n")


def _migrate_and_seed(url: str, engine_options: dict):
    from flask_migrate import upgrade

    from emrs import create_app
    from emrs.auth import service
    from emrs.auth.models import ADMIN
    from emrs.extensions import db

    from ..conftest import make_config

    app = create_app(make_config("gateway", database=False, SQLALCHEMY_DATABASE_URI=url,
                                 SQLALCHEMY_ENGINE_OPTIONS=engine_options))
    with app.app_context():
        upgrade()
    with app.test_request_context():
        service.create_user({"email": ADMIN_EMAIL, "name": "Gateway Admin", "role": ADMIN,
                             "password": PASSWORD, "two_factor_enabled": False})
        db.session.commit()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def gateway():
    _require_nginx()
    tmp = Path(tempfile.mkdtemp(prefix="emrs-gateway-"))
    procs: list[tuple[str, subprocess.Popen, Path]] = []
    url, engine_options = fresh_database("gateway")
    try:
        _migrate_and_seed(url, engine_options)
        redis_ok = _redis_answers()
        if redis_ok:
            _clear_limits()
        ports = {USER: _free_port(), PATIENTS: _free_port(), FULL: _free_port()}
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("EMRS_", "RATELIMIT_", "DATABASE_", "REDIS_", "PG"))}
        base_env.update({
            "DATABASE_URL": url,
            "SECRET_KEY": "gateway-test-secret-key",
            "JWT_SECRET": "gateway-test-jwt-secret-0123456789abcdef",
            "RATELIMIT_AUTH": f"{AUTH_LIMIT} per minute",
            "RATELIMIT_STORAGE_URI": REDIS_URI if redis_ok else "memory://",
            "LOG_DIR": "",
            "UPLOAD_FOLDER": str(tmp / "uploads"),  # shared by every process
            "MAIL_OUTBOX_DIR": str(tmp / "outbox"),
            "EMAIL_HOST": "",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "PYTHONUNBUFFERED": "1",
        })
        if is_pg(url):
            base_env["PGOPTIONS"] = engine_options["connect_args"]["options"]
        services = {USER: "user", PATIENTS: PATIENTS, FULL: ""}
        for name, port in ports.items():
            env = dict(base_env, EMRS_SERVICES=services[name], EMRS_SERVICE_NAME="emrs-full")
            log = tmp / f"waitress-{port}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [str(WAITRESS), "--host", "127.0.0.1", "--port", str(port), "--threads", "4",
                     "--call", "emrs:create_app"],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            procs.append((name, proc, log))

        gw_port = _free_port()
        conf_dir = tmp / "conf"
        conf_dir.mkdir()
        block = conf_dir / "gateway-five.conf"
        block.write_text(render_template(TEMPLATE, {
            "GATEWAY_LISTEN": f"127.0.0.1:{gw_port}",
            "USER_UPSTREAM": f"127.0.0.1:{ports[USER]}",
            "PATIENTS_UPSTREAM": f"127.0.0.1:{ports[PATIENTS]}",
            "CLINICAL_UPSTREAM": f"127.0.0.1:{ports[FULL]}",
            "INTAKE_UPSTREAM": f"127.0.0.1:{ports[FULL]}",
            "PRESCRIPTION_UPSTREAM": f"127.0.0.1:{ports[FULL]}",
        }))
        (tmp / "nginx.conf").write_text(_nginx_conf(tmp, block))
        nginx_cmd = [NGINX, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf"),
                     "-g", f"daemon off; pid {tmp}/nginx.pid;"]
        check = subprocess.run(nginx_cmd + ["-t"], capture_output=True, text=True, timeout=20)
        assert check.returncode == 0, check.stderr
        nginx_log = tmp / "nginx.out"
        with open(nginx_log, "wb") as out:
            nginx = subprocess.Popen(nginx_cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(("nginx", nginx, tmp / "error.log"))

        for name, port in ports.items():
            _wait(lambda p=port: request(p, "GET", "/health", timeout=3)[0] == 200,
                  f"/health of {name} on {port}", procs=procs)
        _wait(lambda: request(gw_port, "GET", "/health", timeout=3)[0] == 200, "the gateway", procs=procs)
        yield {"port": gw_port, "ports": ports, "redis": redis_ok, "tmp": tmp}
    finally:
        for _name, proc, _log in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # nginx: fast shutdown; waitress: exit
        for name, proc, _log in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        drop_database("gateway")
        shutil.rmtree(tmp, ignore_errors=True)
        if url.startswith("sqlite:///"):
            shutil.rmtree(Path(url[len("sqlite:///"):]).parent, ignore_errors=True)


def test_single_upstream_template_is_valid_nginx(tmp_path):
    """docker/nginx/gateway.conf.template (compose's default layout) passes `nginx -t`."""
    _require_nginx()
    block = tmp_path / "gateway.conf"
    block.write_text(render_template(ROOT / "docker" / "nginx" / "gateway.conf.template", {
        "GATEWAY_LISTEN": f"127.0.0.1:{_free_port()}", "APP_UPSTREAM": "127.0.0.1:5000"}))
    (tmp_path / "nginx.conf").write_text(_nginx_conf(tmp_path, block))
    result = subprocess.run([NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                             "-c", str(tmp_path / "nginx.conf"), "-g", f"pid {tmp_path}/nginx.pid;", "-t"],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr


def _upstream(headers) -> str:
    return _header(headers, "X-Upstream") or ""


def _login(port) -> tuple[str, str]:
    status, headers, body = request(port, "POST", "/api/users/login",
                                    {"email": ADMIN_EMAIL, "password": PASSWORD})
    assert status == 200, body
    return body["data"]["accessToken"], _refresh_cookie(headers)


def test_health_of_each_upstream(gateway):
    ports = gateway["ports"]
    expected = {USER: "user", PATIENTS: PATIENTS, FULL: "emrs-full"}
    for name, port in ports.items():
        status, _, body = request(port, "GET", "/health")
        assert status == 200 and body["service"] == expected[name] and body["database"] == "connected"
    # Through the gateway /health is answered by the user service.
    status, headers, body = request(gateway["port"], "GET", "/health")
    assert status == 200 and body["service"] == "user"
    assert _upstream(headers) == f"127.0.0.1:{ports[USER]}"


def test_each_prefix_reaches_its_service(gateway):
    gw, ports = gateway["port"], gateway["ports"]
    token, _ = _login(gw)
    auth = {"Authorization": f"Bearer {token}"}
    where = {USER: f"127.0.0.1:{ports[USER]}", PATIENTS: f"127.0.0.1:{ports[PATIENTS]}",
             FULL: f"127.0.0.1:{ports[FULL]}"}
    api = {
        "/api/users": USER, "/api/session/info": USER, "/api/sessions": USER, "/api": USER,
        "/api/patients": PATIENTS, "/api/patient-cards": PATIENTS, "/api/out-patient-records": PATIENTS,
        "/api/patient-files/stats": PATIENTS,
        "/api/clinical-proformas": FULL, "/api/clinical-options": FULL, "/api/icd11/entities": FULL,
        "/api/outpatient-intake-records": FULL, "/api/adl-files": FULL,
        "/api/prescriptions": FULL,
    }
    for path, service in api.items():
        status, headers, body = request(gw, "GET", path, headers=auth)
        assert _upstream(headers) == where[service], (path, headers)
        assert status not in (404, 502, 503, 504), (path, status, body)
    for path in ("/api/patients", "/api/clinical-proformas", "/api/outpatient-intake-records",
                 "/api/prescriptions", "/api/users"):
        status, _, body = request(gw, "GET", path, headers=auth)
        assert status == 200 and body["success"] is True, (path, body)
    pages = {"/patients/": PATIENTS, "/clinical/proformas": FULL, "/intake/": FULL,
             "/prescriptions/1": FULL, "/login": USER, "/": USER, "/admin/users": USER}
    for path, service in pages.items():
        status, headers, _ = request(gw, "GET", path)
        assert _upstream(headers) == where[service], (path, headers)
        assert status in (200, 302), (path, status)
    # FHIR read access is served by the patient service, in FHIR.
    for path in ("/fhir/metadata", "/fhir/Patient?name=Admin"):
        status, headers, body = request(gw, "GET", path, headers=auth)
        assert _upstream(headers) == where[PATIENTS], (path, headers)
        assert status == 200 and body["resourceType"] in ("CapabilityStatement", "Bundle"), (path, body)
    # A service answers only its own routes: the patients process refuses the clinical API.
    status, _, body = request(ports[PATIENTS], "GET", "/api/clinical-proformas", headers=auth)
    assert status == 404 and body["success"] is False
    # X-Request-ID passes through the gateway to the app and back.
    _, headers, _ = request(gw, "GET", "/api/patients", headers={**auth, "X-Request-ID": "gw-req-42"})
    assert _header(headers, "X-Request-ID") == "gw-req-42"
    # Without one, nginx makes one.
    _, headers, _ = request(gw, "GET", "/health")
    assert len(_header(headers, "X-Request-ID") or "") >= 16


def test_login_on_one_process_refresh_on_another(gateway):
    gw, ports = gateway["port"], gateway["ports"]
    token, cookie = _login(gw)  # answered by the user process
    # The access token works on the patients process, through the gateway.
    status, headers, body = request(gw, "GET", "/api/patients", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and _upstream(headers) == f"127.0.0.1:{ports[PATIENTS]}", body
    # Refresh on a different process (the full one, directly): the cookie is valid there.
    status, headers, body = request(ports[FULL], "POST", "/api/session/refresh",
                                    headers={"Cookie": f"refreshToken={cookie}"})
    assert status == 200, body
    cookie2 = _refresh_cookie(headers)
    assert cookie2 != cookie
    # The rotated cookie works through the gateway (user process); the old one no longer does.
    status, headers, body = request(gw, "POST", "/api/session/refresh",
                                    headers={"Cookie": f"refreshToken={cookie2}"})
    assert status == 200 and _upstream(headers) == f"127.0.0.1:{ports[USER]}", body
    token3 = body["data"]["accessToken"]
    status, _, _ = request(gw, "POST", "/api/session/refresh", headers={"Cookie": f"refreshToken={cookie}"})
    assert status == 401
    status, _, body = request(gw, "GET", "/api/patients", headers={"Authorization": f"Bearer {token3}"})
    assert status in (200, 401), body  # reuse of a rotated cookie may end the session (theft signal)


def test_login_rate_limit_is_counted_across_processes(gateway):
    if not gateway["redis"]:
        pytest.skip("Redis does not answer at 127.0.0.1:6379: limits are per process (CI starts Redis)")
    _clear_limits()  # the logins of the other tests
    gw, ports = gateway["port"], gateway["ports"]
    wrong = {"email": "nobody@test.emrs.local", "password": "wrong-password"}
    # AUTH_LIMIT wrong logins spread over two processes, directly; none is limited alone ...
    for i in range(AUTH_LIMIT):
        port = ports[USER] if i % 2 == 0 else ports[FULL]
        status, _, body = request(port, "POST", "/api/users/login", wrong)
        assert status == 401, (i, status, body)
    # ... but the next one, through the gateway, is over the shared limit.
    status, headers, body = request(gw, "POST", "/api/users/login", wrong)
    assert status == 429, (status, body)
    assert _upstream(headers) == f"127.0.0.1:{ports[USER]}"
    status, _, _ = request(ports[FULL], "POST", "/api/users/login", wrong)
    assert status == 429
    _clear_limits()
