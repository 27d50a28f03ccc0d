"""Route x principal matrix: EVERY rule of the app (pages and API, every method but
HEAD/OPTIONS) is requested as anonymous and as each role, with real ids, and the answer
is compared with what the permission map says:

* anonymous: API -> 401 envelope ``Access token required``; page -> redirect to the
  login page; PUBLIC routes are served by their view;
* a role not in the rule -> 403 (the API envelope naming the required roles, or the
  "Not permitted" page) and the view never runs;
* a permitted role -> its view runs and the answer is neither 401 nor 403, except the
  record-level refusals listed in RECORD_LEVEL (asserted as refusals);
* nobody ever gets a 5xx.

The walk itself (ids, bodies, order) is in walk.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from emrs.auth.permissions import PERMISSIONS, PUBLIC

from ..conftest import ROLE_KEYS, api_login, browser_login
from . import walk
from .walk import RECORD_LEVEL, permitted

PRINCIPALS = ("anonymous",) + tuple(ROLE_KEYS)
SECURITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


# ------------------------------------------------------------------ the walk

@pytest.fixture
def clients(app, users, outbox):
    """principal -> (page client, api client, api headers)."""
    out = {"anonymous": (app.test_client(), app.test_client(), {})}
    for key, user in users.items():
        page = app.test_client()
        browser_login(page, outbox, user)
        api = app.test_client()
        out[key] = (page, api, {"Authorization": f"Bearer {api_login(api, outbox, user)}"})
    return out


def _fhir(rule) -> bool:
    return rule.rule.startswith("/fhir/")


def _outcome(code: str, diagnostics: str) -> dict:
    """/fhir answers refusals as an OperationOutcome, with the same words as /api."""
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code,
                                                            "diagnostics": diagnostics}]}


def check_answer(rule, method, principal, resp, ran: bool, api: bool, w, client) -> str | None:
    endpoint = rule.endpoint
    status = resp.status_code
    if status >= 500:
        return f"server error {status}"
    if PERMISSIONS[endpoint] == PUBLIC:
        return None if ran else f"public route not served by its view ({status})"
    if principal == "anonymous":
        if ran:
            return "the view ran for an anonymous request"
        if api:
            body = resp.get_json(silent=True)
            expected = (_outcome("login", "Access token required") if _fhir(rule)
                        else {"success": False, "message": "Access token required"})
            if status != 401 or body != expected:
                return f"expected the 401 envelope, got {status} {body}"
            return None
        location = resp.headers.get("Location", "")
        if status != 302 or not location.startswith("/login"):
            return f"expected a redirect to the login page, got {status} {location}"
        if method == "GET" and not location.startswith("/login?next="):
            return f"the login redirect does not come back to the page: {location}"
        return None
    if not permitted(endpoint, principal):
        if ran:
            return "the view ran for a role the permission map refuses"
        if status != 403:
            return f"expected 403, got {status}"
        if api:
            rule_roles = PERMISSIONS[endpoint]
            expected = (f"Access denied. Required roles: {', '.join(sorted(rule_roles))}. "
                        f"Your role: {ROLE_KEYS[principal]}")
            body = resp.get_json(silent=True)
            if body != (_outcome("forbidden", expected) if _fhir(rule) else {"success": False, "message": expected}):
                return f"403 body {body}"
        elif "Not permitted" not in resp.get_data(as_text=True):
            return "403 without the Not permitted page"
        return None
    if not ran:
        return f"permitted, but the view did not run ({status})"
    special = RECORD_LEVEL.get((endpoint, principal))
    if special is not None:
        return special[1](resp, w, client)
    if status in (401, 403):
        return f"permitted role refused with {status}: {resp.get_data(as_text=True)[:200]}"
    return None


def test_every_endpoint_in_the_map_and_tables_are_current(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = sorted(e for e in endpoints if e not in PERMISSIONS)
    assert missing == [], f"routes without a permission entry (add them to emrs/auth/permissions.py): {missing}"
    for name, table in (("RECORD_LEVEL", {e for e, _p in RECORD_LEVEL}), ("BODIES", set(walk.BODIES)),
                        ("PREPARE", set(walk.PREPARE)), ("ENDPOINT_IDS", set(walk.ENDPOINT_IDS)),
                        ("DESTRUCTIVE", set(walk.DESTRUCTIVE)), ("SESSION_ENDING", set(walk.SESSION_ENDING))):
        assert table <= endpoints, f"{name} names endpoints that no longer exist: {sorted(table - endpoints)}"
    for endpoint, principal in RECORD_LEVEL:
        assert permitted(endpoint, principal), f"{endpoint}: {principal} is refused by the map already"


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_route_matrix(app, users, clients, principal, monkeypatch, capsys, outbox):
    w = walk.build_world(app, users)
    page_client, api_client, api_headers = clients[principal]
    spy = walk.ViewSpy(app, monkeypatch)
    pairs = walk.route_pairs(app)
    problems, checked = [], 0
    changed = True
    for rule, method in pairs:
        assert rule.endpoint in PERMISSIONS, f"{rule.rule} ({rule.endpoint}) has no entry in the permission map"
        prepare = walk.PREPARE.get(rule.endpoint)
        if prepare is not None:
            prepare(w)
        if prepare is not None or changed:
            w.refresh()  # only writes change the world (reloading costs a query per object)
        url = walk.url_for_rule(rule, w)
        api = walk.is_api_rule(app, url, method)
        client = api_client if api else page_client
        kwargs = walk.request_kwargs(rule.endpoint, method, w, api)
        mark = len(spy.called)
        changed = method in walk.UNSAFE
        resp = client.open(url, method=method, headers=api_headers if api else {}, **kwargs)
        problem = check_answer(rule, method, principal, resp, spy.ran(rule.endpoint, mark), api, w, page_client)
        if rule.endpoint in walk.RELOGIN and principal != "anonymous":
            browser_login(page_client, outbox, users[principal])
        if problem:
            problems.append(f"{method} {url} [{rule.endpoint}] as {principal}: {problem}")
        checked += 1
    with capsys.disabled():
        print(f"\nroute matrix: {checked} (route, method) pairs checked as {principal}")
    assert checked == len(pairs)
    assert problems == [], "\n".join(problems)


def test_count_is_in_the_security_doc(app):
    pairs = len(walk.route_pairs(app))
    total = pairs * len(PRINCIPALS)
    text = SECURITY_DOC.read_text(encoding="utf-8")
    m = re.search(r"(\d[\d,]*) \(route, method\) pairs × (\d+) principals = (\d[\d,]*) checks", text)
    assert m, "docs/security.md must state the route matrix count"
    stated = tuple(int(x.replace(",", "")) for x in m.groups())
    assert stated == (pairs, len(PRINCIPALS), total), (
        f"docs/security.md says {m.group(0)!r}; the app now has {pairs} (route, method) pairs × {len(PRINCIPALS)} "
        f"principals = {total} checks: update its \"Route × principal matrix\"")
