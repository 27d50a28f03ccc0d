"""One structured medication line: the rules that make it (called by service.normalise_lines,
so the API, the editor and lines sent inside a proforma request all get them).

A line is: medicine (from the formulary, or written as typed when it is not in it), strength
(one of that medicine's strengths; free text for a medicine the formulary does not know or
gives no strengths for), form (tablet, capsule, syrup, injection …), dosage (a pattern such
as 1-0-1, ½-0-1, 0-0-1, or OD / BD / TDS / QID / HS / SOS / STAT / QnH, optionally with an
amount: "½ HS", "10 ml BD"), when_to_take and frequency (the phrases the instructions know),
duration as a number and a unit (days, weeks, months; at most 1 year) or Until Symptoms
Subside / Continuous / As Directed, and quantity (computed from the pattern, frequency and
duration when not given; whatever is given is kept).

Everything else a doctor wants to say goes in ``details`` or ``notes``: the patient's
instruction sentences (instructions.py) are built only from the structured fields.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

from . import instructions as ins

MAX_STRENGTH = 60
FORMS = ("tablet", "capsule", "syrup", "suspension", "solution", "drops", "injection", "depot injection",
         "patch", "gel", "ointment", "inhaler", "sachet", "spray")
FORM_ALIASES = {"tab": "tablet", "tabs": "tablet", "tablets": "tablet", "cap": "capsule", "caps": "capsule",
                "capsules": "capsule", "syp": "syrup", "syr": "syrup", "susp": "suspension", "soln": "solution",
                "liquid": "solution", "oral solution": "solution", "drop": "drops", "inj": "injection",
                "injections": "injection", "depot": "depot injection", "lai": "depot injection",
                "patches": "patch", "oint": "ointment"}
# The form decides the word the instructions count in.
FORM_UNIT = {"tablet": "tablet", "capsule": "capsule"}
DURATION_UNITS = {"day": ("Day", "Days", 1, 365), "week": ("Week", "Weeks", 7, 52),
                  "month": ("Month", "Months", 30, 12)}
MAX_DURATION = "1 year (365 days, 52 weeks or 12 months)"
NAMED_DURATIONS = {"until symptoms subside": "Until Symptoms Subside", "continuous": "Continuous",
                   "as directed": "As Directed"}
DAYS_PER_UNIT = {"day": 1, "week": 7, "month": 30}
# Frequencies that stretch a daily pattern (per-day multiplier), and those with no count.
FREQ_FACTOR = {"alternate day": Fraction(1, 2), "weekly": Fraction(1, 7), "monthly": Fraction(1, 30)}
FREQ_NO_COUNT = ("sos", "tapering dose")

DOSAGE_HELP = ("Dosage is how many tablets at which times: a pattern such as 1-0-1, ½-0-1 or 0-0-1 "
               "(morning-afternoon-night), or one of OD, BD, TDS, QID, HS, SOS, STAT")
_STRENGTH_IN_DOSAGE = re.compile(r"\d\s*(mg|mcg|µg|ug|gm|g|iu|units?|%)(?![a-z])", re.IGNORECASE)
_UNIT_RE = re.compile(r"(\d(?:[\d.,]*\d)?)\s*(mg|mcg|µg|ug|gm|g|ml|iu|%)(?![a-z])", re.IGNORECASE)
_STRENGTH_TAIL = re.compile(
    r"^(?P<name>.*?[^\s\d])\s+(?P<strength>\d[\d.]*\s*(?:mg|mcg|µg|g|ml|iu)"
    r"(?:\s*[+/]\s*\d[\d.]*\s*(?:mg|mcg|µg|g|ml|iu))*)\s*$", re.IGNORECASE)
_DURATION_RE = re.compile(r"^(?:for\s+)?(\d{1,9})\s*([a-z]+)\.?$", re.IGNORECASE)


class LineError(ValueError):
    """A field of a line is wrong: (key, message)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key, self.message = key, message


def _text(value) -> str:
    return " ".join(str(value or "").split())


# ------------------------------------------------------------------ strength and form

def format_strength(value) -> str:
    """"10mg" -> "10 mg", "6mg+25mg" -> "6 mg + 25 mg", "5MG/5ML" -> "5 mg/5 ml"."""
    text = _text(value)
    if not text:
        return ""

    def unit(m):
        u = m.group(2).lower()
        u = {"ug": "mcg", "gm": "g", "iu": "IU"}.get(u, u)
        return f"{m.group(1)}%" if u == "%" else f"{m.group(1)} {u}"

    text = _UNIT_RE.sub(unit, text)
    text = re.sub(r"\s*\+\s*", " + ", text)
    text = re.sub(r"\s*/\s*", "/", text)
    return text


