"""The JSON API (/api): thin adapters over the domain services, with the
original system's envelopes and field names (domain/api-contract.md)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import clinical, root, session, patient_stats, users, patients, patient_files, icd, clinical_options, intake, prescriptions, medicines, openapi  # noqa: E402,F401
