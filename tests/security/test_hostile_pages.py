"""Hostile input corpus against every page form: each POST route of the
browser pages gets every payload category in the fields its view and service read (the
patient field table, the proforma FIELDS, every intake section input, the prescription
lines, the WTForms classes), a malformed form body, and a request without a valid CSRF
token on an app with CSRF protection on. Expected: no 5xx, no exception text, no
unescaped markup in the page, and a refused request (4xx, or a redirect with an error
message) changes no row."""
from __future__ import annotations

import pytest

from .hostile_support import (PAGE_GROUPS, PAGE_TARGETS, destructive_last, group_of,
                              literal_form_keys, page_cases, report, run, send_page_case, write_rules)


def test_every_page_form_has_a_corpus_target(app):
    routes = {r.endpoint for r in write_rules(app, "pages")}
    assert routes - set(PAGE_TARGETS) == set(), "page POST routes without hostile-input coverage"
    assert set(PAGE_TARGETS) - routes == set(), "hostile-input targets for routes that no longer exist"
    assert {group_of(app, e) for e in routes} <= set(PAGE_GROUPS)
    named = {f if isinstance(f, str) else f[1] for t in PAGE_TARGETS.values() for f in t.fields}
    for module, keys in literal_form_keys().items():
        assert keys <= named, f"{module} reads form fields no hostile-input target sends: {sorted(keys - named)}"


@pytest.mark.parametrize("group", PAGE_GROUPS)
def test_hostile_page_group(app, hostile_world, hostile_csrf_app, group):
    cases = sorted((c for c in page_cases(app) if group_of(app, c.target) == group), key=destructive_last)
    assert cases
    failures = run(hostile_world, cases, send_page_case, csrf_app=hostile_csrf_app)
    assert not failures, report(failures)
