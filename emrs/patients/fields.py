"""The fields of the out-patient card (step 1) and record (step 2), with their
allowed values and server-side validation (entities.md §2, api-contract.md §5).

One table of rules, used by the registration/edit pages and by every API route.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..errors import ValidationError, field_error
from ..safetext import clean_name, identifier_problem
from ..timeutil import today_ist


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"            # text | choice | code_or_text | int | money | date | pin | mobile
    #                               | abha_number | abha_address | identifier | name
    max_len: int | None = None
    choices: tuple = ()           # (code, label) pairs
    min: int | None = None
    max: int | None = None
    required: bool = False
    past: bool = False            # a date that has happened: never after today (IST)


def _c(*pairs):
    return tuple(pairs)


SEX = _c(("M", "Male"), ("F", "Female"), ("Other", "Other"))
CATEGORY = _c(("GEN", "General"), ("SC", "SC"), ("ST", "ST"), ("OBC", "OBC"), ("EWS", "EWS"))
UNIT_DAYS = _c(("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"),
               ("fri", "Friday"), ("sat", "Saturday"))
AGE_GROUP = _c(("0-15", "0–15"), ("15-30", "15–30"), ("30-45", "30–45"), ("45-60", "45–60"), ("60+", "60+"))
MARITAL = _c(("single", "Single"), ("married", "Married"), ("remarried", "Remarried"), ("widowed", "Widowed"),
             ("divorced", "Divorced"), ("separated", "Separated"), ("others", "Others"), ("not_known", "Not known"))
OCCUPATION = _c(("unemployed", "Unemployed"), ("unskilled", "Unskilled"), ("semi_skilled", "Semi-skilled"),
                ("skilled", "Skilled"), ("clerical_shop_farmer", "Clerical / shop / farmer"),
                ("semi_professional", "Semi-professional"), ("household_housewife", "Household / housewife"),
                ("retired", "Retired"), ("student", "Student"), ("professional", "Professional"),
                ("others", "Others"))
EDUCATION = _c(("illiterate_literate", "Illiterate / literate"), ("primary", "Primary"), ("middle", "Middle"),
               ("matric", "Matric"), ("senior_secondary", "Senior secondary"), ("inter_diploma", "Inter / diploma"),
               ("graduate", "Graduate"), ("master_professional", "Master / professional"), ("not_known", "Not known"))
RELIGION = _c(("hinduism", "Hinduism"), ("islam", "Islam"), ("sikhism", "Sikhism"), ("christianity", "Christianity"),
              ("others", "Others"), ("not_known", "Not known"))
FAMILY_TYPE = _c(("nuclear", "Nuclear"), ("extended", "Extended"), ("joint", "Joint"), ("others", "Others"),
                 ("not_known", "Not known"))
LOCALITY = _c(("urban", "Urban"), ("rural", "Rural"), ("other", "Other"))
RELATIONSHIP = _c(("self", "Self"), ("father", "Father"), ("mother", "Mother"), ("husband", "Husband"),
                  ("wife", "Wife"), ("son", "Son"), ("daughter", "Daughter"), ("brother", "Brother"),
                  ("sister", "Sister"), ("other", "Other"))
MOBILITY = _c(("permanent_resident", "Permanent resident (Punjab/Haryana/Chandigarh/HP)"),
              ("transferable", "Transferable"), ("visiting_chandigarh", "Visiting Chandigarh (short stay)"),
              ("others", "Others"), ("not_known", "Not known"))
REFERRED_BY = _c(("self", "Self"), ("medical_specialities_pgi", "Medical specialities, PGI"),
                 ("surgical_specialities_pgi", "Surgical specialities, PGI"),
                 ("physician_surgeon_outside_pgi", "Physician / surgeon outside PGI"),
                 ("psychiatrist_outside_pgi", "Psychiatrist outside PGI"), ("relative_family", "Relative / family"),
                 ("others", "Others"))

_NOW_YEAR = dt.date.today().year

CARD_FIELDS: tuple[Field, ...] = (
    Field("cr_no", "CR No.", "identifier", max_len=50),
    Field("date", "Registration date", "date", past=True),
    Field("name", "Name", "name", max_len=255, required=True),
    Field("age", "Age", "int", min=0, max=150),
    Field("sex", "Sex", "choice", choices=SEX),
    Field("contact_number", "Mobile", "mobile", max_len=20),
    Field("abha_number", "ABHA number", "abha_number"),
    Field("abha_address", "ABHA address", "abha_address"),
    Field("father_name", "Father's / husband's name", "name", max_len=255),
    Field("category", "Category", "choice", choices=CATEGORY),
    Field("department", "Department", max_len=100),
    Field("unit_consit", "Unit / consultant", max_len=100),
    Field("room_no", "Room", max_len=20),
    Field("serial_no", "Serial no.", max_len=50),
    Field("file_no", "File no.", max_len=50),
    Field("unit_days", "Unit days", "choice", choices=UNIT_DAYS),
    Field("address_line", "Address", max_len=500),
    Field("city", "City / town / village", max_len=100),
    Field("district", "District", max_len=100),
    Field("state", "State", max_len=100),
    Field("pin_code", "PIN code", "pin"),
    Field("country", "Country", max_len=100),
)

RECORD_FIELDS: tuple[Field, ...] = (
    Field("psy_no", "PSY No.", "identifier", max_len=50),
    Field("special_clinic_no", "Special clinic no.", max_len=50),
    Field("seen_in_walk_in_on", "Seen in walk-in clinic on", "date", past=True),
    Field("worked_up_on", "Worked up on", "date", past=True),
    Field("allergies", "Drug allergies", max_len=500),
    Field("age_group", "Age group", "choice", choices=AGE_GROUP),
    Field("marital_status", "Marital status", "choice", max_len=20, choices=MARITAL),
    Field("year_of_marriage", "Year of marriage", "int", min=1900, max=_NOW_YEAR + 1),
    Field("no_of_children_male", "Children (male)", "int", min=0, max=20),
    Field("no_of_children_female", "Children (female)", "int", min=0, max=20),
    Field("occupation", "Occupation", "code_or_text", max_len=50, choices=OCCUPATION),
    Field("education", "Education", "choice", choices=EDUCATION),
    Field("patient_income", "Patient's income (₹/month)", "money"),
    Field("family_income", "Family income (₹/month)", "money"),
    Field("religion", "Religion", "code_or_text", max_len=20, choices=RELIGION),
    Field("family_type", "Family type", "code_or_text", max_len=20, choices=FAMILY_TYPE),
    Field("locality", "Locality", "code_or_text", max_len=20, choices=LOCALITY),
    Field("head_name", "Head of family: name", "name", max_len=255),
    Field("head_age", "Head of family: age", "int", min=0, max=150),
    Field("head_relationship", "Head of family: relationship", "code_or_text", max_len=50, choices=RELATIONSHIP),
    Field("head_education", "Head of family: education", "choice", choices=EDUCATION),
    Field("head_occupation", "Head of family: occupation", "code_or_text", max_len=50, choices=OCCUPATION),
    Field("head_income", "Head of family: income (₹/month)", "money"),
    Field("distance_from_hospital", "Distance from hospital", max_len=100),
    Field("mobility", "Mobility", "code_or_text", max_len=100, choices=MOBILITY),
    Field("referred_by", "Referred by", "code_or_text", max_len=100, choices=REFERRED_BY),
    Field("permanent_address_line_1", "Permanent address", max_len=500),
    Field("permanent_city_town_village", "City / town / village", max_len=100),
    Field("permanent_district", "District", max_len=100),
    Field("permanent_state", "State", max_len=100),
    Field("permanent_pin_code", "PIN code", "pin"),
    Field("permanent_country", "Country", max_len=100),
    Field("present_address_line_1", "Present address", max_len=500),
    Field("present_city_town_village", "City / town / village", max_len=100),
    Field("present_district", "District", max_len=100),
    Field("present_state", "State", max_len=100),
    Field("present_pin_code", "PIN code", "pin"),
    Field("present_country", "Country", max_len=100),
    Field("local_address", "Local (Chandigarh) address", max_len=500),
    Field("assigned_room", "Room today", max_len=20),
)

ALL_FIELDS = {f.name: f for f in CARD_FIELDS + RECORD_FIELDS}
# Columns the original accepted too; same rules as their siblings.
_EXTRA = {
    "permanent_address_line_2": Field("permanent_address_line_2", "Permanent address (2)", max_len=500),
    "present_address_line_2": Field("present_address_line_2", "Present address (2)", max_len=500),
    "present_city_town_village_2": Field("present_city_town_village_2", "City (2)", max_len=100),
    "present_district_2": Field("present_district_2", "District (2)", max_len=100),
    "present_state_2": Field("present_state_2", "State (2)", max_len=100),
    "present_pin_code_2": Field("present_pin_code_2", "PIN (2)", "pin"),
    "present_country_2": Field("present_country_2", "Country (2)", max_len=100),
}
ALL_FIELDS.update(_EXTRA)
CARD_NAMES = tuple(f.name for f in CARD_FIELDS)
RECORD_NAMES = tuple(f.name for f in RECORD_FIELDS) + tuple(_EXTRA)
# Patient update: null/'' ignored, except these, which may be cleared (roles-and-workflow §3).
CLEARABLE = ("assigned_doctor_id", "assigned_doctor_name", "assigned_room")

_PIN = re.compile(r"^\d{6}$")
_MOBILE = re.compile(r"^\+?[0-9][0-9 -]{8,18}[0-9]$")

# ABHA (Ayushman Bharat Health Account). The number: 14 digits, typed with or without
# spaces/hyphens, stored as the digits and shown XX-XXXX-XXXX-XXXX. The address: a
# local part of 4 to 32 letters, digits, "." or "_" that starts and ends with a letter
# or digit, then @abdm (production) or @sbx (ABDM sandbox); compared and stored lower-case.
_ABHA_NUMBER = re.compile(r"^\d{14}$")
_ABHA_ADDRESS = re.compile(r"^[a-z0-9][a-z0-9._]{2,30}[a-z0-9]@(abdm|sbx)$")
ABHA_NUMBER_MESSAGE = "must be 14 digits, written XX-XXXX-XXXX-XXXX"
ABHA_ADDRESS_MESSAGE = ("must be an ABHA address such as name@abdm: 4 to 32 letters, digits, dots or "
                        "underscores, then @abdm or @sbx")


def abha_digits(value) -> str:
    """The 14 digits of an ABHA number typed with or without spaces/hyphens, else ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(ABHA_NUMBER_MESSAGE)
    digits = re.sub(r"[\s-]", "", value)
    if not _ABHA_NUMBER.match(digits):
        raise ValueError(ABHA_NUMBER_MESSAGE)
    return digits


