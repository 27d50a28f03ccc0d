"""How the work-up fields appear in the intake-record form: labels, widgets, the
columns of the table fields, and the parsing of a submitted section."""
from __future__ import annotations

import re

from .models import BOOL_FIELDS, DATE_FIELDS, INT_FIELDS, JSON_ARRAY_FIELDS, WORKUP_SECTIONS

ROW_COLUMNS = {
    "informants": (("relationship", "Relationship"), ("name", "Name"), ("reliability", "Reliability")),
    "complaints_patient": (("complaint", "Complaint"), ("duration", "Duration")),
    "complaints_informant": (("complaint", "Complaint"), ("duration", "Duration")),
    "family_history_siblings": (("age", "Age"), ("sex", "Sex (M/F)"), ("education", "Education"),
                                ("occupation", "Occupation"), ("marital_status", "Marital status")),
    "occupation_jobs": (("job", "Job"), ("dates", "Dates"), ("adjustment", "Adjustment"),
                        ("difficulties", "Difficulties"), ("promotions", "Promotions"),
                        ("change_reason", "Reason for change")),
    "sexual_children": (("age", "Age"), ("sex", "Sex (M/F)")),
    "living_residents": (("name", "Name"), ("relationship", "Relationship"), ("age", "Age")),
    "living_inlaws": (("name", "Name"), ("relationship", "Relationship"), ("age", "Age")),
}
CHOICES = {
    "personal_delivery_type": ("Normal", "Forceps", "Caesarean"),
    "sexual_marriage_arranged": ("Arranged", "Love", "Other"),
}
BLANK_ROWS = 2

_PREFIXES = [
    ("family_history_father_", "Father: "), ("family_history_mother_", "Mother: "),
    ("history_treatment_", "Earlier treatment: "), ("past_history_psychiatric_", "Past psychiatric: "),
    ("home_situation_", "Home: "), ("personal_complications_", "Complications: "), ("personal_", ""),
    ("development_", "Development: "), ("education_", ""), ("sexual_", ""), ("religion_", ""),
    ("living_", ""), ("premorbid_personality_", ""), ("physical_cvs_", "CVS: "), ("physical_chest_", "Chest: "),
    ("physical_abdomen_", "Abdomen: "), ("physical_cns_", "CNS: "), ("physical_", ""),
    ("mse_general_", "General: "), ("mse_psychomotor_", "Psychomotor: "), ("mse_affect_", "Affect: "),
    ("mse_thought_", "Thought: "), ("mse_cognitive_", "Cognition: "), ("mse_insight_", "Insight: "),
    ("diagnostic_formulation_", ""), ("history_", ""), ("past_history_", "Past history: "),
]
_WORDS = {"dtrs": "DTRs", "bp": "BP", "cvs": "CVS", "cns": "CNS", "adl": "ADL"}


def label(name: str) -> str:
    special = {"family_history": "Family history (notes)", "informants": "Informants",
               "complaints_patient": "Complaints — by the patient", "complaints_informant": "Complaints — by the informant",
               "onset_duration": "Onset / duration", "precipitating_factor": "Precipitating factor",
               "course": "Course", "family_history_siblings": "Siblings", "occupation_jobs": "Jobs",
               "premorbid_personality_traits": "Traits (one per line)", "provisional_diagnosis": "Provisional diagnosis",
               "treatment_plan": "Treatment plan", "consultant_comments": "Consultant's comments",
               "history_narrative": "History of present illness (narrative)"}
    if name in special:
        return special[name]
    prefix, text = "", name
    for p, shown in _PREFIXES:
        if name.startswith(p):
            prefix, text = shown, name[len(p):]
            break
    words = [_WORDS.get(w, w) for w in text.split("_")]
    phrase = " ".join(words)
    return prefix + (phrase[:1].upper() + phrase[1:])


def widget(name: str) -> str:
    if name == "premorbid_personality_traits":
        return "lines"
    if name in JSON_ARRAY_FIELDS:
        return "rows"
    if name in DATE_FIELDS:
        return "date"
    if name in INT_FIELDS:
        return "int"
    if name in BOOL_FIELDS:
        return "bool"
    if name in CHOICES:
        return "choice"
    if re.search(r"(narrative|summary|plan|comments|features|psychodynamic|history$|_enquiry|_response|"
                 r"_treatment$|_medical|_childhood|_interpersonal|_problems)", name):
        return "long"
    return "text"


def sections() -> list[dict]:
    return [{"key": key, "title": title, "fields": [{"name": f, "label": label(f), "widget": widget(f),
                                                    "columns": ROW_COLUMNS.get(f), "choices": CHOICES.get(f)}
                                                   for f in fields]}
            for key, title, fields in WORKUP_SECTIONS]


def section_fields(key: str) -> tuple[str, ...] | None:
    for k, _t, fields in WORKUP_SECTIONS:
        if k == key:
            return fields
    return None


_ROW = re.compile(r"^(?P<field>[a-z_]+)-(?P<i>\d{1,2})-(?P<col>[a-z_]+)$")


def parse_section(form, key: str) -> dict:
    """A submitted section as the service's input: table rows from `field-<i>-<col>`
    inputs (empty rows dropped), checkboxes as booleans, traits one per line."""
    fields = section_fields(key) or ()
    data: dict = {}
    rows: dict[str, dict[int, dict]] = {}
    for name, value in form.items(multi=True):
        m = _ROW.match(name)
        if m and m["field"] in ROW_COLUMNS and m["field"] in fields:
            cols = dict(ROW_COLUMNS[m["field"]])
            if m["col"] in cols:
                rows.setdefault(m["field"], {}).setdefault(int(m["i"]), {})[m["col"]] = value.strip()[:1000]
    for f in fields:
        w = widget(f)
        if w == "rows":
            data[f] = [r for _, r in sorted(rows.get(f, {}).items()) if any(v for v in r.values())]
        elif w == "lines":
            data[f] = [line.strip() for line in (form.get(f) or "").splitlines() if line.strip()][:50]
        elif w == "bool":
            data[f] = "true" if form.get(f) in ("on", "true", "1") else "false"
        elif f in form:
            data[f] = form.get(f)
    return data
