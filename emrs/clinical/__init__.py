"""clinical domain. Its pages and API routes arrive with its own issue; the models are here now."""
from flask import Blueprint

bp = Blueprint("clinical", __name__, url_prefix="/clinical")
