"""Hostile query strings and path parameters against every GET route, pages and API
(the hostile input corpus): markup, SQL, traversal, NUL, unicode, huge numbers, bad dates, 100 KB,
repeated parameters, in every query parameter the code reads by name. Expected: no
5xx, no exception text, and no reflected markup left unescaped in a page."""
from __future__ import annotations

import pytest

from .hostile_support import get_cases, query_keys, report, run, send_get_case


def test_query_keys_are_read_from_the_code():
    keys = query_keys()
    for expected in ("q", "page", "limit", "date_from", "file_status", "doctor_decision", "include_retired"):
        assert expected in keys


@pytest.mark.parametrize("side", ["api", "pages"])
def test_hostile_get_routes(app, hostile_world, side):
    cases = [c for c in get_cases(app) if c.target.startswith("api.") == (side == "api")]
    assert cases
    failures = run(hostile_world, cases, send_get_case)
    assert not failures, report(failures)
