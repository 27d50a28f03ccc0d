"""/api/icd11/entities — the ICD-11 tree as JSON.

GET    /api/icd11/entities?parent=<id>&q=      {entities} — the chapters; a node's children
                                                 (parent); or codable entries by code/title (q)
GET    /api/icd11/entities/<id>                  {entity, path, children}
POST   /api/icd11/entities          (Admin)      201 {entity}: a local entry under ``parent_id``
PATCH  /api/icd11/entities/<id>     (Admin)      {entity}: a local entry's title, code, is_active
DELETE /api/icd11/entities/<id>     (Admin)      {entity}: deactivates a local entry (never deleted)

WHO's entries are never changed (403); the rules are in clinical/icd11.py.
"""
from __future__ import annotations

from flask import request

from ..auth.guard import principal
from ..clinical import icd11 as svc
from ..errors import ValidationError, field_error
from . import bp
from .envelope import json_body, ok
from .openapi_schema import BOOL, ID, arr, null, obj, Op, query, ref

ENTITY_ID = "int(max=2147483647)"


def _parent_arg():
    raw = request.args.get("parent")
    if raw in (None, ""):
        return None
    if not raw.isascii() or not raw.isdecimal() or len(raw) > 9:
        raise ValidationError("Validation failed", errors=[field_error("parent", "parent must be an entry id",
                                                                       raw[:40], "query")])
    return svc.get(int(raw))


@bp.get("/icd11/entities", endpoint="icd11_entities_list")
def icd11_entities_list():
    term = " ".join((request.args.get("q") or "").split())[:100]
    parent = _parent_arg()
    if term:
        try:
            limit = max(1, min(int(request.args.get("limit", 25)), 100))
        except ValueError:
            limit = 25
        return ok({"entities": svc.search(term, limit)})
    rows = svc.children(parent) if parent is not None else svc.roots()
    return ok({"entities": svc.node_dicts(rows)})


@bp.get(f"/icd11/entities/<{ENTITY_ID}:entity_id>", endpoint="icd11_entities_get")
def icd11_entities_get(entity_id: int):
    row = svc.get(entity_id)
    return ok({"entity": svc.node_dicts([row])[0], "path": svc.node_dicts(svc.path(row)),
               "children": svc.node_dicts(svc.children(row))})


@bp.post("/icd11/entities", endpoint="icd11_entities_create")
def icd11_entities_create():
    data = json_body()
    row = svc.add_local(data.get("parent_id"), data.get("title"), data.get("code"), principal())
    return ok({"entity": svc.node_dict(row, 0)}, "Local ICD-11 entry added", status=201)


@bp.patch(f"/icd11/entities/<{ENTITY_ID}:entity_id>", endpoint="icd11_entities_update")
def icd11_entities_update(entity_id: int):
    data = json_body()
    fields = {k: data[k] for k in ("title", "code", "is_active") if k in data}
    row = svc.update_local(entity_id, fields, principal())
    return ok({"entity": svc.node_dicts([row])[0]}, "Local ICD-11 entry saved")


@bp.delete(f"/icd11/entities/<{ENTITY_ID}:entity_id>", endpoint="icd11_entities_delete")
def icd11_entities_delete(entity_id: int):
    row, _n = svc.set_active(entity_id, False, principal())
    return ok({"entity": svc.node_dicts([row])[0]}, "Local ICD-11 entry deactivated")


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

OPENAPI = {
    # ---------------------------------------------------------------- ICD-11 tree
    "icd11_entities_list": Op("ICD-11", "The ICD-11 tree: chapters, an entry's children, or a search",
                              obj({"entities": {"anyOf": [arr("Icd11Entity"), arr("IcdResult")]}}), params=(
                                  query("parent", ID, "The children of this entry (else the chapters)."),
                                  query("q", {"type": "string", "maxLength": 100},
                                        "Codable entries by code prefix or title words (IcdResult items)."),
                                  query("limit", {"type": "integer", "minimum": 1, "maximum": 100,
                                                  "default": 25}, "With q: at most 100.")),
                              errors=(404,)),
    "icd11_entities_get": Op("ICD-11", "One entry with its path and children", obj({
        "entity": ref("Icd11Entity"), "path": {**arr("Icd11Entity"), "description": "The chapter first."},
        "children": arr("Icd11Entity")}), errors=(404,)),
    "icd11_entities_create": Op("ICD-11", "Add a local entry under an entry (Admin)",
                                obj({"entity": ref("Icd11Entity")}), status=201,
                                message="Local ICD-11 entry added", errors=(404, 409), body=obj({
                                    "parent_id": ID,
                                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                    "code": {**null({"type": "string", "maxLength": 20}),
                                             "description": "Optional; not one of WHO's codes or another "
                                                            "local entry's (409)."}},
                                    required=("parent_id", "title"))),
    "icd11_entities_update": Op("ICD-11", "Change a local entry (Admin)", obj({"entity": ref("Icd11Entity")}),
                                message="Local ICD-11 entry saved", errors=(403, 404, 409), body=obj({
                                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                                    "code": null({"type": "string", "maxLength": 20}),
                                    "is_active": BOOL}, required=()),
                                description="WHO's entries are never edited (403)."),
    "icd11_entities_delete": Op("ICD-11", "Deactivate a local entry (Admin)", obj({"entity": ref("Icd11Entity")}),
                                message="Local ICD-11 entry deactivated", errors=(403, 404),
                                description="Never a hard delete; local entries under it are deactivated too; "
                                            "records coded with it keep their code. WHO's entries: 403."),
}
