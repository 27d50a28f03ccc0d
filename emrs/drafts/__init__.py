"""Autosaved form drafts: save/discard endpoints for static/js/autosave.js,
the "restored from" banner, and "My unsaved drafts". See service.py for the page contract."""
from flask import Blueprint

bp = Blueprint("drafts", __name__, url_prefix="/drafts")

from . import views  # noqa: E402,F401