def format_abha(value) -> str | None:
    """XX-XXXX-XXXX-XXXX for 14 stored digits; anything else is returned as it is."""
    if isinstance(value, str) and _ABHA_NUMBER.match(value):
        return f"{value[:2]}-{value[2:6]}-{value[6:10]}-{value[10:]}"
    return value


def abha_address(value) -> str:
    if not isinstance(value, str) or not _ABHA_ADDRESS.match(value.strip().lower()):
        raise ValueError(ABHA_ADDRESS_MESSAGE)
    return value.strip().lower()


def _date(value):
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError("must be a date (YYYY-MM-DD)")


def not_after_today(d: dt.date) -> dt.date:
    """A date that has happened (a registration, a visit): never after today's IST date."""
    today = today_ist()
    if d > today:
        raise ValueError(f"cannot be after today ({today.strftime('%d %b %Y')}, India time); "
                         f"{d.strftime('%d %b %Y')} has not come yet")
    return d


def clean_value(f: Field, value):
    """Return the cleaned value or raise ValueError(message). '' and None become None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if f.kind in ("int",):
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ValueError("must be a whole number")
        try:
            num = int(str(value).strip()) if not isinstance(value, float) or value.is_integer() else None
        except ValueError:
            num = None
        if num is None:
            raise ValueError("must be a whole number")
        if (f.min is not None and num < f.min) or (f.max is not None and num > f.max):
            raise ValueError(f"must be between {f.min} and {f.max}")
        return num
    if f.kind == "money":
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValueError("must be an amount in rupees")
        try:
            amount = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError("must be an amount in rupees")
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e13"):
            raise ValueError("must be 0 or more")
        return amount.quantize(Decimal("0.01"))
    if f.kind == "abha_number":
        return abha_digits(value)
    if f.kind == "abha_address":
        return abha_address(value)
    if f.kind == "date":
        d = _date(value)
        if not dt.date(1900, 1, 1) <= d <= dt.date(2100, 12, 31):
            raise ValueError("must be a real date")
        if f.past:
            not_after_today(d)
        return d
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and f.kind in ("text", "pin", "mobile"):
            value = str(value)
        else:
            raise ValueError("must be text")
    value = value.strip()
    if "\x00" in value:
        raise ValueError("contains a character that is not allowed")
    if f.kind == "identifier":  # CR / PSY numbers: emrs/safetext.py
        problem = identifier_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    if f.kind == "name":
        value = clean_name(value)
    if f.kind == "choice":
        codes = {c.lower(): c for c, _ in f.choices}
        if value.lower() not in codes:
            raise ValueError("must be one of: " + ", ".join(c for c, _ in f.choices))
        return codes[value.lower()]
    if f.kind == "pin":
        if not _PIN.match(value):
            raise ValueError("must be exactly 6 digits")
        return value
    if f.kind == "mobile10":
        if not re.fullmatch(r"\d{10}", value):
            raise ValueError("must be exactly 10 digits")
        return value
    if f.kind == "mobile":
        if not _MOBILE.match(value):
            raise ValueError("must be a phone number of 10 to 15 digits")
        return value
    if f.kind == "code_or_text":
        codes = {c.lower(): c for c, _ in f.choices}
        value = codes.get(value.lower(), value)  # a code, or the free text typed for "Others"
    if f.max_len and len(value) > f.max_len:
        raise ValueError(f"must be at most {f.max_len} characters")
    return value


def clean(data: dict, names, *, partial: bool, location: str = "body", table=None) -> tuple[dict, list]:
    """Clean the given field names out of ``data``. Returns (values, errors).

    partial=True: only keys present in data are considered (None/'' kept as None so the
    caller can decide whether to ignore them). ``table``: the field rules (default the
    adult card and record; CHILD_FIELDS for a child of the Child Guidance Clinic)."""
    values, errors = {}, []
    table = ALL_FIELDS if table is None else table
    for name in names:
        f = table[name]
        if name not in data:
            if f.required and not partial:
                errors.append(field_error(name, f"{f.label} is required", None, location))
            continue
        try:
            cleaned = clean_value(f, data[name])
        except ValueError as exc:
            errors.append(field_error(name, f"{f.label} {exc}", _safe_echo(data[name]), location))
            continue
        if f.required and cleaned is None and not partial:
            errors.append(field_error(name, f"{f.label} is required", None, location))
            continue
        if name == "name" and cleaned is not None and len(cleaned) < 2:
            errors.append(field_error(name, "Name must be 2 to 255 characters", cleaned, location))
            continue
        values[name] = cleaned
    return values, errors


def _safe_echo(value):
    """Echo short scalar values back in validation errors; never huge or nested input."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, str):
        return value[:100]
    return None


