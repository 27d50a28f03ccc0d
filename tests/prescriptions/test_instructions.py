"""emrs.prescriptions.instructions.describe: the line's instruction in English, Hindi, Punjabi."""
from __future__ import annotations

import re

import pytest

from emrs.prescriptions.instructions import describe, vocabulary

# U+0964/0965 (danda) are shared by Devanagari and Gurmukhi text.
DEVANAGARI = re.compile(r"[\u0900-\u0963\u0966-\u097F]")
GURMUKHI = re.compile(r"[\u0A00-\u0A7F]")
VOCAB = vocabulary()


def _check(out: dict):
    assert set(out) == {"en", "hi", "pa"}
    for lang in ("en", "hi", "pa"):
        assert out[lang].strip(), (lang, out)
    assert DEVANAGARI.search(out["hi"]), out["hi"]
    assert GURMUKHI.search(out["pa"]), out["pa"]
    assert not GURMUKHI.search(out["hi"]) and not DEVANAGARI.search(out["pa"])


@pytest.mark.parametrize("dosage", VOCAB["dosage"])
def test_every_dosage_value(dosage):
    out = describe({"dosage": dosage})
    _check(out)
    assert dosage not in out["hi"], f"{dosage} left untranslated: {out['hi']}"


@pytest.mark.parametrize("when", VOCAB["when_to_take"])
def test_every_when_value(when):
    out = describe({"dosage": "1-0-1", "when_to_take": when})
    _check(out)
    assert when not in out["hi"] and when not in out["pa"]


@pytest.mark.parametrize("frequency", VOCAB["frequency"])
def test_every_frequency_value(frequency):
    out = describe({"frequency": frequency})
    _check(out)
    assert frequency not in out["hi"] and frequency not in out["pa"]


@pytest.mark.parametrize("duration", VOCAB["duration"])
def test_every_duration_value(duration):
    out = describe({"dosage": "1-0-0", "duration": duration})
    _check(out)
    assert duration not in out["hi"] and duration not in out["pa"]


def test_vocabulary_matches_the_domain_list():
    # options-and-formulary.md §4 — every suggested value.
    assert {"1-0-1½", "½-0-½", "SOS", "STAT", "PRN", "OD", "BD", "TDS", "QID", "HS", "Q4H", "Q6H",
            "Q8H"} <= set(VOCAB["dosage"])
    assert len(VOCAB["when_to_take"]) == 16 and len(VOCAB["frequency"]) == 17 and len(VOCAB["duration"]) == 13


def test_one_zero_one_after_food_for_a_month():
    out = describe({"dosage": "1-0-1", "when_to_take": "After Food", "duration": "1 Month"})
    assert out == {
        "en": "Take 1 tablet in the morning and 1 tablet at night, after food, for 1 month.",
        "hi": "सुबह 1 गोली और रात को 1 गोली, खाना खाने के बाद, 1 महीने तक लें।",
        "pa": "ਸਵੇਰੇ 1 ਗੋਲੀ ਅਤੇ ਰਾਤ ਨੂੰ 1 ਗੋਲੀ, ਖਾਣਾ ਖਾਣ ਤੋਂ ਬਾਅਦ, 1 ਮਹੀਨੇ ਲਈ ਲਓ।",
    }


def test_halves_and_one_and_a_half():
    out = describe({"dosage": "½-0-½", "when_to_take": "Before Food", "duration": "14 Days"})
    assert out["en"] == "Take half a tablet in the morning and half a tablet at night, before food, for 14 days."
    assert out["hi"] == "सुबह आधी गोली और रात को आधी गोली, खाना खाने से पहले, 14 दिन तक लें।"
    assert out["pa"] == "ਸਵੇਰੇ ਅੱਧੀ ਗੋਲੀ ਅਤੇ ਰਾਤ ਨੂੰ ਅੱਧੀ ਗੋਲੀ, ਖਾਣਾ ਖਾਣ ਤੋਂ ਪਹਿਲਾਂ, 14 ਦਿਨਾਂ ਲਈ ਲਓ।"
    out = describe({"dosage": "1-0-1½"})
    assert out["en"] == "Take 1 tablet in the morning and one and a half tablets at night."
    assert "डेढ़ गोली" in out["hi"] and "ਡੇਢ ਗੋਲੀ" in out["pa"]
    # ASCII spellings of the same amounts.
    assert describe({"dosage": "1/2-0-1/2"}) == describe({"dosage": "½-0-½"})
    assert describe({"dosage": "0.5-0-0.5"}) == describe({"dosage": "½-0-½"})


def test_three_times_and_plural():
    out = describe({"dosage": "2-1-2", "duration": "5 Days"})
    assert out["en"] == ("Take 2 tablets in the morning, 1 tablet in the afternoon and 2 tablets at night, "
                         "for 5 days.")
    assert out["hi"] == "सुबह 2 गोलियाँ, दोपहर को 1 गोली और रात को 2 गोलियाँ, 5 दिन तक लें।"
    assert out["pa"] == "ਸਵੇਰੇ 2 ਗੋਲੀਆਂ, ਦੁਪਹਿਰ ਨੂੰ 1 ਗੋਲੀ ਅਤੇ ਰਾਤ ਨੂੰ 2 ਗੋਲੀਆਂ, 5 ਦਿਨਾਂ ਲਈ ਲਓ।"


