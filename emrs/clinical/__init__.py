"""clinical domain. Its pages and API routes arrive with its own issue; the models are here now."""
from flask import Blueprint

bp = Blueprint("clinical", __name__, url_prefix="/clinical")

from . import icd_views  # noqa: E402,F401  (issue 4: ICD picker)
from . import options_views  # noqa: E402,F401  (issue 4: option groups admin)