def raise_if(errors: list) -> None:
    if errors:
        raise ValidationError("Validation failed", errors=errors)


def label_of(name: str, code) -> str:
    f = ALL_FIELDS.get(name)
    if not f or code is None:
        return "" if code is None else str(code)
    for c, label in f.choices:
        if c == code:
            return label
    return str(code)


# Sections of the two paper forms, in the order the counter fills them.
CARD_GROUPS = [
    ("Identity", ("cr_no", "date", "name", "age", "sex", "contact_number", "father_name", "category")),
    ("ABHA (Ayushman Bharat Health Account)", ("abha_number", "abha_address")),
    ("Clinic", ("department", "unit_consit", "room_no", "serial_no", "file_no", "unit_days")),
    ("Address", ("address_line", "city", "district", "state", "pin_code", "country")),
]
RECORD_GROUPS = [
    ("Numbers and dates", ("psy_no", "special_clinic_no", "seen_in_walk_in_on", "worked_up_on")),
    ("Clinical safety", ("allergies",)),
    ("Socio-demographic", ("age_group", "marital_status", "year_of_marriage", "no_of_children_male",
                           "no_of_children_female", "occupation", "education", "patient_income", "family_income",
                           "religion", "family_type", "locality")),
    ("Head of family", ("head_name", "head_age", "head_relationship", "head_education", "head_occupation",
                        "head_income")),
    ("Referral and mobility", ("distance_from_hospital", "mobility", "referred_by")),
    ("Permanent address", ("permanent_address_line_1", "permanent_city_town_village", "permanent_district",
                           "permanent_state", "permanent_pin_code", "permanent_country")),
    ("Present address", ("present_address_line_1", "present_city_town_village", "present_district",
                         "present_state", "present_pin_code", "present_country", "local_address")),
]


