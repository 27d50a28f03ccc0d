"""The rating-scale figures of clinicians' dashboards (page and GET /api/dashboard): patients
scored this month, improved (a response on a scale where higher is worse), open risk items —
each linked to the list of the patients it counts; never on a welfare officer's dashboard."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from emrs.extensions import db
from emrs.timeutil import today_ist

from ..factories import patient_row

PHQ_18 = {f"q{i}": 2 for i in range(1, 10)}                  # 18, item 9 positive
PHQ_18_SAFE = {**{f"q{i}": 2 for i in range(1, 9)}, "q9": 0}  # 16, item 9 not positive
PHQ_8 = {**{f"q{i}": 1 for i in range(1, 9)}, "q9": 0}            # 8
PHQ_14 = {**{f"q{i}": 1 for i in range(1, 9)}, "q1": 3, "q2": 3, "q3": 3, "q9": 0}  # 14


def _score(client, headers, pid, answers, on=None, code="phq9") -> dict:
    body = {"instrument": code, "answers": answers}
    if on is not None:
        body["assessed_on"] = on.isoformat()
    resp = client.post(f"/api/patients/{pid}/assessments", headers=headers, json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["assessment"]


@pytest.fixture
def scored(client, h, users):
    today = today_ist()
    last_month = today.replace(day=1) - dt.timedelta(days=5)
    res = h["resident"]
    better = patient_row("Better Patient", assigned_doctor_id=users["resident"].id)
    _score(client, res, better.id, PHQ_18_SAFE, last_month)            # 16 ...
    _score(client, res, better.id, PHQ_8, today)                       # ... 8: −50 %, a response
    same = patient_row("Slower Patient")
    _score(client, res, same.id, PHQ_18_SAFE, last_month)              # 16 ...
    _score(client, res, same.id, PHQ_14, today)                        # ... 14: not a response
    risky = patient_row("Risk Patient")
    _score(client, res, risky.id, PHQ_18, last_month)                  # item 9 open, not this month
    acked = patient_row("Acknowledged Patient")
    done = _score(client, res, acked.id, PHQ_18, last_month)
    assert client.post(f"/api/assessments/{done['id']}/acknowledge", headers=h["faculty"],
                       json={"action": "Seen by the consultant"}).status_code == 200
    withdrawn = patient_row("Withdrawn Patient")
    row = _score(client, res, withdrawn.id, PHQ_18, today)             # withdrawn: counts nowhere
    assert client.delete(f"/api/assessments/{row['id']}", headers=res,
                         json={"reason": "Entered for the wrong patient"}).status_code == 200
    archived = patient_row("Archived Patient")
    _score(client, res, archived.id, PHQ_18, today)
    _score(client, res, archived.id, PHQ_8, today)
    archived.is_active = False
    db.session.commit()
    return {"better": better.id, "same": same.id, "risky": risky.id}


def _cards(client, h, role, query=""):
    resp = client.get(f"/api/dashboard{query}", headers=h[role])
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]["cards"]


def test_figures_for_clinicians(client, h, scored):
    for role in ("admin", "faculty"):
        cards = _cards(client, h, role)
        assert (cards["scored_month"], cards["improved"], cards["open_risk"]) == (2, 1, 1), role
    assert "total_patients" in _cards(client, h, "admin")  # the existing shape stays


def test_junior_residents_figures_count_their_own_patients(client, h, scored):
    cards = _cards(client, h, "resident")  # assigned the better patient only
    assert (cards["scored_month"], cards["improved"], cards["open_risk"]) == (1, 1, 0)


def test_dashboard_filters_apply(client, h, scored):
    future = (today_ist() + dt.timedelta(days=400)).isoformat()
    cards = _cards(client, h, "faculty", f"?start_date={future}")
    assert (cards["scored_month"], cards["improved"], cards["open_risk"]) == (0, 0, 0)


def test_no_scores_on_a_welfare_officers_dashboard(client, h, role_client, scored):
    cards = _cards(client, h, "pwo")
    assert not {"scored_month", "improved", "open_risk"} & set(cards)
    page = role_client("pwo")
    html = page.get("/").get_data(as_text=True)
    assert "Patients scored this month" not in html and "Risk items open" not in html
    assert page.get("/rating-scales/patients?figure=open_risk").status_code == 403


def test_each_figure_links_to_the_patients_it_counts(role_client, scored):
    page = role_client("faculty")
    html = page.get("/").get_data(as_text=True)
    expected = {"scored_month": ({"Better Patient", "Slower Patient"}, "Patients scored this month"),
                "improved": ({"Better Patient"}, "Improved"), "open_risk": ({"Risk Patient"}, "Risk items open")}
    others = {"Better Patient", "Slower Patient", "Risk Patient", "Acknowledged Patient", "Withdrawn Patient",
              "Archived Patient"}
    for key, (names, title) in expected.items():
        m = re.search(rf'data-card="{key}"><a href="([^"]+)">(\d+)<', html)
        assert m and int(m.group(2)) == len(names), key
        listed = page.get(m.group(1).replace("&amp;", "&"))
        assert listed.status_code == 200
        text = listed.get_data(as_text=True)
        assert f"<h1>{title}</h1>" in text
        assert {n for n in others if n in text} == names, key
    text = page.get("/rating-scales/patients?figure=improved").get_data(as_text=True)
    assert "PHQ-9 16 → 8" in text


def test_an_unknown_figure_is_a_clear_400(role_client):
    resp = role_client("faculty").get("/rating-scales/patients?figure=<script>")
    assert resp.status_code == 400 and "figure must be one of" in resp.get_data(as_text=True)
    assert "<script>" not in resp.get_data(as_text=True)
