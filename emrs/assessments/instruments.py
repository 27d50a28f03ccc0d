"""Rating-scale instruments as data, and their scoring.

Each instrument is one JSON file in ``instruments/`` beside this module (package data, see
docs/instruments.md for the format). A definition is validated when it is loaded: a broken
file raises ``InstrumentError`` naming the file and the field. Scoring is pure Python — no
app, no database — so the storage, pages, API and FHIR layers all score the same way:

    phq9 = get("phq9")
    result = phq9.score({"q1": 2, "q2": "1", ...})        # AnswerError on bad answers
    result.total, result.band.label, result.flags

``score(..., partial=True)`` is the live score while a form is being filled: missing items
are allowed and listed, the total stays None until every required scored item is answered,
and risk flags are raised as soon as their item is answered.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFINITIONS_DIR = Path(__file__).parent / "instruments"

# The order instruments are offered in (lists, pickers, the API). A definition whose code is
# not named here follows, alphabetically.
DISPLAY_ORDER = ("phq9", "gad7", "phqa", "audit", "hamd17", "ymrs", "bprs18", "cgi_s", "cgi_i")

RESPONDENTS = ("self", "clinician")
POPULATIONS = ("adult", "adolescent", "all")
DIRECTIONS = ("higher_worse", "lower_better_change")

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ITEM_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_INT_TEXT = re.compile(r"^\s*[+-]?[0-9]{1,6}\s*$")


class InstrumentError(ValueError):
    """A definition file that cannot be used; the message names the file and the field."""


class AnswerError(ValueError):
    """Answers that cannot be scored: one entry in ``errors`` per problem."""

    def __init__(self, errors: list[dict]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in self.errors))


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    options: tuple[Option, ...]
    scored: bool
    reverse: bool
    required: bool
    risk_min: int | None
    risk_message: str | None

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    @property
    def min_value(self) -> int:
        return min(self.values)

    @property
    def max_value(self) -> int:
        return max(self.values)

    def scored_value(self, value: int) -> int:
        """What an answer adds to the total: reverse-scored items count min+max-value."""
        return self.min_value + self.max_value - value if self.reverse else value

    def to_dict(self) -> dict:
        return {
            "id": self.id, "text": self.text,
            "options": [{"value": o.value, "label": o.label} for o in self.options],
            "scored": self.scored, "reverse": self.reverse, "required": self.required,
            "risk": ({"min": self.risk_min, "message": self.risk_message}
                     if self.risk_min is not None else None),
        }


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    label: str
    severity: int

    def to_dict(self) -> dict:
        return {"min": self.min, "max": self.max, "label": self.label, "severity": self.severity}


@dataclass(frozen=True)
class Flag:
    item: str
    value: int
    message: str


@dataclass(frozen=True)
class Score:
    answers: dict[str, int]
    total: int | None
    subscales: dict[str, int]
    band: Band | None
    flags: tuple[Flag, ...]
    missing: tuple[str, ...]
    complete: bool

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "subscales": dict(self.subscales),
            "severity": self.band.label if self.band else None,
            "severity_level": self.band.severity if self.band else None,
            "flags": [{"item": f.item, "value": f.value, "message": f.message} for f in self.flags],
            "missing": list(self.missing),
            "complete": self.complete,
        }


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    short_name: str
    version: str
    respondent: str
    population: str
    age_range: tuple[int | None, int | None]
    timeframe: str | None
    instructions: str
    items: tuple[Item, ...]
    subscales: tuple[tuple[str, str, tuple[str, ...]], ...]
    total_min: int
    total_max: int
    direction: str
    bands: tuple[Band, ...]
    response_reduction: float | None
    loinc: dict
    source: dict
    licence: dict
    examples: tuple[dict, ...] = ()

    def __hash__(self) -> int:  # the dict fields would make the generated hash fail
        return hash((self.code, self.version))

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def band_for(self, total: int | None) -> Band | None:
        if total is None:
            return None
        for band in self.bands:
            if band.min <= total <= band.max:
                return band
        return None

    def score(self, answers: Mapping[str, object], *, partial: bool = False) -> Score:
        if not isinstance(answers, Mapping):
            raise AnswerError([{"field": "answers",
                                "message": "must be an object of item id to answer value"}])
        known = {item.id: item for item in self.items}
        errors: list[dict] = []
        cleaned: dict[str, int] = {}
        refused: set[str] = set()  # answered, but with a bad value: one error, not two
        for key, raw in answers.items():
            item = known.get(key) if isinstance(key, str) else None
            if item is None:
                name = str(key)[:40]
                errors.append({"field": f"answers.{name}",
                               "message": f"{name} is not an item of {self.short_name}"})
                continue
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                continue  # not answered (an empty form field, or null)
            value = _as_int(raw)
            if value is None or value not in item.values:
                refused.add(key)
            allowed = ", ".join(str(v) for v in item.values)
            if value is None:
                shown = "true/false" if isinstance(raw, bool) else repr(raw)[:40]
                errors.append({"field": f"answers.{key}",
                               "message": f"{shown} is not one of {allowed}"})
            elif value not in item.values:
                errors.append({"field": f"answers.{key}",
                               "message": f"{value} is not one of {allowed}"})
            else:
                cleaned[key] = value
        missing = tuple(item.id for item in self.items if item.required and item.id not in cleaned)
        if missing and not partial:
            errors.extend({"field": f"answers.{item_id}", "message": "required; not answered"}
                          for item_id in missing if item_id not in refused)
        if errors:
            raise AnswerError(errors)

        # Keep the instrument's own item order in the cleaned answers.
        ordered = {item.id: cleaned[item.id] for item in self.items if item.id in cleaned}
        scored = [item for item in self.items if item.scored]
        total = None
        if all(item.id in ordered for item in scored):
            total = sum(item.scored_value(ordered[item.id]) for item in scored)
        subscales = {}
        for sub_id, _name, item_ids in self.subscales:
            if all(i in ordered for i in item_ids):
                subscales[sub_id] = sum(known[i].scored_value(ordered[i]) for i in item_ids)
        flags = tuple(
            Flag(item.id, ordered[item.id], item.risk_message or "")
            for item in self.items
            if item.risk_min is not None and item.id in ordered and ordered[item.id] >= item.risk_min
        )
        return Score(answers=ordered, total=total, subscales=subscales, band=self.band_for(total),
                     flags=flags, missing=missing, complete=not missing)

    def to_dict(self) -> dict:
        """The definition as JSON (for GET /api/instruments): everything but the examples,
        with each item's options written out."""
        return {
            "code": self.code, "name": self.name, "short_name": self.short_name,
            "version": self.version, "respondent": self.respondent,
            "population": self.population, "age_range": list(self.age_range),
            "timeframe": self.timeframe, "instructions": self.instructions,
            "items": [item.to_dict() for item in self.items],
            "subscales": [{"id": s, "name": n, "items": list(ids)} for s, n, ids in self.subscales],
            "total": {"min": self.total_min, "max": self.total_max, "direction": self.direction},
            "bands": [band.to_dict() for band in self.bands],
            "response": ({"reduction": self.response_reduction}
                         if self.response_reduction is not None else None),
            "loinc": json.loads(json.dumps(self.loinc)),
            "source": json.loads(json.dumps(self.source)),
            "licence": json.loads(json.dumps(self.licence)),
        }


