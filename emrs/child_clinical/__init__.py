"""Child walk-in clinical proforma (Child Guidance Clinic): pages; API in emrs/api/child_proformas.py."""
from flask import Blueprint

bp = Blueprint("child_clinical", __name__, url_prefix="/clinical/child")

from . import views  # noqa: E402,F401
