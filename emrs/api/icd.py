"""/api/icd/search — the ICD picker's data as JSON (ICD-11 of the loaded release and ICD-10)."""
from __future__ import annotations

from flask import request

from ..clinical import icd
from . import bp
from .envelope import ok
from .openapi_schema import BOOL, STR, arr, null, obj, Op, query


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


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- ICD
    "icd_search": Op("Clinical proformas", "Search ICD-11 and ICD-10 codes", obj({
        "results": arr("IcdResult"),
        "typed": null(obj({"code": STR, "system": STR, "title": null(STR), "version": null(STR),
                           "in_release": {**BOOL, "description": "False: a well-formed ICD-11 code the loaded "
                                                                 "release does not have (still accepted)."}}))}),
        params=(
            query("q", {"type": "string", "maxLength": 100},
                  "Code prefix (6A7, 6A70.1, F32) or words of the title."),
            query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 15}, "At most 50."),
            query("system", {"type": "string", "enum": ["ICD-11", "ICD-10"]}, "Only this system.")),
        description="ICD-11 entries of the loaded tree first, then ICD-10 (2019); when both match, each gets "
                    "at least half of `limit`."),
}
