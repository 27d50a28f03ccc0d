"""Cells for CSV and Excel exports: text a spreadsheet would run as a formula
(starting with = + - @, or a tab or carriage return) gets a leading apostrophe."""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
