"""Patients: out-patient card and record, search, patient page and timeline, visits, files, statistics."""
from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

from . import views  # noqa: E402,F401
from . import stats_views  # noqa: E402,F401  (keep at the end)
from . import files_views  # noqa: E402,F401  (keep at the end)
