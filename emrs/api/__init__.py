"""The JSON API (/api): thin adapters over the domain services, with the
original system's envelopes and field names (domain/api-contract.md)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from ..extensions import limiter  # noqa: E402
from .limits import api_limit, cap_body_size, rate_key  # noqa: E402

limiter.limit(api_limit, key_func=rate_key)(bp)  # a budget per token (or client address)
bp.before_request(cap_body_size)

from .idempotency import claim_or_replay, store_response  # noqa: E402

bp.before_request(claim_or_replay)  # after authentication (app hook) and the body size cap
bp.after_request(store_response)

from . import clinical, root, session, patient_stats, users, patients, patient_files, icd, icd11, clinical_options, intake, prescriptions, medicines, rooms, referrals, dashboard, reports, followups, child_patients, child_proformas, opd, cap_workup, assessments, openapi  # noqa: E402,F401
