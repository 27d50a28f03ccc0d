"""The patient's instruction for one medication line, written out in words in English,
Hindi (Devanagari) and Punjabi (Gurmukhi), for the printed prescription.

    describe({"dosage": "1-0-1", "when_to_take": "After Food", "duration": "1 Month"})
    -> {"en": "Take 1 tablet in the morning and 1 tablet at night, after food, for 1 month.",
        "hi": "सुबह 1 गोली और रात को 1 गोली, खाना खाने के बाद, 1 महीने तक लें।",
        "pa": "ਸਵੇਰੇ 1 ਗੋਲੀ ਅਤੇ ਰਾਤ ਨੂੰ 1 ਗੋਲੀ, ਖਾਣਾ ਖਾਣ ਤੋਂ ਬਾਅਦ, 1 ਮਹੀਨੇ ਲਈ ਲਓ।"}

Built from form + dosage + when_to_take + frequency + duration (options-and-formulary.md §4).
Lines saved since 0014 hold only values these tables know (prescriptions/lines.py checks them
on every save), so their sentences are built from the fields alone; the free-text fallback
below only serves lines saved before.
Every suggested value of §4 is in the phrase tables below; numbers of days/weeks/months/
years and every-N-hours are parsed. A value the tables do not know is repeated verbatim in
its place — never dropped, never guessed. A frequency or timing that only repeats what the
dosage already says (1-0-1 + "Twice Daily", 0-0-1 + "Night", HS + "Bedtime") is said once.
The phrase tables are data: edit them here, not in the code below.
"""
from __future__ import annotations

import re
from fractions import Fraction

LANGS = ("en", "hi", "pa")

# --- phrase tables ---------------------------------------------------------------------

# Units: singular / plural. Tablet unless the medicine says capsule; syrups, drops,
# injections and the like count "doses" (the pattern gives a count, not millilitres).
UNITS = {
    "tablet": {"en": ("tablet", "tablets"), "hi": ("गोली", "गोलियाँ"), "pa": ("ਗੋਲੀ", "ਗੋਲੀਆਂ")},
    "capsule": {"en": ("capsule", "capsules"), "hi": ("कैप्सूल", "कैप्सूल"), "pa": ("ਕੈਪਸੂਲ", "ਕੈਪਸੂਲ")},
    "dose": {"en": ("dose", "doses"), "hi": ("खुराक", "खुराक"), "pa": ("ਖੁਰਾਕ", "ਖੁਰਾਕਾਂ")},
}
UNIT_WORDS = (  # (regex on the medicine name, unit)
    (r"\b(cap|caps|capsule|capsules)\b", "capsule"),
    ((r"\b(syp|syr|syrup|susp|suspension|liquid|solution|soln|drops?|inj|injection|"
      r"amp|ampoule|vial|depot|gel|cream|ointment|oint|patch|spray|inhaler|sachet)\b"), "dose"),
)

# Fractions said in words (Hindi/Punjabi have their own words for ½, 1½, 2½).
FRACTION_WORDS = {
    Fraction(1, 4): {"en": "a quarter of a {u1}", "hi": "चौथाई {u1}", "pa": "ਚੌਥਾਈ {u1}"},
    Fraction(1, 2): {"en": "half a {u1}", "hi": "आधी {u1}", "pa": "ਅੱਧੀ {u1}"},
    Fraction(3, 2): {"en": "one and a half {u2}", "hi": "डेढ़ {u1}", "pa": "ਡੇਢ {u1}"},
    Fraction(5, 2): {"en": "two and a half {u2}", "hi": "ढाई {u1}", "pa": "ਢਾਈ {u2}"},
}
# n½ for n ≥ 3.
HALF_ABOVE = {"en": "{n} and a half {u2}", "hi": "साढ़े {n} {u2}", "pa": "ਸਾਢੇ {n} {u2}"}

# Times of day of the dosage pattern (morning-noon-night, or morning-noon-evening-night).
SLOTS = {
    "morning": {"en": "in the morning", "hi": "सुबह", "pa": "ਸਵੇਰੇ"},
    "afternoon": {"en": "in the afternoon", "hi": "दोपहर को", "pa": "ਦੁਪਹਿਰ ਨੂੰ"},
    "evening": {"en": "in the evening", "hi": "शाम को", "pa": "ਸ਼ਾਮ ਨੂੰ"},
    "night": {"en": "at night", "hi": "रात को", "pa": "ਰਾਤ ਨੂੰ"},
}
SLOT_ORDER = {3: ("morning", "afternoon", "night"), 4: ("morning", "afternoon", "evening", "night")}

