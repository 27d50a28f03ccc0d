"""Who may amend or withdraw a follow-up note, on every write door (API PUT/DELETE, the amend
and withdraw pages): the proforma's seniority rule (auth/records.py). After a refusal the note
is unchanged."""
from __future__ import annotations

import datetime as dt

import pytest

from emrs.auth.models import RESIDENT
from emrs.extensions import db
from emrs.followups.models import FollowUp
from emrs.timeutil import today_ist

from ..conftest import browser_login
from ..factories import create_proforma, register_patient

NOTE = "Stable on treatment."
DOORS = ("PUT (API)", "DELETE (API)", "amend (page)", "withdraw (page)")
# (actor, author) -> may amend, may withdraw
CASES = {
    ("resident", "faculty"): (False, False),
    ("other_resident", "resident"): (False, False),
    ("admin", "resident"): (False, True),
    ("faculty", "resident"): (True, True),
    ("resident", "resident"): (True, True),
    ("faculty", "other_faculty"): (False, False),
}


@pytest.fixture
def world(client, users, bearer, make_user, role_client, outbox):
    from emrs.auth.models import FACULTY
    extra = {"other_resident": make_user(RESIDENT), "other_faculty": make_user(FACULTY)}
    who = {**users, **extra}
    h = {k: bearer(u) for k, u in who.items()}
    p = register_patient(client, h["pwo"])
    create_proforma(client, h["resident"], p["id"], visit_date=(today_ist() - dt.timedelta(days=7)).isoformat())
    notes = {}
    for author in ("resident", "faculty", "other_faculty"):
        notes[author] = client.post("/api/follow-ups", json={"patient_id": p["id"], "clinical_assessment": NOTE},
                                    headers=h[author]).get_json()["data"]["followup"]["id"]
    pages = {k: role_client(k) for k in users}
    pages["other_resident"] = client.application.test_client()
    browser_login(pages["other_resident"], outbox, extra["other_resident"])
    return {"h": h, "pages": pages, "notes": notes, "users": who}


def _send(client, w, actor, door, fid):
    if door == "PUT (API)":
        return client.put(f"/api/follow-ups/{fid}", json={"clinical_assessment": "Rewritten",
                                                          "amend_reason": "Reviewed at the round"}, headers=w["h"][actor])
    if door == "DELETE (API)":
        return client.delete(f"/api/follow-ups/{fid}", json={"reason": "Wrong patient"}, headers=w["h"][actor])
    page = w["pages"][actor]
    if door == "amend (page)":
        return page.post(f"/follow-ups/{fid}/amend", data={"clinical_assessment": "Rewritten", "version": "1",
                                                           "amend_reason": "Reviewed at the round"})
    return page.post(f"/follow-ups/{fid}/withdraw", data={"reason": "Wrong patient"})


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("pair", list(CASES))
def test_follow_up_record_rules(client, world, pair, door):
    actor, author = pair
    fid = world["notes"][author]
    may_amend, may_withdraw = CASES[pair]
    allowed = may_amend if door in ("PUT (API)", "amend (page)") else may_withdraw
    resp = _send(client, world, actor, door, fid)
    db.session.expire_all()
    row = db.session.get(FollowUp, fid)
    if allowed:
        assert resp.status_code in (200, 302), resp.get_data(as_text=True)[:300]
        if "withdraw" in door or "DELETE" in door:
            assert not row.is_active and row.withdrawn_by == world["users"][actor].id
        else:
            assert row.clinical_assessment == "Rewritten" and row.amended_by == world["users"][actor].id
        return
    if door.endswith("(API)"):
        assert resp.status_code == 403
        assert resp.get_json()["message"].startswith("You cannot ")
    else:
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/follow-ups/{fid}")
    assert row.is_active and row.version == 1 and row.clinical_assessment == NOTE
