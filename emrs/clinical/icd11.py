"""The ICD-11 tree the hospital codes with: browsing, search, code look-up
and the hospital's local additions. The one place these rules live: the picker (HTMX and
/api/icd/search), the tree pages, /api/icd11/... and the proforma's validation call these.

* WHO's rows come from WHO's release file (``flask icd11 import``, see icd11_import.py) and
  are never edited here. A fresh install holds only the 15 chapter 06 stems EMRS could check
  by hand (migration 0017).
* The current tree is the active rows: an import makes its release the active one for the
  chapters it loads (older releases' rows stay, inactive, so old look-ups keep working).
* Local additions (``source = 'local'``) are an Admin's act only: a child under any active node,
  with a title (≤ 200 characters) and optionally a code that no WHO row and no other local
  row has. They are edited, deactivated and reactivated, never deleted; every change is
  audited. A proforma coded with a local entry stores the version ``"local"``.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import and_, case, func, or_, select

from ..audit import service as audit
from ..auth.models import ADMIN
from ..errors import Conflict, Forbidden, NotFound, ValidationError, field_error
from ..extensions import db
from ..models_base import utcnow
from ..serialize import json_value
from .models import ICD11_LOCAL_TITLE_MAX, Icd11Entity

ICD11 = "ICD-11"
LOCAL_VERSION = "local"
ENTITY = "icd11_entities"
NOT_IN_RELEASE = "not in the loaded ICD-11 release"

# A code prefix as typed: "6A", "6a7", "6A70.", "6A70.1", "VA0" (at least one digit, so that
# a word such as "ha" is searched as a word).
_PREFIX = re.compile(r"^[0-9A-Z][A-Z](?:[0-9](?:[0-9A-Z](?:\.[0-9A-Z]{0,2})?)?)?$")
_DOTLESS = re.compile(r"^([0-9A-Z][A-Z][0-9][0-9A-Z])([0-9A-Z]{1,2})$")  # "6A701" -> "6A70.1"
_LOCAL_CODE = re.compile(r"^[0-9A-Z][0-9A-Z.]{1,19}$")
_ICD10_SHAPE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{0,4})?$")
_WORD = re.compile(r"[0-9a-z]+")
SEARCH_SCAN = 400  # title matches ranked per query (the whole scope is ~1,200 rows)


# --------------------------------------------------------------------------- reading


def _active():
    return Icd11Entity.is_active.is_(True)


def _local_last():
    return case((Icd11Entity.source == "local", 1), else_=0)


def get_or_none(entity_id) -> Icd11Entity | None:
    if isinstance(entity_id, bool) or not isinstance(entity_id, int) or not 0 < entity_id < 2**31:
        return None
    return db.session.get(Icd11Entity, entity_id)


def get(entity_id) -> Icd11Entity:
    row = get_or_none(entity_id)
    if row is None:
        raise NotFound("ICD-11 entry not found")
    return row


def roots() -> list[Icd11Entity]:
    """The active chapters (and any active node without a parent), in WHO's order."""
    return list(db.session.execute(
        select(Icd11Entity).where(_active(), Icd11Entity.parent_id.is_(None))
        .order_by(_local_last(), Icd11Entity.sort_order, Icd11Entity.id)).scalars())


def children(parent: Icd11Entity, include_inactive_local: bool = False) -> list[Icd11Entity]:
    """A node's active children in WHO's order, the hospital's local additions after them
    (deactivated local ones too with ``include_inactive_local``, for the Admin to reactivate)."""
    shown = or_(_active(), Icd11Entity.source == "local") if include_inactive_local else _active()
    return list(db.session.execute(select(Icd11Entity).where(Icd11Entity.parent_id == parent.id, shown)
                                   .order_by(_local_last(), Icd11Entity.sort_order, Icd11Entity.id)).scalars())


def local_entries() -> list[tuple[Icd11Entity, list[Icd11Entity]]]:
    """Every local addition (deactivated ones too) with its path, for the Admin."""
    rows = db.session.execute(select(Icd11Entity).where(Icd11Entity.source == "local")
                              .order_by(Icd11Entity.chapter_no, Icd11Entity.id)).scalars().all()
    return [(r, path(r)) for r in rows]