def _strength_key(value) -> str:
    return re.sub(r"\s+", "", format_strength(value).lower())


def split_medicine(medicine: str) -> tuple[str, str]:
    """An old-style "Licab 300mg" -> ("Licab", "300 mg"); anything else unchanged."""
    m = _STRENGTH_TAIL.match(_text(medicine))
    if not m:
        return _text(medicine), ""
    return m.group("name").strip(), format_strength(m.group("strength"))


def clean_form(value) -> str:
    key = _text(value).lower().rstrip(".")
    if not key:
        return ""
    key = FORM_ALIASES.get(key, key)
    if key not in FORMS:
        raise LineError("form", f"Form must be one of: {', '.join(FORMS)}")
    return key


def clean_strength(value, medicine: str, known: dict | None) -> str:
    """``known``: the formulary entry ({"generic", "strengths"}) or None."""
    text = format_strength(value)
    if not text:
        return ""
    if len(text) > MAX_STRENGTH or not re.search(r"\d", text):
        raise LineError("strength", f"Strength must be an amount such as 10 mg (at most {MAX_STRENGTH} characters)")
    offered = (known or {}).get("strengths") or []
    if offered:
        keys = {_strength_key(s): format_strength(s) for s in offered}
        if _strength_key(text) not in keys:
            raise LineError("strength", f"{medicine} comes as {', '.join(keys.values())}: choose one of these "
                                        f"(an administrator can add a strength to the formulary)")
        return keys[_strength_key(text)]
    return text


# ------------------------------------------------------------------ dosage, timing, frequency

def clean_dosage(value) -> str:
    text = _text(value).replace("–", "-").replace("—", "-")
    if not text:
        return ""
    text = re.sub(r"\s*-\s*", "-", text)
    if _STRENGTH_IN_DOSAGE.search(text):
        raise LineError("dosage", f"Dosage “{text[:40]}” holds a strength: put the strength (e.g. 300 mg) in the "
                                  f"Strength field and only the pattern (e.g. 1-0-1) in Dosage")
    _phrases, info = ins._dosage(text, "tablet")
    if info.get("kind") not in ("pattern", "code", "amount"):
        raise LineError("dosage", f"{DOSAGE_HELP}; “{text[:40]}” is not one of these")
    if info["kind"] == "code":
        parts = text.rsplit(" ", 1)
        code = parts[-1].upper()
        text = f"{parts[0]} {code}" if len(parts) == 2 else code
    return text


def _label(key: str) -> str:
    return " ".join("SOS" if w == "sos" else w.capitalize() for w in key.split())


def clean_when(value) -> str:
    if not _text(value):
        return ""
    entry, key = ins._when(value)
    if entry is None:
        raise LineError("when_to_take", "When must be one of: " + ", ".join(_label(k) for k in ins.WHEN)
                        + " (anything else goes in Details)")
    return _label(key)


def clean_frequency(value) -> str:
    if not _text(value):
        return ""
    entry, key, info = ins._frequency(value)
    if entry is None:
        raise LineError("frequency", "Frequency must be one of: " + ", ".join(_label(k) for k in ins.FREQUENCY)
                        + ", or Every N Hours (anything else goes in Details)")
    if info.get("every_hours") and key not in ins.FREQUENCY:
        n = info["every_hours"]
        if not 1 <= n <= 24:
            raise LineError("frequency", "Every N Hours needs N from 1 to 24")
        return f"Every {n} Hours"
    return _label(key)


# ------------------------------------------------------------------ duration

def _named(text: str) -> str | None:
    key = ins._key(text)
    key = ins.DURATION_ALIASES.get(key, key)
    return NAMED_DURATIONS.get(key)


