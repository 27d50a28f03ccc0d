"""The medicine formulary: the seed migration, the loader, search, class look-up, the
admin page and the picker fragment."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from emrs.audit.models import AuditLog
from emrs.errors import Conflict, NotFound, ValidationError
from emrs.extensions import db
from emrs.prescriptions import formulary as svc
from emrs.prescriptions.models import Medicine

ROOT = Path(__file__).resolve().parents[2]
MEDS_INDIA = json.loads((ROOT / "emrs" / "data" / "psychiatric_meds_india.json").read_text(encoding="utf-8"))
MEDICINES = json.loads((ROOT / "emrs" / "data" / "medicines.json").read_text(encoding="utf-8"))


def _india_names(node) -> list[str]:
    if isinstance(node, dict):
        return [n for v in node.values() for n in _india_names(v)]
    return [item["name"] for item in node]


INDIA_NAMES = _india_names(MEDS_INDIA["psychiatric_medications"])
PLAIN_NAMES = [n for names in MEDICINES.values() for n in names]
# 73 + 68 generics; 43 appear in both files (same spelling, ignoring case) -> 98 distinct.
EXPECTED = 98
# Migration 0014 merges 6 duplicate names into the entries they mean (Lithium -> Lithium Carbonate,
# Benzhexol -> Trihexyphenidyl, four valproates -> Sodium Valproate).
MERGED = {"lithium", "benzhexol", "valproate/divalproex", "valproate", "divalproex", "valproic acid"}


def migration(name="0005_seed_formulary"):
    path = ROOT / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"m{name[:4]}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------ data and loader

def test_the_data_files_have_the_documented_sizes():
    assert len(INDIA_NAMES) == 73 and len(PLAIN_NAMES) == 68
    distinct = {n.lower() for n in INDIA_NAMES} | {n.lower() for n in PLAIN_NAMES}
    assert len(distinct) == EXPECTED


def test_loader_flattens_both_nestings_and_merges_ignoring_case():
    flat = svc.load_from_data(MEDS_INDIA, MEDICINES)
    assert len(flat) == EXPECTED
    by = {e["generic_name"]: e for e in flat}
    assert set(by) == set(INDIA_NAMES) | set(PLAIN_NAMES)
    esc = by["Escitalopram"]  # nested object of subclasses, also in the plain list
    assert esc == {"generic_name": "Escitalopram", "drug_class": "antidepressants / ssri",
                   "brand_names": ["Nexito", "Feliz-S", "Stalopam"], "strengths": ["5mg", "10mg", "20mg"]}
    assert by["Lithium Carbonate"]["drug_class"] == "mood stabilizers"  # flat array
    assert by["Lithium Carbonate"]["brand_names"] == ["Lithosun", "Licab"]
    assert by["Lithium"] == {"generic_name": "Lithium", "drug_class": "mood stabilizers", "brand_names": [],
                             "strengths": []}  # different name: kept separate
    assert by["Zolpidem"]["drug_class"] == "hypnotics"
    assert by["Buspirone"]["drug_class"] == "anxiolytics / non benzodiazepines"
    assert by["Midazolam"]["drug_class"] == "benzodiazepines"  # plain list only
    assert by["Alprazolam"]["drug_class"] == "anxiolytics / benzodiazepines"  # the Indian file's class wins
    assert by["Olanzapine + Fluoxetine"]["strengths"] == ["6mg+25mg", "12mg+50mg"]
    assert by["Methadone"]["brand_names"] == []  # a brand spelled as its generic is dropped
    assert by["Amisulpride"]["brand_names"] == ["Solian"]
    assert not any("notes" in (e["drug_class"] or "") or e["generic_name"] in MEDS_INDIA["notes"].values()
                   for e in flat)


def test_loader_merges_case_variants_and_unions_brands():
    flat = svc.load_from_data(
        {"psychiatric_medications": {"x": {"y": [{"name": "Fooxetine", "brands": ["A"], "strengths": ["1mg"]}]}},
         "notes": {"a": "b"}},
        {"other": ["FOOXETINE", "Bar"], "more": [{"name": "fooxetine ", "brands": ["a", "B"], "strengths": ["2mg"]}]})
    assert flat == [
        {"generic_name": "Fooxetine", "drug_class": "x / y", "brand_names": ["A", "B"], "strengths": ["1mg", "2mg"]},
        {"generic_name": "Bar", "drug_class": "other", "brand_names": [], "strengths": []},
    ]


def test_migration_copy_matches_the_data_files_and_the_loader():
    mod = migration()
    assert mod.MEDS_INDIA == MEDS_INDIA and mod.MEDICINES == MEDICINES
    assert mod.down_revision == "0004" and mod.revision == "0005"
    assert mod.flatten() == svc.load_from_data(MEDS_INDIA, MEDICINES)


# ------------------------------------------------------------------ seeded rows

def test_migration_seeded_every_generic_active(app, ctx):
    rows = list(db.session.execute(select(Medicine)).scalars())
    assert len(rows) == EXPECTED - len(MERGED)
    assert all(m.is_active for m in rows)
    names = {m.generic_name.lower() for m in rows}
    assert names == {n.lower() for n in INDIA_NAMES + PLAIN_NAMES} - MERGED
    esc = svc.by_generic("escitalopram")
    assert "Nexito" in esc.brand_names and esc.strengths == ["5mg", "10mg", "20mg"]
    assert esc.drug_class == "antidepressants / ssri" and esc.forms == ["tablet"]


def test_migration_is_idempotent_and_downgrade_removes_the_seeded_rows(app, ctx):
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    mod = migration()
    merge = migration("0014_formulary_forms_aliases")
    conn = db.session.connection()
    extra = Medicine(generic_name="Not In The Data", drug_class="x")
    db.session.add(extra)
    db.session.flush()
    with Operations.context(MigrationContext.configure(conn)):
        merge.downgrade()  # the merged names come back as rows of their own
        assert db.session.execute(select(func.count()).select_from(Medicine)).scalar() == EXPECTED + 1
        mod.upgrade()  # again: nothing added
        assert db.session.execute(select(func.count()).select_from(Medicine)).scalar() == EXPECTED + 1
        mod.downgrade()
        left = list(db.session.execute(select(Medicine.generic_name)).scalars())
        assert left == ["Not In The Data"]
        mod.upgrade()
        assert db.session.execute(select(func.count()).select_from(Medicine)).scalar() == EXPECTED + 1
        merge.upgrade()
        assert db.session.execute(select(func.count()).select_from(Medicine)).scalar() == EXPECTED + 1 - len(MERGED)
    db.session.expire_all()


# ------------------------------------------------------------------ search

def test_brand_prefix_first_with_strengths(app, ctx):
    res = svc.search("nex")
    assert res[0] == {"label": "Nexito (Escitalopram)", "medicine": "Nexito", "generic": "Escitalopram",
                      "brand": "Nexito", "strengths": ["5mg", "10mg", "20mg"], "forms": ["tablet"],
                      "drug_class": "antidepressants / ssri"}


def test_generic_then_its_brands(app, ctx):
    res = svc.search("escit")
    labels = [r["label"] for r in res]
    assert labels[:4] == ["Escitalopram", "Feliz-S (Escitalopram)", "Nexito (Escitalopram)",
                          "Stalopam (Escitalopram)"]
    assert res[0]["brand"] is None and res[0]["medicine"] == "Escitalopram"


@pytest.mark.parametrize("q", ["NEX", "Nex", "  nEx "])
def test_search_is_case_insensitive(app, ctx, q):
    assert svc.search(q)[0]["label"] == "Nexito (Escitalopram)"


def test_prefix_before_substring_and_limit_and_no_duplicates(app, ctx):
    res = svc.search("pine", limit=50)
    labels = [r["label"] for r in res]
    assert len(labels) == len({x.lower() for x in labels})
    assert "Olanzapine" in labels and "Quetiapine" in labels
    res = svc.search("ola")
    assert res[0]["label"] == "Olanzapine" and len(res) <= 12
    # the brand "Oleanz" is a prefix match too, but it comes with its generic
    assert svc.search("a", limit=5) and len(svc.search("a", limit=5)) == 5
    assert svc.search("") == [] and svc.search(None) == [] and svc.search("zzzz") == []


def test_prefix_matches_come_before_substring_matches(app, ctx):
    labels = [r["label"] for r in svc.search("zol", limit=20)]
    assert labels[:5] == ["Zoloft (Sertraline)", "Zolpidem", "Ambien (Zolpidem)", "Zolfresh (Zolpidem)",
                          "Zolpid (Zolpidem)"]  # Zoloft: a brand prefix; Zolpidem with its brands
    assert labels[5:7] == ["Alprazolam", "Alprax (Alprazolam)"]  # then substrings ("alprazolam")
    # One entry for lithium since the duplicates were merged; "Lithium" is another name of it.
    assert [r["label"] for r in svc.search("lit")] == ["Lithium Carbonate", "Licab (Lithium Carbonate)",
                                                       "Lithium (Lithium Carbonate)",
                                                       "Lithosun (Lithium Carbonate)"]


def test_retired_medicines_are_not_found(app, ctx, users):
    esc = svc.by_generic("Escitalopram")
    svc.retire(esc.id, users["admin"])
    assert all(r["generic"] != "Escitalopram" for r in svc.search("escit") + svc.search("nexito"))
    assert svc.class_of("Nexito") == "antidepressants / ssri"  # still known to the safety rules
    svc.restore(esc.id, users["admin"])
    assert svc.search("nexito")[0]["generic"] == "Escitalopram"


# ------------------------------------------------------------------ class look-up

@pytest.mark.parametrize("name", ["Licab", "licab", "LITHOSUN", "Lithium Carbonate", "Licab 300mg",
                                  "Licab (Lithium Carbonate)", " lithium  carbonate "])
def test_class_of_lithium_brand(app, ctx, name):
    assert svc.class_of(name) == "mood stabilizers"
    assert svc.resolve(name)["generic"] == "Lithium Carbonate"


def test_class_of_generics_brands_and_unknowns(app, ctx):
    assert svc.class_of("Nexito") == "antidepressants / ssri"
    assert svc.class_of("fluoxetine") == "antidepressants / ssri"
    assert svc.class_of("Lithium") == "mood stabilizers"
    assert svc.class_of("Parnate") is None and svc.class_of("") is None and svc.class_of(None) is None
    assert svc.generic_of("Licab") == "Lithium Carbonate"
    assert svc.resolve("Nexito")["brand"] == "Nexito"


# ------------------------------------------------------------------ writing

def test_add_trims_and_audits(app, ctx, users):
    row = svc.add("  Vilazodone ", "antidepressants / others", "Vilafy, Vilazest,  vilafy", ["20mg", "40mg"],
                  users["faculty"])
    assert row.generic_name == "Vilazodone" and row.brand_names == ["Vilafy", "Vilazest"]
    assert row.strengths == ["20mg", "40mg"] and row.is_active
    assert svc.search("vilaf")[0]["label"] == "Vilafy (Vilazodone)"
    audit = db.session.execute(select(AuditLog).where(AuditLog.entity == "medicines",
                                                      AuditLog.entity_id == str(row.id))).scalars().one()
    assert audit.action == "medicine_add" and audit.user_id == users["faculty"].id


@pytest.mark.parametrize("name", ["escitalopram", "ESCITALOPRAM", " Escitalopram "])
def test_add_duplicate_is_409(app, ctx, name):
    with pytest.raises(Conflict) as exc:
        svc.add(name, None, [], [])
    assert exc.value.status == 409 and exc.value.message == "Medicine already exists"


def test_add_duplicate_of_a_retired_one_is_409_too(app, ctx):
    row = svc.by_generic("Lithium Carbonate")
    svc.retire(row.id)
    with pytest.raises(Conflict):
        svc.add("lithium carbonate")
    with pytest.raises(Conflict, match="another name of Lithium Carbonate"):
        svc.add("lithium")  # a merged duplicate is an alias: not added again


@pytest.mark.parametrize("kw", [{"generic_name": ""}, {"generic_name": "   "}, {"generic_name": None},
                                {"generic_name": 5}, {"generic_name": "x" * 201}, {"generic_name": "a\x00b"},
                                {"generic_name": "Ok", "brands": 5}, {"generic_name": "Ok", "strengths": [1]},
                                {"generic_name": "Ok", "drug_class": "c" * 121}])
def test_add_validation(app, ctx, kw):
    with pytest.raises(ValidationError):
        svc.add(kw.pop("generic_name"), **kw)


def test_retire_restore_are_idempotent_and_audited(app, ctx, users):
    row = svc.by_generic("Haloperidol")
    svc.retire(row.id, users["admin"])
    svc.retire(row.id, users["admin"])
    assert not row.is_active
    svc.restore(row.id, users["admin"])
    actions = list(db.session.execute(select(AuditLog.action).where(AuditLog.entity == "medicines",
                                                                    AuditLog.entity_id == str(row.id))
                                      .order_by(AuditLog.id)).scalars())
    assert actions == ["medicine_retire", "medicine_restore"]
    with pytest.raises(NotFound):
        svc.retire(999999)
    n = EXPECTED - len(MERGED)
    assert len(svc.list_all()) == n and len(svc.list_all(include_retired=True)) == n


# ------------------------------------------------------------------ pages

@pytest.mark.parametrize("role,status", [("admin", 200), ("faculty", 200), ("resident", 403), ("pwo", 403)])
def test_admin_page_roles(role_client, role, status):
    resp = role_client(role).get("/prescriptions/formulary")
    assert resp.status_code == status
    if status == 200:
        html = resp.get_data(as_text=True)
        assert "Escitalopram" in html and "Nexito, Feliz-S, Stalopam" in html and "antidepressants / ssri" in html
        assert "5mg · 10mg · 20mg" in html and html.count("Retire<span") == EXPECTED - len(MERGED)
        assert "<script>" not in html and "style=" not in html


@pytest.mark.parametrize("role,status", [("admin", 200), ("faculty", 200), ("resident", 200), ("pwo", 403)])
def test_picker_roles(role_client, role, status):
    assert role_client(role).get("/prescriptions/medicines/search?q=nex").status_code == status


def test_picker_fragment(role_client):
    c = role_client("resident")
    html = c.get("/prescriptions/medicines/search?q=nex").get_data(as_text=True)
    assert ('<button type="button" role="option" class="med-option med-brand"\n      data-medicine="Nexito" '
            'data-generic="Escitalopram" data-strengths="5 mg, 10 mg, 20 mg" data-forms="tablet"') in html
    assert "Nexito (Escitalopram) <small>5 mg · 10 mg · 20 mg</small></button>" in html
    # htmx sending the input under its own name (hx-params default) works too
    html = c.get("/prescriptions/medicines/search?lines-0-medicine=escit").get_data(as_text=True)
    assert html.index('data-medicine="Escitalopram"') < html.index('data-medicine="Nexito"')
    assert "No medicine in the formulary matches" in c.get("/prescriptions/medicines/search?q=qqqq").get_data(as_text=True)
    assert c.get("/prescriptions/medicines/search?q=").get_data(as_text=True).strip() == ""
    html = c.get("/prescriptions/medicines/search?q=%3Cscript%3E").get_data(as_text=True)
    assert "<script>" not in html


def test_admin_add_retire_restore_forms(role_client, app):
    c = role_client("faculty")
    resp = c.post("/prescriptions/formulary/add", data={"generic_name": "Vilazodone", "drug_class": "antidepressants",
                                                        "brand_names": "Vilafy", "strengths": "20mg, 40mg"})
    assert resp.status_code == 302
    assert "Added “Vilazodone”" in c.get(resp.headers["Location"]).get_data(as_text=True)
    row = svc.by_generic("Vilazodone")
    assert row.strengths == ["20mg", "40mg"]
    # HTMX: the list fragment in place, a refusal answered 200 with the message
    hx = {"HX-Request": "true", "HX-Target": "formulary-panel"}
    resp = c.post("/prescriptions/formulary/add", data={"generic_name": "vilazodone"}, headers=hx)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Medicine already exists: “vilazodone”" in html and 'id="formulary-panel"' in html
    assert "<html" not in html
    resp = c.post(f"/prescriptions/formulary/{row.id}/retire", headers=hx)
    assert "Retired “Vilazodone”" in resp.get_data(as_text=True)
    assert c.get("/prescriptions/medicines/search?q=vilaf").get_data(as_text=True).count("med-option") == 0
    resp = c.post(f"/prescriptions/formulary/{row.id}/restore")
    assert resp.status_code == 302
    assert "Vilafy (Vilazodone)" in c.get("/prescriptions/medicines/search?q=vilaf").get_data(as_text=True)
    assert c.post("/prescriptions/formulary/99999999/retire", headers=hx).status_code == 200


def test_admin_page_filter(role_client):
    c = role_client("admin")
    html = c.get("/prescriptions/formulary?filter=licab").get_data(as_text=True)
    assert "Lithium Carbonate" in html and "Escitalopram" not in html
    html = c.get("/prescriptions/formulary?filter=ssri", headers={"HX-Request": "true",
                                                                 "HX-Target": "formulary-panel"}).get_data(as_text=True)
    assert "<html" not in html and "6 medicines" in html


@pytest.mark.parametrize("role", ["resident", "pwo"])
def test_admin_posts_refused(role_client, role):
    c = role_client(role)
    assert c.post("/prescriptions/formulary/add", data={"generic_name": "Newdrug"}).status_code == 403
    row_id = svc.by_generic("Haloperidol").id
    assert c.post(f"/prescriptions/formulary/{row_id}/retire").status_code == 403
