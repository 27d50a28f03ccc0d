"""/api/patients/stats and /api/patients/age-distribution (api-contract.md §5).

Static paths: this module is imported before the one that registers /api/patients/<id>."""
from __future__ import annotations

from ..patients import stats
from . import bp
from .envelope import ok


@bp.get("/patients/stats", endpoint="patients_stats")
def patients_stats():
    return ok({"stats": stats.patient_stats()})


@bp.get("/patients/age-distribution", endpoint="patients_age_distribution")
def patients_age_distribution():
    return ok({"distribution": stats.age_distribution()})