AND = {"en": "and", "hi": "और", "pa": "ਅਤੇ"}
THIS_MEDICINE = {"en": "this medicine", "hi": "यह दवा", "pa": "ਇਹ ਦਵਾਈ"}

# Abbreviated dosages. "times": how many doses a day it means (to drop a repeating
# frequency); "same_when": a when_to_take value it already says.
DOSAGE_CODES = {
    "OD": {"en": "once a day", "hi": "दिन में एक बार", "pa": "ਦਿਨ ਵਿੱਚ ਇੱਕ ਵਾਰ", "times": 1},
    "BD": {"en": "twice a day", "hi": "दिन में दो बार", "pa": "ਦਿਨ ਵਿੱਚ ਦੋ ਵਾਰ", "times": 2},
    "TDS": {"en": "three times a day", "hi": "दिन में तीन बार", "pa": "ਦਿਨ ਵਿੱਚ ਤਿੰਨ ਵਾਰ", "times": 3},
    "QID": {"en": "four times a day", "hi": "दिन में चार बार", "pa": "ਦਿਨ ਵਿੱਚ ਚਾਰ ਵਾਰ", "times": 4},
    "HS": {"en": "at bedtime", "hi": "रात को सोने से पहले", "pa": "ਰਾਤ ਨੂੰ ਸੌਣ ਤੋਂ ਪਹਿਲਾਂ", "times": 1,
           "same_when": ("bedtime", "night")},
    "SOS": {"en": "only when needed", "hi": "केवल ज़रूरत पड़ने पर", "pa": "ਸਿਰਫ਼ ਲੋੜ ਪੈਣ 'ਤੇ",
            "same_freq": ("sos",)},
    "STAT": {"en": "immediately, only once", "hi": "तुरंत, केवल एक बार", "pa": "ਤੁਰੰਤ, ਸਿਰਫ਼ ਇੱਕ ਵਾਰ",
             "same_freq": ("once",)},
}
DOSAGE_ALIASES = {"PRN": "SOS", "QD": "OD", "BID": "BD", "TID": "TDS", "QDS": "QID", "QHS": "HS",
                  "ONCE DAILY": "OD", "TWICE DAILY": "BD", "THRICE DAILY": "TDS", "AT BEDTIME": "HS"}

WHEN = {
    "before food": {"en": "before food", "hi": "खाना खाने से पहले", "pa": "ਖਾਣਾ ਖਾਣ ਤੋਂ ਪਹਿਲਾਂ"},
    "after food": {"en": "after food", "hi": "खाना खाने के बाद", "pa": "ਖਾਣਾ ਖਾਣ ਤੋਂ ਬਾਅਦ"},
    "with food": {"en": "with food", "hi": "खाने के साथ", "pa": "ਖਾਣੇ ਦੇ ਨਾਲ"},
    "empty stomach": {"en": "on an empty stomach", "hi": "खाली पेट", "pa": "ਖਾਲੀ ਪੇਟ"},
    "bedtime": {"en": "at bedtime", "hi": "रात को सोने से पहले", "pa": "ਰਾਤ ਨੂੰ ਸੌਣ ਤੋਂ ਪਹਿਲਾਂ"},
    "morning": {"en": "in the morning", "hi": "सुबह", "pa": "ਸਵੇਰੇ"},
    "afternoon": {"en": "in the afternoon", "hi": "दोपहर को", "pa": "ਦੁਪਹਿਰ ਨੂੰ"},
    "evening": {"en": "in the evening", "hi": "शाम को", "pa": "ਸ਼ਾਮ ਨੂੰ"},
    "night": {"en": "at night", "hi": "रात को", "pa": "ਰਾਤ ਨੂੰ"},
    "any time": {"en": "at any time of the day", "hi": "दिन में किसी भी समय", "pa": "ਦਿਨ ਵਿੱਚ ਕਿਸੇ ਵੀ ਵੇਲੇ"},
    "before breakfast": {"en": "before breakfast", "hi": "नाश्ते से पहले", "pa": "ਨਾਸ਼ਤੇ ਤੋਂ ਪਹਿਲਾਂ"},
    "after breakfast": {"en": "after breakfast", "hi": "नाश्ते के बाद", "pa": "ਨਾਸ਼ਤੇ ਤੋਂ ਬਾਅਦ"},
    "before lunch": {"en": "before lunch", "hi": "दोपहर के खाने से पहले", "pa": "ਦੁਪਹਿਰ ਦੇ ਖਾਣੇ ਤੋਂ ਪਹਿਲਾਂ"},
    "after lunch": {"en": "after lunch", "hi": "दोपहर के खाने के बाद", "pa": "ਦੁਪਹਿਰ ਦੇ ਖਾਣੇ ਤੋਂ ਬਾਅਦ"},
    "before dinner": {"en": "before dinner", "hi": "रात के खाने से पहले", "pa": "ਰਾਤ ਦੇ ਖਾਣੇ ਤੋਂ ਪਹਿਲਾਂ"},
    "after dinner": {"en": "after dinner", "hi": "रात के खाने के बाद", "pa": "ਰਾਤ ਦੇ ਖਾਣੇ ਤੋਂ ਬਾਅਦ"},
}
WHEN_ALIASES = {"before meals": "before food", "after meals": "after food", "with meals": "with food",
                "on empty stomach": "empty stomach", "empty stomach": "empty stomach",
                "at bedtime": "bedtime", "bed time": "bedtime", "anytime": "any time",
                "at night": "night", "in the morning": "morning", "in the evening": "evening",
                "in the afternoon": "afternoon"}

