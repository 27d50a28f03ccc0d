"""Adult follow-up visits: the follow-up note of a returning patient, its versions, its
attachments and the prescription written from it."""
from flask import Blueprint

bp = Blueprint("followups", __name__, url_prefix="/follow-ups")

from . import views  # noqa: E402,F401
