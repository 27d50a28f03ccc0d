"""The hostile-input harness itself: its checks catch what they claim to, and the
corpus is as large and as varied as docs/hostile-input.md says."""
from __future__ import annotations

from flask import Response

from .hostile_corpus import BODY_CASES, VALUE_PAYLOADS, counts_by_category
from .hostile_support import (api_cases, body_problems, changed, get_cases, page_cases,
                              snapshot, unescaped_markup)
from .test_hostile_properties import EXAMPLES

CATEGORIES = {"markup", "sql", "path", "nul", "control", "huge", "unicode", "numbers", "dates", "types", "structure",
              "content-type", "csrf"}


def test_markup_check_finds_what_a_browser_would_run():
    assert unescaped_markup('<p><img src=x onerror=alert(1)></p>')
    assert unescaped_markup('<input value=""><svg onload=alert(1)>">')
    assert unescaped_markup('<a href=" javascript:alert(1)">x</a>')
    assert unescaped_markup("<div><script>alert(1)</script></div>")
    assert unescaped_markup("<body onload=x()>")
    escaped = ('<p title="&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;alert(1)&lt;/script&gt; '
               "&#34;&gt;&lt;img src=x onerror=alert(1)&gt; javascript:alert(1)</p>")
    assert unescaped_markup(escaped) == []
    assert unescaped_markup('<script src="/static/js/htmx.min.js" defer></script>') == []


def test_body_check_finds_errors_and_exception_text():
    assert body_problems(Response("ok", status=500)) == ["status 500"]
    assert body_problems(Response('Traceback (most recent call last):\n  File "/x.py"', status=400))
    assert body_problems(Response('{"message": "psycopg2.errors.DataError"}', status=400, mimetype="application/json"))
    assert body_problems(Response("<b onmouseover=x>", mimetype="text/html"))
    assert body_problems(Response('{"message": "Validation failed"}', status=400, mimetype="application/json")) == []


def test_snapshot_sees_a_changed_row_and_a_new_file(app, hostile_world):
    from emrs.extensions import db
    from emrs.patients.models import Patient
    before = snapshot(app)
    db.session.get(Patient, hostile_world.patient_id).father_name = "Changed"
    db.session.flush()
    assert changed(before, snapshot(app)) == ["registered_patient"]


def test_corpus_size_and_variety(app):
    api, pages, gets = api_cases(app), page_cases(app), get_cases(app)
    counts = counts_by_category(api + pages + gets)
    assert set(counts) == CATEGORIES, counts
    assert len(api) + len(pages) + len(gets) + sum(EXAMPLES.values()) >= 1000
    used = {c.spec["payload"].label for c in api + pages if "payload" in c.spec}
    assert used == {p.label for p in VALUE_PAYLOADS}, "a payload no route receives"
    bodies = {c.label for c in api if "body" in c.spec}
    assert bodies == {label for _c, label, _t in BODY_CASES}, "a whole-body case no route receives"
    # every route gets every category of value payload
    for cases in (api, pages):
        by_route: dict = {}
        for c in cases:
            if "payload" in c.spec:
                by_route.setdefault(c.target, set()).add(c.category)
        full = {p.category for p in VALUE_PAYLOADS}
        thin = [r for r, cats in by_route.items() if len(cats) < len(full) // 2]
        assert not thin, f"routes with too few payload categories: {thin}"