# "times": doses a day, to say it once when the dosage already says it.
FREQUENCY = {
    "once daily": {"en": "once a day", "hi": "दिन में एक बार", "pa": "ਦਿਨ ਵਿੱਚ ਇੱਕ ਵਾਰ", "times": 1},
    "twice daily": {"en": "twice a day", "hi": "दिन में दो बार", "pa": "ਦਿਨ ਵਿੱਚ ਦੋ ਵਾਰ", "times": 2},
    "thrice daily": {"en": "three times a day", "hi": "दिन में तीन बार", "pa": "ਦਿਨ ਵਿੱਚ ਤਿੰਨ ਵਾਰ", "times": 3},
    "four times daily": {"en": "four times a day", "hi": "दिन में चार बार", "pa": "ਦਿਨ ਵਿੱਚ ਚਾਰ ਵਾਰ",
                         "times": 4},
    "every hour": {"en": "every hour", "hi": "हर घंटे", "pa": "ਹਰ ਘੰਟੇ"},
    "alternate day": {"en": "every other day", "hi": "एक दिन छोड़कर", "pa": "ਇੱਕ ਦਿਨ ਛੱਡ ਕੇ"},
    "weekly": {"en": "once a week", "hi": "हफ़्ते में एक बार", "pa": "ਹਫ਼ਤੇ ਵਿੱਚ ਇੱਕ ਵਾਰ"},
    "monthly": {"en": "once a month", "hi": "महीने में एक बार", "pa": "ਮਹੀਨੇ ਵਿੱਚ ਇੱਕ ਵਾਰ"},
    "sos": {"en": "only when needed", "hi": "केवल ज़रूरत पड़ने पर", "pa": "ਸਿਰਫ਼ ਲੋੜ ਪੈਣ 'ਤੇ"},
    "continuous": {"en": "every day without a break", "hi": "हर रोज़, बिना नागा",
                   "pa": "ਹਰ ਰੋਜ਼, ਬਿਨਾਂ ਨਾਗਾ"},
    "once": {"en": "only once", "hi": "केवल एक बार", "pa": "ਸਿਰਫ਼ ਇੱਕ ਵਾਰ"},
    "tapering dose": {"en": "lowering the dose step by step as the doctor has explained",
                      "hi": "डॉक्टर के बताए अनुसार खुराक धीरे-धीरे कम करते हुए",
                      "pa": "ਡਾਕਟਰ ਦੇ ਦੱਸੇ ਅਨੁਸਾਰ ਖੁਰਾਕ ਹੌਲੀ-ਹੌਲੀ ਘਟਾਉਂਦੇ ਹੋਏ"},
}
FREQUENCY_ALIASES = {"once a day": "once daily", "daily": "once daily", "od": "once daily",
                     "twice a day": "twice daily", "bd": "twice daily",
                     "three times daily": "thrice daily", "three times a day": "thrice daily",
                     "tds": "thrice daily", "four times a day": "four times daily", "qid": "four times daily",
                     "hourly": "every hour", "every 1 hour": "every hour", "alternate days": "alternate day",
                     "every other day": "alternate day", "once a week": "weekly", "once a month": "monthly",
                     "prn": "sos", "as needed": "sos", "when needed": "sos", "once only": "once",
                     "stat": "once", "tapering": "tapering dose", "taper": "tapering dose"}