def child_counts(ids) -> dict[int, int]:
    """Active children per node id (one query)."""
    ids = list(ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(Icd11Entity.parent_id, func.count(Icd11Entity.id))
        .where(Icd11Entity.parent_id.in_(ids), _active()).group_by(Icd11Entity.parent_id)).all())


def path(row: Icd11Entity) -> list[Icd11Entity]:
    """The ancestors of ``row``, the chapter first."""
    out, seen = [], {row.id}
    parent_id = row.parent_id
    while parent_id is not None and parent_id not in seen and len(out) < 20:
        parent = db.session.get(Icd11Entity, parent_id)
        if parent is None:
            break
        out.append(parent)
        seen.add(parent.id)
        parent_id = parent.parent_id
    return out[::-1]


def version_of(row: Icd11Entity) -> str:
    """What a proforma stores as ``icd_version`` for this entry."""
    return row.release if row.source == "who" else LOCAL_VERSION


def lookup(code: str | None) -> Icd11Entity | None:
    """The entry a stored code names: an active WHO row, else a local addition (active or not:
    a record coded with it stays valid after the entry is deactivated)."""
    raw = (code or "").strip().upper()
    if not raw or len(raw) > 20:
        return None
    rows = db.session.execute(select(Icd11Entity).where(Icd11Entity.code == raw, or_(
        and_(Icd11Entity.source == "who", _active()), Icd11Entity.source == "local"))
        .order_by(_local_last(), Icd11Entity.is_active.desc(), Icd11Entity.id.desc())).scalars().all()
    return rows[0] if rows else None


def releases() -> list[dict]:
    """The loaded releases with their active rows per chapter (for the tree page and the CLI)."""
    rows = db.session.execute(
        select(Icd11Entity.release, Icd11Entity.chapter_no, Icd11Entity.is_active, func.count(Icd11Entity.id))
        .where(Icd11Entity.source == "who")
        .group_by(Icd11Entity.release, Icd11Entity.chapter_no, Icd11Entity.is_active)).all()
    out: dict[str, dict] = {}
    for release, chapter, active, n in rows:
        entry = out.setdefault(release, {"release": release, "active": {}, "inactive": 0})
        if active:
            entry["active"][chapter] = n
        else:
            entry["inactive"] += n
    return sorted(out.values(), key=lambda e: (not e["active"], e["release"]))


def active_releases() -> list[str]:
    return [r["release"] for r in releases() if r["active"]]


def local_count() -> int:
    return db.session.execute(select(func.count(Icd11Entity.id)).where(
        Icd11Entity.source == "local", _active())).scalar_one()


# --------------------------------------------------------------------------- search


def result(row: Icd11Entity) -> dict:
    """One picker result (both picker doors)."""
    return {"code": row.code, "title": row.title, "system": ICD11, "chapter": row.chapter_no,
            "release": row.release, "version": version_of(row), "source": row.source, "id": row.id}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def code_prefix(text: str) -> str | None:
    """``text`` as an ICD-11 code prefix ("6a70.1" -> "6A70.1", "6A701" -> "6A70.1"), or None."""
    raw = text.strip().upper()
    m = _DOTLESS.match(raw)
    if m:
        raw = f"{m.group(1)}.{m.group(2)}"
    if _PREFIX.match(raw) and any(ch.isdigit() for ch in raw):
        return raw
    return None


