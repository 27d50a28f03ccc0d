"""Name keys for typo- and transliteration-tolerant search.

Punjabi and Hindi names are written in Latin letters many ways: Mohinder /
Mahinder / Mohindar, Kaur / Kour, Sandhu / Sandhoo, Sharma / Shrma. The key
keeps the consonant skeleton of each word (vowels dropped after the first
letter, doubled letters collapsed, common digraph spellings folded), so those
variants share one key; trigram similarity on the key then also forgives a
dropped or swapped consonant. The key is stored in ``registered_patient.name_key``
and indexed; the service computes it on every write.
"""
from __future__ import annotations

import re
import unicodedata

_FOLDS = [  # applied in order to each lower-case word
    ("ph", "f"), ("bh", "b"), ("dh", "d"), ("th", "t"), ("kh", "k"), ("gh", "g"), ("jh", "j"),
    ("ch", "c"), ("sh", "s"), ("w", "v"), ("z", "j"), ("q", "k"), ("x", "ks"), ("ck", "k"),
    ("y", "i"),
]
_VOWELS = set("aeiou")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", _ascii(text or "").lower()) if w]


def word_key(word: str) -> str:
    w = word
    for a, b in _FOLDS:
        w = w.replace(a, b)
    if not w:
        return ""
    head, tail = w[0], "".join(c for c in w[1:] if c not in _VOWELS and c != "h")
    out = head
    for c in tail:
        if c != out[-1]:
            out += c
    return out


def name_key(name: str) -> str:
    """'Mohinder Singh Sandhoo' -> 'mndr sng snd'."""
    return " ".join(k for k in (word_key(w) for w in words(name)) if k)


def normalise_name(name: str) -> str:
    """Trimmed, single-spaced; the spelling the staff typed is kept."""
    return re.sub(r"\s+", " ", (name or "").strip())


def name_tokens(name: str) -> list[str]:
    """What the word index of a patient holds: every prefix (2+ letters) of every
    lower-case word — so as-you-type "gurpr" finds Gurpreet — and, marked with '~',
    each word's key: 'Ram Singh' -> ['ra', 'ram', 'si', 'sin', 'sing', 'singh', '~rm', '~sng']."""
    ws = words(name)
    prefixes = [w[:i] for w in ws for i in range(2, len(w) + 1)] + [w for w in ws if len(w) == 1]
    keys = ["~" + k for k in (word_key(w) for w in ws) if k]
    return list(dict.fromkeys(prefixes + keys))