EVERY_N_HOURS = {"en": "every {n} hours", "hi": "हर {n} घंटे में", "pa": "ਹਰ {n} ਘੰਟਿਆਂ ਬਾਅਦ"}

# Durations: "for N days" etc. (one form for 1, another for more).
DURATION_UNITS = {
    "day": {"en": ("for {n} day", "for {n} days"), "hi": ("{n} दिन तक", "{n} दिन तक"),
            "pa": ("{n} ਦਿਨ ਲਈ", "{n} ਦਿਨਾਂ ਲਈ")},
    "week": {"en": ("for {n} week", "for {n} weeks"), "hi": ("{n} हफ़्ते तक", "{n} हफ़्ते तक"),
             "pa": ("{n} ਹਫ਼ਤੇ ਲਈ", "{n} ਹਫ਼ਤਿਆਂ ਲਈ")},
    "month": {"en": ("for {n} month", "for {n} months"), "hi": ("{n} महीने तक", "{n} महीने तक"),
              "pa": ("{n} ਮਹੀਨੇ ਲਈ", "{n} ਮਹੀਨਿਆਂ ਲਈ")},
    "year": {"en": ("for {n} year", "for {n} years"), "hi": ("{n} साल तक", "{n} साल तक"),
             "pa": ("{n} ਸਾਲ ਲਈ", "{n} ਸਾਲਾਂ ਲਈ")},
}
DURATION_UNIT_WORDS = {"d": "day", "day": "day", "days": "day", "w": "week", "wk": "week", "wks": "week",
                       "week": "week", "weeks": "week", "m": "month", "mo": "month", "mon": "month",
                       "month": "month", "months": "month", "y": "year", "yr": "year", "yrs": "year",
                       "year": "year", "years": "year"}
DURATION = {
    # Hindi/Punjabi put a clause after the verb ("… लें, जब तक …।"): the "_tail" keys.
    "until symptoms subside": {"en": "until the symptoms go away",
                               "hi": "", "hi_tail": "जब तक तकलीफ़ ठीक न हो जाए",
                               "pa": "", "pa_tail": "ਜਦੋਂ ਤੱਕ ਤਕਲੀਫ਼ ਠੀਕ ਨਾ ਹੋ ਜਾਵੇ"},
    "continuous": {"en": "without stopping, until the doctor tells you to stop",
                   "hi": "लगातार", "hi_tail": "जब तक डॉक्टर बंद करने को न कहें",
                   "pa": "ਲਗਾਤਾਰ", "pa_tail": "ਜਦੋਂ ਤੱਕ ਡਾਕਟਰ ਬੰਦ ਕਰਨ ਲਈ ਨਾ ਕਹੇ"},
    "as directed": {"en": "for as long as the doctor has told you",
                    "hi": "", "hi_tail": "जितने दिन डॉक्टर ने बताया है",
                    "pa": "", "pa_tail": "ਜਿੰਨੇ ਦਿਨ ਡਾਕਟਰ ਨੇ ਦੱਸਿਆ ਹੈ"},
}
DURATION_ALIASES = {"till symptoms subside": "until symptoms subside", "continue": "continuous",
                    "ongoing": "continuous", "as advised": "as directed"}

# Sentence frames: {body} is the comma-joined parts.
SENTENCE = {"en": "Take {body}.", "hi": "{body} लें।", "pa": "{body} ਲਓ।"}
SENTENCE_TAIL = {"en": "Take {body}, {tail}.", "hi": "{body} लें, {tail}।", "pa": "{body} ਲਓ, {tail}।"}
# Millilitres (syrups): "10 ml".
ML = {"en": "{n} ml", "hi": "{n} मि.ली.", "pa": "{n} ਮਿ.ਲੀ."}

