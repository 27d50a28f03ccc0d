"""Structured request logs: one JSON line per request, on stdout and in rotating
files under LOG_DIR, with no secrets and no clinical text."""
from __future__ import annotations

import json
import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest
from flask_migrate import upgrade

from emrs import create_app
from emrs.auth.models import RESIDENT
from emrs.extensions import db

from ..conftest import FreshContextClient, make_config
from ..dbutil import drop_database

pytestmark = pytest.mark.no_rollback

SECRET_PASSWORD = "Sekr1t-Password-4711"
CLINICAL_TEXT = "Hears voices of Quxlmorf since monsoon"


def _file_handlers():
    return [h for h in logging.getLogger("emrs").handlers if isinstance(h, RotatingFileHandler)]


def test_request_lines_go_to_the_log_file_without_secrets_or_clinical_text(tmp_path):
    from emrs.auth import service
    log_dir = tmp_path / "logs"
    app = create_app(make_config("logfile", LOG_DIR=str(log_dir), LOG_MAX_BYTES=1_000_000, LOG_BACKUPS=2))
    app.test_client_class = FreshContextClient
    try:
        with app.app_context():
            upgrade()
        with app.test_request_context():
            service.create_user({"email": "log-res@test.emrs.local", "name": "Log Resident", "role": RESIDENT,
                                 "password": SECRET_PASSWORD, "two_factor_enabled": False})
            db.session.commit()
        c = app.test_client()
        assert c.post("/api/users/login", json={"email": "log-res@test.emrs.local",
                                                "password": "wrong-" + SECRET_PASSWORD}).status_code == 401
        resp = c.post("/api/users/login", json={"email": "log-res@test.emrs.local", "password": SECRET_PASSWORD})
        assert resp.status_code == 200
        token = resp.get_json()["data"]["accessToken"]
        headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "req-log-test-1"}
        c.post("/api/clinical-proformas", headers=headers,
               json={"patient_id": 1, "presenting_complaint": CLINICAL_TEXT, "mse_thought": CLINICAL_TEXT})
        c.get(f"/api/patients?search={CLINICAL_TEXT}", headers=headers)
        c.post("/login", data={"email": "log-res@test.emrs.local", "password": SECRET_PASSWORD})
        for h in _file_handlers():
            h.flush()

        files = list(log_dir.glob("emrs.log*"))
        assert files, "no log file written"
        text = "".join(f.read_text() for f in files)
        assert SECRET_PASSWORD not in text
        assert "Quxlmorf" not in text
        assert token not in text
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        requests = [r for r in lines if r.get("logger") == "emrs.request"]
        assert len(requests) >= 5
        for r in requests:
            assert {"request_id", "user_id", "route", "method", "status", "duration_ms", "ts"} <= r.keys()
        tagged = [r for r in requests if r["request_id"] == "req-log-test-1"]
        assert tagged and tagged[0]["route"] == "/api/clinical-proformas" and tagged[0]["method"] == "POST"
        assert tagged[0]["user_id"] is not None
        assert any(r["route"] == "/api/users/login" and r["status"] == 401 for r in requests)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database("logfile")


def test_handlers_are_not_duplicated_and_log_dir_can_be_disabled(tmp_path):
    root = logging.getLogger("emrs")
    for _ in range(3):
        create_app(make_config("loghandlers", database=False, LOG_DIR=str(tmp_path / "a")))
    assert len(_file_handlers()) == 1
    assert Path(_file_handlers()[0].baseFilename) == tmp_path / "a" / "emrs.log"
    stdout = [h for h in root.handlers if getattr(h, "_emrs_role", None) == "stdout"]
    assert len(stdout) == 1
    create_app(make_config("loghandlers", database=False, LOG_DIR=str(tmp_path / "b")))
    assert [Path(h.baseFilename) for h in _file_handlers()] == [tmp_path / "b" / "emrs.log"]
    create_app(make_config("loghandlers", database=False, LOG_DIR=""))
    assert _file_handlers() == []
    assert len([h for h in root.handlers if getattr(h, "_emrs_role", None) == "stdout"]) == 1


def test_rotation_settings(tmp_path):
    create_app(make_config("logrotate", database=False, LOG_DIR=str(tmp_path), LOG_MAX_BYTES=2048, LOG_BACKUPS=3))
    (handler,) = _file_handlers()
    assert handler.maxBytes == 2048 and handler.backupCount == 3
    log = logging.getLogger("emrs.request")
    for i in range(100):
        log.info(json.dumps({"request_id": f"r{i}", "route": "/x" * 10}))
    handler.flush()
    names = sorted(p.name for p in tmp_path.glob("emrs.log*"))
    assert names == ["emrs.log", "emrs.log.1", "emrs.log.2", "emrs.log.3"]
