"""Patient reports: one patient as a printable A4 PDF or an Excel workbook, many patients
(by registration date or ids) as one workbook. Sections and rules: service.py."""
from flask import Blueprint

bp = Blueprint("reports", __name__)

from . import views  # noqa: E402,F401
