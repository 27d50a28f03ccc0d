"""The medicine formulary (entities.md §8, options-and-formulary.md §3).

One ``medicines`` row per generic name (unique ignoring case) with its drug class, Indian
brand names and strengths. Seeded by migration 0005 from the two data files; Admin and
Faculty add medicines and retire / restore them (never delete: old prescriptions name
them). Every change is audited under the entity "medicines".

The prescription line stores a free string (a generic or a brand name); ``search``
offers both for the picker and ``class_of`` / ``resolve`` map either back to the
generic and its class (the drug-safety rules use them).
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..audit import service as audit
from ..errors import Conflict, NotFound, ValidationError, field_error
from ..extensions import db
from .models import Medicine

ENTITY = "medicines"
MAX_GENERIC = 200
MAX_CLASS = 120
MAX_ITEM = 100
MAX_ITEMS = 40

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MEDS_INDIA_FILE = DATA_DIR / "psychiatric_meds_india.json"
MEDICINES_FILE = DATA_DIR / "medicines.json"
STRUCTURE_FILE = DATA_DIR / "formulary_structure.json"

# Keys that wrap the data without being a class, and keys that are not medicines at all.
_WRAPPERS = frozenset({"psychiatric_medications", "medications", "medicines"})
_SKIPPED = frozenset({"notes"})
# ------------------------------------------------------------------ loading the data files

def class_name(path: list[str]) -> str | None:
    """["antidepressants", "ssri"] -> "antidepressants / ssri";
    ["mood_stabilizers"] -> "mood stabilizers" (lower case, as the data files spell it)."""
    parts = [" ".join(str(key).replace("_", " ").split()).lower() for key in path]
    text = " / ".join(p for p in parts if p)
    return text[:MAX_CLASS] or None


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def _add_unique(target: list[str], items, seen: set[str], exclude: str = "") -> None:
    for item in items or []:
        if not isinstance(item, str) or not item.strip():
            continue
        text = _norm(item)
        if text.lower() in seen or text.lower() == exclude:
            continue
        seen.add(text.lower())
        target.append(text)


def _walk(node, path: list[str], out: list[tuple[list[str], dict]]) -> None:
    """Depth-first over objects of subclasses and flat arrays alike. An array item is a
    generic-name string or an object {"name", "brands", "strengths"}."""
    if isinstance(node, dict):
        if isinstance(node.get("name"), str):
            out.append((path, node))
            return
        for key, value in node.items():
            if key in _SKIPPED:
                continue
            _walk(value, path if (key in _WRAPPERS and not path) else path + [key], out)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                out.append((path, {"name": item}))
            else:
                _walk(item, path, out)


def load_from_data(meds_india: dict, medicines: dict) -> list[dict]:
    """Both data files flattened into [{generic_name, drug_class, brand_names, strengths}],
    one entry per generic name (ignoring case), in the files' order. The Indian file comes
    first, so its finer class ("antidepressants / ssri") wins over the plain list's;
    brands and strengths are merged. A brand spelled as its own generic is dropped."""
    found: list[tuple[list[str], dict]] = []
    _walk(meds_india or {}, [], found)
    _walk(medicines or {}, [], found)
    merged: dict[str, dict] = {}
    seen: dict[str, tuple[set, set]] = {}
    for path, item in found:
        name = _norm(item.get("name") or "")
        if not name:
            continue
        key = name.lower()
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = {"generic_name": name[:MAX_GENERIC], "drug_class": class_name(path),
                                   "brand_names": [], "strengths": []}
            seen[key] = (set(), set())
        elif not entry["drug_class"]:
            entry["drug_class"] = class_name(path)
        brands_seen, strengths_seen = seen[key]
        _add_unique(entry["brand_names"], item.get("brands"), brands_seen, exclude=key)
        _add_unique(entry["strengths"], item.get("strengths"), strengths_seen)
    return list(merged.values())


def load_structure() -> dict:
    """Forms per medicine and the merged duplicate generics (applied by migration 0014)."""
    with STRUCTURE_FILE.open(encoding="utf-8") as f:
        data = json.load(f)
    return {k: data[k] for k in ("default_forms", "forms", "merge")}


def load_data_files() -> list[dict]:
    """The flattened formulary from emrs/data (used by the ``seed`` tooling and tests)."""
    with MEDS_INDIA_FILE.open(encoding="utf-8") as a, MEDICINES_FILE.open(encoding="utf-8") as b:
        return load_from_data(json.load(a), json.load(b))


# ------------------------------------------------------------------ reading

def list_all(include_retired: bool = False) -> list[Medicine]:
    q = select(Medicine)
    if not include_retired:
        q = q.where(Medicine.is_active.is_(True))
    return list(db.session.execute(q.order_by(func.lower(Medicine.generic_name), Medicine.id)).scalars())


def get(medicine_id) -> Medicine:
    row = None
    if isinstance(medicine_id, int) and not isinstance(medicine_id, bool) and 0 < medicine_id <= 2147483647:
        row = db.session.get(Medicine, medicine_id)
    if row is None:
        raise NotFound("Medicine not found")
    return row


def by_generic(name: str) -> Medicine | None:
    text = _norm(name or "").lower()
    if not text:
        return None
    return db.session.execute(select(Medicine).where(func.lower(Medicine.generic_name) == text)).scalars().first()


def by_name(name: str) -> Medicine | None:
    """The entry whose generic name or one of whose aliases is ``name`` (any case)."""
    text = _norm(name or "").lower()
    if not text:
        return None
    found = by_generic(text)
    if found is not None:
        return found
    return next((m for m in list_all(include_retired=True) if text in {a.lower() for a in m.aliases or []}), None)


def _entries(rows) -> list[dict]:
    """Every generic and every brand of ``rows`` as picker entries, generic first."""
    out = []
    for m in rows:
        strengths = list(m.strengths or [])
        forms = list(m.forms or [])
        out.append({"label": m.generic_name, "medicine": m.generic_name, "generic": m.generic_name,
                    "brand": None, "strengths": strengths, "forms": forms, "drug_class": m.drug_class, "id": m.id})
        # Another generic name of it (an alias) is offered like a brand: "Lithium (Lithium Carbonate)".
        for brand in [*(m.aliases or []), *(m.brand_names or [])]:
            if brand.lower() == m.generic_name.lower():
                continue
            out.append({"label": f"{brand} ({m.generic_name})", "medicine": brand, "generic": m.generic_name,
                        "brand": brand, "strengths": strengths, "forms": forms, "drug_class": m.drug_class,
                        "id": m.id})
    return out


def _rank(name: str, term: str) -> int | None:
    """0 = the name starts with the term, 1 = a word of it does, 2 = it contains it."""
    low = name.lower()
    if low.startswith(term):
        return 0
    if any(w.startswith(term) for w in re.split(r"[\s/+()\-]+", low) if w):
        return 1
    if term in low:
        return 2
    return None


def search(q: str | None, limit: int = 12) -> list[dict]:
    """Active medicines whose generic or brand name matches ``q`` (case-insensitive):
    prefix matches first, then word-start, then substring. A matching generic brings its
    brands right after it ("escit" -> Escitalopram, Nexito (Escitalopram), ...); a
    matching brand alone is shown as "Brand (Generic)". De-duplicated by label.

    Each result: {label, medicine (the string written into the line), generic, brand
    (None for the generic itself), strengths (as stored: "10mg"), forms, drug_class}."""
    term = _norm(q or "").lower()[:100]
    if not term or limit <= 0:
        return []
    rows = list_all()
    scored = []
    for entry in _entries(rows):
        own = _rank(entry["medicine"], term)
        gen = _rank(entry["generic"], term)
        if entry["brand"] is None:
            if own is None:
                continue
            key = (own, entry["generic"].lower(), 0, "")
        elif gen is not None:  # its generic matched: listed under the generic
            key = (gen, entry["generic"].lower(), 1, entry["medicine"].lower())
        elif own is not None:
            key = (own, entry["medicine"].lower(), 0, "")
        else:
            continue
        scored.append((key, entry))
    scored.sort(key=lambda pair: pair[0])
    out, seen = [], set()
    for _key, entry in scored:
        label = entry["label"].lower()
        if label in seen:
            continue
        seen.add(label)
        out.append({k: entry[k] for k in ("label", "medicine", "generic", "brand", "strengths", "forms",
                                          "drug_class")})
        if len(out) >= limit:
            break
    return out


_TAIL = re.compile(r"\s*(\d[\d.,+/]*\s*(mg|mcg|µg|g|ml)?\b.*)$", re.IGNORECASE)


def resolve(name: str | None) -> dict | None:
    """A generic name, an alias or a brand name (any case; "Brand (Generic)" and a trailing
    strength such as "Licab 300mg" are understood) -> {"generic", "drug_class", "brand", "id",
    "strengths", "forms"} of the formulary entry, retired ones included; None when the
    formulary does not know it."""
    text = _norm(name or "")
    if not text:
        return None
    candidates = [text]
    paren = re.match(r"^(.*?)\s*\(([^()]+)\)\s*$", text)
    if paren:
        candidates += [paren.group(1), paren.group(2)]
    stripped = _TAIL.sub("", text).strip()
    if stripped and stripped != text:
        candidates.append(stripped)
    rows = list_all(include_retired=True)
    generics = {m.generic_name.lower(): m for m in rows}
    for m in sorted(rows, key=lambda r: (not r.is_active, r.id)):
        for a in m.aliases or []:
            generics.setdefault(a.lower(), m)
    brands: dict[str, Medicine] = {}
    for m in sorted(rows, key=lambda r: (not r.is_active, r.id)):  # an active entry wins a shared brand
        for b in m.brand_names or []:
            brands.setdefault(b.lower(), m)

    def found(m, brand):
        return {"generic": m.generic_name, "drug_class": m.drug_class, "brand": brand, "id": m.id,
                "strengths": list(m.strengths or []), "forms": list(m.forms or [])}

    for cand in candidates:
        low = cand.lower()
        if low in generics:
            return found(generics[low], None)
        if low in brands:
            m = brands[low]
            return found(m, next(b for b in m.brand_names if b.lower() == low))
    return None


def class_of(name: str | None) -> str | None:
    """The drug class of a generic or brand name (case-insensitive), or None."""
    found = resolve(name)
    return found["drug_class"] if found else None


def generic_of(name: str | None) -> str | None:
    """The generic name behind a generic or brand name, or None."""
    found = resolve(name)
    return found["generic"] if found else None


# ------------------------------------------------------------------ writing

def _clean_text(value, field: str, max_len: int, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError("Validation failed", errors=[field_error(field, f"{field} is required", value)])
        return None
    if not isinstance(value, str):
        raise ValidationError("Validation failed", errors=[field_error(field, f"{field} must be text", value)])
    if len(value) > 10 * max_len:  # not scanned character by character: megabytes would take seconds
        raise ValidationError("Validation failed",
                              errors=[field_error(field, f"{field} must be at most {max_len} characters", None)])
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in value if ch not in " \t\n\r"):
        raise ValidationError("Validation failed",
                              errors=[field_error(field, f"{field} must not contain control characters", None)])
    text = _norm(value)
    if len(text) > max_len:
        raise ValidationError("Validation failed",
                              errors=[field_error(field, f"{field} must be at most {max_len} characters", None)])
    return text


def _clean_list(value, field: str) -> list[str]:
    """A list of strings, or one comma-separated string ("10mg, 20mg")."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise ValidationError("Validation failed",
                              errors=[field_error(field, f"{field} must be a list of names", value)])
    out: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise ValidationError("Validation failed",
                                  errors=[field_error(field, f"{field} must be a list of names", value)])
        text = _clean_text(item, field, MAX_ITEM, required=False)
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    if len(out) > MAX_ITEMS:
        raise ValidationError("Validation failed",
                              errors=[field_error(field, f"at most {MAX_ITEMS} {field}", None)])
    return out


