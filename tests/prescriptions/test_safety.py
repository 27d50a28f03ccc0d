"""emrs.prescriptions.safety: one test per rule, a clean prescription, and the resolver hook."""
from __future__ import annotations

import datetime as dt
import json

from emrs.patients.models import Patient
from emrs.prescriptions import safety
from emrs.prescriptions.safety import check, default_resolve, requires_override


def _lines(*medicines):
    return [{"id": i, "medicine": m, "dosage": "1-0-1"} for i, m in enumerate(medicines, 1)]


def _patient(sex="M", age=40, allergies=None):
    return Patient(name="Test Patient", sex=sex, age=age, allergies=allergies)


def _rules(warnings):
    return [w["rule"] for w in warnings]


def test_rule_table_is_data_and_every_rule_is_known():
    data = json.loads(safety.DATA_PATH.read_text(encoding="utf-8"))
    assert set(data["rules"]) == {"allergy", "same_class", "lithium_nsaid", "lithium_ace_inhibitor",
                                  "lithium_thiazide", "clozapine_monitoring", "qt_prolongation",
                                  "valproate_childbearing", "benzodiazepine_duplication",
                                  "under18_antidepressant", "under18_antipsychotic_metabolic", "under18_lithium",
                                  "under18_benzodiazepine", "under18_minimum_age"}
    assert {r["severity"] for r in data["rules"].values()} <= {"high", "moderate", "info"}


def test_no_warning_for_an_ordinary_prescription():
    warnings = check(_lines("Tab Olanzapine 10mg", "Tab Sertraline 50mg", "Tab Clonazepam 0.5mg",
                            "Tab Trihexyphenidyl 2mg", "Tab Paracetamol 500mg"),
                     _patient(allergies="NKDA"))
    assert warnings == []
    assert requires_override(warnings) is False
    assert check([], _patient()) == [] and check(_lines("Some unknown herbal tonic"), _patient()) == []


def test_allergy_by_generic_brand_and_class():
    patient = _patient(allergies="Sulfa drugs, penicillin; Carbamazepine")
    warnings = check(_lines("Tab Septran DS", "Cap Amoxicillin 500", "Tab Tegretol 200", "Tab Olanzapine 5"),
                     patient)
    allergy = [w for w in warnings if w["rule"] == "allergy"]
    assert sorted(m for w in allergy for m in w["medicines"]) == \
        ["Cap Amoxicillin 500", "Tab Septran DS", "Tab Tegretol 200"]
    assert all(w["severity"] == "high" for w in allergy)
    assert requires_override(warnings)
    # An allergy to one penicillin covers the class; a brand in the allergy text is understood.
    assert _rules(check(_lines("Augmentin 625"), _patient(allergies="amoxicillin"))) == ["allergy"]
    assert _rules(check(_lines("Tab Carbamazepine 200"), _patient(allergies="Zeptol"))) == ["allergy"]
    # "Nil" is not an allergy; an unrelated allergy does not match.
    assert check(_lines("Tab Carbamazepine 200"), _patient(allergies="Nil")) == []
    assert check(_lines("Tab Carbamazepine 200"), _patient(allergies="peanuts, dust")) == []


def test_same_class_duplication():
    warnings = check(_lines("Tab Olanzapine 10", "Tab Risdone 2"), _patient())
    assert _rules(warnings) == ["same_class"]
    assert warnings[0]["severity"] == "moderate"
    assert warnings[0]["medicines"] == ["Tab Olanzapine 10", "Tab Risdone 2"]
    assert _rules(check(_lines("Tab Fluoxetine 20", "Tab Nexito 10"), _patient())) == ["same_class"]
    # The same generic twice under different names.
    same = check(_lines("Tab Olanzapine 5", "Tab Oleanz 10"), _patient())
    assert _rules(same) == ["same_class"] and "twice" in same[0]["message"]
    # Different classes (SSRI + mirtazapine) are not a duplication.
    assert check(_lines("Tab Sertraline 50", "Tab Mirtazapine 15"), _patient()) == []


def test_lithium_with_nsaid():
    warnings = check(_lines("Tab Lithium Carbonate 300mg", "Tab Brufen 400"), _patient())
    assert _rules(warnings) == ["lithium_nsaid"]
    assert warnings[0]["severity"] == "high"
    assert warnings[0]["medicines"] == ["Tab Lithium Carbonate 300mg", "Tab Brufen 400"]


def test_lithium_with_ace_inhibitor():
    assert _rules(check(_lines("Tab Lithosun 400", "Tab Enalapril 5"), _patient())) == ["lithium_ace_inhibitor"]
    assert _rules(check(_lines("Tab Licab 300", "Tab Ramipril 2.5"), _patient())) == ["lithium_ace_inhibitor"]


def test_lithium_with_thiazide():
    warnings = check(_lines("Tab Lithium 300", "Tab Hydrochlorothiazide 12.5"), _patient())
    assert _rules(warnings) == ["lithium_thiazide"]
    # A combination brand: telmisartan (ARB) + hydrochlorothiazide.
    assert sorted(_rules(check(_lines("Tab Lithium 300", "Tab Telma-H 40"), _patient()))) == \
        ["lithium_ace_inhibitor", "lithium_thiazide"]


def test_clozapine_blood_count_reminder():
    warnings = check(_lines("Tab Sizopin 100"), _patient())
    assert _rules(warnings) == ["clozapine_monitoring"]
    assert warnings[0]["severity"] == "info"
    assert "blood" in warnings[0]["message"].lower()
    assert requires_override(warnings) is False  # a reminder, not a block


