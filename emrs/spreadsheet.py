"""Cells for CSV and Excel exports: text a spreadsheet would run as a formula
(starting with = + - @, or a tab or carriage return) gets a leading apostrophe."""
from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# Control characters an Excel worksheet cannot hold (openpyxl refuses them): each becomes U+FFFD,
# so stored text with, say, a terminal escape sequence still exports.
_NOT_IN_WORKSHEETS = {c: "\ufffd" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}


def xlsx_cell(value):
    """``safe_cell`` for an Excel worksheet: no formula, no control character it cannot hold."""
    if isinstance(value, str):
        value = value.translate(_NOT_IN_WORKSHEETS)
    return safe_cell(value)
