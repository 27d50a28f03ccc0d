"""Fixtures of the hostile-input tests (test_hostile_*.py)."""
from __future__ import annotations

import pytest
from flask import Flask

from .hostile_support import World, build_world


@pytest.fixture
def hostile_world(app, users, make_user) -> World:
    """A patient with a visit, a complex-case proforma with its intake record and
    prescription, an uploaded file, a custom medicine and option, and credentials."""
    return build_world(app, users, make_user)


@pytest.fixture(scope="session")
def hostile_csrf_app(app) -> Flask:
    """The same database and code with CSRF protection on (the test config turns it off)."""
    from emrs import create_app
    from tests.conftest import FreshContextClient, make_config
    other = create_app({**make_config("hostile_csrf", database=False, WTF_CSRF_ENABLED=True),
                        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"]})
    other.test_client_class = FreshContextClient
    return other
