"""Hostile input corpus against every JSON API write route (issue 9 §2).

Every route gets every payload category (markup, SQL, paths, NUL, control characters,
10 MB, unicode, numbers, dates, wrong types) in the fields it reads, whole-body cases
(10,000-deep nesting, duplicate keys, wrong top-level types, wrong content types,
invalid UTF-8) and hostile path parameters. Expected: no 5xx, no exception text, no
request slower than 8 s, and a refused request changes no row (see hostile_support)."""
from __future__ import annotations

import pytest

from .hostile_support import (API_GROUPS, API_TARGETS, api_cases, destructive_last, group_of,  # noqa: F401
                              hostile_world, report, run, send_api_case, write_rules)


def test_every_api_write_route_has_a_corpus_target(app):
    routes = {r.endpoint for r in write_rules(app, "api")}
    assert routes - set(API_TARGETS) == set(), "API write routes without hostile-input coverage"
    assert set(API_TARGETS) - routes == set(), "hostile-input targets for routes that no longer exist"
    assert {group_of(app, e) for e in routes} <= set(API_GROUPS), "an API module outside the hostile-input groups"
    covered = {c.target for c in api_cases(app)}
    assert covered == routes


@pytest.mark.parametrize("group", API_GROUPS)
def test_hostile_api_group(app, hostile_world, group):
    cases = sorted((c for c in api_cases(app) if group_of(app, c.target) == group), key=destructive_last)
    assert cases
    failures = run(hostile_world, cases, send_api_case)
    assert not failures, report(failures)
