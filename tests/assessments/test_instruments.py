"""Rating-scale instruments: every shipped definition loads and is consistent, its worked
examples score as the publication says, bad answers are refused with one error per problem,
and a broken definition file is refused at load, naming the file and the field.

Pure unit tests: no app and no database."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from emrs.assessments import instruments as I
from emrs.assessments.trends import change_summary
from emrs.assessments.instruments import AnswerError, InstrumentError

SHIPPED = I.DISPLAY_ORDER
ALL = I.all_instruments()
EXAMPLES = [(ins.code, n) for ins in ALL for n in range(len(ins.examples))]


def answers_for(code: str, **overrides) -> dict:
    """Every required item answered with its lowest value, then the overrides."""
    ins = I.get(code)
    answers = {item.id: item.min_value for item in ins.items if item.required}
    answers.update(overrides)
    return answers


# ------------------------------------------------------------------------- definitions

def test_the_shipped_instruments_load_in_display_order():
    codes = [ins.code for ins in ALL]
    assert codes == list(SHIPPED)
    assert codes == sorted(codes, key=lambda c: I.DISPLAY_ORDER.index(c))
    assert I.get("phq9").short_name == "PHQ-9"
    assert I.get("nope") is None and I.get(None) is None
    assert I.all_instruments() is ALL  # loaded once
    assert len({ins: ins.code for ins in ALL}) == len(ALL)  # usable as a key


def test_definitions_are_found_beside_the_module():
    assert I.DEFINITIONS_DIR == Path(I.__file__).parent / "instruments"
    assert sorted(p.stem for p in I.DEFINITIONS_DIR.glob("*.json")) == sorted(ins.code for ins in ALL)


@pytest.mark.parametrize("ins", ALL, ids=lambda ins: ins.code)
def test_bands_cover_the_total_range_without_gap_or_overlap(ins):
    if not ins.bands:
        return
    assert ins.bands[0].min == ins.total_min
    assert ins.bands[-1].max == ins.total_max
    for lower, upper in zip(ins.bands, ins.bands[1:]):
        assert upper.min == lower.max + 1, (lower, upper)
    for total in range(ins.total_min, ins.total_max + 1):
        assert sum(b.min <= total <= b.max for b in ins.bands) == 1
    assert ins.band_for(ins.total_max + 1) is None and ins.band_for(None) is None


@pytest.mark.parametrize("ins", ALL, ids=lambda ins: ins.code)
def test_total_range_is_the_sum_of_the_scored_items(ins):
    scored = [item for item in ins.items if item.scored]
    assert ins.total_max == sum(item.max_value for item in scored)
    assert ins.total_min == sum(item.min_value for item in scored)
    highest = {item.id: (item.min_value if item.reverse else item.max_value) for item in ins.items}
    assert ins.score(highest).total == ins.total_max


@pytest.mark.parametrize("ins", ALL, ids=lambda ins: ins.code)
def test_each_definition_is_documented_and_has_examples(ins):
    assert len(ins.examples) >= 2
    assert all(ex["note"].strip() for ex in ins.examples)
    assert ins.source["citation"] and ins.licence["terms"]
    assert isinstance(ins.licence["electronic_record"], bool)
    item_ids = [item.id for item in ins.items]
    assert len(item_ids) == len(set(item_ids))
    body = ins.to_dict()
    assert "examples" not in body
    assert json.loads(json.dumps(body)) == body
    assert [i["id"] for i in body["items"]] == item_ids
    assert body["total"] == {"min": ins.total_min, "max": ins.total_max, "direction": ins.direction}


@pytest.mark.parametrize(("code", "n"), EXAMPLES, ids=[f"{c}-{n}" for c, n in EXAMPLES])
def test_examples_score_as_published(code, n):
    ins = I.get(code)
    example = ins.examples[n]
    result = ins.score(example["answers"])
    assert result.total == example["total"]
    assert (result.band.label if result.band else None) == example["band"]
    assert [flag.item for flag in result.flags] == example["flags"]
    assert result.subscales == example.get("subscales", result.subscales)
    assert result.complete and result.missing == ()


# ------------------------------------------------------------------------------ PHQ-9

@pytest.mark.parametrize(("total", "band"), [
    (0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
    (15, "Moderately severe"), (19, "Moderately severe"), (20, "Severe"), (27, "Severe")])
def test_phq9_cut_offs(total, band):
    """Kroenke et al. 2001: 5, 10, 15, 20."""
    phq9 = I.get("phq9")
    values, left = {}, total
    for item in phq9.items[:9]:
        values[item.id] = min(3, left)
        left -= values[item.id]
    result = phq9.score(values)
    assert result.total == total
    assert result.band.label == band


def test_phq9_item9_raises_a_flag_on_the_raw_value():
    phq9 = I.get("phq9")
    assert phq9.score(answers_for("phq9")).flags == ()
    result = phq9.score(answers_for("phq9", q9=1))
    assert result.total == 1 and result.band.label == "Minimal"
    assert [(f.item, f.value) for f in result.flags] == [("q9", 1)]
    assert "self-harm" in result.flags[0].message
    assert result.to_dict()["flags"] == [{"item": "q9", "value": 1, "message": result.flags[0].message}]


def test_phq9_difficulty_is_recorded_but_not_scored():
    result = I.get("phq9").score(answers_for("phq9", q1=2, q10=3))
    assert result.total == 2
    assert result.answers["q10"] == 3


def test_score_to_dict_is_what_the_api_returns():
    result = I.get("phq9").score(answers_for("phq9", q1=3, q2=3, q3=3, q4=3, q9=1))
    assert result.to_dict() == {
        "total": 13, "subscales": {}, "severity": "Moderate", "severity_level": 2,
        "flags": [{"item": "q9", "value": 1, "message": result.flags[0].message}],
        "missing": [], "complete": True}
    minimal = I.get("phq9").score(answers_for("phq9")).to_dict()
    assert minimal["severity"] == "Minimal" and minimal["severity_level"] == 0


def test_numeric_strings_are_accepted_and_cleaned_to_ints():
    answers = {k: str(v) for k, v in answers_for("gad7", q1=2, q7=3).items()}
    answers["q8"] = " 1 "
    result = I.get("gad7").score(answers)
    assert result.total == 5
    assert result.answers["q1"] == 2 and result.answers["q8"] == 1
    assert all(type(v) is int for v in result.answers.values())


# ------------------------------------------------------------------- other instruments

def test_phqa_suicide_questions_raise_flags_without_changing_the_total():
    phqa = I.get("phqa")
    quiet = phqa.score(answers_for("phqa", q1=2))
    assert quiet.total == 2 and quiet.flags == ()
    result = phqa.score(answers_for("phqa", q1=2, q12=1, q13="1"))
    assert result.total == 2
    assert [(f.item, f.value) for f in result.flags] == [("q12", 1), ("q13", 1)]
    assert "past month" in result.flags[0].message and "attempt" in result.flags[1].message
    assert [f.item for f in phqa.score(answers_for("phqa", q9=1)).flags] == ["q9"]
    # a past-year 'yes' is recorded, not flagged
    assert phqa.score(answers_for("phqa", q10=1)).flags == ()


def test_phqa_supplementary_questions_are_yes_no_and_required():
    phqa = I.get("phqa")
    assert phqa.item("q12").values == (1, 0) and not phqa.item("q12").scored
    answers = answers_for("phqa")
    del answers["q12"], answers["q13"]
    assert [e["field"] for e in errors_of("phqa", answers)] == ["answers.q12", "answers.q13"]
    assert errors_of("phqa", answers_for("phqa", q13=2)) == [
        {"field": "answers.q13", "message": "2 is not one of 1, 0"}]
    # the difficulty question is optional
    assert "q11" not in phqa.score(answers_for("phqa")).missing
    partial = phqa.score({f"q{n}": 0 for n in range(1, 10)} | {"q12": 1}, partial=True)
    assert partial.total == 0 and partial.missing == ("q10", "q13") and not partial.complete
    assert [f.item for f in partial.flags] == ["q12"]


def test_audit_items_9_and_10_take_0_2_4():
    audit = I.get("audit")
    assert audit.item("q9").values == audit.item("q10").values == (0, 2, 4)
    assert errors_of("audit", answers_for("audit", q9=1)) == [
        {"field": "answers.q9", "message": "1 is not one of 0, 2, 4"}]
    result = audit.score(answers_for("audit", q1=1, q9=4, q10=2))
    assert result.total == 7 and result.subscales == {"consumption": 1, "dependence": 0, "harm": 6}
    assert result.band.label == "Zone I: low risk"
    assert improvement(audit, 20, 8)["response"] is None


def test_ymrs_double_weighted_items():
    ymrs = I.get("ymrs")
    for item_id in ("q5", "q6", "q8", "q9"):
        assert ymrs.item(item_id).values == (0, 2, 4, 6, 8)
    for item_id in ("q1", "q2", "q3", "q4", "q7", "q10", "q11"):
        assert ymrs.item(item_id).values == (0, 1, 2, 3, 4)
    assert errors_of("ymrs", answers_for("ymrs", q5=3))[0]["message"] == "3 is not one of 0, 2, 4, 6, 8"
    assert ymrs.score(answers_for("ymrs", q9=4)).flags == ()
    assert [f.item for f in ymrs.score(answers_for("ymrs", q9=6)).flags] == ["q9"]


def test_hamd17_items_and_suicide_flag():
    hamd = I.get("hamd17")
    assert len(hamd.items) == 17
    four = [i.id for i in hamd.items if i.max_value == 4]
    assert four == ["q1", "q2", "q3", "q7", "q8", "q9", "q10", "q11", "q15"]
    result = hamd.score(answers_for("hamd17", q3=1))
    assert result.band.label == "No depression"
    assert [f.item for f in result.flags] == ["q3"]
    assert result.subscales == {"hamd6": 0}


def test_cgi_ratings_run_1_to_7_and_0_is_not_an_answer():
    for code in ("cgi_s", "cgi_i"):
        ins = I.get(code)
        assert [i.id for i in ins.items] == ["q1"]
        assert ins.item("q1").values == (1, 2, 3, 4, 5, 6, 7)
        assert errors_of(code, {"q1": 0}) == [
            {"field": "answers.q1", "message": "0 is not one of 1, 2, 3, 4, 5, 6, 7"}]
    assert I.get("cgi_s").score({"q1": 5}).band.label == "Markedly ill"


def test_cgi_i_names_change_and_has_no_percentage_improvement():
    cgi_i = I.get("cgi_i")
    assert cgi_i.direction == "lower_better_change" and cgi_i.response_reduction is None
    assert [b.label for b in cgi_i.bands] == ["Improved", "No change", "Worse"]
    assert improvement(cgi_i, 4, 2) is None
    assert cgi_i.to_dict()["response"] is None


def test_bprs_percentage_change_subtracts_the_floor_of_18():
    bprs = I.get("bprs18")
    assert bprs.total_min == 18 and bprs.total_max == 126
    # 58 -> 38: 20 of the 40 points above the floor, 50 %: a response
    assert improvement(bprs, 58, 38) == {"change": -20, "percent": -50, "response": True}
    assert improvement(bprs, 58, 40)["response"] is False
    assert improvement(bprs, 18, 18) == {"change": 0, "percent": None, "response": None}
    assert errors_of("bprs18", answers_for("bprs18", q1=0))[0]["field"] == "answers.q1"


def test_cgi_s_has_no_response_rule():
    assert improvement(I.get("cgi_s"), 6, 3) == {"change": -3, "percent": -60, "response": None}


# Instruments whose terms for use in an electronic record we could not establish (docs/instruments.md):
# marked false, and their terms say "to be confirmed by the hospital".
TERMS_UNCONFIRMED = {"phqa", "ymrs"}


def test_licence_and_source_per_instrument():
    for ins in ALL:
        assert ins.licence["electronic_record"] is (ins.code not in TERMS_UNCONFIRMED), ins.code
        assert ins.licence["terms"].startswith("Terms to be confirmed by the hospital.") is (
            ins.code in TERMS_UNCONFIRMED), ins.code
        assert ins.source["cutoffs"], ins.code
    assert "not" in I.get("ymrs").licence["item_text"].lower()  # our own anchors, said so


# ------------------------------------------------------------------------- bad answers

def errors_of(code, answers, **kw) -> list[dict]:
    with pytest.raises(AnswerError) as caught:
        I.get(code).score(answers, **kw)
    assert str(caught.value)
    return caught.value.errors


def test_unknown_item_is_refused_by_name():
    errors = errors_of("phq9", answers_for("phq9", q42=1))
    assert errors == [{"field": "answers.q42", "message": "q42 is not an item of PHQ-9"}]


def test_out_of_range_value_names_the_allowed_values():
    errors = errors_of("phq9", answers_for("phq9", q3=5))
    assert errors == [{"field": "answers.q3", "message": "5 is not one of 0, 1, 2, 3"}]
    assert errors_of("phq9", answers_for("phq9", q3="-1"))[0]["field"] == "answers.q3"
    assert errors_of("phq9", answers_for("phq9", q3="two"))[0]["field"] == "answers.q3"
    assert errors_of("phq9", answers_for("phq9", q3=1.5))[0]["field"] == "answers.q3"
    # digits of other scripts are not numbers here (int() would take "\u0663" as 3)
    assert errors_of("phq9", answers_for("phq9", q3="\u0663"))[0]["field"] == "answers.q3"
    assert errors_of("phq9", answers_for("phq9", q3=[1]))[0]["field"] == "answers.q3"


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_refused(value):
    errors = errors_of("phq9", answers_for("phq9", q1=value))
    assert errors == [{"field": "answers.q1", "message": "true/false is not one of 0, 1, 2, 3"}]


def test_missing_required_items_are_each_listed():
    answers = answers_for("phq9")
    del answers["q2"], answers["q9"]
    errors = errors_of("phq9", answers)
    assert [e["field"] for e in errors] == ["answers.q2", "answers.q9"]
    assert all("required" in e["message"] for e in errors)


def test_one_error_per_problem():
    answers = answers_for("gad7", q1=9, q2=True, zz=1)
    del answers["q7"]
    errors = errors_of("gad7", answers)
    assert sorted(e["field"] for e in errors) == ["answers.q1", "answers.q2", "answers.q7", "answers.zz"]


def test_answers_must_be_a_mapping():
    assert errors_of("phq9", [1, 2, 3]) == [
        {"field": "answers", "message": "must be an object of item id to answer value"}]


def test_optional_items_may_be_left_out_and_empty_values_are_unanswered():
    result = I.get("phq9").score(answers_for("phq9", q10=""))
    assert "q10" not in result.answers and result.complete


# ---------------------------------------------------------------------------- partial

def test_partial_score_lists_missing_and_withholds_the_total():
    phq9 = I.get("phq9")
    result = phq9.score({"q1": 3, "q9": "2"}, partial=True)
    assert result.total is None and result.band is None
    assert result.missing == ("q2", "q3", "q4", "q5", "q6", "q7", "q8")
    assert not result.complete
    assert [f.item for f in result.flags] == ["q9"]
    assert result.to_dict()["severity"] is None
    # bad values are still refused while partial
    assert errors_of("phq9", {"q1": 4}, partial=True)[0]["field"] == "answers.q1"
    # once every required item is there, the total appears
    done = phq9.score(answers_for("phq9", q1=3), partial=True)
    assert done.total == 3 and done.complete and done.missing == ()


def test_partial_with_only_an_optional_item_missing_is_complete():
    result = I.get("gad7").score(answers_for("gad7"), partial=True)
    assert result.complete and result.total == 0


# ------------------------------------------------------------------------- improvement
# The change since the first score, as the patient page and the API compute it: trends.change_summary
# with the instrument's floor and response rule (none for CGI-I, which rates change itself).

def improvement(inst, first, latest):
    if inst.direction != "higher_worse":
        return None
    s = change_summary(first, latest, floor=inst.total_min, response_reduction=inst.response_reduction)
    return {"change": s["change"], "percent": s["percent"], "response": s["response"]}


def test_improvement_from_first_to_latest():
    phq9 = I.get("phq9")
    assert improvement(phq9, 20, 10) == {"change": -10, "percent": -50, "response": True}
    assert improvement(phq9, 20, 11) == {"change": -9, "percent": -45, "response": False}
    assert improvement(phq9, 10, 15) == {"change": 5, "percent": 50, "response": False}
    assert improvement(phq9, 0, 3) == {"change": 3, "percent": None, "response": None}


# ------------------------------------------------------------------ broken definitions

def definition(**changes) -> dict:
    data = json.loads((I.DEFINITIONS_DIR / "phq9.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


def write(tmp_path, data, name="phq9.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def load_error(tmp_path, data, name="phq9.json") -> str:
    with pytest.raises(InstrumentError) as caught:
        I.load_file(write(tmp_path, data, name))
    return str(caught.value)


def test_a_copy_of_a_shipped_definition_loads(tmp_path):
    loaded = I.load_file(write(tmp_path, definition()))
    assert loaded == I.get("phq9")


def test_gap_in_bands_is_refused(tmp_path):
    data = definition()
    data["bands"][1]["min"] = 6
    message = load_error(tmp_path, data)
    assert message.startswith("phq9.json: bands[1].min: ")
    assert "gap" in message and "5..5" in message


def test_overlap_in_bands_is_refused(tmp_path):
    data = definition()
    data["bands"][2]["min"] = 9
    assert "overlap" in load_error(tmp_path, data)


def test_bands_must_reach_the_maximum(tmp_path):
    data = definition()
    data["bands"][-1]["max"] = 26
    assert load_error(tmp_path, data).startswith("phq9.json: bands[4].max: ")


def test_unknown_option_set_is_refused(tmp_path):
    data = definition()
    data["items"][2]["options"] = "freq5"
    assert load_error(tmp_path, data) == "phq9.json: items[2].options: unknown option set 'freq5'"


def test_duplicate_item_id_is_refused(tmp_path):
    data = definition()
    data["items"][3]["id"] = "q1"
    assert load_error(tmp_path, data) == "phq9.json: items[3].id: duplicate item id 'q1'"


def test_total_that_is_not_the_sum_of_the_items_is_refused(tmp_path):
    data = definition(total={"min": 0, "max": 30, "direction": "higher_worse"})
    assert load_error(tmp_path, data).startswith("phq9.json: total.max: 30 is not the sum")


@pytest.mark.parametrize(("change", "field"), [
    ({"respondent": "nurse"}, "respondent"),
    ({"population": "elderly"}, "population"),
    ({"code": "PHQ 9"}, "code"),
    ({"name": ""}, "name"),
    ({"age_range": [18]}, "age_range"),
    ({"response": {"reduction": 2}}, "response.reduction"),
    ({"loinc": {"total": "not-a-code"}}, "loinc.total"),
    ({"licence": {"terms": "free"}}, "licence.electronic_record"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_top_level_fields_are_named(tmp_path, change, field):
    assert load_error(tmp_path, definition(**change)).startswith(f"phq9.json: {field}: ")


def test_a_missing_field_is_named(tmp_path):
    data = definition()
    del data["bands"]
    assert load_error(tmp_path, data) == "phq9.json: bands: missing"


def test_bad_item_fields_are_named(tmp_path):
    data = definition()
    data["items"][0]["scored"] = "yes"
    assert load_error(tmp_path, data) == "phq9.json: items[0].scored: must be true or false"
    data = definition()
    data["items"][8]["risk"] = {"min": 4, "message": "x"}
    assert load_error(tmp_path, data).startswith("phq9.json: items[8].risk.min: ")
    data = definition()
    data["option_sets"]["freq4"][1]["value"] = 0
    assert load_error(tmp_path, data) == "phq9.json: option_sets.freq4[1].value: duplicate value 0"


def test_file_name_must_match_the_code_and_json_must_parse(tmp_path):
    assert load_error(tmp_path, definition(), name="other.json").startswith("other.json: code: ")
    bad = tmp_path / "phq9.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"^phq9\.json: not valid JSON"):
        I.load_file(bad)


def test_reverse_scored_items_count_min_plus_max_minus_value(tmp_path):
    data = definition(code="rev", bands=[], examples=[])
    data["items"][0]["reverse"] = True
    ins = I.load_file(write(tmp_path, data, "rev.json"))
    answers = {f"q{n}": 0 for n in range(1, 10)}
    assert ins.score(answers).total == 3
    answers["q1"] = 3
    assert ins.score(answers).total == 0
    answers["q9"] = 1  # risk flags read the raw value
    assert [f.item for f in ins.score(answers).flags] == ["q9"]


def test_subscales_sum_their_items(tmp_path):
    data = definition(code="sub", subscales=[{"id": "core", "name": "Core", "items": ["q1", "q2"]}])
    ins = I.load_file(write(tmp_path, data, "sub.json"))
    assert ins.score(answers_for("phq9", q1=2, q2=3)).subscales == {"core": 5}
    assert ins.score({"q1": 2}, partial=True).subscales == {}
    data["subscales"][0]["items"] = ["q1", "q10"]
    assert "'q10' is not a scored item" in load_error(tmp_path, data, "sub.json")