def search(q: str | None, limit: int = 15) -> list[dict]:
    """Codable entries (with a code) of the active tree, by code prefix ("6A7", "6a70.1", optionally
    followed by words: "6A7 recurrent") or by words of the title (every word must occur,
    case-insensitive), ranked: title starts with the first word, then words starting a title
    word, then anywhere; stems before their subdivisions; WHO's order."""
    text = " ".join((q or "").split())[:100]
    if not text or limit < 1:
        return []
    first, _, rest = text.partition(" ")
    base = select(Icd11Entity).where(_active(), Icd11Entity.code.is_not(None))
    prefix = code_prefix(first)
    if prefix:
        words = rest.lower().split()
        query = base.where(Icd11Entity.code.like(_like_escape(prefix) + "%", escape="\\"))
        for w in words:
            query = query.where(func.lower(Icd11Entity.title).like("%" + _like_escape(w) + "%", escape="\\"))
        rows = db.session.execute(query.order_by(_local_last(), Icd11Entity.sort_order, Icd11Entity.id)
                                  .limit(limit)).scalars().all()
        if rows:
            return [result(r) for r in rows]
    words = text.lower().split()
    query = base
    for w in words:
        query = query.where(func.lower(Icd11Entity.title).like("%" + _like_escape(w) + "%", escape="\\"))
    rows = db.session.execute(query.order_by(_local_last(), Icd11Entity.sort_order, Icd11Entity.id)
                              .limit(SEARCH_SCAN)).scalars().all()
    pieces = _WORD.findall(" ".join(words))
    ranked = []
    for n, r in enumerate(rows):
        lower = r.title.lower()
        title_words = _WORD.findall(lower)
        if lower.startswith(words[0]):
            match = 0
        elif all(any(t.startswith(p) for t in title_words) for p in pieces):
            match = 1
        else:
            match = 2
        ranked.append((match, "." in (r.code or ""), n, r))
    ranked.sort(key=lambda t: t[:3])
    return [result(t[3]) for t in ranked[:limit]]


# --------------------------------------------------------------------------- local additions


def _clean_title(raw) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("Title is required", errors=[field_error("title", "Title is required")])
    if len(raw) > 10 * ICD11_LOCAL_TITLE_MAX:
        raise ValidationError("Validation failed", errors=[field_error(
            "title", f"Title must be at most {ICD11_LOCAL_TITLE_MAX} characters")])
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in raw if ch not in " \t\n\r"):
        raise ValidationError("Validation failed", errors=[field_error(
            "title", "Title must not contain control characters")])
    text = " ".join(raw.split())
    if len(text) > ICD11_LOCAL_TITLE_MAX:
        raise ValidationError("Validation failed", errors=[field_error(
            "title", f"Title must be at most {ICD11_LOCAL_TITLE_MAX} characters")])
    return text


def _clean_code(raw, own_id: int | None = None) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise ValidationError("Validation failed", errors=[field_error("code", "code must be text")])
    code = raw.strip().upper()
    if len(code) > 20 or not _LOCAL_CODE.match(code):
        raise ValidationError("Validation failed", errors=[field_error(
            "code", "code must be 2 to 20 letters, digits or dots (e.g. 6A70.Y1)", raw[:40])])
    if _ICD10_SHAPE.match(code):
        raise ValidationError("Validation failed", errors=[field_error(
            "code", f"{code} has the shape of an ICD-10 code; a local ICD-11 entry needs another code", code)])
    clash = db.session.execute(select(Icd11Entity).where(Icd11Entity.code == code)
                               .order_by(Icd11Entity.id).limit(5)).scalars().all()
    for row in clash:
        if row.id == own_id:
            continue
        if row.source == "who":
            raise Conflict(f"{code} is WHO's code for “{row.title}” (release {row.release}): "
                           "a local entry cannot take it")
        raise Conflict(f"{code} is already the code of the local entry “{row.title}”")
    return code


def _require_admin(actor) -> None:
    if getattr(actor, "role", None) != ADMIN:
        raise Forbidden("Local additions to the ICD-11 tree are made by an Admin only")


def _audit(action: str, row: Icd11Entity, actor, **details) -> None:
    audit.record(action, ENTITY, row.id, user_id=getattr(actor, "id", None),
                 details={"parent_id": row.parent_id, "code": row.code, **details})


