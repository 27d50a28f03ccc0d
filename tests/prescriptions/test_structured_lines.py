"""Structured lines (prescriptions/lines.py through service.normalise_lines): the instruction
sentences in English, Hindi and Punjabi come from the fields; the PDF prints the strength; the
formulary's duplicates are merged; older lines (no strength, free text) still read, print and diff."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from emrs.errors import ValidationError
from emrs.prescriptions import formulary, instructions, lines as L, pdf, service

ROOT = Path(__file__).resolve().parents[2]


def _one(**line):
    return service.normalise_lines([{"medicine": "Escitalopram", **line}])[0]


# ------------------------------------------------------------------ instructions from the fields

def test_three_languages_from_the_fields(app, ctx):
    line = _one(strength="10 mg", form="tablet", dosage="1-0-1", when_to_take="After Food",
                duration_value=2, duration_unit="weeks")
    say = instructions.describe(line)
    assert say == {"en": "Take 1 tablet in the morning and 1 tablet at night, after food, for 2 weeks.",
                   "hi": "सुबह 1 गोली और रात को 1 गोली, खाना खाने के बाद, 2 हफ़्ते तक लें।",
                   "pa": "ਸਵੇਰੇ 1 ਗੋਲੀ ਅਤੇ ਰਾਤ ਨੂੰ 1 ਗੋਲੀ, ਖਾਣਾ ਖਾਣ ਤੋਂ ਬਾਅਦ, 2 ਹਫ਼ਤਿਆਂ ਲਈ ਲਓ।"}
    assert line["quantity"] == "28"


def test_the_form_chooses_the_word(app, ctx):
    caps = instructions.describe(_one(strength="10 mg", form="capsule", dosage="0-0-1", duration="5 days"))
    assert caps["en"] == "Take 1 capsule at night, for 5 days." and "कैप्सूल" in caps["hi"] and "ਕੈਪਸੂਲ" in caps["pa"]
    syrup = instructions.describe(service.normalise_lines([{"medicine": "Sodium Valproate", "strength": "200 mg",
                                                            "form": "syrup", "dosage": "10 ml BD"}])[0])
    assert syrup["en"] == "Take 10 ml twice a day." and "मि.ली." in syrup["hi"] and "ਮਿ.ਲੀ." in syrup["pa"]


def test_pasted_free_text_never_reaches_the_sentences(app, ctx):
    # What used to garble the three languages is refused with a message saying where it belongs.
    with pytest.raises(ValidationError) as err:
        _one(dosage="300mg 1-0-1")
    assert "Strength field" in err.value.message
    for field, value in (("when_to_take", "after tea"), ("frequency", "when she feels low"),
                         ("duration", "till next visit")):
        with pytest.raises(ValidationError) as err:
            _one(dosage="1-0-0", **{field: value})
        assert err.value.errors[0]["path"] == f"prescription[0].{field}"


@pytest.mark.parametrize("dosage, ok", [("1-0-1", True), ("½-0-1", True), ("0-0-1", True), ("1-1-1-1", True),
                                        ("SOS", True), ("stat", True), ("OD", True), ("BD", True), ("TDS", True),
                                        ("QID", True), ("HS", True), ("½ HS", True), ("Q6H", True),
                                        ("300mg", False), ("0-0-0", False), ("1--1", False), ("twice", False)])
def test_dosage_patterns(dosage, ok):
    if ok:
        assert L.clean_dosage(dosage)
    else:
        with pytest.raises(L.LineError):
            L.clean_dosage(dosage)


@pytest.mark.parametrize("dosage, frequency, value, unit, qty", [
    ("1-0-1", "", 30, "days", "60"), ("½-0-1", "", 2, "weeks", "21"), ("0-0-1", "", 1, "months", "30"),
    ("1-0-0", "Alternate Day", 4, "weeks", "14"), ("BD", "", 10, "days", "20"), ("½ HS", "", 10, "days", "5"),
    ("Q8H", "", 5, "days", "15"), ("SOS", "", 5, "days", ""), ("1-0-0", "Tapering Dose", 5, "days", ""),
    ("STAT", "", None, "", "1")])
def test_quantity_is_computed(dosage, frequency, value, unit, qty):
    line = {"medicine": "Escitalopram", "form": "tablet", "dosage": dosage, "frequency": frequency,
            "duration_value": value, "duration_unit": unit}
    assert L.compute_quantity(line) == qty


def test_duration_limits():
    assert L.clean_duration("1 year") == ("12 Months", 12, "months")
    assert L.clean_duration("", 52, "weeks") == ("52 Weeks", 52, "weeks")
    assert L.clean_duration("", "", "Continuous") == ("Continuous", None, "")
    for bad in ("500 years", "2 years", "366 days", "13 months", "0 days", "forever"):
        with pytest.raises(L.LineError):
            L.clean_duration(bad)


# ------------------------------------------------------------------ the PDF

def _render(lines):
    rx = SimpleNamespace(lines=lines, advice="", follow_up_date=None, created_at=None)
    patient = SimpleNamespace(name="Harpreet Sandhu", age=34, sex="M", cr_no="CR1", psy_no=None, allergies=None)
    proforma = SimpleNamespace(visit_date=None, diagnosis="Depression", icd_code=None, icd_title=None, icd_system=None)
    return pdf.render(rx, proforma, patient, SimpleNamespace(name="Dr A", designation="SR"))


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
def test_pdf_prints_name_and_strength_and_reads_older_lines(app, ctx, tmp_path):
    new = _one(strength="10 mg", form="tablet", dosage="0-0-1", when_to_take="After Food", duration="1 Month")
    old = {"id": 2, "medicine": "Licab 300mg", "dosage": "1-0-1", "when_to_take": "After Food",
           "frequency": "", "duration": "1 Month", "quantity": "60", "details": "", "notes": ""}  # saved before 0014
    path = tmp_path / "rx.pdf"
    path.write_bytes(_render([new, old]))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Escitalopram 10 mg" in text and "Licab 300mg" in text and "tablet" in text
    assert "रात को 1 गोली" in text and "ਰਾਤ ਨੂੰ 1 ਗੋਲੀ" in text


# ------------------------------------------------------------------ older lines and history

def test_older_lines_diff_against_structured_ones(app, ctx):
    old = [{"medicine": "Olanzapine 5 mg", "dosage": "0-0-1"}, {"medicine": "Licab 300mg", "dosage": "1-0-1"}]
    new = [{"medicine": "Olanzapine", "strength": "5 mg", "dosage": "0-0-1"},
           {"medicine": "Licab", "strength": "400 mg", "dosage": "1-0-1"}]
    diff = service.differences(old, new)
    assert not diff["added"] and not diff["stopped"] and [service.line_name(l) for l in diff["same"]] == ["Olanzapine 5 mg"]
    assert [service.change_text(c) for c in diff["changed"]] == ["Licab: 300 mg 1-0-1 → 400 mg 1-0-1"]
    assert L.duration_parts({"duration_value": "", "duration_unit": "Continuous"}) == ("", "Continuous")
    assert L.duration_parts({"duration": "2 weeks"}) == ("2", "weeks")
    assert L.duration_parts({"duration": "As Directed"}) == ("", "As Directed")
    shown = service.editor_lines(old)
    assert (shown[1]["medicine"], shown[1]["strength"]) == ("Licab", "300 mg")
    assert shown[1]["strength_options"] == ["300 mg", "400 mg"]  # a brand of Lithium Carbonate


# ------------------------------------------------------------------ the formulary

def test_duplicates_are_merged_with_aliases(app, ctx):
    assert formulary.by_generic("Lithium") is None and formulary.by_generic("Benzhexol") is None
    li = formulary.by_generic("Lithium Carbonate")
    assert "Lithium" in li.aliases and li.strengths == ["300mg", "400mg"] and li.forms == ["tablet"]
    assert formulary.resolve("lithium")["generic"] == "Lithium Carbonate"
    th = formulary.by_generic("Trihexyphenidyl")
    assert th.aliases == ["Benzhexol"] and "Parkitane" in th.brand_names and "Pacitane" in th.brand_names
    va = formulary.by_generic("Sodium Valproate")
    assert set(va.aliases) == {"Valproate/Divalproex", "Valproate", "Divalproex", "Valproic Acid"}
    assert va.brand_names == ["Depakote", "Divaa", "Valprol"] and "500mg" in va.strengths
    assert va.forms[0] == "tablet" and "syrup" in va.forms
    assert [r["label"] for r in formulary.search("benzh")] == ["Benzhexol (Trihexyphenidyl)"]


def test_the_migration_carries_the_data_file():
    path = ROOT / "migrations" / "versions" / "0014_formulary_forms_aliases.py"
    spec = importlib.util.spec_from_file_location("m0014", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.STRUCTURE == formulary.load_structure()
    assert mod.down_revision == "0012" and mod.revision == "0014"
    data = json.loads((ROOT / "emrs" / "data" / "formulary_structure.json").read_text(encoding="utf-8"))
    assert all(f in L.FORMS for forms in data["forms"].values() for f in forms)


def test_a_strength_written_twice_must_agree(app, ctx):
    line = service.normalise_lines([{"medicine": "Escitalopram 10 mg", "strength": "10mg", "dosage": "0-0-1"}])[0]
    assert (line["medicine"], line["strength"]) == ("Escitalopram", "10 mg")
    with pytest.raises(ValidationError) as err:
        service.normalise_lines([{"medicine": "Escitalopram 10 mg", "strength": "5 mg", "dosage": "0-0-1"}])
    assert err.value.errors[0]["path"] == "prescription[0].medicine" and "only in the Strength field" in err.value.message


def test_a_new_medicine_has_forms(app, ctx, users):
    row = formulary.add("Vilazodone", "antidepressants / others", "Vilafy", "20mg, 40mg", users["faculty"],
                        forms="tab, Syrup")
    assert row.forms == ["tablet", "syrup"] and row.aliases == []
    assert formulary.add("Desvenlafaxine XR", forms=None).forms == ["tablet"]
    with pytest.raises(ValidationError):
        formulary.add("Something Else", forms="lozenge")


def test_the_page_refuses_to_print_a_prescription_without_medicine(app, ctx, role_client, users):
    import datetime as dt
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.patients.models import Patient
    from emrs.prescriptions.models import Prescription
    p = Patient(name="Empty Rx", sex="M", age=40, cr_no="CREMPTYRX1")
    db.session.add(p)
    db.session.flush()
    pf = ClinicalProforma(patient_id=p.id, filled_by=users["resident"].id, visit_date=dt.date(2026, 12, 1),
                          visit_type="first_visit")
    db.session.add(pf)
    db.session.flush()
    rx = Prescription(patient_id=p.id, clinical_proforma_id=pf.id, created_by=users["resident"].id, lines=[])
    db.session.add(rx)
    db.session.commit()
    c = role_client("resident")
    page = c.get(f"/prescriptions/{rx.id}").get_data(as_text=True)
    assert "Print (A5 PDF)" not in page and "nothing to print" in page
    resp = c.get(f"/prescriptions/{rx.id}/pdf")
    assert resp.status_code == 302
    assert "no medicine" in c.get(resp.headers["Location"]).get_data(as_text=True)


def test_the_editor_refuses_a_strength_in_dosage_and_500_years(app, ctx, role_client, users):
    import datetime as dt
    from emrs.clinical.models import ClinicalProforma
    from emrs.extensions import db
    from emrs.patients.models import Patient
    p = Patient(name="Editor Refusals", sex="F", age=30, cr_no="CREDITREF1")
    db.session.add(p)
    db.session.flush()
    pf = ClinicalProforma(patient_id=p.id, filled_by=users["resident"].id, visit_date=dt.date(2026, 12, 1),
                          visit_type="first_visit")
    db.session.add(pf)
    db.session.commit()
    c = role_client("resident")
    base = {"lines-0-medicine": "Escitalopram", "lines-0-strength": "10 mg", "lines-0-form": "tablet",
            "lines-0-dosage": "0-0-1", "lines-0-duration_value": "30", "lines-0-duration_unit": "days"}
    resp = c.post(f"/prescriptions/proforma/{pf.id}", data={**base, "lines-0-dosage": "300mg 1-0-1"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "in the Strength field" in html and 'value="300mg 1-0-1"' in html
    resp = c.post(f"/prescriptions/proforma/{pf.id}", data={**base, "lines-0-duration_value": "500"})
    assert resp.status_code == 422 and "is too long: at most 1 year" in resp.get_data(as_text=True)
    resp = c.post(f"/prescriptions/proforma/{pf.id}", data={**base, "lines-0-duration_value": "",
                                                            "lines-0-duration": "500 years"})
    assert resp.status_code == 422 and "“500 years” is too long" in resp.get_data(as_text=True)
    # The live check says it on the line, before saving.
    hint = c.post(f"/prescriptions/proforma/{pf.id}/check", data={**base, "lines-0-dosage": "300mg"}).get_data(as_text=True)
    assert 'id="l0-hint" class="rx-hint has-error" hx-swap-oob="true"' in hint and "Strength field" in hint
    ok = c.post(f"/prescriptions/proforma/{pf.id}/check", data=base).get_data(as_text=True)
    assert "Escitalopram 10 mg</strong> · quantity 30 · Take 1 tablet at night, for 30 days." in ok
    assert c.post(f"/prescriptions/proforma/{pf.id}", data=base).status_code == 302
