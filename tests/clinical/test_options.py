"""Clinical option groups: the seeded defaults, the service and the admin page."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from emrs.audit.models import AuditLog
from emrs.clinical import options as svc
from emrs.clinical.models import ClinicalOption
from emrs.errors import Conflict, Forbidden, NotFound, ValidationError
from emrs.extensions import db

DEFAULTS = json.loads((Path(__file__).resolve().parents[2] / "emrs" / "data" / "clinical_options.json")
                      .read_text(encoding="utf-8"))


def rows(group):
    return list(db.session.execute(select(ClinicalOption).where(ClinicalOption.option_group == group)
                                   .order_by(ClinicalOption.display_order)).scalars())


# ------------------------------------------------------------------ seeded defaults

def test_migration_seeded_every_group_as_system_options(app, ctx):
    assert len(DEFAULTS) == 20
    for group, labels in DEFAULTS.items():
        got = rows(group)
        assert [o.option_label for o in got] == labels, group
        assert all(o.is_system and o.is_active for o in got), group
        assert [o.display_order for o in got] == list(range(1, len(labels) + 1)), group
    assert [o.option_label for o in rows("nature_of_information")] == ["Reliable", "Unreliable", "Adequate",
                                                                       "Inadequate"]


def test_migration_copy_matches_the_data_file():
    import importlib.util
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0003_seed_clinical_options.py"
    spec = importlib.util.spec_from_file_location("m0003", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.DEFAULTS == DEFAULTS and mod.down_revision == "0002"


def test_groups_lists_all_known_groups(app, ctx):
    g = svc.groups()
    assert set(g) == set(DEFAULTS) | {"nature_of_information"}
    assert g["mood"] == DEFAULTS["mood"] and g["past_history"] == []


# ------------------------------------------------------------------ service

def test_add_trims_and_appends(app, ctx, users):
    row = svc.add("mood", "  Euphoric   mood ", users["faculty"])
    assert row.option_label == "Euphoric mood" and not row.is_system and row.is_active
    assert row.display_order == len(DEFAULTS["mood"]) + 1
    assert svc.groups()["mood"][-1] == "Euphoric mood"
    audit = db.session.execute(select(AuditLog).where(AuditLog.entity == "clinical_options",
                                                      AuditLog.entity_id == str(row.id))).scalars().one()
    assert audit.action == "clinical_option_add" and audit.user_id == users["faculty"].id
    assert audit.details["group"] == "mood"


@pytest.mark.parametrize("label", ["anxious", "ANXIOUS", " Anxious "])
def test_case_insensitive_duplicate_is_a_conflict(app, ctx, label):
    with pytest.raises(Conflict) as exc:
        svc.add("mood", label)
    assert exc.value.status == 409 and exc.value.message == "Option already exists"
    assert len(rows("mood")) == len(DEFAULTS["mood"])


def test_same_label_in_another_group_is_fine(app, ctx):
    assert svc.add("speech", "Anxious").option_group == "speech"


@pytest.mark.parametrize("label", ["", "   ", None, 5, "x" * 256, "bad\x00label", "tab\x1bseq"])
def test_label_validation(app, ctx, label):
    with pytest.raises(ValidationError):
        svc.add("mood", label)


def test_unknown_group(app, ctx):
    assert svc.options("nope") == [] and not svc.is_known("nope")
    with pytest.raises(ValidationError) as exc:
        svc.add("nope", "X")
    assert exc.value.message == "Unknown option group"


def test_retire_restore_and_readd(app, ctx, users):
    sys_row = svc.retire("mood", "sad", users["admin"])  # a system option may be hidden
    assert sys_row.is_system and not sys_row.is_active
    assert "Sad" not in svc.groups()["mood"] and sys_row in svc.options("mood", include_inactive=True)
    svc.restore("mood", sys_row.id, users["admin"])
    assert "Sad" in svc.groups()["mood"]
    user_row = svc.add("mood", "Tearful")
    svc.retire("mood", user_row.id)
    again = svc.add("mood", "tearful")  # adding a retired label brings it back
    assert again.id == user_row.id and again.is_active
    actions = db.session.execute(select(AuditLog.action).where(AuditLog.entity == "clinical_options")).scalars().all()
    assert {"clinical_option_retire", "clinical_option_restore", "clinical_option_add"} <= set(actions)


def test_delete_user_option_but_never_a_system_one(app, ctx):
    with pytest.raises(Forbidden) as exc:
        svc.delete("mood", "Anxious")
    assert exc.value.status == 403 and exc.value.message == "System options cannot be deleted"
    row = svc.add("mood", "Tearful")
    svc.delete("mood", row.id)
    assert db.session.get(ClinicalOption, row.id) is None
    with pytest.raises(NotFound):
        svc.delete("mood", "Tearful")
    with pytest.raises(NotFound):  # an id from another group
        svc.retire("speech", rows("mood")[0].id)


def test_move_up_and_down(app, ctx):
    first, second = rows("mood")[:2]
    svc.move("mood", second.id, "up")
    assert svc.groups()["mood"][:2] == [second.option_label, first.option_label]
    svc.move("mood", second.id, "down")
    assert svc.groups()["mood"][:2] == [first.option_label, second.option_label]
    svc.move("mood", first.id, "up")  # already first: unchanged
    assert svc.groups()["mood"][0] == first.option_label
    last = rows("mood")[-1]
    svc.move("mood", last.id, "down")
    assert svc.groups()["mood"][-1] == last.option_label
    with pytest.raises(ValidationError):
        svc.move("mood", first.id, "sideways")


def test_move_works_when_orders_tie(app, ctx):
    a = svc.add("past_history", "Alpha")
    b = svc.add("past_history", "Beta")
    a.display_order = b.display_order = 5
    db.session.commit()
    svc.move("past_history", b.id, "up")
    assert svc.groups()["past_history"] == ["Beta", "Alpha"]


# ------------------------------------------------------------------ admin page

@pytest.mark.parametrize("key,status", [("admin", 200), ("faculty", 200), ("resident", 403), ("pwo", 403)])
def test_page_roles(role_client, key, status):
    assert role_client(key).get("/clinical/options").status_code == status


def test_page_lists_group_with_badges(role_client):
    html = role_client("admin").get("/clinical/options?group=mse_affect").get_data(as_text=True)
    assert "MSE – Affect &amp; mood" in html and "Labile" in html and "badge-system" in html
    assert '<option value="mse_affect" selected>' in html
    html = role_client("admin").get("/clinical/options?group=bogus").get_data(as_text=True)
    assert '<option value="mood" selected>' in html


def test_page_plain_form_add_duplicate_move_retire_restore(role_client):
    c = role_client("faculty")
    resp = c.post("/clinical/options/mood/add", data={"label": "Euthymic"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/clinical/options?group=mood")
    assert "Added “Euthymic”" in c.get("/clinical/options?group=mood").get_data(as_text=True)
    c.post("/clinical/options/mood/add", data={"label": "euthymic"})
    assert "Option already exists" in c.get("/clinical/options?group=mood").get_data(as_text=True)
    row = next(o for o in rows("mood") if o.option_label == "Euthymic")
    c.post(f"/clinical/options/mood/{row.id}/move", data={"direction": "up"})
    assert svc.groups()["mood"][-2:] == ["Euthymic", "Irritable"]
    c.post(f"/clinical/options/mood/{row.id}/retire")
    assert "Euthymic" not in svc.groups()["mood"]
    c.post(f"/clinical/options/mood/{row.id}/restore")
    assert "Euthymic" in svc.groups()["mood"]


def test_page_htmx_returns_the_list_fragment(role_client):
    """htmx swaps only 2xx answers, so refusals come back 200 with the message in the list."""
    c = role_client("admin")
    hx = {"HX-Request": "true"}
    resp = c.post("/clinical/options/speech/add", data={"label": "Slurred"}, headers=hx)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.lstrip().startswith("{#") is False
    assert 'id="options-panel"' in html and "Slurred" in html and "<html" not in html
    resp = c.post("/clinical/options/speech/add", data={"label": "SLURRED"}, headers=hx)
    assert resp.status_code == 200 and "Option already exists" in resp.get_data(as_text=True)
    resp = c.post("/clinical/options/speech/add", data={"label": "  "}, headers=hx)
    assert resp.status_code == 200 and "Label is required" in resp.get_data(as_text=True)
    resp = c.post("/clinical/options/nope/add", data={"label": "X"}, headers=hx)
    assert resp.status_code == 200 and "Unknown option group" in resp.get_data(as_text=True)
    resp = c.get("/clinical/options?group=fits", headers={**hx, "HX-Target": "options-panel"})
    assert "Epileptic" in resp.get_data(as_text=True) and "<html" not in resp.get_data(as_text=True)
    resp = c.post("/clinical/options/speech/999999/retire", headers=hx)
    assert resp.status_code == 200 and "Option not found" in resp.get_data(as_text=True)


def test_page_posts_are_role_checked(role_client):
    c = role_client("resident")
    assert c.post("/clinical/options/mood/add", data={"label": "Nope"}).status_code == 403
    assert "Nope" not in svc.groups()["mood"]


@pytest.mark.no_rollback
def test_seed_migration_is_idempotent_and_downgrades_cleanly():
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from emrs import create_app

    from ..conftest import make_config
    from ..dbutil import drop_database

    app = create_app(make_config("optmig"))
    try:
        with app.app_context():
            upgrade(revision="0002")
            # A label already present (any case) is not seeded again.
            db.session.execute(text("INSERT INTO clinical_options (option_group, option_label, display_order, "
                                    "is_active, is_system) VALUES ('mood', 'anxious', 1, true, false)"))
            db.session.commit()
            upgrade()
            mood = [(o.option_label, o.is_system) for o in rows("mood")]
            assert ("anxious", False) in mood and ("Anxious", True) not in mood and len(mood) == 6
            svc.add("mood", "Tearful")
            downgrade(revision="0002")
            left = db.session.execute(text("SELECT option_label FROM clinical_options ORDER BY id")).scalars().all()
            assert left == ["anxious", "Tearful"]
            upgrade()
            assert len(rows("behaviour")) == len(DEFAULTS["behaviour"])
            # Existing options keep their places; the re-seeded ones follow them.
            assert svc.groups()["mood"] == ["anxious", "Tearful"] + DEFAULTS["mood"][1:]
            db.session.remove()
            db.engine.dispose()
    finally:
        drop_database("optmig")
