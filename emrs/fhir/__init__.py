"""FHIR R4 read access (/fhir): patients, their visits, diagnoses and prescriptions as
FHIR R4 resources, for other hospital systems. Same bearer tokens as /api."""
from flask import Blueprint

bp = Blueprint("fhir", __name__, url_prefix="/fhir")

from . import views  # noqa: E402,F401
