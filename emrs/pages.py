"""Helpers shared by the HTML views: the page number of a list, and a service's refusal
as a form shows it. (Which door a request came in by, and the error page: emrs/doors.py.)"""
from __future__ import annotations

from flask import request

from .errors import DomainError

GENERIC = "Validation failed"  # the message of a refusal that only lists field errors


def page_number(name: str = "page") -> int:
    """The ``?page=`` of a list page: a whole number from 1 to 99999 in ASCII digits;
    anything else (absent, "abc", "0", "²", a million) is the first page."""
    raw = request.args.get(name, "1")
    return int(raw) if raw.isascii() and raw.isdecimal() and len(raw) < 6 and int(raw) > 0 else 1


def form_errors(exc: DomainError, *, keep_summary: bool = False) -> tuple[dict[str, list[str]], list[str]]:
    """A service's refusal as a form shows it: the messages of each field (by the error's
    ``path``), and the messages for the top of the form. A refusal with field errors
    shows them next to their fields and nothing on top — unless ``keep_summary`` and its
    message says more than the generic "Validation failed"; one without shows its message
    on top."""
    by_field: dict[str, list[str]] = {}
    for e in exc.errors or []:
        by_field.setdefault(e.get("path"), []).append(e.get("msg"))
    if exc.errors and not (keep_summary and exc.message != GENERIC):
        return by_field, []
    return by_field, [exc.message]


def error_messages(exc: DomainError) -> list[str]:
    """A refusal as a list of sentences, for a form that shows them in one place: each
    field error's message, or the refusal's own when it has none."""
    return [e["msg"] for e in exc.errors] if exc.errors else [exc.message]


class IdUrls:
    """URLs of one id argument built from one ``url_for`` per endpoint, for lists whose every
    row links the same endpoints (Today's Patients: six per row, 60 rows, every 15 s).
    ``IdUrls("visit_id")("opd.start", 42)`` is ``url_for("opd.start", visit_id=42)``."""

    _MARK = 2147483647  # the largest id the routes accept: never in a prefix

    def __init__(self, arg: str):
        self.arg = arg
        self.parts: dict[str, tuple[str, str]] = {}

    def __call__(self, endpoint: str, value: int) -> str:
        parts = self.parts.get(endpoint)
        if parts is None:
            from flask import url_for
            prefix, _, suffix = url_for(endpoint, **{self.arg: self._MARK}).partition(str(self._MARK))
            parts = self.parts[endpoint] = (prefix, suffix)
        return f"{parts[0]}{int(value)}{parts[1]}"
