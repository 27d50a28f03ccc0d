"""/api/patients/stats and /api/patients/age-distribution (api-contract.md §5).

Static paths: this module is imported before the one that registers /api/patients/<id>."""
from __future__ import annotations

from ..patients import stats
from . import bp
from .envelope import ok
from .openapi_schema import INT, arr, obj, Op


@bp.get("/patients/stats", endpoint="patients_stats")
def patients_stats():
    return ok({"stats": stats.patient_stats()})


@bp.get("/patients/age-distribution", endpoint="patients_age_distribution")
def patients_age_distribution():
    return ok({"distribution": stats.age_distribution()})


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- patients
    "patients_stats": Op("Patients", "Patient statistics", obj({"stats": obj({k: INT for k in (
        "total_patients", "male_patients", "female_patients", "other_patients", "patients_with_adl",
        "complex_cases", "simple_cases")})})),
    "patients_age_distribution": Op("Patients", "Patients per age group", obj({"distribution": arr(obj({
        "age_group": {"type": "string", "enum": ["Under 18", "18-25", "26-35", "36-45", "46-55", "56-65",
                                                 "65+"]}, "count": INT}))})),
}