def form_values(form, names) -> dict:
    """Values of a submitted page form. For 'code or text' fields the select may say
    Others and the text box next to it carries what was typed."""
    out = {}
    for name in names:
        if name not in form:
            continue
        value = form.get(name, "")
        f = ALL_FIELDS[name]
        if f.kind == "code_or_text" and value in ("others", "other"):
            typed = (form.get(f"{name}__other") or "").strip()
            value = typed or value
        out[name] = value
    return out


# ------------------------------------------------------------------ the child card
# The Child Guidance Clinic's registration (child and adolescent psychiatry): the same
# registered_patient row, validated with the child card's own option lists (exact stored
# values, emrs/data/child_registration.json). docs/children.md maps the original's names.

def _load_child_options() -> dict:
    import json
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "data" / "child_registration.json"
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    return {k: v for k, v in data.items() if not k.startswith("_")}


CHILD_OPTIONS: dict[str, list[str]] = _load_child_options()


def _same(key: str) -> tuple:
    return tuple((v, v) for v in CHILD_OPTIONS[key])


CHILD_AGE_MAX = 18
# The child card's sex is stored with the patient registry's codes (M, F, Other).
CHILD_SEX = {"male": "M", "m": "M", "female": "F", "f": "F", "other": "Other"}
CHILD_SEX_LABEL = {"M": "Male", "F": "Female", "Other": "Other"}