def test_qt_prolonging_combination():
    warnings = check(_lines("Tab Escitalopram 10", "Tab Haloperidol 5"), _patient())
    assert _rules(warnings) == ["qt_prolongation"]
    assert warnings[0]["severity"] == "moderate"
    # One QT drug alone is not a combination.
    assert check(_lines("Tab Haloperidol 5"), _patient()) == []


def test_valproate_in_a_woman_of_child_bearing_age():
    warnings = check(_lines("Tab Valprol CR 500"), _patient(sex="F", age=24))
    assert _rules(warnings) == ["valproate_childbearing"]
    assert warnings[0]["severity"] == "high"
    assert _rules(check(_lines("Sodium Valproate 200"), _patient(sex="F", age=12))) == ["valproate_childbearing"]
    assert _rules(check(_lines("Divalproex 250"), _patient(sex="F", age=50))) == ["valproate_childbearing"]
    assert check(_lines("Sodium Valproate 200"), _patient(sex="F", age=51)) == []
    # Girls from 10 (child-bearing potential; the under-18 extension of the rule, MHRA/BNFC).
    assert "girl of 11" in check(_lines("Sodium Valproate 200"), _patient(sex="F", age=11))[0]["message"]
    assert check(_lines("Sodium Valproate 200"), _patient(sex="F", age=9)) == []
    assert check(_lines("Sodium Valproate 200"), _patient(sex="M", age=30)) == []
    # Age unknown: warned, since it cannot be ruled out.
    assert _rules(check(_lines("Sodium Valproate 200"), _patient(sex="F", age=None))) == ["valproate_childbearing"]


def test_valproate_age_from_date_of_birth_uses_today():
    class WithDob:
        sex, allergies, age = "F", None, None
        date_of_birth = dt.date(1975, 6, 1)
    assert check(_lines("Valproate 500"), WithDob(), today=dt.date(2025, 5, 31)) != []  # 49
    assert check(_lines("Valproate 500"), WithDob(), today=dt.date(2026, 6, 1)) == []  # 51


def test_benzodiazepine_duplication():
    warnings = check(_lines("Tab Clonotril 0.5", "Tab Ativan 2"), _patient())
    assert _rules(warnings) == ["benzodiazepine_duplication"]
    assert warnings[0]["severity"] == "moderate"
    assert warnings[0]["medicines"] == ["Tab Clonotril 0.5", "Tab Ativan 2"]


def test_default_resolver_words_and_brands():
    assert default_resolve("Tab Lithium Carbonate 300mg") == ("lithium", "mood_stabilizer")
    assert default_resolve("TAB. SERLIFT-50") == ("sertraline", "ssri")
    assert default_resolve("Lithiumx") is None  # whole words only
    assert default_resolve("") is None


def test_resolver_hook_is_used():
    calls = []

    def formulary(name):  # what emrs.prescriptions.formulary.class_of would return
        calls.append(name)
        return {"zyx 10": ("Lithium Carbonate", "mood_stabilizers"),
                "abc 400": ("Ibuprofen", "nsaids")}.get(name.lower())

    warnings = check(_lines("Zyx 10", "Abc 400"), _patient(), resolve=formulary)
    assert calls == ["Zyx 10", "Abc 400"]
    assert _rules(warnings) == ["lithium_nsaid"]
    # Without the hook the local table knows neither brand.
    assert check(_lines("Zyx 10", "Abc 400"), _patient()) == []


def test_resolver_class_counts_for_duplication_of_unknown_generics():
    def formulary(name):
        return {"a": ("Newdrugone", "Antipsychotics"), "b": ("Newdrugtwo", "Antipsychotics")}.get(name.lower())

    assert _rules(check(_lines("A", "B"), _patient(), resolve=formulary)) == ["same_class"]


def test_broken_resolver_does_not_block_prescribing():
    def broken(name):
        raise RuntimeError("formulary down")

    assert _rules(check(_lines("Tab Lithium 300", "Tab Brufen 400"), _patient(), resolve=broken)) == \
        ["lithium_nsaid"]


def test_requires_override_and_ordering():
    warnings = check(_lines("Tab Sizopin 100", "Tab Lithium 300", "Tab Brufen 400"), _patient())
    assert [w["severity"] for w in warnings] == ["high", "info"]
    assert requires_override(warnings) is True
    assert requires_override([{"severity": "info"}]) is False
    assert requires_override([]) is False


def test_odd_input_never_crashes():
    assert check([None, "x", {"medicine": None}, {"medicine": 5}, {}], _patient()) == []
    assert check(_lines("Tab Valproate 200"), None) == []


def test_resolver_answer_shapes():
    lithium_dict = {"zyx 10": {"generic": "Lithium Carbonate", "drug_class": "Mood stabilizers"},
                    "abc 400": {"generic": "Ibuprofen", "drug_class": "NSAIDs"}}
    assert _rules(check(_lines("Zyx 10", "Abc 400"), _patient(),
                        resolve=lambda n: lithium_dict.get(n.lower()))) == ["lithium_nsaid"]
    # A bare class string (formulary.class_of): unknown generics of one class still count.
    classes = {"newa 5": "Antipsychotics", "newb 5": "Antipsychotics"}
    assert _rules(check(_lines("Newa 5", "Newb 5"), _patient(),
                        resolve=lambda n: classes.get(n.lower()))) == ["same_class"]
