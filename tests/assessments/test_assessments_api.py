"""/api/instruments and /api/patients/:id/assessments: scoring stored with the answers, bad
answers refused with one error per problem and nothing stored, who may do what (a welfare
officer enters self-report scales only and reads no scores), risk flags that stay open until a
clinician acknowledges them, confirmation of self-reports, withdrawal, trends, and the audit."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from emrs.assessments.models import Assessment
from emrs.audit.models import AuditLog
from emrs.extensions import db
from emrs.timeutil import today_ist

from ..factories import create_proforma, register_patient

PHQ9_MODERATE = {"q1": 2, "q2": 2, "q3": 1, "q4": 2, "q5": 1, "q6": 1, "q7": 1, "q8": 1, "q9": 0}  # 11


def phq9(**over):
    return {**PHQ9_MODERATE, **{k: v for k, v in over.items()}}


def _post(client, headers, patient_id, body):
    return client.post(f"/api/patients/{patient_id}/assessments", json=body, headers=headers)


def _count():
    return db.session.execute(select(func.count(Assessment.id))).scalar_one()


def test_instruments_lists_every_shipped_scale_with_items_and_bands(client, h):
    data = client.get("/api/instruments", headers=h["resident"]).get_json()["data"]
    codes = {i["code"] for i in data["instruments"]}
    assert {"phq9", "gad7", "audit", "cgi_s", "cgi_i", "hamd17", "ymrs", "bprs18", "phqa"} <= codes
    phq = next(i for i in data["instruments"] if i["code"] == "phq9")
    assert phq["short_name"] == "PHQ-9" and phq["total"]["max"] == 27
    assert next(i for i in phq["items"] if i["id"] == "q9")["risk"]["min"] == 1
    assert [o["value"] for o in phq["items"][0]["options"]] == [0, 1, 2, 3]
    assert any(b["label"] for b in phq["bands"])


def test_welfare_officer_is_offered_self_report_scales_only(client, h):
    data = client.get("/api/instruments", headers=h["pwo"]).get_json()["data"]
    codes = {i["code"] for i in data["instruments"]}
    assert "phq9" in codes and "gad7" in codes
    assert "hamd17" not in codes and "bprs18" not in codes and "cgi_s" not in codes


def test_create_scores_stores_and_answers_the_assessment(client, h, users):
    p = register_patient(client, h["pwo"])
    resp = _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": phq9()})
    assert resp.status_code == 201, resp.get_json()
    a = resp.get_json()["data"]["assessment"]
    assert a["total"] == 11 and a["severity"] == "Moderate" and a["flags"] == []
    assert a["instrument_name"] == "PHQ-9" and a["total_max"] == 27
    assert a["confirmed"] is True and a["source"] == "clinician" and a["risk_status"] == "none"
    assert a["assessed_on"] == today_ist().isoformat() and a["entered_by"] == users["resident"].id
    got = client.get(f"/api/assessments/{a['id']}", headers=h["faculty"]).get_json()["data"]["assessment"]
    assert got["answers"] == phq9() and got["total"] == 11


def test_string_values_are_accepted_as_numbers(client, h):
    p = register_patient(client, h["pwo"])
    resp = _post(client, h["resident"], p["id"], {"instrument": "phq9",
                                                  "answers": {k: str(v) for k, v in phq9().items()}})
    assert resp.status_code == 201 and resp.get_json()["data"]["assessment"]["total"] == 11


def test_bad_answers_are_refused_one_error_each_and_nothing_stored(client, h):
    p = register_patient(client, h["pwo"])
    before = _count()
    answers = phq9(q3=5, q4=True)
    del answers["q9"]
    answers["q42"] = 1
    resp = _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": answers})
    assert resp.status_code in (400, 422)
    fields = {e["path"] for e in resp.get_json()["errors"]}
    assert {"answers.q3", "answers.q4", "answers.q42"} <= fields
    assert any("q9" in e["path"] or "q9" in e["msg"] for e in resp.get_json()["errors"])
    assert _count() == before


def test_unknown_instrument_missing_answers_and_unknown_patient(client, h):
    p = register_patient(client, h["pwo"])
    resp = _post(client, h["resident"], p["id"], {"instrument": "beck", "answers": {}})
    assert resp.status_code in (400, 422) and "phq9" in resp.get_json()["errors"][0]["msg"]
    resp = _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": [1, 2]})
    assert resp.status_code in (400, 422) and resp.get_json()["errors"][0]["path"] == "answers"
    assert _post(client, h["resident"], 999_999, {"instrument": "phq9", "answers": phq9()}).status_code == 404
    resp = _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": phq9(),
                                                  "assessed_on": (today_ist() + dt.timedelta(days=1)).isoformat()})
    assert resp.status_code in (400, 422) and resp.get_json()["errors"][0]["path"] == "assessed_on"


def test_visit_of_another_patient_is_refused(client, h):
    p1, p2 = register_patient(client, h["pwo"]), register_patient(client, h["pwo"])
    pf = create_proforma(client, h["resident"], p2["id"])
    resp = _post(client, h["resident"], p1["id"], {"instrument": "phq9", "answers": phq9(), "proforma_id": pf["id"]})
    assert resp.status_code in (400, 422) and resp.get_json()["errors"][0]["path"] == "proforma_id"
    resp = _post(client, h["resident"], p2["id"], {"instrument": "phq9", "answers": phq9(), "proforma_id": pf["id"]})
    assert resp.status_code == 201 and resp.get_json()["data"]["assessment"]["proforma_id"] == pf["id"]


def test_welfare_officer_enters_self_report_for_confirmation_and_reads_no_scores(client, h, users):
    p = register_patient(client, h["pwo"])
    resp = _post(client, h["pwo"], p["id"], {"instrument": "hamd17", "answers": {}})
    assert resp.status_code == 403 and "clinician" in resp.get_json()["message"]
    resp = _post(client, h["pwo"], p["id"], {"instrument": "gad7", "answers": {f"q{i}": 1 for i in range(1, 8)}})
    assert resp.status_code == 201, resp.get_json()
    a = resp.get_json()["data"]["assessment"]
    assert a["source"] == "staff" and a["confirmed"] is False
    assert client.get(f"/api/assessments/{a['id']}", headers=h["pwo"]).status_code == 403
    assert client.get(f"/api/patients/{p['id']}/assessments", headers=h["pwo"]).status_code == 403
    # a clinician confirms it; confirming twice is refused
    resp = client.post(f"/api/assessments/{a['id']}/confirm", headers=h["resident"])
    assert resp.status_code == 200 and resp.get_json()["data"]["assessment"]["confirmed_by"] == users["resident"].id
    assert client.post(f"/api/assessments/{a['id']}/confirm", headers=h["resident"]).status_code in (400, 422)


def test_risk_item_stays_open_until_a_clinician_acknowledges_with_the_action(client, h, users):
    p = register_patient(client, h["pwo"])
    a = _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": phq9(q9=1)}).get_json()["data"][
        "assessment"]
    assert a["risk_status"] == "open" and [f["item"] for f in a["flags"]] == ["q9"]
    resp = client.post(f"/api/assessments/{a['id']}/acknowledge", json={"action": "  "}, headers=h["resident"])
    assert resp.status_code in (400, 422) and resp.get_json()["errors"][0]["path"] == "action"
    assert client.post(f"/api/assessments/{a['id']}/acknowledge", json={"action": "x"},
                       headers=h["pwo"]).status_code == 403
    resp = client.post(f"/api/assessments/{a['id']}/acknowledge", json={"action": "Safety plan made with family"},
                       headers=h["faculty"])
    got = resp.get_json()["data"]["assessment"]
    assert resp.status_code == 200 and got["risk_status"] == "acknowledged"
    assert got["risk_ack_by"] == users["faculty"].id and got["risk_action"] == "Safety plan made with family"
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "assessment_risk_acknowledge",
                                                      AuditLog.entity_id == str(a["id"]))).all()
    assert len(audit) == 1 and "Safety" not in str(audit[0].details)  # the action's text is not in the log
    again = client.post(f"/api/assessments/{a['id']}/acknowledge", json={"action": "again"}, headers=h["faculty"])
    assert again.status_code in (400, 422)


def test_list_with_trends_and_instrument_filter(client, h):
    p = register_patient(client, h["pwo"])
    for day, answers in ((40, phq9(q1=3, q2=3, q3=3, q4=3)), (20, phq9()), (0, phq9(q1=0, q2=0, q3=0, q4=0))):
        on = (today_ist() - dt.timedelta(days=day)).isoformat()
        assert _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": answers,
                                                      "assessed_on": on}).status_code == 201
    _post(client, h["resident"], p["id"], {"instrument": "gad7", "answers": {f"q{i}": 0 for i in range(1, 8)}})
    data = client.get(f"/api/patients/{p['id']}/assessments", headers=h["resident"]).get_json()["data"]
    # oldest first; the same day's in the order they were written
    assert [(a["instrument"], a["total"]) for a in data["assessments"]] == [
        ("phq9", 16), ("phq9", 11), ("phq9", 4), ("gad7", 0)]
    trend = next(t for t in data["trends"] if t["instrument"] == "phq9")
    assert (trend["first_total"], trend["latest_total"], trend["count"]) == (16, 4, 3)
    assert trend["change"] == -12 and trend["percent"] == -75 and trend["response"] is True
    assert "Down 12 points" in trend["text"]
    only = client.get(f"/api/patients/{p['id']}/assessments?instrument=gad7", headers=h["resident"]).get_json()["data"]
    assert {a["instrument"] for a in only["assessments"]} == {"gad7"}
    bad = client.get(f"/api/patients/{p['id']}/assessments?instrument=nope", headers=h["resident"])
    assert bad.status_code in (400, 422)


def test_withdraw_needs_a_reason_and_follows_seniority(client, h):
    p = register_patient(client, h["pwo"])
    a = _post(client, h["faculty"], p["id"], {"instrument": "phq9", "answers": phq9()}).get_json()["data"]["assessment"]
    assert client.delete(f"/api/assessments/{a['id']}", json={"reason": "wrong patient"},
                         headers=h["resident"]).status_code == 403
    resp = client.delete(f"/api/assessments/{a['id']}", json={}, headers=h["faculty"])
    assert resp.status_code in (400, 422)
    resp = client.delete(f"/api/assessments/{a['id']}", json={"reason": "entered for the wrong patient"},
                         headers=h["faculty"])
    assert resp.status_code == 200 and resp.get_json()["data"]["assessment"]["is_active"] is False
    assert client.get(f"/api/assessments/{a['id']}", headers=h["faculty"]).status_code == 404
    data = client.get(f"/api/patients/{p['id']}/assessments", headers=h["faculty"]).get_json()["data"]
    assert data["assessments"] == []


def test_live_score_endpoint_scores_partial_answers_without_storing(client, h):
    before = _count()
    resp = client.post("/api/instruments/phq9/score", json={"answers": {"q1": 3, "q9": 2}}, headers=h["resident"])
    score = resp.get_json()["data"]["score"]
    assert resp.status_code == 200 and score["total"] is None and score["complete"] is False
    assert len(score["missing"]) == 7 and [f["item"] for f in score["flags"]] == ["q9"]
    full = client.post("/api/instruments/phq9/score", json={"answers": phq9()}, headers=h["resident"])
    assert full.get_json()["data"]["score"]["total"] == 11
    assert _count() == before


def test_every_write_and_read_is_audited_without_answers(client, h):
    p = register_patient(client, h["pwo"])
    a = _post(client, h["resident"], p["id"], {"instrument": "phq9", "answers": phq9()}).get_json()["data"]["assessment"]
    client.get(f"/api/assessments/{a['id']}", headers=h["resident"])
    client.get(f"/api/patients/{p['id']}/assessments", headers=h["resident"])
    actions = [r.action for r in db.session.scalars(select(AuditLog).where(AuditLog.patient_id == p["id"]))]
    assert {"assessment_create", "assessment_read", "assessment_list"} <= set(actions)
    create = db.session.scalars(select(AuditLog).where(AuditLog.action == "assessment_create",
                                                       AuditLog.entity_id == str(a["id"]))).one()
    assert create.details["total"] == 11 and "answers" not in create.details


# ------------------------------------------------------------------ Today's list: open risk items

def _queued(client, h, name, room_number):
    from ..opd.helpers import room  # noqa: F401  (rooms are made by the caller)
    from ..factories import patient_row
    p = patient_row(name)
    resp = client.post("/api/patients", json={"patient_id": p.id, "assigned_room": room_number}, headers=h["pwo"])
    assert resp.status_code == 201, resp.get_json()
    return p


def _day_rows(client, headers):
    resp = client.get(f"/api/patients?date={today_ist().isoformat()}&scope=all", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return {r["name"]: r for r in resp.get_json()["data"]["patients"]}


def test_todays_list_counts_open_risk_items_in_one_query(app, client, h, users):
    from sqlalchemy import event

    from ..opd.helpers import room, seat
    seat(users["faculty"], room("41"))
    calm, risky = _queued(client, h, "Sukhwinder Calm", "41"), _queued(client, h, "Rajinder Risky", "41")
    assert _post(client, h["faculty"], calm.id, {"instrument": "phq9", "answers": phq9()}).status_code == 201
    first = _post(client, h["faculty"], risky.id, {"instrument": "phq9", "answers": phq9(q9=1)}).get_json()
    _post(client, h["faculty"], risky.id, {"instrument": "phq9", "answers": phq9(q9=2)})

    rows = _day_rows(client, h["faculty"])
    assert rows["Sukhwinder Calm"]["open_risk_items"] == 0 and rows["Rajinder Risky"]["open_risk_items"] == 2
    # A welfare officer reads no scores: the field is there, null.
    pwo_rows = _day_rows(client, h["pwo"])
    assert {r["open_risk_items"] for r in pwo_rows.values()} == {None}
    # Acknowledging one leaves one.
    aid = first["data"]["assessment"]["id"]
    assert client.post(f"/api/assessments/{aid}/acknowledge", json={"action": "Safety plan made"},
                       headers=h["faculty"]).status_code == 200
    assert _day_rows(client, h["faculty"])["Rajinder Risky"]["open_risk_items"] == 1

    # The count is a column of the list's own query: more patients, no more statements.
    def statements():
        sent = []

        def note(conn, cursor, statement, *args):
            if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                sent.append(statement)
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            _day_rows(client, h["faculty"])
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        return len(sent)
    before = statements()
    for i in range(3):
        p = _queued(client, h, f"Extra Patient {i}", "41")
        _post(client, h["faculty"], p.id, {"instrument": "phq9", "answers": phq9(q9=1)})
    assert len(_day_rows(client, h["faculty"])) == 5
    assert statements() == before


def test_open_risk_items_is_in_the_openapi_queue_row(client):
    doc = client.get("/api/openapi.json").get_json()
    prop = doc["components"]["schemas"]["QueueRow"]["properties"]["open_risk_items"]
    assert prop["type"] == ["integer", "null"] and "acknowledged" in prop["description"]
