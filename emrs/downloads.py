"""Content-Disposition for every file EMRS sends (PDFs, uploads, exports).

File names may carry a CR number, a patient's upload name or other stored text. The header
gets an ASCII fallback ``filename="..."`` (quotes, backslashes, control characters and
anything outside printable ASCII replaced by "_") and the exact name as
``filename*=UTF-8''<percent-encoded>`` (RFC 6266 / RFC 5987): no stored value can break the
header (a line break made werkzeug refuse it: a 500 for that patient's every PDF) or add
parameters to it (a quote).
"""
from __future__ import annotations

from urllib.parse import quote

_FALLBACK_MAX = 150


def ascii_filename(name: str) -> str:
    out = "".join(ch if " " <= ch <= "~" and ch not in '"\\;' else "_" for ch in name or "")
    out = out.strip(" .") or "download"
    return out[-_FALLBACK_MAX:] if len(out) > _FALLBACK_MAX else out


def content_disposition(name: str, *, inline: bool = False) -> str:
    """``attachment|inline; filename="<ascii>"; filename*=UTF-8''<utf-8>``."""
    name = "".join(ch for ch in (name or "") if ch.isprintable()) or "download"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_filename(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
