"""The child walk-in proforma's own fields (later-features §1b): an allow-list, field -> kind.

Kinds: ("text",), ("enum", options), ("multi", options), ("bool",), ("date",), ("age",).
Option values are the original's exact stored values. Fields the adult proforma also has are
not here: they use clinical_proforma's columns (see COLUMNS). Anything not listed in either is
ignored, never stored (the original accepted legacy flags it no longer shows).
"""
from __future__ import annotations

YES_NO = ("Yes", "No")

NEURO = ("speech_delay", "language_delay", "poor_eye_contact", "social_communication_difficulty",
         "repetitive_behaviour", "sensory_issues", "learning_difficulties", "motor_delay",
         "intellectual_disability_suspected")
BEHAVIOUR = ("inattention", "hyperactivity", "impulsivity", "oppositional_behaviour", "conduct_problems",
             "aggression_verbal_physical", "rule_breaking", "property_destruction", "lying", "truancy",
             "risk_taking_behaviour")
EMOTIONAL = ("irritability", "mood_swings", "anxiety", "sadness", "suicidal_ideation", "self_harm",
             "sleep_disturbance", "appetite_disturbance", "obsessions", "compulsions", "body_image_concerns",
             "internet_gaming_overuse")
TRAUMA = ("physical_abuse", "sexual_abuse", "emotional_abuse", "neglect", "domestic_violence_exposure",
          "parental_conflict_separation", "bereavement", "academic_stress", "bullying")
FAMILY = ("Autism", "ADHD", "Intellectual Disability", "Depression", "Bipolar Disorder", "Psychosis", "Suicide",
          "Substance Use", "Epilepsy")
RISK = ("suicide_risk", "self_harm_risk", "aggression_risk", "abuse_risk", "substance_use_risk",
        "online_exploitation_risk")
INVESTIGATIONS = ("CBC", "Thyroid Profile", "Vitamin B12", "EEG", "MRI Brain", "Genetic Testing",
                  "Hearing Assessment", "Vision Assessment", "IQ Testing", "SLD Battery", "Autism Tools",
                  "ADHD Rating Scales", "SDQ / CGAS / CGI")
PSYCHOLOGICAL = ("Parent Management Training", "Family Therapy", "CBT", "Play Therapy", "Others")
STATUSES = ("draft", "submitted")
DISPOSAL_STATUSES = ("Given", "Managed in Walk-in only")

T = ("text",)

# field -> kind, in the form's order. Sections are listed in SECTIONS below.
FIELDS: dict[str, tuple] = {
    # 1. basic information (name, sex: from the registration; date: visit_date)
    "age": ("age",),
    "informant_relationship": T,
    "reliability": ("enum", ("Good", "Fair", "Poor")),
    "family_type": ("enum", ("Nuclear", "Joint", "Single Parent")),
    "socioeconomic_status": T,
    # 2. school
    "school_name": T,
    "school_class": T,
    "school_type": ("enum", ("Govt", "Private", "Special")),
    "academic_performance": ("enum", ("Below Avg", "Avg", "Above Avg")),
    "school_refusal": ("enum", YES_NO),
    "bullying": ("enum", ("Victim", "Perpetrator", "Both", "No")),
    # 3. presenting complaints
    "presenting_complaints": T,
    # 4-7. concerns
    "neurodevelopmental_concerns": ("multi", NEURO),
    "neurodevelopmental_description": T,
    "behavioral_concerns": ("multi", BEHAVIOUR),
    "behavioral_description": T,
    "emotional_psychological_symptoms": ("multi", EMOTIONAL),
    "emotional_psychological_description": T,
    "trauma_psychosocial_stressors": ("multi", TRAUMA),
    "trauma_description": T,
    # 8. medical and family history
    "associated_medical_illness": T,
    "developmental_history": T,
    "family_history": ("multi", FAMILY),
    # 9. risk
    "risk_assessment": ("multi", RISK),
    # 10. MSE (free text; the adult MSE columns are label lists, so these stay here)
    "mse_appearance_behaviour": T,
    "mse_rapport": T,
    "mse_speech": T,
    "mse_mood_affect": T,
    "mse_thought": T,
    "mse_perception": T,
    "mse_cognition": T,
    "mse_insight_judgment": T,
    # 12. investigations
    "investigations_required": ("multi", INVESTIGATIONS),
    # 13. treatment plan (pharmacological_treatment: the treatment_prescribed column)
    "psychological_treatment": ("multi", PSYCHOLOGICAL),
    "high_risk_management": ("enum", YES_NO),
    # 14. follow-up (referred_to: its column)
    "follow_up_after": T,
    # the original's status (the page always submits; the API defaults to draft)
    "status": ("enum", STATUSES),
    # legacy fields the original's API still accepts (not on its page), with its two rules
    "has_physical_illness": ("bool",),
    "physical_illness_specification": T,
    "disposal_status": ("enum", DISPOSAL_STATUSES),
    "disposal_reason": T,
    "disposal_date": ("date",),
}

