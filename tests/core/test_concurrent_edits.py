"""Two people saving the same record from the same version: one save wins, the other
gets the 409 — never two successes with the later one silently replacing the earlier
(bench/faults.py conflict found exactly that for proformas, intake records, patients
and prescriptions: the version was compared with the row as this request had loaded it).

These tests commit for real (a fresh database, no per-test rollback): "someone else"
saves through a second session, i.e. a second database connection.
"""
from __future__ import annotations

import threading

import pytest

from emrs import create_app
from emrs.auth import service as auth_service
from emrs.auth.models import FACULTY, RESIDENT, User
from emrs.clinical import service as clinical
from emrs.clinical.models import ClinicalProforma
from emrs.errors import Conflict, ValidationError
from emrs.extensions import db
from emrs.followups import service as followups
from emrs.followups.models import FollowUp
from emrs.intake import service as intake
from emrs.intake.models import IntakeRecord
from emrs.patients import registration
from emrs.patients.models import Patient
from emrs.prescriptions import service as rx
from emrs.prescriptions.models import Prescription
from emrs.timeutil import today_ist

from ..conftest import PASSWORD, make_config
from ..dbutil import drop_database

pytestmark = pytest.mark.no_rollback

LINES = [{"medicine": "Sertraline 50 mg", "dosage": "0-0-1"}]


@pytest.fixture(scope="module")
def edits():
    app = create_app(make_config("edits"))
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()
    with app.app_context(), app.test_request_context():
        a = auth_service.create_user({"name": "Dr Asha", "email": "asha@test.emrs.local", "password": PASSWORD,
                                      "role": RESIDENT, "two_factor_enabled": False})
        b = auth_service.create_user({"name": "Dr Balraj", "email": "balraj@test.emrs.local", "password": PASSWORD,
                                      "role": FACULTY, "two_factor_enabled": False})
        db.session.commit()
        patient = registration.register({"name": "Kulwant Singh", "age": 44, "sex": "M", "father_name": "Kartar Singh"}, a)
        proforma, record, _ = clinical.create({"patient_id": patient.id, "visit_date": today_ist().isoformat(),
                                               "doctor_decision": "complex_case", "diagnosis": "First"}, a)
        prescription, _ = rx.save_for_proforma({"clinical_proforma_id": proforma.id, "prescription": LINES}, a)
        followup, _n, _total = followups.create({"patient_id": patient.id, "clinical_assessment": "First"}, a)
        followup_rx, _ = rx.save_for_proforma({"followup_id": followup.id, "prescription": LINES}, a)
        ids = {"a": a.id, "b": b.id, "patient": patient.id, "proforma": proforma.id, "record": record.id,
               "prescription": prescription.id, "followup": followup.id, "followup_rx": followup_rx.id}
    yield app, ids
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database("edits")


def in_own_session(app, fn):
    """Run fn(in a new app context: its own session and connection), as another request would."""
    with app.app_context(), app.test_request_context():
        try:
            return fn()
        finally:
            db.session.rollback()
            db.session.remove()


# Per kind: the model, how a save is made (row, value, version, user), how the value is read back.
KINDS = {
    "patient": (Patient, "patient",
                lambda row, v, ver, user: registration.update(row, {"father_name": v}, user, expected_version=ver),
                lambda row: row.father_name),
    "proforma": (ClinicalProforma, "proforma",
                 lambda row, v, ver, user: clinical.update(row, {"diagnosis": v, "version": ver,
                                                                     "change_reason": "Seen again today"}, user),
                 lambda row: row.diagnosis),
    "intake record": (IntakeRecord, "record",
                      lambda row, v, ver, user: intake.update_workup(row, {"history_narrative": v}, user,
                                                                     expected_version=ver,
                                                                     section="history_present_illness"),
                      lambda row: row.history_narrative),
    "prescription": (Prescription, "prescription",
                     lambda row, v, ver, user: rx.save_for_proforma(
                         {"clinical_proforma_id": row.clinical_proforma_id, "prescription": LINES, "advice": v,
                          "version": ver, "change_reason": "Seen again today"}, user),
                     lambda row: row.advice),
    "follow-up note": (FollowUp, "followup",
                       lambda row, v, ver, user: followups.amend(row, {"clinical_assessment": v, "version": ver,
                                                                       "amend_reason": "Seen again today"}, user),
                       lambda row: row.clinical_assessment),
    "follow-up prescription": (Prescription, "followup_rx",
                               lambda row, v, ver, user: rx.save_for_proforma(
                                   {"followup_id": row.followup_id, "prescription": LINES, "advice": v,
                                    "version": ver, "change_reason": "Seen again today"}, user),
                               lambda row: row.advice),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_save_from_an_older_version_is_refused_though_the_row_was_loaded_before(edits, kind):
    """The row is loaded (version v), someone else saves v -> v+1, then this save of v
    must be a 409 and leave the other person's change in place."""
    app, ids = edits
    model, key, save, value = KINDS[kind]
    with app.app_context(), app.test_request_context():
        row = db.session.get(model, ids[key])
        seen = row.version
        in_own_session(app, lambda: save(db.session.get(model, ids[key]), f"{kind} by B", seen,
                                         db.session.get(User, ids["b"])))
        with pytest.raises(Conflict) as caught:
            save(row, f"{kind} by A", seen, db.session.get(User, ids["a"]))
        assert caught.value.code == "STALE" and "changed by someone else" in caught.value.message
        db.session.rollback()
        db.session.remove()
    stored = in_own_session(app, lambda: (value(db.session.get(model, ids[key])),
                                          db.session.get(model, ids[key]).version))
    assert stored == (f"{kind} by B", seen + 1)


@pytest.mark.parametrize("kind", list(KINDS))
def test_two_saves_of_the_same_version_at_the_same_moment_one_wins(edits, kind):
    app, ids = edits
    model, key, save, value = KINDS[kind]
    for round_ in range(3):
        barrier = threading.Barrier(2)
        outcome: dict = {}

        def person(who, user_key):
            with app.app_context(), app.test_request_context():
                row = db.session.get(model, ids[key])
                seen = row.version
                # A signed clinical record is amended by its author (or a senior): here the same
                # doctor saves from two tabs at once.
                author = getattr(row, "author_id", None) or getattr(row, "signer_id", None)
                user = db.session.get(User, author or ids[user_key])
                barrier.wait(10)
                try:
                    save(row, f"{kind} by {who} in round {round_}", seen, user)
                    outcome[who] = "saved"
                except Conflict:
                    outcome[who] = "409"
                finally:
                    db.session.rollback()
                    db.session.remove()

        threads = [threading.Thread(target=person, args=("A", "a")), threading.Thread(target=person, args=("B", "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcome.values()) == ["409", "saved"], outcome
        winner = next(w for w, o in outcome.items() if o == "saved")
        stored = in_own_session(app, lambda: value(db.session.get(model, ids[key])))
        assert stored == f"{kind} by {winner} in round {round_}"


def test_a_version_that_is_not_a_number_is_a_clear_400(edits):
    app, ids = edits
    with app.app_context(), app.test_request_context():
        user = db.session.get(User, ids["b"])  # Faculty: may amend every record of this module
        for kind in ("patient", "prescription"):
            model, key, save, _value = KINDS[kind]
            with pytest.raises(ValidationError) as caught:
                save(db.session.get(model, ids[key]), "never stored", "abc", user)
            assert caught.value.errors[0]["path"] == "version"
            assert caught.value.errors[0]["msg"] == "version must be an integer"
            db.session.rollback()
        db.session.remove()
