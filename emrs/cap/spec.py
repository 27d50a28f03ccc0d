"""The allow-list of the CAP detailed work-up (later-features §1c): every field, its kind and
its section. Values are stored in ``adl_files.cap_sections`` (JSON) only after they pass
``coerce``; a key not named here is refused (never used as a column name, as the original
did). Kinds:

- ``text``: free text (≤ 20,000 characters)
- ``int``: a whole number in [lo, hi]
- ``num``: a decimal number in [lo, hi] (stored as a number)
- ``date``: YYYY-MM-DD
- ``bool``: true / false
- ``enum``: one of the exact values
- ``rows``: a list of at most ``max`` objects with the given keys (short text each)

Fields the registration already holds (CGC number, name, age, sex, education, referral, date
of birth) are not stored here: the pages and the API show them live from the registration.
BMI and the growth-chart positions are computed (emrs/cap/growth.py), not typed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MAX_TEXT = 20_000
MAX_CELL = 1_000


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"
    lo: float | None = None
    hi: float | None = None
    values: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    max_rows: int = 0
    label: str | None = None
    textarea: bool = False


def T(name, label=None):
    return Field(name, "text", label=label)


def A(name, label=None):  # a textarea
    return Field(name, "text", label=label, textarea=True)


def B(name, label=None):
    return Field(name, "bool", label=label)


def E(name, values, label=None):
    return Field(name, "enum", values=tuple(values), label=label)


def I(name, lo, hi, label=None):
    return Field(name, "int", lo=lo, hi=hi, label=label)


def N(name, lo, hi, label=None):
    return Field(name, "num", lo=lo, hi=hi, label=label)


def R(name, keys, max_rows, label=None):
    return Field(name, "rows", keys=tuple(keys), max_rows=max_rows, label=label)


SCHOOL_TYPES = ("Government", "Private", "Special")
IMPAIRMENT = ("Mild", "Moderate", "Severe", "None", "Not impaired")
FIRST_CONTACT = ("Parental perception", "Teacher referral", "Referral from any physician",
                 "Referral from a pediatrician", "Advice of a relative", "Any other")

_ANTE = ("pregnancy_planned", "pregnancy_wanted", "pregnancy_unwanted_reason", "mother_age_conception",
         "father_age_conception", "conception_method", "preconception_folate", "preconception_folate_months",
         "nutritional_status_mother", "medical_illness_treatment", "other_medical_surgery", "hyperemesis",
         "fever_first_trimester", "xray_exposure", "drug_intake_non_supplement", "psychotropic_use",
         "alcohol_tobacco", "antenatal_visits", "immunization", "usg", "special_procedures", "attempted_abortion",
         "rh_incompatibility", "single_or_twin", "threatened_abortion_bleeding_pv", "preeclampsia_eclampsia",
         "foetal_movements", "other_significant_history")
_NATAL = ("delivery_location", "delivery_term", "gestational_age_weeks", "delivery_method",
          "delivery_method_reason", "abnormal_presentation", "large_head", "low_placenta", "prolapsed_cord",
          "cord_around_neck", "foetal_distress", "prolonged_labour", "prom", "non_progress_labour",
          "meconium_stained", "eclampsia", "excessive_bleeding_pph", "infections", "other_significant_history")
_NEONATAL = ("birth_weight_kg", "birth_weight_category", "lga", "birth_cry", "colour", "respiratory_distress",
             "activity", "suckling", "feeding_method", "feeding_schedule", "feeding_problem", "urine_stools",
             "congenital_anomalies_stigmata", "seizures", "jaundice", "infection", "hospital_incubator_nicu",
             "icu_stay_details", "other_significant_history")
_DEV = ("social_smile", "neck_holding", "recognizing_mother", "rolling_over", "sitting_without_support",
        "first_meaningful_word", "standing_with_support", "walking", "teething", "ten_meaningful_words",
        "two_word_phrases", "fluent_speech_sentence", "bowel_control", "bladder_control")
_EDU = ("schooling_type", "school_nature", "literacy_before_formal_schooling", "age_started_schooling",
        "studied_up_to_class", "current_school_address", "attendance", "scholastic_performance",
        "peer_group_adjustment", "problems_with_teachers", "classroom_behaviour", "school_change_frequency_reasons",
        "dropout_reasons", "any_other_information")
_TEMPERAMENT = ("activity", "rhythmicity", "approach_withdrawal", "adaptability", "mood", "intensity_reaction",
                "threshold_responsiveness", "attention_span", "persistence", "distractibility")
_PPF = ("permissiveness_rigidity", "consistency_inconsistency", "discipline_liberal_supervision",
        "approval_disapproval_interest", "protectiveness_overprotection", "toleration_deviation")
_MSE = ("interview_approach_notes", "general_appearance_attitude_behaviour", "relationship_capacity",
        "spontaneous_motility", "speech_and_language", "affect", "thought_flow", "thought_form", "thought_content",
        "possession", "perception", "hmf_orientation", "hmf_attention_distractibility", "hmf_memory",
        "hmf_intelligence_fund_of_knowledge", "insight_motivation")


def _ante(n):
    if n in ("mother_age_conception", "father_age_conception"):
        return I("ante_natal_" + n, 10, 80)
    return A("ante_natal_" + n) if n == "other_significant_history" else T("ante_natal_" + n)


def _natal(n):
    if n == "gestational_age_weeks":
        return N("natal_gestational_age_weeks", 20, 45)
    return A("natal_" + n) if n == "other_significant_history" else T("natal_" + n)


def _neonatal(n):
    if n == "birth_weight_kg":
        return N("neonatal_birth_weight_kg", 0.3, 7)
    return A("neonatal_" + n) if n in ("other_significant_history", "icu_stay_details") else T("neonatal_" + n)


# (key, title, fields) in the order of the paper form (§1c sections 1–20).
SECTIONS: list[tuple[str, str, tuple[Field, ...]]] = [
    ("administrative", "Administrative & identification", (
        Field("workup_date", "date", label="Work-up date"),
        E("school_type", SCHOOL_TYPES),
        A("reason_referral_present_consultation", "Reason for referral / present consultation"),
        A("information_reliability_adequacy", "Reliability and adequacy of information"))),
    ("informants", "Informants", (
        R("informants", ("name", "relationship_with_patient", "age", "sex", "education", "occupation",
                         "duration_stay_with_patient"), 10),)),
    ("chief_complaints", "Chief complaints & course", (
        R("chief_complaints_course", ("complaint", "duration", "onset", "precipitating_factor_present",
                                      "precipitating_factor_elaborate", "course"), 10,
          label="Chief complaints"),)),
    ("hpi", "History of present illness", (
        *(A(n) for n in ("hpi_developmental_history_symptoms", "hpi_symptoms_impairment_developmental_age",
                         "hpi_behavioral_symptom_factors", "hpi_phenomenology_symptoms",
                         "hpi_adolescent_biological_enquiry", "hpi_sensory_impairments",
                         "hpi_comorbid_physical_illness", "hpi_treatment_history", "hpi_continued",
                         "relevant_negative_history", "functioning_overall_assessment")),
        E("impairment_severity", IMPAIRMENT))),
    ("treatment_history", "Treatment history", (
        T("treatment_who_initiated_first_contact", "Who initiated the first contact"),
        E("treatment_first_contact_due_to", FIRST_CONTACT, "First contact due to"),
        T("treatment_first_contact_due_to_other", "First contact due to (other)"),
        R("treatment_history_chart", ("year", "facility", "diagnosis", "treatment", "duration", "response"), 4,
          label="Treatment history chart (up to 4 rows)"))),
    ("past_family_life_chart", "Past psychiatric, medical and family history; life chart", (
        A("past_psychiatric_history"), A("medical_history_details"),
        *(T("medical_enquiry_" + n) for n in ("epilepsy", "syncope", "exercise_intolerance", "cardiac_ailment")),
        A("family_history_details"), T("family_history_epilepsy"), T("family_history_sudden_cardiac_death"),
        A("family_pedigree_description"), T("family_consanguinity"), T("family_previous_abortions_stillbirths"),
        *(A("life_chart_" + n) for n in ("details", "psychiatric_past_present", "physical_comorbidities_treatment",
                                         "relation_physical_psychiatric")))),
    ("ante_natal", "Ante-natal history", tuple(_ante(n) for n in _ANTE)),
    ("natal", "Natal history", tuple(_natal(n) for n in _NATAL)),
    ("neonatal", "Neonatal & post-natal history", tuple(_neonatal(n) for n in _NEONATAL)),
    ("milestones", "Developmental milestones (age)", tuple(T(f"dev_{n}_age") for n in _DEV)),
    ("habits", "Habits, feeding and sleep", (
        T("habits_feeding_type"), I("habits_exclusive_breastfeeding_months", 0, 60),
        T("habits_reasons_not_exclusive_breastfeeding"), I("habits_weaning_age_months", 0, 60),
        T("habits_food_fads_preferences"), A("habits_sleep_details"), T("habits_sleep_bedtime_behavioral_problems"),
        T("habits_sleep_abnormal_movements_behaviours"),
        *(B("habits_neurotic_" + n) for n in ("nail_biting", "thumb_sucking", "morbid_fears", "obstinacy",
                                              "temper_tantrums", "enuresis_encopresis")))),
    ("play", "Play", (
        T("play_preference"), T("play_friends_quantity"), T("play_friends_age_relation"),
        *(B("play_" + n) for n in ("indifferent_to_playmates", "inappropriate_intrusion_impulsivity",
                                   "understands_rules_based_games", "shows_cooperation_in_play", "is_bully",
                                   "is_bullied", "indulges_functional_play", "indulges_symbolic_pretend_play")),
        T("play_bully_details"), T("play_bullied_details"), A("play_peculiarities"),
        A("habits_play_other_significant_history"))),
    ("education", "Educational history", tuple(T("edu_" + n) for n in _EDU)),
    ("sexual_menstrual", "Sexual & menstrual history", tuple(
        T("sexual_menstrual_" + n) for n in ("age_appropriate_context", "menarche_regularity_lmp", "reaction_menarche",
                                             "orientation", "masturbation_guilt", "intercourse_protection",
                                             "knowledge_perceptions"))),
    ("temperament", "Temperament (infancy / later)", tuple(
        T(f"temperament_{n}_{when}") for n in _TEMPERAMENT for when in ("infancy", "later"))),
    ("family_functioning", "Strengths, family structure, parental functioning", (
        A("child_strengths_psychosocial_assets"), A("child_strengths_interests_hobbies"),
        T("family_primary_caregivers"), T("family_primary_breadwinner"), T("family_structure_type"),
        T("family_main_decision_makers"),
        *(T(f"ppf_{who}_{n}") for who in ("mother", "father") for n in _PPF),
        A("pci_interaction_patterns_communication_warmth_abuse_indulgence"), A("pci_attachment_bonding_child_parents"),
        A("pci_family_understanding_illness_expectations"),
        *(A("family_functioning_" + n) for n in ("discord_communication", "role_significant_others",
                                                 "stressful_events_child_impact")),
        A("social_environmental_dwelling_crowding_finance_neighborhood"),
        A("social_environmental_resources_milieu_support"))),
    ("physical_exam", "Physical examination", (
        T("gpe_built", "Built"),
        N("gpe_height_length_cm", 30, 230, "Height / length (cm)"), N("gpe_weight_kg", 0.5, 250, "Weight (kg)"),
        N("gpe_head_circumference_cm", 20, 70, "Head circumference (cm)"),
        N("gpe_waist_circumference_cm", 20, 200, "Waist circumference (cm)"),
        N("gpe_hip_circumference_cm", 20, 200, "Hip circumference (cm)"),
        T("gpe_vitals_hr", "Heart rate"), T("gpe_vitals_rr", "Respiratory rate"), T("gpe_vitals_bp", "Blood pressure"),
        A("gpe_general_signs"), T("gpe_facial_dysmorphism"), T("gpe_skin_neurocutaneous_stigmata"),
        *(T("sys_exam_" + n) for n in ("respiratory", "gastrointestinal", "cardiovascular", "nervous_system")))),
    ("mse", "Mental status examination", tuple(A("mse_" + n) for n in _MSE)),
    ("diagnosis_plan", "Diagnosis & plan", (
        A("diagnostic_formulation"), A("provisional_diagnosis"), T("icd10_diagnosis", "ICD-10 diagnosis"),
        T("dsm5_diagnosis", "DSM-5 diagnosis"), A("residents_plan_of_management"))),
    ("review", "Consultant / SR review", (
        A("consultant_sr_discussion"), A("final_diagnosis"), T("final_icd10_diagnosis", "Final ICD-10 diagnosis"),
        T("final_dsm5_diagnosis", "Final DSM-5 diagnosis"),
        *(A("mgmt_planned_" + n) for n in ("followup_setting_frequency", "further_exploration", "rating_scales")),
        A("management_advice"), T("signature_consultant_sr_name", "Consultant / SR (name)"),
        T("signature_resident_name", "Resident (name)"))),
]

FIELDS: dict[str, Field] = {f.name: f for _k, _t, fs in SECTIONS for f in fs}
SECTION_OF: dict[str, str] = {f.name: k for k, _t, fs in SECTIONS for f in fs}
SECTION_KEYS = tuple(k for k, _t, _f in SECTIONS)
ENUMS = {n: f.values for n, f in FIELDS.items() if f.kind == "enum"}
assert len(FIELDS) == sum(len(fs) for _k, _t, fs in SECTIONS), "duplicate CAP field name"

# Shown live from the registration (never stored in the work-up).
FROM_REGISTRATION = ("cap_no", "patient_name", "age", "gender", "education", "referred_by", "date_of_birth")
# Growth measurements written from the physical examination.
GROWTH_FIELDS = ("gpe_height_length_cm", "gpe_weight_kg", "gpe_head_circumference_cm")


def label(field: Field) -> str:
    if field.label:
        return field.label
    text = field.name
    for prefix in ("ante_natal_", "natal_", "neonatal_", "dev_", "habits_", "play_", "edu_", "sexual_menstrual_",
                   "temperament_", "mse_hmf_", "mse_", "gpe_", "sys_exam_", "hpi_", "life_chart_", "medical_enquiry_",
                   "mgmt_planned_", "pci_", "social_environmental_", "family_functioning_", "child_strengths_"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if text.startswith("ppf_"):
        who, rest = text[4:].split("_", 1)
        text = f"{who}: {rest}"
    text = text.replace("_", " ").replace(" age", " (age)") if text.startswith("dev_") else text.replace("_", " ")
    return text[:1].upper() + text[1:]


def coerce(name: str, raw):
    """The stored value of one field, or ValueError with a message for the user."""
    f = FIELDS[name]
    if f.kind == "rows":
        if raw in (None, ""):
            return []
        if not isinstance(raw, list):
            raise ValueError("must be a JSON array of rows")
        if len(raw) > f.max_rows:
            raise ValueError(f"may have at most {f.max_rows} rows")
        out = []
        for row in raw:
            if not isinstance(row, dict):
                raise ValueError("rows must be objects")
            unknown = sorted(str(k)[:40] for k in row if k not in f.keys)
            if unknown:
                raise ValueError(f"rows may only have the keys {', '.join(f.keys)} (unknown: {', '.join(unknown)})")
            clean = {}
            for k in f.keys:
                v = row.get(k)
                if v is None or (isinstance(v, str) and not v.strip()):
                    continue
                if isinstance(v, bool) or not isinstance(v, (str, int, float)) or len(str(v)) > MAX_CELL \
                        or "\x00" in str(v):
                    raise ValueError(f"row value {k} must be short text")
                clean[k] = str(v).strip()
            if clean:
                out.append(clean)
        return out
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return False if f.kind == "bool" else None
    if f.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            return raw.strip().lower() in ("true", "1", "yes", "on")
        raise ValueError("must be true or false")
    if f.kind == "enum":
        if not isinstance(raw, str) or raw not in f.values:
            raise ValueError(f"must be one of: {', '.join(f.values)}")
        return raw
    if f.kind == "date":
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw.strip()[:10]).isoformat()
            except ValueError:
                pass
        raise ValueError("must be a date (YYYY-MM-DD)")
    if f.kind in ("int", "num"):
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)) or len(str(raw)) > 12:
            raise ValueError(f"must be a number from {_n(f.lo)} to {_n(f.hi)}")
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise ValueError(f"must be a number from {_n(f.lo)} to {_n(f.hi)}")
        if value != value or not (f.lo <= value <= f.hi):
            raise ValueError(f"must be a number from {_n(f.lo)} to {_n(f.hi)}")
        if f.kind == "int":
            if not value.is_integer():
                raise ValueError(f"must be a whole number from {_n(f.lo)} to {_n(f.hi)}")
            return int(value)
        return round(value, 3)
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ValueError("must be text")
    text = str(raw)
    if len(text) > MAX_TEXT or "\x00" in text:
        raise ValueError(f"must be text of at most {MAX_TEXT} characters")
    return text


def _n(x):
    return str(int(x)) if float(x).is_integer() else str(x)
