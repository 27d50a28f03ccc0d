"""Hostile input corpus against every JSON API write route.

Every route gets every payload category (markup, SQL, paths, NUL, control characters,
10 MB, unicode, numbers, dates, wrong types) in the fields it reads, whole-body cases
(10,000-deep nesting, duplicate keys, wrong top-level types, wrong content types,
invalid UTF-8) and hostile path parameters. Expected: no 5xx, no exception text, no
request slower than 8 s, and a refused request changes no row (see hostile_support)."""
from __future__ import annotations

import pytest

from .hostile_support import (API_GROUPS, API_TARGETS, api_cases, body_problems, destructive_last, group_of,
                              report, run, send_api_case, write_rules)


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


HOSTILE_HEADERS = [
    ("User-Agent", "Mozilla\x00<script>alert(1)</script>"),
    ("User-Agent", "U" * 100_000),
    ("X-Request-ID", "id\x00<script>alert(1)</script>"),
    ("X-Request-ID", "\xe9" * 200),
    ("X-Forwarded-For", "1.2.3.4, <script>, \x00"),
]


@pytest.mark.parametrize("name,value", HOSTILE_HEADERS, ids=[f"{n}-{i}" for i, (n, _v) in enumerate(HOSTILE_HEADERS)])
def test_hostile_headers_on_audited_reads_and_sign_in(app, hostile_world, make_user, name, value):
    """Request headers end up in the audit trail and the session rows (user agent,
    request id): a NUL or 100 KB there is no reason for a 500."""
    from emrs.audit.models import AuditLog
    from emrs.auth.models import RESIDENT
    from emrs.extensions import db
    from sqlalchemy import select
    from tests.conftest import PASSWORD
    w = hostile_world
    plain = make_user(RESIDENT, otp=False)
    c = app.test_client()
    responses = [
        c.get(f"/api/patients/{w.patient_id}", headers={**w.bearer("faculty"), name: value}),
        c.post("/api/users/login", json={"email": plain.email, "password": PASSWORD}, headers={name: value}),
        app.test_client().post("/login", data={"email": plain.email, "password": PASSWORD}, headers={name: value}),
        w.browser("faculty").get(f"/patients/{w.patient_id}", headers={name: value}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 302, 200]
    for r in responses:
        assert body_problems(r) == []
        assert "\x00" not in r.headers["X-Request-ID"] and len(r.headers["X-Request-ID"]) <= 64
    row = db.session.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)).scalar_one()
    assert row.action == "patient_view" and "\x00" not in (row.user_agent or "") + (row.request_id or "")
