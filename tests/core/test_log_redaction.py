"""Item 10: a database error never writes a statement's parameters (clinical text) to
the log file — SQLAlchemy hides them (hide_parameters) and a logging filter redacts
any "[parameters: ...]" that still reaches an emrs handler."""
from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from emrs import create_app
from emrs.auth.models import PWO, RESIDENT
from emrs.extensions import db
from emrs.timeutil import today_ist

from ..conftest import FreshContextClient, make_config
from ..dbutil import drop_database

pytestmark = pytest.mark.no_rollback

CLINICAL = "Quxlmorfazine 75 mg"
ADVICE = "Zyrnthal worries about the neighbour"


def _refuse_prescription_inserts() -> None:
    """A trigger that makes every INSERT of a prescription fail inside the database."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("CREATE FUNCTION refuse_rx() RETURNS trigger AS $$ BEGIN "
                                "RAISE EXCEPTION 'forced failure'; END $$ LANGUAGE plpgsql"))
        db.session.execute(text("CREATE TRIGGER refuse_rx BEFORE INSERT ON prescriptions "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_rx()"))
    else:
        db.session.execute(text("CREATE TRIGGER refuse_rx BEFORE INSERT ON prescriptions "
                                "BEGIN SELECT RAISE(ABORT, 'forced failure'); END"))
    db.session.commit()


def test_database_error_does_not_log_prescription_lines(tmp_path):
    from emrs.auth import service
    log_dir = tmp_path / "logs"
    app = create_app(make_config("logredact", LOG_DIR=str(log_dir)))
    app.test_client_class = FreshContextClient
    try:
        with app.app_context():
            upgrade()
            assert db.engine.hide_parameters is True
            _refuse_prescription_inserts()
        with app.test_request_context():
            for email, role in (("rd-pwo@test.emrs.local", PWO), ("rd-res@test.emrs.local", RESIDENT)):
                service.create_user({"email": email, "name": f"Redact {role}", "role": role,
                                     "password": "Passw0rd-test", "two_factor_enabled": False})
            db.session.commit()
        c = app.test_client()

        def headers(email):
            resp = c.post("/api/users/login", json={"email": email, "password": "Passw0rd-test"})
            return {"Authorization": f"Bearer {resp.get_json()['data']['accessToken']}"}

        pwo, res = headers("rd-pwo@test.emrs.local"), headers("rd-res@test.emrs.local")
        patient = c.post("/api/patients/register-complete", json={"name": "Log Patient", "age": 40, "sex": "M"},
                         headers=pwo).get_json()["data"]["patient"]
        proforma = c.post("/api/clinical-proformas", json={
            "patient_id": patient["id"], "visit_date": today_ist().isoformat(), "diagnosis": "Depression"},
            headers=res).get_json()["data"]["proforma"]
        resp = c.post("/api/prescriptions", headers=res, json={
            "patient_id": patient["id"], "clinical_proforma_id": proforma["id"], "advice": ADVICE,
            "prescription": [{"medicine": CLINICAL, "dosage": "0-0-1"}]})
        assert resp.status_code == 500
        assert CLINICAL not in resp.get_data(as_text=True)
        for h in logging.getLogger("emrs").handlers:
            h.flush()
        logged = "".join(f.read_text() for f in log_dir.glob("emrs.log*"))
        assert "unhandled error" in logged  # the failure itself is logged, with its statement
        assert "prescriptions" in logged
        assert "Quxlmorfazine" not in logged and "Zyrnthal" not in logged
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database("logredact")


def test_filter_redacts_parameters_from_any_emrs_record(tmp_path):
    """Second line of defence: an exception text with parameters (an engine someone built
    without hide_parameters) is redacted by the handlers' filter."""
    create_app(make_config("logfilter", database=False, LOG_DIR=str(tmp_path)))
    log = logging.getLogger("emrs.test")
    try:
        raise RuntimeError("(sqlite3.IntegrityError) boom\n[SQL: INSERT INTO x VALUES (?)]\n"
                           f"[parameters: ('{CLINICAL}',)]")
    except RuntimeError:
        log.exception("failed")
    log.error("statement failed [parameters: {'advice': %r}]", ADVICE)
    for h in logging.getLogger("emrs").handlers:
        h.flush()
    (handler,) = [h for h in logging.getLogger("emrs").handlers if isinstance(h, RotatingFileHandler)]
    logged = (tmp_path / "emrs.log").read_text()
    assert "Quxlmorfazine" not in logged and "Zyrnthal" not in logged
    assert "parameters hidden" in logged and "INSERT INTO x" in logged