# --- parsing ---------------------------------------------------------------------------

_VULGAR = {"½": Fraction(1, 2), "¼": Fraction(1, 4), "¾": Fraction(3, 4)}
_QTY_RE = re.compile(r"^(?:(\d+)\s*)?(½|¼|¾)$|^(\d+)\s+(\d+)/(\d+)$|^(\d+)/(\d+)$|^(\d+(?:\.\d+)?)$")
_SPLIT_RE = re.compile(r"\s*[-–—]\s*")
_CODE_RE = re.compile(r"^(?:(?P<qty>[\d½¼¾./ ]+?)\s*(?P<unit>tab|tabs|tablet|tablets|cap|caps|capsule|capsules|ml)?"
                      r"\.?\s+)?(?P<code>[A-Za-z][A-Za-z0-9 ]*?)$", re.IGNORECASE)
_QNH_RE = re.compile(r"^Q\s*(\d{1,2})\s*H$", re.IGNORECASE)
_EVERY_RE = re.compile(r"^every\s+(\d{1,2})\s*(?:hours?|hrs?|h)$", re.IGNORECASE)
_DURATION_RE = re.compile(r"^(?:for\s+)?(\d{1,4})\s*([a-z]+)\.?$", re.IGNORECASE)


def _key(value) -> str:
    """Lower case, single spaces, no trailing full stop."""
    if value is None:
        return ""
    return re.sub(r"\s+", " ", str(value)).strip().rstrip(".").strip().lower()


def _text(value) -> str:
    return re.sub(r"\s+", " ", "" if value is None else str(value)).strip()


def _quantity(text: str) -> Fraction | None:
    """'1', '½', '1½', '1 1/2', '1/2', '0.5', '1.5' -> Fraction; anything else None."""
    text = text.strip()
    m = _QTY_RE.match(text)
    if not m:
        return None
    whole, vulgar, w2, num2, den2, num, den, dec = m.groups()
    try:
        if vulgar:
            q = Fraction(int(whole or 0)) + _VULGAR[vulgar]
        elif w2:
            q = Fraction(int(w2)) + Fraction(int(num2), int(den2))
        elif num:
            q = Fraction(int(num), int(den))
        else:
            q = Fraction(dec)
    except (ValueError, ZeroDivisionError):
        return None
    return q if 0 <= q <= 20 else None


def _amount(q: Fraction, unit: str, lang: str) -> str | None:
    """'1 tablet', 'half a tablet', 'डेढ़ गोली' … or None if it has no word form."""
    one, many = UNITS[unit][lang]
    if q in FRACTION_WORDS:
        return FRACTION_WORDS[q][lang].format(u1=one, u2=many)
    if q.denominator == 1:
        n = int(q)
        return f"{n} {one if n == 1 else many}"
    if q.denominator == 2 and q > 3:
        return HALF_ABOVE[lang].format(n=int(q), u2=many)
    return None


