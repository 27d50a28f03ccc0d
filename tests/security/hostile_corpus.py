"""The hostile input corpus (docs/hostile-input.md): payloads by category, hypothesis
strategies, and the targets they are aimed at, derived from the application's own
tables (app.url_map, the permission map, the patient field table, the proforma and
intake field lists, the prescription line keys, the WTForms classes).

Nothing here sends a request; ``hostile_support`` does. ``python -m
tests.security.hostile_corpus`` prints the case counts per category.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

MB10 = 10 * 1024 * 1024


class RawJSON:
    """A JSON token that Python's encoder cannot produce (1e309, NaN, a bare
    surrogate written as raw UTF-8 bytes ...): spliced into the body text as is."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return f"RawJSON({self.text!r})"


@dataclass(frozen=True)
class Payload:
    category: str
    label: str
    value: object


def _p(category: str, items) -> list[Payload]:
    return [Payload(category, label, value) for label, value in items]


MARKUP = _p("markup", [
    ("script tag", "<script>alert(1)</script>"),
    ("attribute break-out", "\"><img src=x onerror=alert(1)>"),
    ("single-quote break-out", "'><svg onload=alert(1)>"),
    ("javascript: URL", "javascript:alert(1)"),
    ("anchor with javascript:", "<a href=\"javascript:alert(1)\">x</a>"),
    ("template injection", "{{7*7}}{% raw %}${7*7}"),
    ("iframe", "<iframe src=javascript:alert(1)></iframe>"),
])
SQL = _p("sql", [
    ("or 1=1", "' OR 1=1 --"),
    ("drop table", "'; DROP TABLE patients; --"),
    ("drop registered_patient", "x'); DROP TABLE registered_patient; --"),
    ("union select", "' UNION SELECT password_hash FROM users --"),
    ("like wildcard", "%' OR '1'='1"),
    ("backslash quote", "\\'; --"),
    ("pg sleep", "1; SELECT pg_sleep(5)"),
])
PATH = _p("path", [
    ("dot-dot", "../../etc/passwd"),
    ("encoded dot-dot", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("double-encoded", "%252e%252e%252fetc%252fpasswd"),
    ("absolute", "/etc/passwd"),
    ("windows", "..\\..\\windows\\win.ini"),
    ("file URL", "file:///etc/passwd"),
    ("nested dots", "....//....//etc/passwd"),
])
NUL = _p("nul", [
    ("inside", "abc\x00def"),
    ("alone", "\x00"),
    ("trailing", "Mohinder\x00"),
    ("before markup", "\x00<script>alert(1)</script>"),
])
CONTROL = _p("control", [
    ("CRLF header injection", "x\r\nSet-Cookie: evil=1"),
    ("newline", "line one\nline two"),
    ("escape sequence", "\x1b[31mred\x1b[0m"),
    ("DEL and BEL", "a\x7fb\x07c"),
])
HUGE = _p("huge", [
    ("10 MB", "A" * MB10),
    ("100 KB", "B" * 100_000),
    ("20,001 characters", "C" * 20_001),
    ("256 characters", "D" * 256),
])
UNICODE = _p("unicode", [
    ("RTL override", "\u202eevil\u202c.exe"),
    ("zero-width joiner", "\U0001F468\u200d\U0001F469\u200d\U0001F467"),
    ("zero-width space", "Moh\u200binder"),
    ("combining marks", "e\u0301\u0301\u0301\u0301\u0301"),
    ("emoji", "\U0001F600\U0001F9E0\U0001F48A"),
    ("lone surrogate", "\ud800"),
    ("lone low surrogate", "ab\udfffcd"),
    ("Devanagari", "मोहिंदर सिंह"),
    ("Gurmukhi", "ਮੋਹਿੰਦਰ ਸਿੰਘ"),
    ("BOM and noncharacter", "\ufeffname\uffff"),
    ("fullwidth markup", "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"),
])
NUMBERS = _p("numbers", [
    ("1e309", RawJSON("1e309")),
    ("-1e309", RawJSON("-1e309")),
    ("NaN", RawJSON("NaN")),
    ("2**70", 2 ** 70),
    ("-2**63", -(2 ** 63)),
    ("-1", -1),
    ("0", 0),
    ("2**31", 2 ** 31),
    ("float", 1.5),
    ("digits as text", "99999999999999999999999"),
    ("5,000 digits", RawJSON("9" * 5000)),   # beyond int()'s default digit limit
    ("5,000 digits as text", "9" * 5000),
    ("superscript digit", "\u00b2"),          # str.isdigit() is true, int() refuses it
    ("Devanagari digits", "\u0967\u0968"),    # int() reads them as 12
])
DATES = _p("dates", [
    ("30 February", "2025-02-30"),
    ("day first", "31/12/2025"),
    ("empty", ""),
    ("far future", "9999-12-31"),
    ("year 1", "0001-01-01"),
    ("month 13", "2025-13-01"),
    ("bad time", "2025-02-28T25:61:00"),
    ("words", "yesterday"),
])
TYPES = _p("types", [
    ("empty array", []),
    ("array of strings", ["a", "b"]),
    ("object", {"$gt": ""}),
    ("true", True),
    ("false", False),
    ("null", None),
    ("nested arrays", [[["x"]]]),
])

VALUE_PAYLOADS: list[Payload] = MARKUP + SQL + PATH + NUL + CONTROL + HUGE + UNICODE + NUMBERS + DATES + TYPES

# Stored-output check: what must never reach a page or the PDF unescaped.
STORED_MARKUP = ("<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>")


# ------------------------------------------------------------------ whole-body cases (JSON endpoints)

def _deep(depth: int, opener: str, closer: str, inner: str = "1") -> str:
    return opener * depth + inner + closer * depth


@dataclass(frozen=True)
class BodyCase:
    """A whole request body sent instead of the JSON object the endpoint expects."""
    category: str
    label: str
    data: bytes
    content_type: str | None


_DEEP_ARRAY = _deep(10_000, "[", "]")
_STATIC_BODIES = {
    "array nested 10,000 deep": _DEEP_ARRAY.encode(),
    "object nested 10,000 deep": ("{" + '"a":{' * 10_000 + "}" * 10_000 + "}").encode(),
    "top-level array": b"[1, 2, 3]",
    "top-level string": b'"<script>alert(1)</script>"',
    "top-level null": b"null",
    "top-level number": b"1e309",
    "invalid UTF-8": b'{"name": "\xff\xfe\xfa"}',
    "surrogate as raw UTF-8 bytes": b'{"name": "\xed\xa0\x80"}',
    "10,000 keys": json.dumps({f"k{i}": i for i in range(10_000)}).encode(),
    "form-encoded where JSON is expected": b"name=x&patient_id=1",
    "multipart where JSON is expected":
        b'--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--XyZ--\r\n',
    "empty body": b"",
}
JSON = "application/json"
# (category, label, content type); the body is built by body_case().
BODY_CASES = [
    ("structure", "array nested 10,000 deep", JSON),
    ("structure", "object nested 10,000 deep", JSON),
    ("structure", "field nested 10,000 deep", JSON),
    ("structure", "duplicate key, payload last", JSON),
    ("structure", "duplicate key, payload first", JSON),
    ("structure", "top-level array", JSON),
    ("structure", "top-level string", JSON),
    ("structure", "top-level null", JSON),
    ("structure", "top-level number", JSON),
    ("structure", "truncated JSON", JSON),
    ("structure", "invalid UTF-8", JSON),
    ("structure", "surrogate as raw UTF-8 bytes", JSON),
    ("structure", "10,000 keys", JSON),
    ("structure", "NUL byte outside strings", JSON),
    ("content-type", "text/plain with a JSON body", "text/plain"),
    ("content-type", "form-encoded where JSON is expected", "application/x-www-form-urlencoded"),
    ("content-type", "multipart where JSON is expected", "multipart/form-data; boundary=XyZ"),
    ("content-type", "no content type", None),
    ("content-type", "JSON declared as UTF-16", "application/json; charset=utf-16"),
    ("content-type", "empty body", JSON),
]


def body_case(k: int, base: dict, fields: tuple) -> BodyCase:
    """The k-th whole-body case for an endpoint whose valid body is ``base``."""
    category, label, ctype = BODY_CASES[k]
    if label in _STATIC_BODIES:
        return BodyCase(category, label, _STATIC_BODIES[label], ctype)
    text = json.dumps(base)
    first = json.dumps(fields[0] if fields else "name")
    sep = ", " if base else ""
    data = {
        "field nested 10,000 deep": text[:-1] + sep + first + ": " + _DEEP_ARRAY + "}",
        "duplicate key, payload last": text[:-1] + sep + first + ': "<script>alert(1)</script>"}',
        "duplicate key, payload first": "{" + first + ': "<script>alert(1)</script>"' + sep + text[1:],
        "truncated JSON": text[: max(1, len(text) // 2)],
        "NUL byte outside strings": text[:1] + "\x00" + text[1:],
        "text/plain with a JSON body": text,
        "no content type": text,
    }.get(label)
    if label == "JSON declared as UTF-16":
        return BodyCase(category, label, text.encode("utf-16"), ctype)
    return BodyCase(category, label, data.encode(), ctype)


# Form bodies sent where a page form is expected.
FORM_BODY_CASES = [
    ("content-type", "JSON where a form is expected", b'{"name": "<script>alert(1)</script>"}', "application/json"),
    ("content-type", "text/plain", b"name=<script>", "text/plain"),
    ("content-type", "broken multipart boundary", b"--nope\r\n\r\n", "multipart/form-data; boundary=XyZ"),
    ("structure", "invalid percent-encoding", b"name=%zz%&%%%=1", "application/x-www-form-urlencoded"),
    ("structure", "10,000 fields", "&".join(f"f{i}=x" for i in range(10_000)).encode(),
     "application/x-www-form-urlencoded"),
    ("structure", "raw NUL in the body", b"name=a\x00b", "application/x-www-form-urlencoded"),
    ("structure", "invalid UTF-8", b"name=%ff%fe%fa&label=%ed%a0%80", "application/x-www-form-urlencoded"),
    ("content-type", "empty body", b"", "application/x-www-form-urlencoded"),
]

# Values put into URL path parameters and query strings (already URL text).
PATH_PARAM_VALUES = [
    ("path", "../../etc/passwd"), ("path", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"), ("path", "%2Fetc%2Fpasswd"),
    ("nul", "%00"), ("nul", "1%00"), ("sql", "1%27%20OR%201%3D1%20--"),
    ("markup", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ("numbers", "99999999999999999999999"), ("numbers", "-1"), ("numbers", "0"), ("numbers", "1e309"),
    ("numbers", "%C2%B2"), ("numbers", "%E0%A5%A7"),
    ("unicode", "%ED%A0%80"), ("unicode", "%E0%A4%AE%E0%A5%8B"), ("huge", "9" * 5000),
]
QUERY_VALUES = [
    ("markup", "<script>alert(1)</script>"), ("sql", "' OR 1=1 --"), ("path", "../../etc/passwd"),
    ("nul", "a\x00b"), ("unicode", "\u202e\U0001F600ਮੋ"), ("numbers", "99999999999999999999999"),
    ("numbers", "-1"), ("numbers", "1e309"), ("numbers", "\u00b2"), ("numbers", "9" * 5000), ("dates", "2025-02-30"),
    ("huge", "Z" * 100_000),
    ("types", ["1", "2"]), ("control", "x\r\ny"),
]
# Query parameter names the list endpoints read (derived from the services in hostile_support).
COMMON_QUERY_KEYS = ("page", "limit", "q", "search", "id", "date_from", "date_to", "size", "period", "user_id", "role",
                     "include_retired", "include_all", "clinical_proforma_id", "group", "filter", "next", "prefill",
                     "repeat", "template", "view", "all", "intake")


# ------------------------------------------------------------------ hypothesis strategies

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 80), max_value=2 ** 80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=60),
)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4)), max_leaves=12)
hostile_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from([p.value for p in VALUE_PAYLOADS if isinstance(p.value, str) and len(p.value) < 1000]),
    st.builds(lambda a, b: a + b, st.sampled_from(["<script>", "\x00", "'--", "../", "\u202e", "\ud800"]),
              st.text(max_size=20)),
)
# Form values are text (browsers send nothing else); the alphabet includes controls and NUL.
form_text = st.one_of(st.text(st.characters(codec="utf-8"), max_size=80),
                      st.sampled_from([p.value for p in VALUE_PAYLOADS if isinstance(p.value, str)
                                       and len(p.value) < 1000 and "\ud800" not in p.value
                                       and "\udfff" not in p.value]))


def counts_by_category(cases) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cases:
        out[c.category] = out.get(c.category, 0) + 1
    return dict(sorted(out.items()))


@dataclass
class Case:
    """One request of the fixed corpus (built by hostile_support.*_cases)."""
    category: str
    target: str      # endpoint
    label: str
    spec: dict = field(default_factory=dict)


if __name__ == "__main__":  # pragma: no cover - a reporting aid
    from tests.security.hostile_support import corpus_counts
    counts = corpus_counts()
    width = max(len(k) for k in counts)
    for k, v in counts.items():
        print(f"{k:<{width}}  {v}")
