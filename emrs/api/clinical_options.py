"""Clinical option groups (api-contract.md §8 "Clinical options"), under both the
[SPEC] path /api/clinical-options/<group> and the original
/api/clinical-proformas/options/<group>; the same handlers answer both."""
from __future__ import annotations

from ..auth.guard import principal
from ..clinical import options as svc
from ..errors import Conflict, ValidationError, field_error
from . import bp
from .envelope import json_body, ok
from .openapi_schema import ID, LABEL_BODY, STR, arr, obj, Op, ref

PREFIXES = (("clinical_options", "/clinical-options"), ("proforma_options", "/clinical-proformas/options"))


def _payload(group: str) -> dict:
    rows = svc.options(group)
    return {"group": group, "options": [o.option_label for o in rows],
            "optionsWithMeta": [{"id": o.id, "label": o.option_label, "is_system": o.is_system} for o in rows]}


def all_groups():
    return ok(svc.groups())


def get_group(group: str):
    return ok(_payload(group))  # an unknown group answers options: [] (contract)


def add_option(group: str):
    data = json_body(required=False)
    svc.require_group(group)
    label = data.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ValidationError("Label is required", errors=[field_error("label", "Label is required", label)])
    try:
        row = svc.add(group, label, principal())
        body = _payload(group)
        body["option"] = {"id": row.id, "label": row.option_label, "is_system": row.is_system}
        message = "Option added"
    except Conflict:
        body = _payload(group)  # contract: 201 with the unchanged list, no duplicate added
        message = "Option already exists"
    return ok(body, message, status=201)


def delete_option(group: str):
    data = json_body(required=False)
    svc.require_group(group)
    key = data.get("id") if data.get("id") is not None else data.get("label")
    if key is None or (isinstance(key, str) and not key.strip()):
        raise ValidationError("Label is required", errors=[field_error("label", "Label or id is required", None)])
    if "id" in data and data.get("id") is not None and (isinstance(key, bool) or not isinstance(key, int)):
        if not (isinstance(key, str) and key.isdecimal() and len(key) < 10):
            raise ValidationError("Validation failed", errors=[field_error("id", "id must be a positive integer", key)])
        key = int(key)
    svc.delete(group, key, principal())
    return ok(_payload(group), "Option deleted")


for name, path in PREFIXES:
    bp.add_url_rule(path, f"{name}_all", all_groups, methods=["GET"])
    bp.add_url_rule(f"{path}/<group>", f"{name}_get", get_group, methods=["GET"])
    bp.add_url_rule(f"{path}/<group>", f"{name}_add", add_option, methods=["POST"])
    bp.add_url_rule(f"{path}/<group>", f"{name}_delete", delete_option, methods=["DELETE"])


# ============================================================================ OpenAPI
# What each route above means (collected into the one document by api/openapi.py).

def _option_ops(kind: str) -> dict:
    legacy = kind == "proforma_options"
    tag = "Clinical options"
    say = (lambda s: s + " (original path)") if legacy else (lambda s: s)
    return {
        "all": Op(tag, say("Every option group with its labels"),
                  {"type": "object", "additionalProperties": arr(STR)}),
        "get": Op(tag, say("One option group"), ref("ClinicalOptionGroup"),
                  description="An unknown group answers an empty list."),
        "add": Op(tag, say("Add a label to a group"), ref("ClinicalOptionGroup"), status=201,
                  message="Option added", body=LABEL_BODY, body_required=False,
                  description="201 with the unchanged list (message \"Option already exists\") when the label "
                              "is already there."),
        "delete": Op(tag, say("Remove a label from a group"), ref("ClinicalOptionGroup"), message="Option deleted",
                     body=obj({"label": STR, "id": {"anyOf": [ID, {"type": "string", "pattern": r"^\d{1,9}$"}]}},
                              required=()), body_required=False, errors=(404,),
                     description="By `id` or `label`; seeded (system) options cannot be removed (403)."),
    }


OPENAPI = {f"{kind}_{name}": op for kind in ("clinical_options", "proforma_options")
           for name, op in _option_ops(kind).items()}
