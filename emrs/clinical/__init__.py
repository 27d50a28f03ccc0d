"""Walk-in clinical proforma: the form, option groups, ICD coding, lists and statistics."""
from flask import Blueprint

bp = Blueprint("clinical", __name__, url_prefix="/clinical")

from . import views  # noqa: E402,F401
from . import icd_views  # noqa: E402,F401  (ICD picker)
from . import icd11_views  # noqa: E402,F401  (the ICD-11 tree and its local additions)
from . import options_views  # noqa: E402,F401  (option groups admin)
from . import withdrawn_views  # noqa: E402,F401  (withdrawn records: Admin restores)
