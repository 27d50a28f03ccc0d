"""The success envelope and input parsing for the JSON API. Errors (the error envelope,
the answer to a domain error) are emrs/doors.py's, with the other doors' answers."""
from __future__ import annotations

import json
import math

from flask import jsonify, request

from ..errors import NOT_STORABLE, ValidationError, field_error, storable


def ok(data=None, message: str | None = None, status: int = 200, **extra):
    body: dict = {"success": True}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = data
    body.update(extra)
    resp = jsonify(body)
    resp.status_code = status
    return resp


def json_body(required: bool = True) -> dict:
    """The request's JSON object. Malformed JSON or a non-object is a 400, never a 500."""
    if not request.data and not required:
        return {}
    if not request.data:
        raise ValidationError("Request body must be a JSON object")
    if not request.is_json:
        raise ValidationError("Content-Type must be application/json")
    data = parse_json()
    if not isinstance(data, dict):
        raise ValidationError("Malformed JSON: the request body must be a JSON object")
    return data


MAX_JSON_DEPTH = 32


def _no_constant(name):
    raise ValueError(name)


def parse_json():
    """The request's JSON, or None when it is not JSON. Whatever the body, a client
    error: nesting deeper than MAX_JSON_DEPTH (the decoder would otherwise hit Python's
    recursion limit), NaN/Infinity, and text no database column can hold (NUL, unpaired
    surrogates such as "\\ud800") are refused with a 400."""
    try:
        data = json.loads(request.get_data(cache=True), parse_constant=_no_constant)
    except RecursionError:
        raise ValidationError(f"Malformed JSON: nested more than {MAX_JSON_DEPTH} levels deep")
    except ValueError:  # includes UnicodeDecodeError
        return None
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValidationError(f"Malformed JSON: nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            check_text(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("Malformed JSON: numbers must be finite (1e309 is not)")
    return data


def check_text(value: str) -> None:
    if not storable(value):
        raise ValidationError(NOT_STORABLE)


def pagination(default_limit: int = 10, max_limit: int = 1000) -> tuple[int, int]:
    errors = []
    try:
        page = int(request.args.get("page", 1))
        if page < 1 or page > 10_000_000:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(field_error("page", "page must be a positive integer", request.args.get("page"), "query"))
        page = 1
    try:
        limit = int(request.args.get("limit", default_limit))
        if limit < 1 or limit > 1000:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(field_error("limit", "limit must be an integer from 1 to 1000", request.args.get("limit"), "query"))
        limit = default_limit
    if errors:
        raise ValidationError("Validation failed", errors=errors)
    return page, min(limit, max_limit)


def page_object(page: int, limit: int, total: int) -> dict:
    return {"page": page, "limit": limit, "total": total, "pages": -(-total // limit) if limit else 0}


def string_field(data: dict, name: str, required: bool = True):
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationError("Validation failed", errors=[field_error(name, f"{name} is required", value)])
    return value

