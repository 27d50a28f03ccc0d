"""Out-patient intake record (ADL file): the detailed work-up and the physical file."""
from flask import Blueprint

bp = Blueprint("intake", __name__, url_prefix="/intake")

from . import views  # noqa: E402,F401
from . import record_room_views  # noqa: E402,F401
