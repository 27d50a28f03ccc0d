"""Token numbers under concurrency: eight desks queueing eight patients into one room at the
same moment get tokens 1…8, each once (the room's row is locked while the next token is
taken; SQLite has one writer at a time). Commits for real (a fresh database)."""
from __future__ import annotations

import threading

import pytest
from flask import g
from sqlalchemy import select

from emrs import create_app
from emrs.auth import service as auth_service
from emrs.auth.models import PWO
from emrs.extensions import db
from emrs.opd import queue
from emrs.opd.models import Room
from emrs.patients.models import Patient, PatientVisit

from ..conftest import PASSWORD, make_config
from ..dbutil import drop_database

pytestmark = pytest.mark.no_rollback


def test_eight_desks_get_eight_different_tokens():
    app = create_app(make_config("tokens"))
    from flask_migrate import upgrade
    try:
        with app.app_context(), app.test_request_context():
            upgrade()
            clerk = auth_service.create_user({"name": "Desk Clerk", "email": "desk@test.emrs.local",
                                              "password": PASSWORD, "role": PWO, "two_factor_enabled": False})
            room = Room(room_number="30", number_key="30")
            patients = [Patient(name=f"Token Patient {i}", sex="F", age=30, cr_no=f"CRTOKEN{i:04d}") for i in range(8)]
            db.session.add_all([room, *patients])
            db.session.commit()
            ids, clerk_id, room_id = [p.id for p in patients], clerk.id, room.id
        barrier, errors = threading.Barrier(8), []

        def desk(pid):
            with app.app_context(), app.test_request_context():
                try:
                    g.principal = db.session.get(type(clerk), clerk_id)
                    barrier.wait(5)
                    queue.queue(db.session.get(Patient, pid), db.session.get(Room, room_id), g.principal)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(repr(exc))
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=desk, args=(pid,)) for pid in ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        with app.app_context():
            tokens = sorted(db.session.execute(select(PatientVisit.token_no).where(
                PatientVisit.room_id == room_id)).scalars())
            assert tokens == list(range(1, 9))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop_database("tokens")
