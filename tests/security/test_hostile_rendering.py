"""Stored hostile markup is shown, never run.

Markup is stored through accepted requests in every text field the patient field
table, the proforma FIELDS, the intake work-up, the prescription lines, the formulary,
the option groups, users, visits, file names, drafts and templates hold; then every
GET page (full page and HTMX fragment) is rendered and must show it escaped only, and
the prescription PDF must print it as literal text (pdftotext) from escaped HTML."""
from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from emrs.auth.permissions import PERMISSIONS
from emrs.clinical import service as clinical_service
from emrs.extensions import db
from emrs.intake.form import ROW_COLUMNS
from emrs.intake.models import JSON_ARRAY_FIELDS, TEXT_FIELDS
from emrs.patients import fields as F
from emrs.prescriptions.service import LINE_KEYS
from emrs.timeutil import today_ist

from .hostile_support import (body_problems, get_rules, role_for, unescaped_markup,
                              url_for_rule, values_for)

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = "\"><img src=x onerror=alert(1)>"
SHORT = "<svg onload=alert()>"  # 20 characters, for the short columns
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;")


def markup(i: int, max_len: int | None = None) -> str:
    """Alternate the two payloads; the short one where a column is narrow."""
    value = SCRIPT if i % 2 == 0 else BREAKOUT
    return value if max_len is None or len(value) <= max_len else SHORT


def _ok(resp, what):
    assert resp.status_code in (200, 201), (what, resp.status_code, resp.get_data(as_text=True)[:400])
    return resp.get_json()


def store_everywhere(w) -> None:
    """Accepted requests putting markup into every stored text field."""
    c = w.app.test_client()
    h = w.bearer("faculty")
    # (CR and PSY numbers are identifiers: markup is refused there, tests/patients/test_identifiers_and_names.py)
    text_fields = [n for n, f in F.ALL_FIELDS.items() if f.kind in ("text", "code_or_text", "name") and n != "name"]
    patient = _ok(c.put(f"/api/patients/{w.patient_id}", headers=h,
                        json={"name": "Pt " + SCRIPT, **{n: markup(i, F.ALL_FIELDS[n].max_len)
                                                        for i, n in enumerate(text_fields)}}), "patient")
    assert patient["data"]["patient"]["father_name"] in (SCRIPT, BREAKOUT, SHORT)
    # A room's number is the room's own (assignments name real rooms): markup in a room's number.
    _ok(c.post("/api/rooms", headers=w.bearer("admin"), json={"room_number": SHORT, "description": BREAKOUT,
                                                              "doctor_capacity": 2}), "room")
    _ok(c.post("/api/patients/assign", headers=h, json={"patient_id": w.patient_id, "room_no": SHORT,
                                                        "assigned_doctor_id": w.users["faculty"].id,
                                                        "notes": BREAKOUT}), "visit")
    free = clinical_service.TEXT + clinical_service.MULTI
    pro = {n: markup(i) for i, n in enumerate(free)}
    pro["icd_title"] = SCRIPT
    _ok(c.put(f"/api/clinical-proformas/{w.proforma_id}", headers=h, json=pro), "proforma")
    workup = {}
    for i, name in enumerate(TEXT_FIELDS):
        workup[name] = markup(i)
    for name in JSON_ARRAY_FIELDS:
        cols = ROW_COLUMNS.get(name)
        workup[name] = [{col: markup(j) for j, (col, _label) in enumerate(cols)}] if cols else [SCRIPT, BREAKOUT]
    _ok(c.put(f"/api/outpatient-intake-records/{w.record_id}", headers=h,
              json={**workup, "notes": SCRIPT, "physical_file_location": BREAKOUT}), "intake")
    # The structured keys accept only what the instructions know (a pattern, a form, a timing …):
    # markup goes into every free-text key of the line.
    line = {k: markup(i) for i, k in enumerate(k for k in LINE_KEYS if k in ("details", "notes", "quantity"))}
    line.update({"medicine": "Sertraline " + SCRIPT, "strength": "50 mg " + BREAKOUT, "form": "tablet",
                 "dosage": "0-0-1", "when_to_take": "After Food", "frequency": "Once Daily", "duration": "1 Month"})
    _ok(c.put(f"/api/prescriptions/{w.rx_id}", headers=h,
              json={"prescription": [line], "advice": BREAKOUT, "override_reason": SCRIPT,
                    "follow_up_date": today_ist().isoformat()}), "prescription")
    _ok(c.post("/api/medicines", headers=h, json={"generic_name": "Med " + SCRIPT, "drug_class": BREAKOUT,
                                                   "brand_names": [SHORT], "strengths": [SCRIPT[:20]]}), "medicine")
    _ok(c.post("/api/clinical-options/mood", headers=h, json={"label": "Opt " + BREAKOUT}), "option")
    admin = w.bearer("admin")
    _ok(c.put(f"/api/users/{w.spare.id}", headers=admin, json={"name": "Dr " + SCRIPT, "designation": BREAKOUT}),
        "user")
    _ok(c.post(f"/api/patients/{w.patient_id}/files", headers=h, content_type="multipart/form-data",
               data={"files": (io.BytesIO(b"note\n"), "<img src=x onerror=alert(1)>.txt")}), "file")
    browser = w.browser("faculty")
    resp = browser.post("/drafts/save", data={"_draft_key": "proforma:new", "_draft_patient": str(w.patient_id),
                                              "gpe": SCRIPT, "diagnosis": BREAKOUT})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    resp = browser.post(f"/prescriptions/proforma/{w.proforma_id}/template",
                        data={"template_name": "T " + SCRIPT, "lines-0-medicine": "Fluoxetine " + BREAKOUT})
    assert resp.status_code == 302
    # the record room: a note on each move
    _ok(c.post(f"/api/outpatient-intake-records/{w.record_id}/archive", headers=h, json={"notes": BREAKOUT}),
        "file move")


