"""Domain exceptions. Services raise them; pages turn them into messages and the
API into envelopes with the same text and status."""
from __future__ import annotations


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 errors: list | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code
        self.errors = errors


class ValidationError(DomainError):
    """Bad input. ``errors`` holds per-field problems in the contract's shape."""
    status = 400


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class AuthFailed(DomainError):
    status = 401


class Locked(DomainError):
    status = 423


NOT_STORABLE = ("The request contains a character that cannot be stored (a NUL byte or an unpaired surrogate). "
                "Nothing was saved.")


def storable(text: str) -> bool:
    """Text PostgreSQL and SQLite can hold: no NUL, no unpaired surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_error(path: str, msg: str, value=None, location: str = "body") -> dict:
    return {"type": "field", "value": value, "msg": msg, "path": path, "location": location}


def positive_id(raw) -> int | None:
    """An id sent in a body or form (a positive int, or its digits as text) as an int; None for
    anything else (booleans, zero, negatives, non-digits, beyond a 32-bit column)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and 0 < raw < 2**31:
        return raw
    if isinstance(raw, str) and raw.strip().isdecimal() and len(raw.strip()) < 10 and int(raw) > 0:
        return int(raw)
    return None