CHILD_FIELD_LIST: tuple[Field, ...] = (
    Field("cr_no", "CR No.", "identifier", max_len=50),
    Field("cgc_number", "CGC No.", "identifier", max_len=50),
    Field("seen_in_walk_in_on", "Seen in walk-in on", "date", past=True),
    Field("date", "Registration date", "date", past=True),
    Field("name", "Child's name", "name", max_len=255, required=True),
    Field("contact_number", "Guardian's mobile", "mobile10", required=True),
    Field("sex", "Sex", "choice", choices=SEX),
    Field("age", "Age", "int", min=0, max=CHILD_AGE_MAX),
    Field("date_of_birth", "Date of birth", "date", past=True),
    Field("age_group", "Age group", "choice", choices=_same("age_group")),
    Field("education", "Educational status", "choice", choices=_same("educational_status")),
    Field("occupation", "Occupational status", "choice", choices=_same("occupational_status")),
    Field("religion", "Religion", "choice", choices=_same("religion")),
    Field("head_name", "Head of family: name", "name", max_len=255),
    Field("head_relationship", "Head of family: relationship", "choice", choices=_same("head_relationship")),
    Field("head_age", "Head of family: age", "int", min=0, max=150),
    Field("head_education", "Head of family: education", "choice", choices=_same("head_education")),
    Field("head_occupation", "Head of family: occupation", "choice", choices=_same("head_occupation")),
    Field("head_income_band", "Head of family: monthly income", "choice", choices=_same("head_monthly_income")),
    Field("locality", "Locality", "choice", choices=_same("locality")),
    Field("distance_from_hospital", "Distance travelled", "choice", choices=_same("distance_travelled")),
    Field("referred_by", "Source of referral", "choice", choices=_same("source_of_referral")),
    Field("address_line", "Address", max_len=500),
    Field("city", "City / town / village", max_len=100),
    Field("district", "District", max_len=100),
    Field("state", "State", max_len=100),
    Field("country", "Country", max_len=100),
    Field("pin_code", "PIN code", "pin"),
    Field("present_address_line_1", "Present address", max_len=500),
    Field("present_city_town_village", "City / town / village", max_len=100),
    Field("present_district", "District", max_len=100),
    Field("present_state", "State", max_len=100),
    Field("present_country", "Country", max_len=100),
    Field("present_pin_code", "PIN code", "pin"),
    Field("permanent_address_line_1", "Permanent address", max_len=500),
    Field("permanent_city_town_village", "City / town / village", max_len=100),
    Field("permanent_district", "District", max_len=100),
    Field("permanent_state", "State", max_len=100),
    Field("permanent_country", "Country", max_len=100),
    Field("permanent_pin_code", "PIN code", "pin"),
    Field("local_address", "Local address", max_len=500),
    Field("allergies", "Drug allergies", max_len=500),
)
CHILD_FIELDS = {f.name: f for f in CHILD_FIELD_LIST}
CHILD_NAMES = tuple(CHILD_FIELDS)

