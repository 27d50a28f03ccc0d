"""Drug-safety rules for under-18s (emrs/prescriptions/safety.py, emrs/data/drug_safety.json):
in the one check(), so the page, the API and FHIR get them; each rule cites its source."""
from __future__ import annotations

import json

from emrs.patients.models import Patient
from emrs.prescriptions import safety
from emrs.prescriptions.safety import check, requires_override
from emrs.timeutil import today_ist
from tests.factories import RX_LINE, patient_row

UNDER18 = ("under18_antidepressant", "under18_antipsychotic_metabolic", "under18_lithium", "under18_benzodiazepine",
           "under18_minimum_age")


def _lines(*medicines):
    return [{"id": i, "medicine": m, "dosage": "1-0-0"} for i, m in enumerate(medicines, 1)]


def _child(age=12, sex="M", clinic="child"):
    return Patient(name="Test Child", sex=sex, age=age, clinic=clinic)


def _rules(warnings):
    return sorted(w["rule"] for w in warnings)


def test_every_under_18_rule_cites_its_source():
    rules = json.loads(safety.DATA_PATH.read_text(encoding="utf-8"))["rules"]
    for rule in UNDER18 + ("valproate_childbearing",):
        assert any(src in rules[rule]["basis"] for src in ("FDA", "BNF for Children", "NICE", "MHRA")), rule


def test_antidepressants_under_18_carry_the_suicidality_warning():
    for medicine in ("Tab Fluoxetine 20mg", "Tab Sertraline 50", "Cap Venlafaxine 37.5", "Tab Amitriptyline 10",
                     "Tab Mirtazapine 7.5", "Tab Bupropion 150", "Cap Atomoxetine 18"):
        warnings = check(_lines(medicine), _child(age=14))
        assert "under18_antidepressant" in _rules(warnings), medicine
        w = next(w for w in warnings if w["rule"] == "under18_antidepressant")
        assert w["severity"] == "moderate" and "suicidal" in w["message"] and "14 years" in w["message"]
        assert requires_override(warnings)
    # 18 and over: none of the under-18 rules
    assert check(_lines("Tab Fluoxetine 20mg"), _child(age=18, clinic="adult")) == []
    # a child-clinic patient with no age recorded is treated as under 18
    assert _rules(check(_lines("Tab Fluoxetine 20mg"), _child(age=None))) == ["under18_antidepressant"]
    assert check(_lines("Tab Fluoxetine 20mg"), _child(age=None, clinic="adult")) == []


def test_antipsychotic_lithium_benzodiazepine_notes():
    assert _rules(check(_lines("Tab Risperidone 0.5"), _child(age=12))) == ["under18_antipsychotic_metabolic"]
    w = check(_lines("Tab Lithium 300"), _child(age=15))
    assert _rules(w) == ["under18_lithium"] and "serum lithium" in w[0]["message"] and w[0]["severity"] == "info"
    w = check(_lines("Tab Clonazepam 0.25"), _child(age=15))
    assert _rules(w) == ["under18_benzodiazepine"] and "paradoxical" in w[0]["message"]
    assert not requires_override(w)


def test_below_the_labelled_minimum_age():
    w = check(_lines("Tab Olanzapine 2.5"), _child(age=11))
    assert _rules(w) == ["under18_antipsychotic_metabolic", "under18_minimum_age"]
    assert "from 13 years" in next(x for x in w if x["rule"] == "under18_minimum_age")["message"]
    assert "under18_minimum_age" not in _rules(check(_lines("Tab Olanzapine 2.5"), _child(age=13)))
    assert "under18_minimum_age" in _rules(check(_lines("Tab Methylphenidate 5"), _child(age=5)))
    assert check(_lines("Tab Methylphenidate 5"), _child(age=6)) == []
    # a psychotropic with no labelled paediatric age: not established under 6
    w = check(_lines("Tab Haloperidol 0.25"), _child(age=4))
    assert "not established under 6" in next(x for x in w if x["rule"] == "under18_minimum_age")["message"]
    assert "under18_minimum_age" not in _rules(check(_lines("Tab Haloperidol 0.25"), _child(age=7)))


def test_valproate_in_girls_from_10():
    assert _rules(check(_lines("Tab Valproate 200"), _child(age=10, sex="F"))) == ["valproate_childbearing"]
    assert check(_lines("Tab Valproate 200"), _child(age=9, sex="F")) == []
    assert check(_lines("Tab Valproate 200"), _child(age=12, sex="M")) == []


def test_api_prescription_for_a_child_needs_the_override(client, h):
    child = patient_row("Harleen Child", clinic="child", age=13)
    pf = client.post("/api/child-clinical-proformas", json={"child_patient_id": child.id},
                     headers=h["resident"]).get_json()["data"]["proforma"]
    body = {"clinical_proforma_id": pf["id"], "prescription": [RX_LINE]}  # escitalopram
    resp = client.post("/api/prescriptions", json=body, headers=h["resident"])
    assert resp.status_code == 400 and "override" in resp.get_json()["message"]
    body["override_reason"] = "Moderate depression, CBT failed; weekly review"
    resp = client.post("/api/prescriptions", json=body, headers=h["resident"])
    assert resp.status_code == 201, resp.get_json()
    # the same prescription for an adult saves without one
    adult = patient_row("Adult Person", age=40)
    apf = client.post("/api/clinical-proformas", json={"patient_id": adult.id, "visit_date": today_ist().isoformat(),
                                                        "diagnosis": "Depression"}, headers=h["resident"])
    resp = client.post("/api/prescriptions", json={"clinical_proforma_id": apf.get_json()["data"]["proforma"]["id"],
                                                   "prescription": [RX_LINE]}, headers=h["resident"])
    assert resp.status_code == 201
