"""Templates build links with emrs.links.template_url_for: each link's shape learned once from
url_for, the ids put in place. It must give exactly url_for's answer for every route."""
from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import BuildError

from emrs.links import template_url_for


def _calls(app):
    """(endpoint, values) for every route: its int arguments as ids of a few sizes, string
    arguments as a plain word, plus a query-string argument."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for n, ident in enumerate((1, 7, 42, 2_147_483_647)):
            values = {}
            for arg in rule.arguments:
                conv = type(rule._converters[arg]).__name__
                values[arg] = ident + (n if conv == "IntegerConverter" else 0) if conv == "IntegerConverter" \
                    else ("pdf" if arg == "format" else "abc")
            if n == 1:
                values["visit_id"] = 99  # not in the rule: a query-string argument
            yield rule.endpoint, values


def test_every_route_gets_url_fors_answer(app):
    checked = 0
    with app.test_request_context("/"):
        for endpoint, values in _calls(app):
            try:
                expected = url_for(endpoint, **values)
            except (BuildError, ValueError) as refused:  # e.g. "abc" is not one of "csv", "xlsx"
                with pytest.raises(type(refused)):
                    template_url_for(endpoint, **values)
                continue
            assert template_url_for(endpoint, **values) == expected, (endpoint, values)
            assert template_url_for(endpoint, **values) == expected  # the second call: from the shape
            checked += 1
    assert checked > 300


def test_what_has_no_shortcut_is_url_fors(app):
    with app.test_request_context("/"):
        assert template_url_for("static", filename="css/app.css") == url_for("static", filename="css/app.css")
        assert template_url_for("patients.show", patient_id=5, _anchor="files") == "/patients/5#files"
        assert template_url_for("patients.show", patient_id=5, _external=True).startswith("http")
        assert template_url_for("patients.show", patient_id=-1) == url_for("patients.show", patient_id=-1)
        with pytest.raises(BuildError):
            template_url_for("patients.show", visit_id=3)  # the rule's own argument missing
        assert template_url_for("patients.index", q="a&b", page=2) == url_for("patients.index", q="a&b", page=2)
        assert template_url_for("patients.show", patient_id=True) == url_for("patients.show", patient_id=True)


def test_the_shape_follows_the_mount_point(app):
    with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": "/emrs"}):
        assert template_url_for("patients.show", patient_id=12) == "/emrs/patients/12"
    with app.test_request_context("/"):
        assert template_url_for("patients.show", patient_id=12) == "/patients/12"
