"""Generated CR/PSY/ADL numbers never collide."""
from __future__ import annotations

import re
import threading

import pytest

from emrs import create_app
from emrs.extensions import db
from emrs.numbering import service

from ..conftest import make_config
from ..dbutil import drop_database


def test_cr_and_psy_numbers_are_consecutive_per_year(app, ctx):
    a, b = service.next_cr_no(2031), service.next_cr_no(2031)
    assert re.fullmatch(r"CR2031\d{6}", a)
    assert int(b[-6:]) == int(a[-6:]) + 1
    assert service.next_cr_no(2032) == "CR2032000001"  # a new year starts again
    assert service.next_psy_no(2031) == "PSY2031000001"  # its own counter


def test_adl_number_format(app):
    nos = {service.random_adl_no(2026) for _ in range(200)}
    assert len(nos) == 200
    assert all(re.fullmatch(r"ADL2026[A-Z0-9]{8}", n) for n in nos)


@pytest.mark.no_rollback
def test_concurrent_generators_never_hand_out_the_same_number():
    app = create_app(make_config("numbering"))
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()
    got, errors = [], []

    def worker():
        try:
            with app.app_context():
                for _ in range(25):
                    got.append(service.next_cr_no(2040))
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert len(got) == 200 and len(set(got)) == 200
        assert sorted(int(n[-6:]) for n in got) == list(range(1, 201))
    finally:
        with app.app_context():
            db.engine.dispose()
        drop_database("numbering")
