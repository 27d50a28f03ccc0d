"""The ICD picker's results fragment (HTMX): GET /clinical/icd-search?q=."""
from __future__ import annotations

from flask import render_template, request

from . import bp, icd

MIN_QUERY = 2


@bp.get("/icd-search", endpoint="icd_search")
def icd_search():
    term = " ".join((request.args.get("q") or request.args.get("icd_query") or request.args.get("_icd_query") or "").split())[:100]
    if len(term) < MIN_QUERY:
        return render_template("clinical/_icd_results.html", term=term, results=[], typed=None)
    typed = icd.parse_code(term) if icd.looks_like_icd11(term) else None
    return render_template("clinical/_icd_results.html", term=term, results=icd.search(term), typed=typed)