def test_sos_and_stat():
    out = describe({"dosage": "SOS"})
    assert out["en"] == "Take this medicine only when needed."
    assert out["hi"] == "यह दवा केवल ज़रूरत पड़ने पर लें।"
    assert out["pa"] == "ਇਹ ਦਵਾਈ ਸਿਰਫ਼ ਲੋੜ ਪੈਣ 'ਤੇ ਲਓ।"
    assert describe({"dosage": "PRN"}) == out
    assert describe({"dosage": "STAT"})["en"] == "Take this medicine immediately, only once."


def test_codes_with_an_amount():
    out = describe({"dosage": "1 tab BD", "when_to_take": "With Food", "duration": "2 weeks"})
    assert out["en"] == "Take 1 tablet twice a day, with food, for 2 weeks."
    assert out["hi"] == "दिन में दो बार 1 गोली, खाने के साथ, 2 हफ़्ते तक लें।"
    assert out["pa"] == "ਦਿਨ ਵਿੱਚ ਦੋ ਵਾਰ 1 ਗੋਲੀ, ਖਾਣੇ ਦੇ ਨਾਲ, 2 ਹਫ਼ਤਿਆਂ ਲਈ ਲਓ।"
    assert describe({"dosage": "Q8H"})["en"] == "Take this medicine every 8 hours."
    assert describe({"dosage": "½ HS"})["hi"] == "रात को सोने से पहले आधी गोली लें।"


def test_repeated_information_is_said_once():
    # 1-0-1 already says twice a day; 0-0-1 already says night; HS already says bedtime.
    assert describe({"dosage": "1-0-1", "frequency": "Twice Daily"}) == describe({"dosage": "1-0-1"})
    assert describe({"dosage": "0-0-1", "when_to_take": "Night"}) == describe({"dosage": "0-0-1"})
    assert describe({"dosage": "HS", "when_to_take": "Bedtime"}) == describe({"dosage": "HS"})
    assert describe({"dosage": "Q6H", "frequency": "Every 6 Hours"}) == describe({"dosage": "Q6H"})
    assert describe({"dosage": "0-0-1", "when_to_take": "Bedtime"})["en"] == "Take 1 tablet at bedtime."
    # A contradiction is not silently resolved: both are printed.
    assert "three times a day" in describe({"dosage": "1-0-1", "frequency": "Thrice Daily"})["en"]


def test_clause_durations_read_naturally():
    out = describe({"dosage": "SOS", "duration": "Until Symptoms Subside"})
    assert out["hi"] == "यह दवा केवल ज़रूरत पड़ने पर लें, जब तक तकलीफ़ ठीक न हो जाए।"
    assert out["pa"] == "ਇਹ ਦਵਾਈ ਸਿਰਫ਼ ਲੋੜ ਪੈਣ 'ਤੇ ਲਓ, ਜਦੋਂ ਤੱਕ ਤਕਲੀਫ਼ ਠੀਕ ਨਾ ਹੋ ਜਾਵੇ।"
    out = describe({"dosage": "0-0-1", "duration": "Continuous"})
    assert out["hi"] == "रात को 1 गोली, लगातार लें, जब तक डॉक्टर बंद करने को न कहें।"


@pytest.mark.parametrize("duration,en,hi,pa", [
    ("1 Day", "for 1 day", "1 दिन तक", "1 ਦਿਨ ਲਈ"),
    ("45 days", "for 45 days", "45 दिन तक", "45 ਦਿਨਾਂ ਲਈ"),
    ("1 week", "for 1 week", "1 हफ़्ते तक", "1 ਹਫ਼ਤੇ ਲਈ"),
    ("4 Months", "for 4 months", "4 महीने तक", "4 ਮਹੀਨਿਆਂ ਲਈ"),
    ("1 year", "for 1 year", "1 साल तक", "1 ਸਾਲ ਲਈ"),
])
def test_numbers_of_days_weeks_months(duration, en, hi, pa):
    out = describe({"dosage": "1-0-0", "duration": duration})
    assert en in out["en"] and hi in out["hi"] and pa in out["pa"]


def test_capsules_and_syrups_are_not_called_tablets():
    out = describe({"medicine": "Cap Fluoxetine 20", "dosage": "1-0-0"})
    assert "capsule" in out["en"] and "कैप्सूल" in out["hi"] and "ਕੈਪਸੂਲ" in out["pa"]
    out = describe({"medicine": "Syp Lactulose", "dosage": "10 ml BD"})
    assert out["en"] == "Take 10 ml twice a day."


@pytest.mark.parametrize("line", [
    {"dosage": "1 tab at 8 pm", "when_to_take": "after tea", "duration": "till next visit"},
    {"dosage": "0-0-0"}, {"dosage": "1-2"}, {"dosage": "x" * 500}, {"dosage": None, "frequency": 3},
    {"dosage": "¾-0-0"}, {"dosage": "1--1"}, {"dosage": "99-0-0"},
])
def test_free_text_is_repeated_never_invented(line):
    out = describe(line)
    for lang in ("en", "hi", "pa"):
        assert isinstance(out[lang], str)
    for value in line.values():
        if value:
            assert str(value) in out["en"] and str(value) in out["hi"] and str(value) in out["pa"]
    assert "tablet" not in out["en"] or "tab" in str(line.get("dosage"))


def test_empty_line_says_nothing():
    assert describe({}) == {"en": "", "hi": "", "pa": ""}
    assert describe({"medicine": "Tab X", "dosage": "  "}) == {"en": "", "hi": "", "pa": ""}


def test_when_alias_and_only_timing():
    out = describe({"when": "After Food", "duration": "5 Days"})
    assert out["en"] == "Take this medicine after food, for 5 days."
    assert out["hi"] == "यह दवा खाना खाने के बाद, 5 दिन तक लें।"
