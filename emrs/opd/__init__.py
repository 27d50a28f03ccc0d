"""The OPD day: consultation rooms, each doctor's room for the day, the queue of today's
visits with token numbers, Today's Patients, referrals between doctors."""
from flask import Blueprint

bp = Blueprint("opd", __name__)

from . import queue_views, referral_views, rooms_views  # noqa: E402,F401
