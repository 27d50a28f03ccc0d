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
