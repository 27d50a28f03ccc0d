"""Limits of the JSON API: a request budget per token, a cap on the
size of JSON bodies, and conditional GETs (ETag / If-None-Match).

The budget is counted in the limiter's storage (Redis when RATELIMIT_STORAGE_URI
points at it), so every process of a deployment shares it. A request with a valid
bearer token is counted against its sign-in session (the token's ``sid``); anything
else against the client address.
"""
from __future__ import annotations

import hashlib

import jwt
from flask import current_app, request
from flask_limiter.util import get_remote_address

from ..auth.tokens import known_claims

MULTIPART = "multipart/form-data"


def rate_key() -> str:
    header = request.headers.get("Authorization") or ""
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        claims = known_claims(token)  # verified by an earlier request: not decoded again
        if claims is None:
            try:
                claims = jwt.decode(token, current_app.config["JWT_SECRET"], algorithms=["HS256"],
                                    options={"verify_exp": False})
            except jwt.PyJWTError:
                claims = None
        if isinstance(claims, dict) and isinstance(claims.get("sid"), int):
            return f"api-session:{claims['sid']}"
    return f"api-ip:{get_remote_address()}"


def api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def cap_body_size() -> None:
    """before_request on the API: JSON (and any non-upload) bodies are capped at
    API_JSON_MAX_BYTES; uploads keep MAX_CONTENT_LENGTH. Werkzeug answers 413 when the
    body is read, before anything is parsed or stored."""
    if request.mimetype != MULTIPART:
        request.max_content_length = min(current_app.config["API_JSON_MAX_BYTES"],
                                         current_app.config["MAX_CONTENT_LENGTH"] or 1 << 62)


def conditional_get(resp):
    """A 200 JSON answer to a GET carries a strong ETag of its body; a matching
    If-None-Match gets 304 with no body. The record is still read (and audited):
    the saving is the transfer, and a client can tell cheaply that nothing changed."""
    if request.method != "GET" or resp.status_code != 200 or resp.direct_passthrough \
            or resp.mimetype not in ("application/json", "application/fhir+json"):
        return resp
    resp.set_etag(hashlib.sha256(resp.get_data()).hexdigest()[:32])
    return resp.make_conditional(request)