def add_local(parent_id, title, code, actor) -> Icd11Entity:
    """A local child under an active node (Admin only)."""
    _require_admin(actor)
    if isinstance(parent_id, bool) or not isinstance(parent_id, int):
        raise ValidationError("Validation failed", errors=[field_error(
            "parent_id", "parent_id must be the id of an ICD-11 entry")])
    parent = db.session.get(Icd11Entity, parent_id) if 0 < parent_id < 2**31 else None
    if parent is None:
        raise NotFound("ICD-11 entry not found")
    if not parent.is_active:
        raise Conflict("That entry is not in the current tree (deactivated or of an older release): "
                       "add under an active entry")
    text = _clean_title(title)
    clean_code = _clean_code(code)
    row = Icd11Entity(parent_id=parent.id, code=clean_code, title=text, class_kind="local",
                      chapter_no=parent.chapter_no, depth=parent.depth + 1, is_residual=False, is_leaf=None,
                      release=None, source="local", sort_order=0, is_active=True,
                      added_by=getattr(actor, "id", None), added_at=utcnow())
    db.session.add(row)
    db.session.flush()
    _audit("icd11_local_add", row, actor)
    db.session.commit()
    return row


def _local(entity_id, actor) -> Icd11Entity:
    _require_admin(actor)
    row = get(entity_id)
    if row.source != "local":
        raise Forbidden("WHO's ICD-11 entries are never edited: add a local entry under this one instead")
    return row


def update_local(entity_id, data: dict, actor) -> Icd11Entity:
    """Change a local entry's title, code or active state (Admin only; WHO rows: 403)."""
    row = _local(entity_id, actor)
    new: dict = {}  # every value is checked before any is changed
    if "title" in data:
        new["title"] = _clean_title(data.get("title"))
    if "code" in data:
        new["code"] = _clean_code(data.get("code"), own_id=row.id)
    if "is_active" in data:
        if not isinstance(data.get("is_active"), bool):
            raise ValidationError("Validation failed", errors=[field_error("is_active", "is_active must be true or false")])
        new["is_active"] = data["is_active"]
    changed = [k for k, v in new.items() if v != getattr(row, k)]
    if "is_active" in changed:
        _set_active(row, new["is_active"])
    for name in changed:
        if name != "is_active":
            setattr(row, name, new[name])
    if changed:
        _audit("icd11_local_update", row, actor, fields=changed)
        db.session.commit()
    return row


def set_active(entity_id, active: bool, actor) -> tuple[Icd11Entity, int]:
    """Deactivate (with its local descendants) or reactivate a local entry; returns the entry and
    how many entries changed."""
    row = _local(entity_id, actor)
    if active == row.is_active:
        return row, 0
    n = _set_active(row, active)
    _audit("icd11_local_activate" if active else "icd11_local_deactivate", row, actor, entries=n)
    db.session.commit()
    return row, n


def _set_active(row: Icd11Entity, active: bool) -> int:
    if active:
        parent = db.session.get(Icd11Entity, row.parent_id) if row.parent_id else None
        if parent is not None and not parent.is_active:
            raise Conflict("Its parent is not in the current tree: reactivate the parent first")
        row.is_active = True
        return 1
    n, todo = 0, [row]
    while todo:
        node = todo.pop()
        if node.is_active:
            node.is_active, n = False, n + 1
        todo.extend(c for c in children(node) if c.source == "local")
    return n


def node_dict(row: Icd11Entity, child_count: int | None = None) -> dict:
    """An entry as the API answers it."""
    out = {"id": row.id, "parent_id": row.parent_id, "code": row.code, "block_id": row.block_id,
           "title": row.title, "class_kind": row.class_kind, "chapter_no": row.chapter_no, "depth": row.depth,
           "is_residual": row.is_residual, "is_leaf": row.is_leaf, "foundation_uri": row.foundation_uri,
           "release": row.release, "source": row.source, "is_active": row.is_active,
           "version": version_of(row), "added_by": row.added_by,
           "added_at": json_value(row.added_at)}
    if child_count is not None:
        out["children"] = child_count
    return out


def node_dicts(rows: list[Icd11Entity]) -> list[dict]:
    counts = child_counts(r.id for r in rows)
    return [node_dict(r, counts.get(r.id, 0)) for r in rows]