def _join(items: list[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {AND[lang]} " + items[-1]


def _unit_for(medicine: str) -> str:
    name = (medicine or "").lower()
    for pattern, unit in UNIT_WORDS:
        if re.search(pattern, name):
            return unit
    return "tablet"


def _unit_of(line: dict) -> str:
    """The counting word: from the line's form (tablet, capsule; a syrup or an injection
    counts doses), else guessed from the medicine's name as lines before forms were."""
    form = _key(line.get("form"))
    if form:
        return form if form in ("tablet", "capsule") else "dose"
    return _unit_for(_text(line.get("medicine")))


def _dosage(raw: str, unit: str):
    """-> (phrases {lang: str} | None, info dict). info: kind, times, slots, same_when, same_freq."""
    text = _text(raw)
    if not text:
        return None, {"kind": "none"}
    # Pattern: morning-noon-night (or with evening).
    parts = _SPLIT_RE.split(text)
    if len(parts) in SLOT_ORDER:
        qtys = [_quantity(p) for p in parts]
        if all(q is not None for q in qtys) and any(qtys):
            names = SLOT_ORDER[len(parts)]
            phrases = {}
            for lang in LANGS:
                items = []
                for slot, q in zip(names, qtys):
                    if not q:
                        continue
                    amount = _amount(q, unit, lang)
                    if amount is None:
                        return None, {"kind": "free"}
                    slot_word = SLOTS[slot][lang]
                    items.append(f"{amount} {slot_word}" if lang == "en" else f"{slot_word} {amount}")
                phrases[lang] = _join(items, lang)
            used = [slot for slot, q in zip(names, qtys) if q]
            return phrases, {"kind": "pattern", "times": len(used), "slots": used}
        return None, {"kind": "free"}
    # Code, optionally with an amount first: "OD", "1 tab BD", "½ HS", "Q6H".
    m = _CODE_RE.match(text)
    if m:
        code = m.group("code").strip().upper()
        qty_text = (m.group("qty") or "").strip()
        code = DOSAGE_ALIASES.get(code, code)
        entry = DOSAGE_CODES.get(code)
        qnh = _QNH_RE.match(code)
        if entry is None and qnh:
            n = int(qnh.group(1))
            entry = {lang: EVERY_N_HOURS[lang].format(n=n) for lang in LANGS}
            entry["every_hours"] = n
        if entry is not None:
            q = _quantity(qty_text) if qty_text else None
            if qty_text and (q is None or not q):
                return None, {"kind": "free"}
            is_ml = (m.group("unit") or "").lower() == "ml"
            phrases = {}
            for lang in LANGS:
                if q is None:
                    lead = THIS_MEDICINE[lang]
                elif is_ml:
                    lead = ML[lang].format(n=qty_text)
                else:
                    lead = _amount(q, unit, lang)
                    if lead is None:
                        return None, {"kind": "free"}
                if lang == "en" or q is None:
                    phrases[lang] = f"{lead} {entry[lang]}"
                else:
                    phrases[lang] = f"{entry[lang]} {lead}"
            return phrases, {"kind": "code", "times": entry.get("times"), "code": code,
                             "same_when": entry.get("same_when", ()),
                             "same_freq": entry.get("same_freq", ()),
                             "every_hours": entry.get("every_hours")}
    # A bare amount: "1", "½ tab".
    bare = re.sub(r"\s*(tab|tabs|tablet|tablets|cap|caps|capsule|capsules)\.?$", "", text, flags=re.IGNORECASE)
    q = _quantity(bare)
    if q:
        phrases = {lang: _amount(q, unit, lang) for lang in LANGS}
        if all(phrases.values()):
            return phrases, {"kind": "amount"}
    return None, {"kind": "free"}


def _pattern_without_slot(raw: str, unit: str) -> dict:
    """The amount of a single-slot pattern without its time of day ("1 tablet")."""
    q = next(q for q in (_quantity(p) for p in _SPLIT_RE.split(_text(raw))) if q)
    return {lang: _amount(q, unit, lang) for lang in LANGS}


def _when(raw: str):
    key = _key(raw)
    if not key:
        return None, ""
    key = WHEN_ALIASES.get(key, key)
    return WHEN.get(key), key


def _frequency(raw: str):
    key = _key(raw)
    if not key:
        return None, "", {}
    key = FREQUENCY_ALIASES.get(key, key)
    if key in FREQUENCY:
        entry = FREQUENCY[key]
        return entry, key, {"times": entry.get("times")}
    m = _EVERY_RE.match(key) or _QNH_RE.match(key)
    if m:
        n = int(m.group(1))
        if n == 1:
            return FREQUENCY["every hour"], "every hour", {"every_hours": 1}
        return {lang: EVERY_N_HOURS[lang].format(n=n) for lang in LANGS}, key, {"every_hours": n}
    return None, key, {}


def _duration(raw: str):
    key = _key(raw)
    if not key:
        return None
    key = DURATION_ALIASES.get(key, key)
    if key in DURATION:
        return DURATION[key]
    m = _DURATION_RE.match(key)
    if m and m.group(2) in DURATION_UNIT_WORDS:
        n = int(m.group(1))
        if n == 0:
            return None
        forms = DURATION_UNITS[DURATION_UNIT_WORDS[m.group(2)]]
        return {lang: forms[lang][0 if n == 1 else 1].format(n=n) for lang in LANGS}
    return None


def describe(line: dict) -> dict:
    """{"en", "hi", "pa"}: the line's instruction in words. Empty strings when the line has
    no dosage, timing, frequency or duration at all. Never raises on odd input."""
    try:
        return _describe(line or {})
    except Exception:  # pragma: no cover - a printed prescription must never fail on wording
        parts = [_text((line or {}).get(k)) for k in ("dosage", "when_to_take", "frequency", "duration")]
        body = ", ".join(p for p in parts if p)
        return {lang: (SENTENCE[lang].format(body=body) if body else "") for lang in LANGS}


def _describe(line: dict) -> dict:
    dosage_raw = _text(line.get("dosage"))
    when_raw = _text(line.get("when_to_take") if line.get("when_to_take") not in (None, "") else line.get("when"))
    freq_raw = _text(line.get("frequency"))
    duration_raw = _text(line.get("duration"))
    if not any((dosage_raw, when_raw, freq_raw, duration_raw)):
        return {lang: "" for lang in LANGS}

    unit = _unit_of(line)
    dose, info = _dosage(dosage_raw, unit)
    when, when_key = _when(when_raw)
    freq, freq_key, freq_info = _frequency(freq_raw)
    duration = _duration(duration_raw)

    # Say a timing or frequency once when the dosage already says it.
    if when is not None and info.get("kind") == "pattern" and info["slots"] == ["night"] \
            and when_key == "bedtime":  # 0-0-1 + Bedtime: "1 tablet at bedtime"
        amount = _pattern_without_slot(dosage_raw, unit)
        dose = {lang: (f"{amount[lang]} {when[lang]}" if lang == "en" else f"{when[lang]} {amount[lang]}")
                for lang in LANGS}
        when, when_raw = None, ""
    if when is not None and info.get("kind") == "pattern" and info["slots"] == [when_key]:
        when, when_raw = None, ""
    if when is not None and info.get("kind") == "code" and when_key in info.get("same_when", ()):
        when, when_raw = None, ""
    if freq is not None and info.get("kind") in ("pattern", "code"):
        same_times = freq_info.get("times") is not None and freq_info.get("times") == info.get("times")
        same_hours = freq_info.get("every_hours") is not None and \
            freq_info.get("every_hours") == info.get("every_hours")
        if same_times or same_hours or freq_key in info.get("same_freq", ()):
            freq, freq_raw = None, ""

    out = {}
    for lang in LANGS:
        parts = []
        for entry, raw in ((when, when_raw), (freq, freq_raw), (duration, duration_raw)):
            if entry is not None:
                parts.append(entry[lang])
            elif raw:
                parts.append(raw)  # free text: repeated as written
        parts = [p for p in parts if p]
        if dose is not None:
            body = ", ".join([dose[lang], *parts])
        elif dosage_raw:
            body = ", ".join([dosage_raw, *parts])
        else:  # no dosage: "Take this medicine after food, for 5 days."
            body = f"{THIS_MEDICINE[lang]} {', '.join(parts)}".strip()
        tail = (duration or {}).get(f"{lang}_tail")
        out[lang] = (SENTENCE_TAIL[lang].format(body=body, tail=tail) if tail
                     else SENTENCE[lang].format(body=body))
    return out


def vocabulary() -> dict:
    """The §4 suggested values this module knows (used by the tests)."""
    return {
        "dosage": ["1-0-1", "1-1-1", "1-0-0", "0-1-0", "0-0-1", "1-1-0", "0-1-1", "1-0-1½", "½-0-½",
                   "SOS", "STAT", "PRN", "OD", "BD", "TDS", "QID", "HS", "Q4H", "Q6H", "Q8H"],
        "when_to_take": ["Before Food", "After Food", "With Food", "Empty Stomach", "Bedtime", "Morning",
                         "Afternoon", "Evening", "Night", "Any Time", "Before Breakfast", "After Breakfast",
                         "Before Lunch", "After Lunch", "Before Dinner", "After Dinner"],
        "frequency": ["Once Daily", "Twice Daily", "Thrice Daily", "Four Times Daily", "Every Hour",
                      "Every 2 Hours", "Every 4 Hours", "Every 6 Hours", "Every 8 Hours", "Every 12 Hours",
                      "Alternate Day", "Weekly", "Monthly", "SOS", "Continuous", "Once", "Tapering Dose"],
        "duration": ["3 Days", "5 Days", "7 Days", "10 Days", "14 Days", "21 Days", "1 Month", "2 Months",
                     "3 Months", "6 Months", "Until Symptoms Subside", "Continuous", "As Directed"],
    }