def _as_int(raw: object) -> int | None:
    """An answer value as an int: ints and numeric strings ("2"); booleans, fractions and
    anything else are None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _INT_TEXT.match(raw):
        return int(raw)
    return None


# ---------------------------------------------------------------- loading and validation

_TOP_KEYS = {"code", "name", "short_name", "version", "respondent", "population", "age_range",
             "timeframe", "instructions", "option_sets", "items", "subscales", "total", "bands",
             "response", "loinc", "source", "licence", "examples"}
_OPTIONAL_TOP_KEYS = {"examples"}
_ITEM_KEYS = {"id", "text", "options", "scored", "reverse", "required", "risk"}


class _Checker:
    """Raises InstrumentError("<file>: <field>: <problem>")."""

    def __init__(self, filename: str):
        self.filename = filename

    def fail(self, field: str, message: str):
        raise InstrumentError(f"{self.filename}: {field}: {message}")

    def text(self, value, field: str, *, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(field, "must be a non-empty string" + (" or null" if nullable else ""))
        return value

    def integer(self, value, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "must be a whole number")
        return value

    def boolean(self, value, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(field, "must be true or false")
        return value

    def obj(self, value, field: str) -> dict:
        if not isinstance(value, dict):
            self.fail(field, "must be an object")
        return value

    def array(self, value, field: str, *, non_empty: bool = False) -> list:
        if not isinstance(value, list):
            self.fail(field, "must be a list")
        if non_empty and not value:
            self.fail(field, "must not be empty")
        return value

    def keys(self, value: dict, field: str, allowed: set, required: set):
        unknown = sorted(set(value) - allowed)
        if unknown:
            self.fail(f"{field}.{unknown[0]}" if field else unknown[0], "unknown field")
        absent = [k for k in sorted(required) if k not in value]
        if absent:
            self.fail(f"{field}.{absent[0]}" if field else absent[0], "missing")


def load_file(path: str | Path) -> Instrument:
    """Load and validate one definition file."""
    path = Path(path)
    check = _Checker(path.name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InstrumentError(f"{path.name}: cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstrumentError(f"{path.name}: not valid JSON ({exc})") from None
    return _build(data, check, expected_code=path.stem)


def _build(data, check: _Checker, expected_code: str | None) -> Instrument:
    check.obj(data, "(top level)")
    check.keys(data, "", _TOP_KEYS, _TOP_KEYS - _OPTIONAL_TOP_KEYS)

    code = check.text(data["code"], "code")
    if not _CODE.match(code):
        check.fail("code", "must be lower-case letters, digits and _ (starting with a letter)")
    if expected_code is not None and code != expected_code:
        check.fail("code", f"{code!r} differs from the file name {expected_code!r}")
    name = check.text(data["name"], "name")
    short_name = check.text(data["short_name"], "short_name")
    version = check.text(data["version"], "version")
    respondent = data["respondent"]
    if respondent not in RESPONDENTS:
        check.fail("respondent", f"must be one of {', '.join(RESPONDENTS)}")
    population = data["population"]
    if population not in POPULATIONS:
        check.fail("population", f"must be one of {', '.join(POPULATIONS)}")
    age_range = check.array(data["age_range"], "age_range")
    if len(age_range) != 2:
        check.fail("age_range", "must be [min, max] (years, or null)")
    for i, years in enumerate(age_range):
        if years is not None and (check.integer(years, f"age_range[{i}]") < 0):
            check.fail(f"age_range[{i}]", "must not be negative")
    if None not in age_range and age_range[0] > age_range[1]:
        check.fail("age_range", "min is above max")
    timeframe = check.text(data["timeframe"], "timeframe", nullable=True)
    instructions = data["instructions"]
    if not isinstance(instructions, str):
        check.fail("instructions", "must be a string")

    option_sets: dict[str, tuple[Option, ...]] = {}
    for set_name, options in check.obj(data["option_sets"], "option_sets").items():
        field = f"option_sets.{set_name}"
        built = []
        for i, option in enumerate(check.array(options, field, non_empty=True)):
            ofield = f"{field}[{i}]"
            check.obj(option, ofield)
            check.keys(option, ofield, {"value", "label"}, {"value", "label"})
            value = check.integer(option["value"], f"{ofield}.value")
            if any(o.value == value for o in built):
                check.fail(f"{ofield}.value", f"duplicate value {value}")
            built.append(Option(value, check.text(option["label"], f"{ofield}.label")))
        option_sets[set_name] = tuple(built)

    items: list[Item] = []
    for i, raw in enumerate(check.array(data["items"], "items", non_empty=True)):
        field = f"items[{i}]"
        check.obj(raw, field)
        check.keys(raw, field, _ITEM_KEYS, {"id", "text", "options"})
        item_id = check.text(raw["id"], f"{field}.id")
        if not _ITEM_ID.match(item_id):
            check.fail(f"{field}.id", "must be lower-case letters, digits and _ (starting with a letter)")
        if any(item.id == item_id for item in items):
            check.fail(f"{field}.id", f"duplicate item id {item_id!r}")
        set_name = raw["options"]
        if not isinstance(set_name, str) or set_name not in option_sets:
            check.fail(f"{field}.options", f"unknown option set {set_name!r}")
        options = option_sets[set_name]
        scored = check.boolean(raw.get("scored", True), f"{field}.scored")
        reverse = check.boolean(raw.get("reverse", False), f"{field}.reverse")
        required = check.boolean(raw.get("required", True), f"{field}.required")
        if scored and not required:
            check.fail(f"{field}.required", "a scored item must be required (the total needs it)")
        if reverse and not scored:
            check.fail(f"{field}.reverse", "only a scored item can be reverse-scored")
        risk_min = risk_message = None
        if raw.get("risk") is not None:
            risk = check.obj(raw["risk"], f"{field}.risk")
            check.keys(risk, f"{field}.risk", {"min", "message"}, {"min", "message"})
            risk_min = check.integer(risk["min"], f"{field}.risk.min")
            if not any(o.value >= risk_min for o in options):
                check.fail(f"{field}.risk.min", f"{risk_min} is above every option value")
            risk_message = check.text(risk["message"], f"{field}.risk.message")
        items.append(Item(item_id, check.text(raw["text"], f"{field}.text"), options, scored,
                          reverse, required, risk_min, risk_message))
    by_id = {item.id: item for item in items}
    scored_items = [item for item in items if item.scored]
    if not scored_items:
        check.fail("items", "no scored item")

    subscales = []
    for i, raw in enumerate(check.array(data["subscales"], "subscales")):
        field = f"subscales[{i}]"
        check.obj(raw, field)
        check.keys(raw, field, {"id", "name", "items"}, {"id", "name", "items"})
        sub_id = check.text(raw["id"], f"{field}.id")
        if any(s[0] == sub_id for s in subscales):
            check.fail(f"{field}.id", f"duplicate subscale id {sub_id!r}")
        item_ids = check.array(raw["items"], f"{field}.items", non_empty=True)
        for item_id in item_ids:
            if item_id not in by_id or not by_id[item_id].scored:
                check.fail(f"{field}.items", f"{item_id!r} is not a scored item")
        subscales.append((sub_id, check.text(raw["name"], f"{field}.name"), tuple(item_ids)))

    total = check.obj(data["total"], "total")
    check.keys(total, "total", {"min", "max", "direction"}, {"min", "max", "direction"})
    total_min = check.integer(total["min"], "total.min")
    total_max = check.integer(total["max"], "total.max")
    if total["direction"] not in DIRECTIONS:
        check.fail("total.direction", f"must be one of {', '.join(DIRECTIONS)}")
    lowest = sum(item.min_value for item in scored_items)
    highest = sum(item.max_value for item in scored_items)
    if total_min != lowest:
        check.fail("total.min", f"{total_min} is not the sum of the scored items' minima ({lowest})")
    if total_max != highest:
        check.fail("total.max", f"{total_max} is not the sum of the scored items' maxima ({highest})")

    bands: list[Band] = []
    for i, raw in enumerate(check.array(data["bands"], "bands")):
        field = f"bands[{i}]"
        check.obj(raw, field)
        check.keys(raw, field, {"min", "max", "label", "severity"}, {"min", "max", "label", "severity"})
        band = Band(check.integer(raw["min"], f"{field}.min"), check.integer(raw["max"], f"{field}.max"),
                    check.text(raw["label"], f"{field}.label"),
                    check.integer(raw["severity"], f"{field}.severity"))
        if band.min > band.max:
            check.fail(field, f"min {band.min} is above max {band.max}")
        expected = bands[-1].max + 1 if bands else total_min
        if band.min > expected:
            check.fail(f"{field}.min", f"gap: no band covers {expected}..{band.min - 1}")
        if band.min < expected:
            check.fail(f"{field}.min", f"overlap: {band.min} is already covered" if bands
                       else f"{band.min} is below total.min {total_min}")
        bands.append(band)
    if bands and bands[-1].max != total_max:
        check.fail(f"bands[{len(bands) - 1}].max",
                   f"bands end at {bands[-1].max}, not at total.max {total_max}")

    response = data["response"]
    reduction = None
    if response is not None:
        check.obj(response, "response")
        check.keys(response, "response", {"reduction"}, {"reduction"})
        reduction = response["reduction"]
        if isinstance(reduction, bool) or not isinstance(reduction, (int, float)) or not 0 < reduction <= 1:
            check.fail("response.reduction", "must be a fraction above 0 and at most 1")
        if total["direction"] != "higher_worse":
            check.fail("response", "only a higher_worse total can have a response rule")
        reduction = float(reduction)

    loinc = check.obj(data["loinc"], "loinc")
    for key, value in loinc.items():
        if key not in ("questionnaire", "total") and not key.startswith("subscale."):
            check.fail(f"loinc.{key}", "unknown field")
        if not isinstance(value, str) or not re.match(r"^\d{1,7}-\d$", value):
            check.fail(f"loinc.{key}", "must be a LOINC code such as 44249-1")
    source = check.obj(data["source"], "source")
    check.keys(source, "source", {"citation", "url", "cutoffs"}, {"citation"})
    for key, value in source.items():
        check.text(value, f"source.{key}")
    licence = check.obj(data["licence"], "licence")
    check.keys(licence, "licence", {"terms", "electronic_record", "item_text"}, {"terms", "electronic_record"})
    check.text(licence["terms"], "licence.terms")
    check.boolean(licence["electronic_record"], "licence.electronic_record")
    if "item_text" in licence:
        check.text(licence["item_text"], "licence.item_text")

    examples = []
    for i, raw in enumerate(check.array(data.get("examples", []), "examples")):
        field = f"examples[{i}]"
        check.obj(raw, field)
        check.keys(raw, field, {"answers", "total", "band", "flags", "subscales", "note"},
                   {"answers", "total", "band", "flags", "note"})
        check.obj(raw["answers"], f"{field}.answers")
        check.array(raw["flags"], f"{field}.flags")
        check.text(raw["note"], f"{field}.note")
        examples.append(raw)

    return Instrument(
        code=code, name=name, short_name=short_name, version=version, respondent=respondent,
        population=population, age_range=(age_range[0], age_range[1]), timeframe=timeframe,
        instructions=instructions, items=tuple(items), subscales=tuple(subscales),
        total_min=total_min, total_max=total_max, direction=total["direction"], bands=tuple(bands),
        response_reduction=reduction, loinc=dict(loinc), source=dict(source),
        licence=dict(licence), examples=tuple(examples),
    )


def load_dir(directory: str | Path) -> tuple[Instrument, ...]:
    """Every ``*.json`` definition in a directory, in display order."""
    loaded = [load_file(path) for path in sorted(Path(directory).glob("*.json"))]
    rank = {code: i for i, code in enumerate(DISPLAY_ORDER)}
    return tuple(sorted(loaded, key=lambda ins: (rank.get(ins.code, len(rank)), ins.code)))


@lru_cache(maxsize=1)
def all_instruments() -> tuple[Instrument, ...]:
    """The shipped instruments, loaded once, in display order."""
    return load_dir(DEFINITIONS_DIR)


@lru_cache(maxsize=1)
def _by_code() -> dict[str, Instrument]:
    return {instrument.code: instrument for instrument in all_instruments()}


def get(code: str) -> Instrument | None:
    if not isinstance(code, str):
        return None
    return _by_code().get(code)
