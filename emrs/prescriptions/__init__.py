"""Prescriptions: formulary, the editor with drug-safety warnings, history and the printable PDF."""
from flask import Blueprint

bp = Blueprint("prescriptions", __name__, url_prefix="/prescriptions")

from . import views  # noqa: E402,F401

from . import formulary_views  # noqa: E402,F401  (the formulary pages)
