"""/api/medicines — the formulary as JSON (LATER API; options-and-formulary.md §3).

GET    /api/medicines?q=&page=&limit=&include_retired=  {medicines, pagination}
GET    /api/medicines/search?q=&limit=                  {results} (the picker's entries)
GET    /api/medicines/<id>                              {medicine}
POST   /api/medicines            (Admin, Faculty)       201 {medicine}; 409 when the generic exists
DELETE /api/medicines/<id>       (Admin, Faculty)       retire (never a hard delete) -> {medicine}
"""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..prescriptions import formulary as svc
from . import bp
from .envelope import json_body, ok, page_object, pagination
from .openapi_schema import STR, arr, list_of, null, obj, Op, page_params, query, ref

ID = "int(max=2147483647)"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@bp.get("/medicines", endpoint="medicines_list")
def medicines_list():
    page, limit = pagination(default_limit=50, max_limit=500)
    term = " ".join((request.args.get("q") or "").split())[:100].lower()
    rows = svc.list_all(include_retired=_truthy(request.args.get("include_retired")))
    if term:
        rows = [m for m in rows if term in m.generic_name.lower() or term in (m.drug_class or "").lower()
                or any(term in b.lower() for b in m.brand_names or [])]
    total = len(rows)
    items = [m.to_dict() for m in rows[(page - 1) * limit: page * limit]]
    return ok({"medicines": items, "pagination": page_object(page, limit, total)})


@bp.get("/medicines/search", endpoint="medicines_search")
def medicines_search():
    term = " ".join((request.args.get("q") or "").split())[:100]
    try:
        limit = max(1, min(int(request.args.get("limit", 12)), 50))
    except ValueError:
        limit = 12
    return ok({"results": svc.search(term, limit) if term else []})


@bp.get(f"/medicines/<{ID}:medicine_id>", endpoint="medicines_get")
def medicines_get(medicine_id: int):
    return ok({"medicine": svc.get(medicine_id).to_dict()})


def _first(data: dict, *names):
    for name in names:
        if name in data:
            return data[name]
    return None


@bp.post("/medicines", endpoint="medicines_create")
def medicines_create():
    data = json_body()
    row = svc.add(_first(data, "generic_name", "name"), _first(data, "drug_class", "category"),
                  _first(data, "brand_names", "brands"), _first(data, "strengths"), principal(),
                  forms=_first(data, "forms"))
    return ok({"medicine": row.to_dict()}, "Medicine added", status=201)


@bp.delete(f"/medicines/<{ID}:medicine_id>", endpoint="medicines_delete")
def medicines_delete(medicine_id: int):
    row = svc.retire(medicine_id, principal())
    return ok({"medicine": row.to_dict()}, "Medicine retired")


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- formulary
    "medicines_list": Op("Medicines", "The formulary", list_of("medicines", "Medicine"), params=(
        *page_params(50, cap=500),
        query("q", {"type": "string", "maxLength": 100}, "Generic, brand or class contains this."),
        query("include_retired", {"type": "string", "enum": ["true", "false"]}, "Include retired entries."))),
    "medicines_search": Op("Medicines", "Medicine picker search", obj({"results": arr("MedicineEntry")}), params=(
        query("q", {"type": "string", "maxLength": 100}, "Generic or brand name."),
        query("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 12}, "At most 50."))),
    "medicines_get": Op("Medicines", "One formulary entry", obj({"medicine": ref("Medicine")}), errors=(404,)),
    "medicines_create": Op("Medicines", "Add a formulary entry", obj({"medicine": ref("Medicine")}), status=201,
                           message="Medicine added", body=obj({
                               "generic_name": {"type": "string", "minLength": 1, "maxLength": 200},
                               "name": {**STR, "description": "Alias of generic_name."},
                               "drug_class": null({"type": "string", "maxLength": 120}),
                               "category": {**null(STR), "description": "Alias of drug_class."},
                               "brand_names": {"anyOf": [arr(STR), STR, {"type": "null"}]},
                               "brands": {"anyOf": [arr(STR), STR, {"type": "null"}]},
                               "strengths": {"anyOf": [arr(STR), STR, {"type": "null"}]},
                               "forms": {"anyOf": [arr(STR), STR, {"type": "null"}],
                                         "description": "tablet (default), capsule, syrup, injection …"}},
                               required=()),
                           errors=(409,)),
    "medicines_delete": Op("Medicines", "Retire a formulary entry", obj({"medicine": ref("Medicine")}),
                           message="Medicine retired", errors=(404,),
                           description="Never a hard delete; prescriptions naming it are untouched."),
}
