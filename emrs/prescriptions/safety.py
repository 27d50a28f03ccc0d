"""Drug-safety warnings for a prescription, from the local rule table
emrs/data/drug_safety.json (no remote service).

    check(lines, patient, *, today=None, resolve=None) -> [warning, ...]
    warning = {"rule": "lithium_nsaid", "severity": "high" | "moderate" | "info",
               "message": "…", "medicines": ["Tab Lithium 300mg", "Tab Brufen 400"]}
    requires_override(warnings) -> bool   # any high or moderate warning

Rules (ids): allergy, same_class, lithium_nsaid, lithium_ace_inhibitor, lithium_thiazide,
clozapine_monitoring, qt_prolongation, valproate_childbearing, benzodiazepine_duplication;
for a patient under 18 (or of the child clinic with no age recorded): under18_antidepressant
(boxed suicidality warning), under18_antipsychotic_metabolic, under18_lithium,
under18_benzodiazepine and under18_minimum_age (below the youngest age a label establishes).
Each rule's ``basis`` in the table cites its source (FDA label, BNF for Children, NICE, MHRA).

Names are resolved to generics by ``resolve(name) -> (generic, drug_class) | None`` when the
caller passes one (the formulary: ``emrs.prescriptions.formulary.class_of``), and always also
by this module's own matcher: case-insensitive whole-word matching of the table's generic
names, synonyms and brand names inside the medicine text, so "Tab Lithium Carbonate 300mg"
is lithium and "Olanzapine + Fluoxetine" is both. The rules themselves use the table's
classes; a class coming only from the resolver is used for same-class duplication.
A decision aid: no warning does not mean the combination is safe.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_PATH = Path(__file__).resolve().parent.parent / "data" / "drug_safety.json"
SEVERITY_ORDER = {"high": 0, "moderate": 1, "info": 2}
OVERRIDE_SEVERITIES = ("high", "moderate")

Resolver = Callable[[str], "tuple[str, str | None] | None"]


def _norm(text) -> str:
    """Lower case; anything but letters/digits becomes one space."""
    return re.sub(r"[^0-9a-z]+", " ", str(text or "").lower()).strip()


@dataclass
class _Table:
    classes: dict
    class_of: dict  # generic -> set of class keys
    names: dict  # normalised name (generic, synonym, brand) -> tuple of generics
    matcher: re.Pattern
    alias_class: dict  # normalised class alias -> class key
    rules: dict
    no_allergy: frozenset
    labels: dict = field(default_factory=dict)  # generic -> every name that means it


@lru_cache(maxsize=1)
def table() -> _Table:
    raw = json.loads(DATA_PATH.read_text(encoding="utf-8"))
    class_of: dict[str, set] = {}
    names: dict[str, tuple] = {}
    for key, cls in raw["classes"].items():
        for g in cls["generics"]:
            class_of.setdefault(g, set()).add(key)
            names[_norm(g)] = (g,)
    for g in raw.get("other_generics", []):
        class_of.setdefault(g, set())
        names[_norm(g)] = (g,)
    for alias, g in raw.get("synonyms", {}).items():
        names[_norm(alias)] = (g,)
    for brand, gens in raw.get("brands", {}).items():
        names.setdefault(_norm(brand), tuple(gens))
    # Longest first so "sodium valproate" wins over "valproate" and "mefenamic acid" is one name.
    alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if n)
    matcher = re.compile(rf"(?<![0-9a-z])(?:{alternation})(?![0-9a-z])")
    alias_class = {}
    for key, cls in raw["classes"].items():
        for alias in cls.get("aliases", []):
            alias_class[_norm(alias)] = key
    labels: dict[str, set] = {g: {g} for g in class_of}
    for name, gens in names.items():
        for g in gens:
            labels.setdefault(g, set()).add(name)
    return _Table(classes=raw["classes"], class_of=class_of, names=names, matcher=matcher,
                  alias_class=alias_class, rules=raw["rules"],
                  no_allergy=frozenset(_norm(p) for p in raw.get("no_allergy_phrases", [])),
                  labels=labels)


def generics_in(text: str) -> list[str]:
    """Every generic the table recognises in a medicine text, in order, without repeats."""
    t = table()
    out: list[str] = []
    for m in t.matcher.finditer(_norm(text)):
        for g in t.names[m.group(0)]:
            if g not in out:
                out.append(g)
    return out


def default_resolve(name: str) -> tuple[str, str | None] | None:
    """(generic, class) of the first generic named in ``name``, from the local table."""
    found = generics_in(name)
    if not found:
        return None
    classes = sorted(table().class_of.get(found[0], ()))
    return found[0], (classes[0] if classes else None)


@dataclass
class _Drug:
    index: int  # line position
    medicine: str  # as written
    generic: str
    classes: set  # rule-table class keys (or the resolver's class, normalised)


def _unpack(hit, medicine: str) -> tuple[str | None, str | None]:
    """A resolver's answer as (generic, class). Accepted shapes: (generic, class),
    {"generic": …, "drug_class": …} (formulary.resolve), or a bare class string
    (formulary.class_of) — then the medicine text itself stands for the generic."""
    if not hit:
        return None, None
    if isinstance(hit, str):
        return medicine, hit
    if isinstance(hit, dict):
        return hit.get("generic") or medicine, hit.get("drug_class")
    try:
        items = list(hit)
    except TypeError:
        return None, None
    return (items[0] if items else None), (items[1] if len(items) > 1 else None)


def _identify(lines: list[dict], resolve: Resolver | None) -> list[_Drug]:
    t = table()
    drugs: list[_Drug] = []
    for i, line in enumerate(lines or []):
        if not isinstance(line, dict):
            continue
        medicine = str(line.get("medicine") or "").strip()
        if not medicine:
            continue
        generics: list[str] = []
        outside_class: dict[str, str] = {}
        if resolve is not None:
            try:
                hit = resolve(medicine)
            except Exception:  # a broken formulary must not block prescribing
                hit = None
            generic, drug_class = _unpack(hit, medicine)
            if generic:
                known = generics_in(generic or "")
                if known:
                    generics.extend(known)
                elif generic:
                    g = _norm(generic)
                    generics.append(g)
                    if drug_class:
                        outside_class[g] = _norm(drug_class)
        for g in generics_in(medicine):
            if g not in generics:
                generics.append(g)
        for g in generics:
            classes = set(t.class_of.get(g, ()))
            if not classes and g in outside_class:
                classes = {"resolver:" + outside_class[g]}
            drugs.append(_Drug(i, medicine, g, classes))
    return drugs


def _meds(drugs) -> list[str]:
    out: list[str] = []
    for d in sorted(drugs, key=lambda d: d.index):
        if d.medicine not in out:
            out.append(d.medicine)
    return out


def _warning(rule: str, message: str, drugs, severity: str | None = None) -> dict:
    return {"rule": rule, "severity": severity or table().rules[rule]["severity"], "message": message,
            "medicines": _meds(drugs)}


# --- rules -----------------------------------------------------------------------------

def _allergy_terms(text: str) -> list[str]:
    t = table()
    out = []
    for part in re.split(r"[,;/\n]|\band\b|&|\+", str(text or ""), flags=re.IGNORECASE):
        raw = part.strip(" .:-")
        n = _norm(raw)
        if not n or n in t.no_allergy:
            continue
        out.append(raw)
    return out


def _allergy(drugs, patient) -> list[dict]:
    t = table()
    terms = _allergy_terms(getattr(patient, "allergies", None))
    if not terms:
        return []
    rule = t.rules["allergy"]
    out = []
    for term in terms:
        nterm = _norm(term)
        term_generics = set(generics_in(term))
        term_classes = {t.alias_class[a] for a in t.alias_class
                        if re.search(rf"(?<![0-9a-z]){re.escape(a)}(?![0-9a-z])", nterm)}
        # An allergy to one penicillin (or sulfonamide, cephalosporin) covers its class.
        for g in term_generics:
            for c in t.class_of.get(g, ()):
                if t.classes[c].get("allergy_cross"):
                    term_classes.add(c)
        hits = []
        for d in drugs:
            own_names = t.labels.get(d.generic, {d.generic})
            by_name = d.generic in term_generics or any(
                re.search(rf"(?<![0-9a-z]){re.escape(n)}(?![0-9a-z])", nterm) for n in own_names if len(n) > 2)
            by_class = bool(d.classes & term_classes)
            if by_name or by_class:
                hits.append(d)
        for d in hits:
            out.append(_warning("allergy", rule["message"].format(
                allergy=term, medicine=d.medicine, generic=d.generic), [d]))
    # One warning per (term, line).
    seen, unique = set(), []
    for w in out:
        key = (w["message"], tuple(w["medicines"]))
        if key not in seen:
            seen.add(key)
            unique.append(w)
    return unique


def _same_class(drugs) -> list[dict]:
    t = table()
    rule = t.rules["same_class"]
    out = []
    # The same generic on two lines.
    by_generic: dict[str, list] = {}
    for d in drugs:
        by_generic.setdefault(d.generic, []).append(d)
    for g, ds in by_generic.items():
        if len({d.index for d in ds}) > 1:
            out.append(_warning("same_class", rule["message_same_drug"].format(
                generic=g.capitalize(), medicines=", ".join(_meds(ds))), ds))
    # Two different generics of one duplicate-class (benzodiazepines have their own rule).
    by_class: dict[str, list] = {}
    for d in drugs:
        for c in d.classes:
            cls = t.classes.get(c)
            if (cls and cls.get("duplicate")) or c.startswith("resolver:"):
                by_class.setdefault(c, []).append(d)
    for c, ds in by_class.items():
        generics = {d.generic for d in ds}
        if len(generics) > 1 and len({d.index for d in ds}) > 1:
            label = t.classes[c]["label"] if c in t.classes else c.split(":", 1)[1]
            out.append(_warning("same_class", rule["message"].format(
                label=label, medicines=", ".join(_meds(ds))), ds))
    return out


def _lithium(drugs) -> list[dict]:
    t = table()
    out = []
    for rule_id in ("lithium_nsaid", "lithium_ace_inhibitor", "lithium_thiazide"):
        rule = t.rules[rule_id]
        anchor = [d for d in drugs if d.generic == rule["drug"]]
        if not anchor:
            continue
        others = [d for d in drugs if d.classes & set(rule["with_classes"])]
        if others:
            out.append(_warning(rule_id, rule["message"].format(
                others=", ".join(_meds(others))), anchor + others))
    return out


def _clozapine(drugs) -> list[dict]:
    rule = table().rules["clozapine_monitoring"]
    hits = [d for d in drugs if d.generic == rule["drug"]]
    return [_warning("clozapine_monitoring", rule["message"], hits)] if hits else []


def _qt(drugs) -> list[dict]:
    rule = table().rules["qt_prolongation"]
    listed = set(rule["generics"])
    hits = [d for d in drugs if d.generic in listed]
    if len({d.generic for d in hits}) >= int(rule.get("min_count", 2)):
        return [_warning("qt_prolongation", rule["message"].format(medicines=", ".join(_meds(hits))), hits)]
    return []


def _age(patient, today: dt.date | None) -> int | None:
    dob = getattr(patient, "date_of_birth", None) or getattr(patient, "dob", None)
    if isinstance(dob, dt.date):
        today = today or dt.date.today()
        return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
    age = getattr(patient, "age", None)
    try:
        return int(age) if age is not None and str(age).strip() != "" else None
    except (TypeError, ValueError):
        return None


def _valproate(drugs, patient, today) -> list[dict]:
    rule = table().rules["valproate_childbearing"]
    hits = [d for d in drugs if d.generic == rule["drug"]]
    if not hits or patient is None:
        return []
    sex = str(getattr(patient, "sex", "") or "").strip().lower()
    if sex not in {s.lower() for s in rule["sexes"]}:
        return []
    age = _age(patient, today)
    if age is None:
        return [_warning("valproate_childbearing", rule["message_age_unknown"], hits)]
    if rule["min_age"] <= age <= rule["max_age"]:
        message = rule["message_under_18"] if age < 18 and "message_under_18" in rule else rule["message"]
        return [_warning("valproate_childbearing", message.format(age=age), hits)]
    return []


def _under_18(patient, today) -> tuple[bool, int | None]:
    """(the under-18 rules apply, the age): under 18 by age or birth date, or a patient of the
    child clinic whose age is not recorded."""
    if patient is None:
        return False, None
    age = _age(patient, today)
    if age is None:
        return getattr(patient, "clinic", None) == "child", None
    return age < 18, age


def _age_text(age: int | None) -> str:
    return "age not recorded" if age is None else f"{age} year{'s' if age != 1 else ''}"


def _children(drugs, patient, today) -> list[dict]:
    applies, age = _under_18(patient, today)
    if not applies:
        return []
    t = table()
    out = []
    rule = t.rules["under18_antidepressant"]
    hits = [d for d in drugs if d.classes & set(rule["classes"]) or d.generic in rule["generics"]]
    if hits:
        text = rule["message"] if age is not None else rule["message_age_unknown"]
        out.append(_warning("under18_antidepressant", text.format(age=_age_text(age),
                                                                  medicines=", ".join(_meds(hits))), hits))
    rule = t.rules["under18_antipsychotic_metabolic"]
    hits = [d for d in drugs if d.classes & set(rule["classes"])]
    if hits:
        out.append(_warning("under18_antipsychotic_metabolic", rule["message"].format(
            age=_age_text(age), medicines=", ".join(_meds(hits))), hits))
    rule = t.rules["under18_lithium"]
    hits = [d for d in drugs if d.generic == rule["drug"]]
    if hits:
        out.append(_warning("under18_lithium", rule["message"].format(age=_age_text(age)), hits))
    rule = t.rules["under18_benzodiazepine"]
    hits = [d for d in drugs if rule["class"] in d.classes]
    if hits:
        out.append(_warning("under18_benzodiazepine", rule["message"].format(
            age=_age_text(age), medicines=", ".join(_meds(hits))), hits))
    if age is not None:
        rule = t.rules["under18_minimum_age"]
        general = set(rule["general_classes"])
        for d in drugs:
            if d.generic in rule["min_ages"]:
                min_age, established = rule["min_ages"][d.generic]
                if age < min_age:
                    out.append(_warning("under18_minimum_age", rule["message"].format(
                        medicine=d.medicine, age=_age_text(age), established=established), [d]))
            elif age < rule["general_min_age"] and d.classes & general:
                label = t.classes[sorted(d.classes & general)[0]]["label"]
                out.append(_warning("under18_minimum_age", rule["message_general"].format(
                    medicine=d.medicine, age=_age_text(age), label=label, min_age=rule["general_min_age"]), [d]))
    return out


def _benzodiazepines(drugs) -> list[dict]:
    rule = table().rules["benzodiazepine_duplication"]
    hits = [d for d in drugs if rule["class"] in d.classes]
    if len({d.index for d in hits}) > 1:
        return [_warning("benzodiazepine_duplication",
                         rule["message"].format(medicines=", ".join(_meds(hits))), hits)]
    return []


def check(lines: list[dict], patient, *, today: dt.date | None = None,
          resolve: Resolver | None = None) -> list[dict]:
    """The warnings for these prescription lines and this patient, most severe first."""
    drugs = _identify(lines, resolve)
    if not drugs:
        return []
    warnings = []
    if patient is not None:
        warnings += _allergy(drugs, patient)
    warnings += _same_class(drugs)
    warnings += _lithium(drugs)
    warnings += _clozapine(drugs)
    warnings += _qt(drugs)
    warnings += _valproate(drugs, patient, today)
    warnings += _benzodiazepines(drugs)
    warnings += _children(drugs, patient, today)
    warnings.sort(key=lambda w: SEVERITY_ORDER.get(w["severity"], 9))
    return warnings


def requires_override(warnings: list[dict]) -> bool:
    """True when any warning is high or moderate: saving then needs an override reason."""
    return any(w.get("severity") in OVERRIDE_SEVERITIES for w in warnings or ())
