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


def kinds() -> list[str]:
    return sorted(_PROVIDERS)