def _page_urls(w):
    """Every GET page with the world's ids, the list pages with a search for the patient."""
    values = w.path_values()
    for rule in sorted(get_rules(w.app), key=lambda r: r.rule):
        if rule.endpoint.startswith("api.") or rule.endpoint == "static":
            continue
        url = url_for_rule(w.app, rule, values_for(w, rule.endpoint))
        yield rule.endpoint, url
        if rule.endpoint in ("patients.index", "patients.quick_search", "patients.export", "auth.users"):
            yield rule.endpoint, url + ("?q=Pt" if "users" not in url else "?q=Dr")


@pytest.fixture
def stored(hostile_world):
    store_everywhere(hostile_world)
    return hostile_world


def test_every_page_shows_stored_markup_escaped(stored):
    w = stored
    failures, seen_escaped = [], set()
    for endpoint, url in _page_urls(w):
        roles = {role_for(endpoint)}
        rule = PERMISSIONS.get(endpoint)
        if isinstance(rule, frozenset) and "Admin" in rule:
            roles.add("admin")  # Admins see more on some pages (e.g. the patient's audit trail)
        for role in roles:
            client = w.browser(role) if role else w.app.test_client()
            for headers in ({}, {"HX-Request": "true"}):
                resp = client.get(url, headers=headers)
                problems = body_problems(resp)
                if resp.mimetype == "text/html":
                    text = resp.get_data(as_text=True)
                    seen_escaped.update(e for e in ESCAPED if e in text)
                failures += [f"{url} as {role} {headers or ''}: {p}" for p in problems]
    assert not failures, "\n".join(failures[:40])
    assert seen_escaped == set(ESCAPED), "the stored markup was not shown anywhere: the check proved nothing"


def test_patient_pages_show_each_stored_field(stored):
    """The pages that show a stored field do show it (escaped), so the check above ran on them."""
    w = stored
    b = w.browser("faculty")
    expectations = {
        f"/patients/{w.patient_id}": "Pt &lt;script&gt;",
        f"/patients/{w.patient_id}/record": ESCAPED[1],
        f"/clinical/proformas/{w.proforma_id}": ESCAPED[0],
        f"/intake/{w.record_id}": ESCAPED[0],
        f"/prescriptions/{w.rx_id}": "Sertraline &lt;script&gt;",
        f"/prescriptions/patient/{w.patient_id}": "Sertraline &lt;script&gt;",
        f"/patients/{w.patient_id}/files": "&lt;img src=x onerror=alert(1)&gt;.txt",
        "/drafts/": "",
        f"/intake/{w.record_id}/movements": ESCAPED[1],
    }
    for url, needle in expectations.items():
        resp = b.get(url)
        assert resp.status_code == 200, url
        assert needle in resp.get_data(as_text=True), url
    admin = w.browser("admin")
    assert "Dr &lt;script&gt;" in admin.get("/admin/users").get_data(as_text=True)
    assert "Med &lt;script&gt;" in admin.get("/prescriptions/formulary").get_data(as_text=True)
    assert "Opt &#34;&gt;&lt;img" in admin.get("/clinical/options?group=mood").get_data(as_text=True) or \
        "Opt &quot;&gt;&lt;img" in admin.get("/clinical/options?group=mood").get_data(as_text=True)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_api_answers_are_json_never_html(stored):
    """Stored markup comes back from the API as JSON text, with a JSON content type."""
    w = stored
    c = w.app.test_client()
    for path in (f"/api/patients/{w.patient_id}", f"/api/clinical-proformas/{w.proforma_id}",
                 f"/api/outpatient-intake-records/{w.record_id}", f"/api/prescriptions/{w.rx_id}",
                 f"/api/patients/{w.patient_id}/profile", "/api/medicines?q=Med"):
        resp = c.get(path, headers=w.bearer("faculty"))
        assert resp.status_code == 200 and resp.mimetype == "application/json", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert any(SCRIPT in text or BREAKOUT in text for text in _strings(resp.get_json())), path


def test_prescription_pdf_prints_markup_as_text(stored):
    """The PDF's HTML is escaped and the printed text shows the markup literally."""
    w = stored
    from emrs.prescriptions import pdf
    from emrs.prescriptions.models import Prescription
    from emrs.auth.models import User
    from emrs.clinical.models import ClinicalProforma
    from emrs.patients.models import Patient
    row = db.session.get(Prescription, w.rx_id)
    with w.app.test_request_context():
        html = pdf.html(row, db.session.get(ClinicalProforma, row.clinical_proforma_id),
                        db.session.get(Patient, row.patient_id), db.session.get(User, row.created_by))
    assert unescaped_markup(html) == []
    assert "Sertraline &lt;script&gt;alert(1)&lt;/script&gt;" in html
    resp = w.browser("faculty").get(f"/prescriptions/{w.rx_id}/pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils (pdftotext) is needed to read the PDF's text"
    text = subprocess.run([pdftotext, "-", "-"], input=resp.data, capture_output=True, check=True).stdout.decode()
    flat = " ".join(text.split())
    assert "Sertraline <script>alert(1)</script>" in flat or "<script>alert(1)</script>" in flat
    assert "Pt <script>alert(1)</script>" in flat  # the patient's name in the header
