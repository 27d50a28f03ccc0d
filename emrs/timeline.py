"""The patient timeline takes entries from each domain's service.

A domain registers a provider: ``provider(patient_id, limit) -> list[TimelineEntry]``.
The patient page merges all providers' entries, newest first. Domains that land
later (proformas, intake record, prescriptions) add their provider in their own
package; nothing here needs to change.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

from flask import url_for

from .timeutil import IST


@dataclass
class TimelineEntry:
    kind: str                 # 'visit', 'file', 'proforma', 'intake', 'prescription', ...
    id: int
    when: dt.datetime         # aware UTC datetime used for ordering
    title: str                # short summary line
    summary: str = ""         # one more line (no clinical free text beyond what the page shows)
    url: str | None = None    # the entry's full page
    detail_url: str | None = None  # HTMX fragment that expands the entry in place
    badges: list[str] = field(default_factory=list)

    # What the page shows, worked out here rather than with method calls in the template loop.
    @property
    def iso(self) -> str:
        return self.when.isoformat()

    @property
    def day(self) -> str:
        """The IST date, e.g. "05 Mar 2025"."""
        return self.when.astimezone(IST).strftime("%d %b %Y")

    @property
    def kind_label(self) -> str:
        return self.kind.replace("_", " ").capitalize()

    @property
    def badge_labels(self) -> list[str]:
        return [b.replace("_", " ") for b in self.badges]

    @property
    def detail_id(self) -> str:
        """The element the entry's details open into."""
        return f"tl-d-{self.kind}-{self.id}"


Provider = Callable[[int, int], list[TimelineEntry]]
_PROVIDERS: dict[str, Provider] = {}


def register(kind: str, provider: Provider) -> None:
    _PROVIDERS[kind] = provider


def entries(patient_id: int, limit: int = 50) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    for provider in _PROVIDERS.values():
        out.extend(provider(patient_id, limit))
    out.sort(key=lambda e: (e.when, e.id), reverse=True)
    return out[:limit]


def url_maker(endpoint: str, key: str, **values) -> Callable[[int], str]:
    """`url_for(endpoint, **values, key=id)` for many ids, as a function of the id: url_for
    runs once (it costs tens of microseconds a call) and the id is put in place."""
    marker = str(2_147_483_647)
    probe = url_for(endpoint, **values, **{key: int(marker)})
    if probe.count(marker) != 1:  # the marker also stands in another value: no shortcut
        return lambda i: url_for(endpoint, **values, **{key: i})
    head, tail = probe.split(marker)
    return lambda i: f"{head}{int(i)}{tail}"


def kinds() -> list[str]:
    return sorted(_PROVIDERS)