def _audit(action: str, row: Medicine, actor, **details) -> None:
    audit.record(action, ENTITY, row.id, user_id=getattr(actor, "id", None),
                 details={"generic_name": row.generic_name, **details})


def _clean_forms(value) -> list[str]:
    from .lines import LineError, clean_form
    out = []
    for item in _clean_list(value, "forms"):
        try:
            form = clean_form(item)
        except LineError as exc:
            raise ValidationError("Validation failed", errors=[field_error("forms", exc.message, item)]) from None
        if form not in out:
            out.append(form)
    return out


def add(generic_name, drug_class=None, brands=None, strengths=None, actor=None, forms=None) -> Medicine:
    """A new active formulary entry. The same generic name (ignoring case, or another name of
    an existing entry), active or retired, is a Conflict (409) "Medicine already exists"
    (restore a retired one). Forms default to tablet."""
    name = _clean_text(generic_name, "generic_name", MAX_GENERIC, required=True)
    klass = _clean_text(drug_class, "drug_class", MAX_CLASS, required=False)
    brand_list = [b for b in _clean_list(brands, "brand_names") if b.lower() != name.lower()]
    strength_list = _clean_list(strengths, "strengths")
    form_list = _clean_forms(forms) or ["tablet"]
    existing = by_name(name)
    if existing is not None:
        if existing.generic_name.lower() != name.lower():
            raise Conflict(f"Medicine already exists as another name of {existing.generic_name}")
        raise Conflict("Medicine already exists")
    row = Medicine(generic_name=name, drug_class=klass, brand_names=brand_list, strengths=strength_list,
                   forms=form_list, aliases=[], is_active=True)
    try:
        with db.session.begin_nested():  # a concurrent add of the same name loses cleanly
            db.session.add(row)
    except IntegrityError:
        raise Conflict("Medicine already exists") from None
    _audit("medicine_add", row, actor, drug_class=klass)
    db.session.commit()
    return row


def retire(medicine_id, actor=None) -> Medicine:
    """No longer offered by the picker; prescriptions naming it are untouched."""
    row = get(medicine_id)
    if row.is_active:
        row.is_active = False
        _audit("medicine_retire", row, actor)
        db.session.commit()
    return row


def restore(medicine_id, actor=None) -> Medicine:
    row = get(medicine_id)
    if not row.is_active:
        row.is_active = True
        _audit("medicine_restore", row, actor)
        db.session.commit()
    return row
