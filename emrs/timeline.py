"""The patient timeline takes entries from each domain, in one statement.

A domain registers a source: its rows (a SELECT from its service) and how a row becomes an
entry for the signed-in reader. The patient page asks for the newest entries of every kind
in one UNION ALL query and merges them, newest first. Domains that land later add their
source in their own package; nothing here needs to change.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from markupsafe import escape
from sqlalchemy import Date, DateTime, Integer, Select, Text, cast, literal_column, null, select, type_coerce, union_all

from .links import url_maker  # noqa: F401  (the domains' entry makers: timeline.url_maker)
from .prepared import Prepared
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

    def __post_init__(self):
        if not _KIND.fullmatch(self.kind):  # written into the page's HTML as it is (__html__)
            raise ValueError(f"timeline entry kind {self.kind!r}: lower-case letters and underscores only")

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
        return f"tl-d-{self.kind}-{int(self.id)}"

    def __html__(self) -> str:
        """The entry's item on the patient page, safe by construction. Everything a person or
        another system wrote (title, summary, badges) and every link is escaped; the rest is
        made here from the kind (an identifier, checked when the entry is made), an integer id and
        the entry's time. Written here, not in a template loop, because a page of 50 entries
        escaped about 550 values one by one (half of the page's rendering)."""
        title = escape(self.title)
        if self.url:
            title = f'<a href="{escape(self.url)}">{title}</a>'
        badges = "".join(f'<span class="badge">{escape(b)}</span>' for b in self.badge_labels)
        out = [f'<li class="tl tl-{self.kind}">\n'
               f'<div class="tl-when"><time datetime="{self.iso}">{self.day}</time></div>\n'
               f'<div class="tl-body">\n'
               f'<p class="tl-title"><span class="tl-kind">{self.kind_label}</span>\n{title}\n{badges}</p>\n']
        if self.summary:
            out.append(f'<p class="tl-summary muted">{escape(self.summary)}</p>\n')
        if self.detail_url:
            detail_id = self.detail_id
            out.append(f'<button type="button" class="btn-link tl-more" hx-get="{escape(self.detail_url)}" '
                       f'hx-target="next .tl-detail" hx-swap="innerHTML" aria-controls="{detail_id}">Show details</button>\n'
                       f'<div class="tl-detail" id="{detail_id}"></div>\n')
        out.append("</div>\n</li>\n")
        return "".join(out)


# ------------------------------------------------------------------ the one query
#
# Every domain's rows come back in ONE statement: each source is a SELECT (ordered and limited
# as its domain wants, with bindparams ``patient_id`` and ``limit``) whose columns are labelled
# with some of the SLOTS below; the timeline pads the slots a source leaves out with typed
# NULLs, wraps each SELECT as a sub-query and joins them with UNION ALL. Rows come back tagged
# with their kind, and the kind's ``entry`` function (built once per page for the reader: who
# may see what, link makers) turns each into a TimelineEntry.

SLOTS: tuple[tuple[str, Any], ...] = (
    ("id", Integer), ("at", DateTime(timezone=True)), ("day", Date),
    ("text1", Text), ("text2", Text), ("text3", Text), ("text4", Text),
    ("num1", Integer), ("num2", Integer),
)

Row = Any
Entry = Callable[[Row], "TimelineEntry | None"]


@dataclass(frozen=True)
class Source:
    rows: Callable[[], Select]                            # built once (cached by the service)
    reader: Callable[[int], "Entry | None"]               # per page: None = this reader sees none


_SOURCES: dict[str, Source] = {}
_KIND = re.compile(r"[a-z][a-z_]*")
_UNIONS: dict[tuple[str, ...], Prepared] = {}
_generation = [0]


def register(kind: str, rows: Callable[[], Select], reader: Callable[[int], Entry | None]) -> None:
    """A domain's timeline source: ``rows()`` gives its SELECT (columns labelled with SLOTS
    names, ``bindparam("patient_id")`` and ``bindparam("limit")``), ``reader(patient_id)``
    gives the function that makes an entry of one row, or None when the signed-in reader may
    not see this kind at all (the kind is then left out of the query)."""
    if not _KIND.fullmatch(kind):  # written into the union's SQL as a literal and an alias (_union)
        raise ValueError(f"timeline kind {kind!r}: lower-case letters and underscores only")
    _SOURCES[kind] = Source(rows, reader)
    _UNIONS.clear()
    _generation[0] += 1  # a new statement gets a new prepared name


def _union(kinds: tuple[str, ...]) -> Prepared:
    """The UNION ALL of these kinds' sources, built once per set of kinds; on PostgreSQL a
    prepared statement (planning the union costs the database more than running it)."""
    prepared = _UNIONS.get(kinds)
    if prepared is None:
        def build(_postgresql: bool):
            branches = []
            for kind in _branches(kinds):
                sub = _SOURCES[kind].rows().subquery(f"tl_{kind}")
                cols = [literal_column(f"'{kind}'", Text).label("kind")]
                for name, type_ in SLOTS:
                    cols.append(type_coerce(sub.c[name], type_).label(name) if name in sub.c
                                else cast(null(), type_).label(name))
                branches.append(select(*cols))
            return union_all(*branches) if len(branches) > 1 else branches[0]
        name = "emrs_timeline_" + hashlib.sha1(f"{_generation[0]}:{','.join(kinds)}".encode()).hexdigest()[:12]
        prepared = _UNIONS[kinds] = Prepared(name, build, (("patient_id", "integer"), ("limit", "integer")),
                                             named=True)
    return prepared


def _branches(kinds: tuple[str, ...]) -> dict[str, list[str]]:
    """Kinds that share one SELECT (the adult intake record and the CAP work-up are both the
    newest work-up row) are one branch of the union, read once: the first kind's name -> every
    kind whose entry maker sees its rows."""
    first: dict[Callable, str] = {}
    out: dict[str, list[str]] = {}
    for kind in kinds:
        label = first.setdefault(_SOURCES[kind].rows, kind)
        out.setdefault(label, []).append(kind)
    return out


def entries(patient_id: int, limit: int = 50) -> list[TimelineEntry]:
    """The patient's newest ``limit`` entries of every kind the signed-in reader may see,
    newest first, from one statement."""
    makers = {}
    for kind, source in _SOURCES.items():
        make = source.reader(patient_id)
        if make is not None:
            makers[kind] = make
    if not makers:
        return []
    kinds = tuple(makers)
    shared = _branches(kinds)
    rows = _union(kinds).rows({"patient_id": patient_id, "limit": limit})
    out = [e for row in rows for kind in shared[row.kind] if (e := makers[kind](row)) is not None]
    out.sort(key=lambda e: (e.when, e.id), reverse=True)
    return out[:limit]


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite gives naive ones)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def kinds() -> list[str]:
    return sorted(_SOURCES)
