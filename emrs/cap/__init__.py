"""CAP detailed work-up (the child's intake record) and WHO growth charts."""
from flask import Blueprint

bp = Blueprint("cap", __name__, url_prefix="/cap")

from . import views  # noqa: E402,F401