# Flat field of the original -> clinical_proforma column (shared with the adult form).
COLUMNS = {
    "visit_date": "visit_date",
    "date": "visit_date",
    "room_no": "room_no",
    "assigned_doctor": "assigned_doctor",
    "provisional_diagnosis": "diagnosis",
    "icd_code": "icd_code",
    "icd_title": "icd_title",
    "icd_system": "icd_system",
    "pharmacological_treatment": "treatment_prescribed",
    "referred_to": "referred_to",
}

SECTIONS = [
    ("basic", "1. Basic information", ("age", "informant_relationship", "reliability", "family_type",
                                      "socioeconomic_status")),
    ("school", "2. School information", ("school_name", "school_class", "school_type", "academic_performance",
                                        "school_refusal", "bullying")),
    ("complaints", "3. Presenting complaints", ("presenting_complaints",)),
    ("neuro", "4. Neurodevelopmental concerns", ("neurodevelopmental_concerns", "neurodevelopmental_description")),
    ("behaviour", "5. Behavioural concerns", ("behavioral_concerns", "behavioral_description")),
    ("emotional", "6. Emotional and psychological symptoms", ("emotional_psychological_symptoms",
                                                               "emotional_psychological_description")),
    ("trauma", "7. Trauma and psychosocial stressors", ("trauma_psychosocial_stressors", "trauma_description")),
    ("history", "8. Medical and family history", ("associated_medical_illness", "developmental_history",
                                                  "family_history")),
    ("risk", "9. Risk assessment", ("risk_assessment",)),
    ("mse", "10. Mental status examination", ("mse_appearance_behaviour", "mse_rapport", "mse_speech",
                                              "mse_mood_affect", "mse_thought", "mse_perception", "mse_cognition",
                                              "mse_insight_judgment")),
    ("diagnosis", "11. Provisional diagnosis", ()),
    ("investigations", "12. Investigations required", ("investigations_required",)),
    ("treatment", "13. Treatment plan", ("psychological_treatment", "high_risk_management")),
    ("followup", "14. Follow-up and disposal", ("follow_up_after",)),
    ("documents", "15. Patient documents", ()),
]

LABELS = {
    "age": "Age (years)", "informant_relationship": "Informant (relationship)", "reliability": "Reliability",
    "family_type": "Family type", "socioeconomic_status": "Socio-economic status", "school_name": "School",
    "school_class": "Class", "school_type": "School type", "academic_performance": "Academic performance",
    "school_refusal": "School refusal", "bullying": "Bullying", "presenting_complaints": "Presenting complaints",
    "neurodevelopmental_concerns": "Neurodevelopmental concerns", "neurodevelopmental_description": "Description",
    "behavioral_concerns": "Behavioural concerns", "behavioral_description": "Description",
    "emotional_psychological_symptoms": "Emotional and psychological symptoms",
    "emotional_psychological_description": "Description",
    "trauma_psychosocial_stressors": "Trauma and psychosocial stressors", "trauma_description": "Description",
    "associated_medical_illness": "Associated medical illness", "developmental_history": "Developmental history",
    "family_history": "Family history", "risk_assessment": "Risk assessment",
    "mse_appearance_behaviour": "Appearance and behaviour", "mse_rapport": "Rapport", "mse_speech": "Speech",
    "mse_mood_affect": "Mood and affect", "mse_thought": "Thought", "mse_perception": "Perception",
    "mse_cognition": "Cognition", "mse_insight_judgment": "Insight and judgement",
    "investigations_required": "Investigations required", "psychological_treatment": "Psychological treatment",
    "high_risk_management": "High-risk management", "follow_up_after": "Follow up after",
    "status": "Status", "has_physical_illness": "Physical illness",
    "physical_illness_specification": "Physical illness (specify)", "disposal_status": "Disposal",
    "disposal_reason": "Reason (managed in walk-in only)", "disposal_date": "Disposal date",
}
LONG_TEXT = {"presenting_complaints", "neurodevelopmental_description", "behavioral_description",
             "emotional_psychological_description", "trauma_description", "associated_medical_illness",
             "developmental_history"} | {k for k in FIELDS if k.startswith("mse_")}


def option_label(value: str) -> str:
    """speech_delay -> Speech delay; stored labels ("Thyroid Profile") stay as they are."""
    return value.replace("_", " ").capitalize() if "_" in value or value.islower() else value


def shown(value):
    """A stored value as the read-only page shows it (lists joined, options labelled)."""
    if isinstance(value, list):
        return ", ".join(option_label(v) for v in value) or None
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return value
