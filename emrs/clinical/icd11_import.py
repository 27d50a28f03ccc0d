"""Loading WHO's ICD-11 MMS release file into ``icd11_entities``: ``flask icd11 import PATH``.

The file is WHO's linearization table, "LinearizationMiniOutput-MMS-en.txt" (WHO's
"SimpleTabulation-ICD-11-MMS-en.txt" has the same columns and loads the same way): UTF-8 (a byte
order mark is allowed), tab-separated, quoted fields with doubled quotes, a header line naming
the columns, whose last cell is "Version:<when WHO generated the file>". Rows are in tree order;
a title starts with one "- " per level below its chapter, and a row's parent is the nearest
preceding row with fewer of them. Short lines (trailing columns missing) are normal.

Loading a release is idempotent: within one transaction the WHO rows of that release and of the
chosen chapters are updated in place (matched by code, block id, chapter number or URI),
new ones added and vanished ones removed; the hospital's local additions are kept (one whose
parent vanished moves to the nearest surviving ancestor). Rows of other releases in those
chapters become inactive (they stay, so old look-ups keep working), and local additions under
them move to the same node of the new release. Licence: WHO's ICD-11 is distributed under
CC BY-ND 3.0 IGO; the file is loaded unchanged (titles lose only their "- " level markers).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ..audit import service as audit
from ..extensions import db
from .models import ICD11_TITLE_MAX, Icd11Entity

DEFAULT_CHAPTERS = ("06", "07", "17", "V")
FILE_NAME = "LinearizationMiniOutput-MMS-en.txt"
MAX_BYTES = 200 * 1024 * 1024  # WHO's whole-MMS file is tens of megabytes

# Column names as WHO writes them (compared ignoring case and spaces); aliases after the first.
COLUMNS = {
    "foundation_uri": ("Foundation URI",),
    "linearization_uri": ("Linearization (release) URI", "Linearization URI"),
    "code": ("Code",),
    "block_id": ("BlockId", "Block Id"),
    "title": ("Title",),
    "class_kind": ("ClassKind", "Class Kind"),
    "is_residual": ("IsResidual",),
    "chapter_no": ("ChapterNo", "Chapter No"),
    "is_leaf": ("isLeaf",),
}
REQUIRED = ("code", "title", "class_kind", "chapter_no")
KINDS = ("chapter", "block", "category")
_MARKERS = re.compile(r"^((?:-\s*)*)")
_RELEASE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z .:_\-+]{0,39}$")


class ImportRefused(Exception):
    """The file or the options cannot be loaded; the message says why (shown as it is)."""


@dataclass
class Row:
    line: int
    foundation_uri: str | None
    linearization_uri: str | None
    code: str | None
    block_id: str | None
    title: str
    class_kind: str
    chapter_no: str
    level: int                # "- " markers
    is_residual: bool
    is_leaf: bool | None
    parent: int | None = None  # index in Parsed.rows

    @property
    def key(self) -> str:
        if self.code:
            return "code:" + self.code
        if self.block_id:
            return "block:" + self.block_id
        if self.class_kind == "chapter":
            return "chapter:" + self.chapter_no
        return "uri:" + (self.linearization_uri or self.foundation_uri or f"title:{self.chapter_no}:{self.title}")


@dataclass
class Parsed:
    rows: list[Row]
    version: str | None
    total_lines: int
    skipped_chapters: dict[str, int] = field(default_factory=dict)


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", name or "").lower()


def chapter_no(raw: str) -> str:
    text = (raw or "").strip().upper()
    return text.zfill(2) if text.isdigit() and len(text) == 1 else text


def parse_chapters(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return DEFAULT_CHAPTERS
    out = tuple(dict.fromkeys(chapter_no(c) for c in raw.split(",") if c.strip()))
    bad = [c for c in out if not re.fullmatch(r"[0-9]{2}|[A-Z]", c)]
    if not out or bad:
        raise ImportRefused(f"--chapters takes chapter numbers separated by commas, e.g. 06,07,17,V "
                            f"(not {', '.join(bad) or raw!r})")
    return out


def _bool(raw: str | None) -> bool | None:
    text = (raw or "").strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def read_text(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise ImportRefused(f"{path}: no such file")
    if p.stat().st_size > MAX_BYTES:
        raise ImportRefused(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MB, not WHO's linearization file")
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportRefused(f"{path}: not UTF-8 text (line {line}); WHO's {FILE_NAME} is UTF-8") from None


def parse(text: str, chapters=DEFAULT_CHAPTERS, source: str = "the file") -> Parsed:
    """The rows of ``chapters`` with their parents, or ImportRefused naming what is wrong."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quotechar='"')
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportRefused(f"{source}: line 1 cannot be read ({exc})") from None
    if not header or not any(h.strip() for h in header):
        raise ImportRefused(f"{source} is empty: expected WHO's {FILE_NAME}")
    names = {_norm(h): i for i, h in enumerate(header)}
    index = {}
    for key, options in COLUMNS.items():
        for option in options:
            if _norm(option) in names:
                index[key] = names[_norm(option)]
                break
    missing = [COLUMNS[k][0] for k in REQUIRED if k not in index]
    if missing:
        shown = ", ".join(h.strip()[:40] for h in header[:8] if h.strip()) or "nothing"
        raise ImportRefused(
            f"{source} is not WHO's ICD-11 linearization file ({FILE_NAME}): its first line must name the "
            f"tab-separated columns Foundation URI, Linearization (release) URI, Code, BlockId, Title, ClassKind, "
            f"… ChapterNo, … isLeaf; missing {', '.join(missing)} (the first line has: {shown})")
    version = None
    for cell in header:
        if cell.strip().lower().startswith("version:"):
            version = cell.strip()[len("version:"):].strip() or None
    needed = max(index[k] for k in REQUIRED)
    wanted = set(chapters)
    rows: list[Row] = []
    skipped: dict[str, int] = {}
    stack: list[tuple[int, int | None]] = []  # (level, index in rows or None when not kept)
    seen: dict[str, int] = {}
    line_no = 1
    try:
        for line_no, cells in enumerate(reader, start=2):
            if not cells or not any(c.strip() for c in cells):
                continue
            if len(cells) <= needed:
                raise ImportRefused(f"{source}, line {line_no}: {len(cells)} column(s), fewer than the header's "
                                    f"Code/Title/ClassKind/ChapterNo columns need (is it tab-separated?)")

            def cell(key):
                i = index.get(key)
                return cells[i].strip() if i is not None and i < len(cells) else ""

            raw_title = cells[index["title"]]
            markers = _MARKERS.match(raw_title).group(1)
            level = markers.count("-")
            title = " ".join(raw_title[len(markers):].split())
            kind = cell("class_kind").lower()
            code = cell("code").upper() or None
            if kind not in KINDS:
                kind = "category" if code else "block"
            chapter = chapter_no(cell("chapter_no"))
            if not title:
                raise ImportRefused(f"{source}, line {line_no}: the row has no title")
            if not chapter:
                raise ImportRefused(f"{source}, line {line_no}: the row has no ChapterNo")
            while stack and stack[-1][0] >= level:
                stack.pop()
            parent = stack[-1][1] if stack else None
            if chapter not in wanted:
                skipped[chapter] = skipped.get(chapter, 0) + 1
                stack.append((level, None))
                continue
            row = Row(line=line_no, foundation_uri=cell("foundation_uri") or None,
                      linearization_uri=cell("linearization_uri") or None, code=code,
                      block_id=cell("block_id") or None, title=title, class_kind=kind, chapter_no=chapter,
                      level=level, is_residual=bool(_bool(cell("is_residual"))), is_leaf=_bool(cell("is_leaf")),
                      parent=parent)
            _check_sizes(row, source)
            if row.key in seen:
                raise ImportRefused(f"{source}, line {line_no}: {row.key.split(':', 1)[1]} appears twice "
                                    f"(also on line {rows[seen[row.key]].line})")
            seen[row.key] = len(rows)
            stack.append((level, len(rows)))
            rows.append(row)
    except csv.Error as exc:
        raise ImportRefused(f"{source}, line {line_no}: cannot be read ({exc})") from None
    if not rows:
        found = ", ".join(sorted(skipped)) or "none"
        raise ImportRefused(f"{source} has no rows of chapter(s) {', '.join(chapters)} (chapters found: {found})")
    return Parsed(rows=rows, version=version, total_lines=line_no, skipped_chapters=skipped)


