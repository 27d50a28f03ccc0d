"""/api/icd/search — the ICD picker's data as JSON (ICD-11 of the loaded release and ICD-10)."""
from __future__ import annotations

from flask import request

from ..clinical import icd
from . import bp
from .envelope import ok


@bp.get("/icd/search", endpoint="icd_search")
def icd_search():
    term = " ".join((request.args.get("q") or "").split())[:100]
    if len(term) < 2:
        return ok({"results": [], "typed": None})
    try:
        limit = max(1, min(int(request.args.get("limit", 15)), 50))
    except ValueError:
        limit = 15
    system = request.args.get("system")
    system = system if system in icd.SYSTEMS else None
    typed = icd.parse_code(term) if icd.looks_like_icd11(term) else None
    return ok({"results": icd.search(term, limit, system), "typed": typed})