def clean_duration(text, value=None, unit=None) -> tuple[str, int | None, str]:
    """-> (duration text, duration_value, duration_unit ("days", "weeks", "months" or "")).
    ``value`` + ``unit`` (the editor's number and unit, or the API's duration_value and
    duration_unit) win over the text ``duration``; the unit may also be a named duration
    (Until Symptoms Subside, Continuous, As Directed)."""
    val = "" if value is None else str(value).strip()
    unit_text = _text(unit)
    if unit_text and _named(unit_text):  # a named duration: the number box is ignored
        return _named(unit_text), None, ""
    if val:
        if isinstance(value, bool) or not re.fullmatch(r"\d{1,9}", val):
            raise LineError("duration_value", "Duration must be a whole number of days, weeks or months")
        if not unit_text:
            raise LineError("duration_unit", "Give the duration's unit: days, weeks or months")
        raw = f"{int(val)} {unit_text}"
    else:
        raw = _text(text)
    if not raw:
        return "", None, ""
    if _named(raw):
        return _named(raw), None, ""
    key = ins._key(raw)
    m = _DURATION_RE.match(key)
    word = ins.DURATION_UNIT_WORDS.get(m.group(2)) if m else None
    if not m or word is None:
        raise LineError("duration", f"Duration “{raw[:40]}” is not understood: give a number of days, weeks or "
                                    f"months (e.g. 14 days, 1 month), or Until Symptoms Subside, Continuous, "
                                    f"As Directed")
    n = int(m.group(1))
    if word == "year":
        if n > 1:
            raise LineError("duration", f"Duration “{raw[:40]}” is too long: at most {MAX_DURATION}")
        n, word = 12, "month"
    one, many, _days, most = DURATION_UNITS[word]
    if n < 1:
        raise LineError("duration", "Duration must be at least 1 day")
    if n > most:
        raise LineError("duration", f"Duration “{raw[:40]}” is too long: at most {MAX_DURATION}")
    return f"{n} {one if n == 1 else many}", n, many.lower()


def duration_parts(line: dict) -> tuple[str, str]:
    """(value, unit) to show in the editor for a stored line (older lines have only text)."""
    unit = _text(line.get("duration_unit"))
    if line.get("duration_value") not in (None, ""):
        return str(line["duration_value"]), unit or "days"
    if unit and _named(unit):
        return "", _named(unit)
    try:
        text, value, unit = clean_duration(line.get("duration"))
    except LineError:
        return "", ""
    return ("", text) if value is None and text else (str(value or ""), unit or "")


# ------------------------------------------------------------------ quantity

def _per_day(dosage: str, frequency: str) -> Fraction | None:
    """Units (tablets / capsules) taken per day, or None when it cannot be counted."""
    text = _text(dosage)
    if not text:
        return None
    parts = ins._SPLIT_RE.split(text)
    if len(parts) in ins.SLOT_ORDER:
        qtys = [ins._quantity(p) for p in parts]
        if any(q is None for q in qtys):
            return None
        day = sum(qtys, Fraction(0))
    else:
        m = ins._CODE_RE.match(text)
        if m and m.group("code"):
            if (m.group("unit") or "").lower() == "ml":
                return None
            amount = ins._quantity(m.group("qty").strip()) if m.group("qty") else Fraction(1)
            code = ins.DOSAGE_ALIASES.get(m.group("code").strip().upper(), m.group("code").strip().upper())
            if amount is None:
                return None
            if code == "STAT":
                return None
            entry = ins.DOSAGE_CODES.get(code)
            qnh = ins._QNH_RE.match(code)
            if entry and entry.get("times"):
                day = amount * entry["times"]
            elif qnh and int(qnh.group(1)) > 0:
                day = amount * Fraction(24, int(qnh.group(1)))
            else:
                return None
        else:
            bare = re.sub(r"\s*(tab|tabs|tablet|tablets|cap|caps|capsule|capsules)\.?$", "", text, flags=re.I)
            amount = ins._quantity(bare)
            _e, _k, info = ins._frequency(frequency)
            if amount is None or not info.get("times"):
                return None
            return amount * info["times"]
    _entry, fkey, _info = ins._frequency(frequency)
    if fkey in FREQ_NO_COUNT:
        return None
    return day * FREQ_FACTOR.get(fkey, Fraction(1))


def compute_quantity(line: dict) -> str:
    """Tablets or capsules for the whole course, as text ("60"), or "" when it cannot be
    counted (syrups and injections, SOS, tapering, no number of days)."""
    form = line.get("form") or ""
    if form and form not in FORM_UNIT:
        return ""
    if not form and ins._unit_for(line.get("medicine") or "") not in FORM_UNIT:
        return ""
    code = _text(line.get("dosage")).upper()
    if code.endswith("STAT"):
        amount = ins._quantity(code[:-4].strip()) if code[:-4].strip() else Fraction(1)
        return str(math.ceil(amount)) if amount else ""
    value, unit = line.get("duration_value"), line.get("duration_unit") or ""
    if not value or unit.rstrip("s") not in DAYS_PER_UNIT:
        return ""
    per_day = _per_day(line.get("dosage") or "", line.get("frequency") or "")
    if not per_day:
        return ""
    return str(math.ceil(per_day * value * DAYS_PER_UNIT[unit.rstrip("s")]))
