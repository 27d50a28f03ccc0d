"""The ICD picker's results fragment (HTMX): GET /clinical/icd-search?q=."""
from __future__ import annotations

from flask import render_template, request

from . import bp, icd

MIN_QUERY = 2


def typed_option(term: str, results: list[dict]) -> dict | None:
    """The "use this ICD-11 code as typed" option, unless the search already lists that code."""
    typed = icd.parse_code(term) if icd.looks_like_icd11(term) else None
    if typed and any(r["system"] == icd.ICD11 and r["code"] == typed["code"] for r in results):
        return None
    return typed


@bp.get("/icd-search", endpoint="icd_search")
def icd_search():
    term = " ".join((request.args.get("q") or request.args.get("icd_query") or request.args.get("_icd_query") or "").split())[:100]
    if len(term) < MIN_QUERY:
        return render_template("clinical/_icd_results.html", term=term, results=[], typed=None)
    results = icd.search(term)
    return render_template("clinical/_icd_results.html", term=term, results=results,
                           typed=typed_option(term, results), not_in_release=icd.NOT_IN_RELEASE)
