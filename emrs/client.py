"""The caller of a request as the records keep it (sign-in sessions, the audit trail)."""
from __future__ import annotations

from flask import request


def user_agent() -> str:
    """The caller's User-Agent as stored (sessions, audit): printable, at most 255 characters."""
    return "".join(ch for ch in request.headers.get("User-Agent", "")[:255] if ch.isprintable())