def _check_sizes(row: Row, source: str) -> None:
    limits = (("code", 20), ("block_id", 40), ("foundation_uri", 200), ("linearization_uri", 200),
              ("title", ICD11_TITLE_MAX))
    for name, limit in limits:
        value = getattr(row, name)
        if value is not None and len(value) > limit:
            raise ImportRefused(f"{source}, line {row.line}: {name} longer than {limit} characters")
        if value is not None and "\x00" in value:
            raise ImportRefused(f"{source}, line {row.line}: {name} contains a NUL character")


def check_release(release: str | None, parsed: Parsed) -> str:
    name = (release or "").strip() or parsed.version
    if not name:
        raise ImportRefused("the file names no release (its header has no \"Version:\" column): "
                            "give one, e.g. --release 2026-01")
    if not _RELEASE.match(name):
        raise ImportRefused(f"release {name[:60]!r}: use letters, digits, spaces and - . : _ + "
                            "(at most 40 characters), e.g. 2026-01")
    return name


# --------------------------------------------------------------------------- loading


@dataclass
class Report:
    release: str
    chapters: tuple
    per_chapter: dict           # chapter -> {"chapter": n, "block": n, "category": n}
    added: int = 0
    updated: int = 0
    removed: int = 0
    superseded: int = 0
    moved_local: int = 0
    clashes: list = field(default_factory=list)  # local codes WHO's file now uses
    skipped_chapters: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"ICD-11 MMS release {self.release}: chapters {', '.join(self.chapters)}"]
        for chapter in self.chapters:
            counts = self.per_chapter.get(chapter)
            if counts:
                out.append(f"  chapter {chapter:>2}: {sum(counts.values()):>5} entities "
                           f"({counts.get('block', 0)} blocks, {counts.get('category', 0)} categories)")
            else:
                out.append(f"  chapter {chapter:>2}:     0 entities (none in the file)")
        out.append(f"  {self.added} added, {self.updated} updated, {self.removed} removed; "
                   f"{self.superseded} rows of other releases made inactive; "
                   f"{self.moved_local} local addition(s) re-attached")
        if self.skipped_chapters:
            out.append(f"  not loaded (other chapters): {sum(self.skipped_chapters.values())} rows")
        for code, title in self.clashes:
            out.append(f"  warning: local entry {code} “{title}” has a code WHO's file now uses")
        return out