# The original's field names (child_patient_registrations) -> registered_patient columns.
CHILD_ALIASES = {
    "child_name": "name", "cr_number": "cr_no", "mobile_no": "contact_number",
    "seen_as_walk_in_on": "seen_in_walk_in_on", "educational_status": "education",
    "occupational_status": "occupation", "head_monthly_income": "head_income_band",
    "distance_travelled": "distance_from_hospital", "source_of_referral": "referred_by",
    "city_town_village": "city", "pincode": "pin_code",
    "present_address_line": "present_address_line_1", "present_pincode": "present_pin_code",
    "permanent_address_line": "permanent_address_line_1", "permanent_pincode": "permanent_pin_code",
    "local_address_line": "local_address",
}

CHILD_GROUPS = [
    ("Visit and identification", ("seen_in_walk_in_on", "cr_no", "cgc_number")),
    ("Child", ("name", "sex", "age")),  # then the room to queue in today (a new child)
    ("Guardian's mobile and the child's details", ("contact_number", "date_of_birth", "age_group", "education",
                                                    "occupation", "religion")),
    ("Head of family (guardian)", ("head_name", "head_relationship", "head_age", "head_education",
                                   "head_occupation", "head_income_band")),
    ("Locality, distance, referral", ("locality", "distance_from_hospital", "referred_by")),
    ("Address", ("address_line", "city", "district", "state", "country", "pin_code")),
    ("Present address", ("present_address_line_1", "present_city_town_village", "present_district",
                         "present_state", "present_country", "present_pin_code")),
    ("Permanent address", ("permanent_address_line_1", "permanent_city_town_village", "permanent_district",
                           "permanent_state", "permanent_country", "permanent_pin_code")),
    ("Local address and safety", ("local_address", "allergies")),
]


def child_age_group(age: int | None) -> str | None:
    """The child card's age group of an age in years: 0 → less than 1 year, 1–5, 6–10,
    11–15, and 16–18 → "15 – 18 years" (a group EMRS adds: the original's stop at 15)."""
    if age is None:
        return None
    groups = CHILD_OPTIONS["age_group"]
    if age < 1:
        return groups[0]
    if age <= 5:
        return groups[1]
    if age <= 10:
        return groups[2]
    if age <= 15:
        return groups[3]
    return groups[4]


def child_input(data: dict) -> dict:
    """A child's registration as sent (the original's names or the registry's): the
    registry's column names, the sex as M/F/Other."""
    out = {}
    for key, value in data.items():
        column = CHILD_ALIASES.get(key, key)
        if column in out and key in CHILD_ALIASES:
            continue  # the registry's own name, when both are sent, wins
        out[column] = value
    sex = out.get("sex")
    if isinstance(sex, str) and sex.strip().lower() in CHILD_SEX:
        out["sex"] = CHILD_SEX[sex.strip().lower()]
    return out
