"""Rules for text that becomes an identifier, a person's name or a file name.

Record numbers (CR, PSY, ADL)
    ASCII letters and digits, "/" and "-", starting with a letter or digit, at most 50
    characters: the numbers EMRS issues (CR2025000042, PSY2025000042, ADL2025K7Q2M9XA) and
    those written on older paper files (PSY/2025/0456, PSY-MTX-1). No spaces, quotes, line
    breaks or other characters: a number is printed on PDFs, used in download file names
    and typed into searches, and must mean the same everywhere.

Names (patients, father/husband, head of family, users)
    Stored in Unicode NFC (a name typed with combining accents is the same name as the
    precomposed one); the invisible characters that reorder or hide text — bidirectional
    embeddings/overrides/isolates (U+202A–U+202E, U+2066–U+2069), zero-width and direction
    marks (U+200B–U+200F), the word joiner U+2060 and the BOM U+FEFF — are refused, as are
    other control characters.
"""
from __future__ import annotations

import re
import unicodedata

IDENTIFIER_MAX = 50
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9/-]{0,49}")
IDENTIFIER_MESSAGE = "may contain only letters A–Z, digits 0–9, \"/\" and \"-\" (at most 50, starting with a letter or digit)"

INVISIBLE = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010),
                                       0x2060, 0xFEFF))
NAME_MESSAGE = ("must not contain invisible or text-direction characters (such as U+202E right-to-left "
                "override or U+200B zero-width space)")


def identifier_problem(value: str) -> str | None:
    """None when ``value`` (already stripped) is a valid record number, else the message."""
    return None if IDENTIFIER.fullmatch(value) else IDENTIFIER_MESSAGE


def clean_name(value: str) -> str:
    """The name in NFC, stripped; ValueError(NAME_MESSAGE) for invisible/direction/control characters."""
    value = unicodedata.normalize("NFC", value).strip()
    if any(ch in INVISIBLE for ch in value) or any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError(NAME_MESSAGE)
    return value