def _attrs(row: Row, release: str, order: int) -> dict:
    return {"code": row.code, "block_id": row.block_id, "title": row.title, "class_kind": row.class_kind,
            "chapter_no": row.chapter_no, "depth": row.level, "is_residual": row.is_residual,
            "is_leaf": row.is_leaf, "foundation_uri": row.foundation_uri,
            "linearization_uri": row.linearization_uri, "release": release, "source": "who",
            "sort_order": order, "is_active": True, "added_by": None, "added_at": None}


def _key_of(e: Icd11Entity) -> str:
    return Row(line=0, foundation_uri=e.foundation_uri, linearization_uri=e.linearization_uri, code=e.code,
               block_id=e.block_id, title=e.title, class_kind=e.class_kind, chapter_no=e.chapter_no, level=0,
               is_residual=False, is_leaf=None).key


def load(parsed: Parsed, release: str, chapters, actor_id: int | None = None) -> Report:
    """Write ``parsed`` as ``release`` in one transaction (see the module docstring)."""
    chapters = tuple(chapters)
    report = Report(release=release, chapters=chapters, per_chapter={}, skipped_chapters=parsed.skipped_chapters)
    try:
        _load(parsed, release, chapters, report)
        audit.record("icd11_import", "icd11_entities", None, user_id=actor_id,
                     details={"release": release, "chapters": list(chapters), "added": report.added,
                              "updated": report.updated, "removed": report.removed,
                              "superseded": report.superseded})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _load(parsed: Parsed, release: str, chapters: tuple, report: Report) -> None:
    scope = (Icd11Entity.source == "who", Icd11Entity.chapter_no.in_(chapters))
    existing: dict[str, Icd11Entity] = {}
    doubles: list[Icd11Entity] = []  # never written by an import; removed like vanished rows
    for e in db.session.execute(select(Icd11Entity).where(*scope, Icd11Entity.release == release)
                                .order_by(Icd11Entity.id)).scalars():
        key = _key_of(e)
        if key in existing:
            doubles.append(e)
        else:
            existing[key] = e
    entities: list[Icd11Entity] = []
    for order, row in enumerate(parsed.rows):
        entity = existing.pop(row.key, None)
        if entity is None:
            entity = Icd11Entity(**_attrs(row, release, order))
            db.session.add(entity)
            report.added += 1
        else:
            for name, value in _attrs(row, release, order).items():
                setattr(entity, name, value)
            report.updated += 1
        entities.append(entity)
        counts = report.per_chapter.setdefault(row.chapter_no, {})
        counts[row.class_kind] = counts.get(row.class_kind, 0) + 1
    db.session.flush()
    for row, entity in zip(parsed.rows, entities):
        entity.parent_id = entities[row.parent].id if row.parent is not None else None
    new_by_key = {row.key: entity for row, entity in zip(parsed.rows, entities)}
    chapter_nodes = {e.chapter_no: e for e in entities if e.class_kind == "chapter"}

    # Rows of this release that the file no longer has: local children move up, then they go.
    stale = list(existing.values()) + doubles
    stale_ids = {e.id for e in stale}
    if stale:
        by_id = {e.id: e for e in stale}
        for local in db.session.execute(select(Icd11Entity).where(
                Icd11Entity.source == "local", Icd11Entity.parent_id.in_(stale_ids))).scalars():
            current, target = by_id[local.parent_id], None
            for _ in range(64):  # the nearest ancestor that stays
                if current.parent_id is None:
                    break
                if current.parent_id in stale_ids:
                    current = by_id[current.parent_id]
                    continue
                target = db.session.get(Icd11Entity, current.parent_id)
                break
            local.parent_id = target.id if target is not None else None
            report.moved_local += 1
        for e in stale:
            e.parent_id = None
        db.session.flush()
        for e in stale:
            db.session.delete(e)
        report.removed = len(stale)
        db.session.flush()

    # Other releases of these chapters: inactive; local additions under them follow the new tree.
    older = db.session.execute(select(Icd11Entity).where(*scope, Icd11Entity.release != release)).scalars().all()
    older_ids = {e.id for e in older}
    for e in older:
        if e.is_active:
            e.is_active = False
            report.superseded += 1
    if older_ids:
        older_by_id = {e.id: e for e in older}
        for local in db.session.execute(select(Icd11Entity).where(
                Icd11Entity.source == "local", Icd11Entity.parent_id.in_(older_ids))).scalars():
            old_parent = older_by_id[local.parent_id]
            target = new_by_key.get(_key_of(old_parent)) or chapter_nodes.get(old_parent.chapter_no)
            if target is not None:
                local.parent_id = target.id
                report.moved_local += 1
    db.session.flush()

    codes = [e.code for e in entities if e.code]
    if codes:
        for i in range(0, len(codes), 500):
            for code, title in db.session.execute(select(Icd11Entity.code, Icd11Entity.title).where(
                    Icd11Entity.source == "local", Icd11Entity.code.in_(codes[i:i + 500]))).all():
                report.clashes.append((code, title))


def import_file(path: str | Path, release: str | None = None, chapters: str | None = None,
                actor_id: int | None = None) -> Report:
    """Read, check and load a WHO release file (the CLI's work)."""
    wanted = parse_chapters(chapters)
    parsed = parse(read_text(path), wanted, source=str(path))
    name = check_release(release, parsed)
    return load(parsed, name, wanted, actor_id)
