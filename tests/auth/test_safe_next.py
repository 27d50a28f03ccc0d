"""At sign-in, `next` only ever leads to a path on this site, whatever
encoding, whitespace or backslashes it carries. Played through the real page login
(/login?next=... then the e-mailed code) and, for an account without a code, the password alone."""
from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest

from ..conftest import browser_login

HOSTILE = [
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/%0a/evil.example",
    "/%20/evil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "%2F%2Fevil.example",
    "%252F%252Fevil.example",
    "/%252F/evil.example",
    "%5C%5Cevil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "%20//evil.example",
    "%09//evil.example",
    "///evil.example",
    "////evil.example",
    "//evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt%3Aalert(1)",
    "data:text/html,hi",
    "/%2F%2Fevil.example",
    "/.%2F/evil.example",
    "%E3%80%82//evil.example",
]


def _lands_on_this_site(location: str) -> bool:
    """What a browser would do with the Location: decode, drop tab/CR/LF and leading
    spaces/control characters, then it must be a single-slash path with no host."""
    seen = location
    for _ in range(5):
        seen = unquote(seen)
    seen = re.sub(r"[\t\r\n]", "", seen).lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                               "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
                                               "\x1d\x1e\x1f ")
    for candidate in (location, seen):
        if not candidate.startswith("/") or candidate[1:2] in ("/", "\\") or "\\" in candidate:
            return False
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return False
    return True


@pytest.mark.parametrize("payload", HOSTILE)
def test_next_never_leaves_the_site(client, outbox, users, payload):
    resp = browser_login(client, outbox, users["resident"], next_url=payload)
    location = resp.headers["Location"]
    assert _lands_on_this_site(location), (payload, location)


@pytest.mark.parametrize("payload", ["/%09/evil.example", "/%5Cevil.example", "%2F%2Fevil.example"])
def test_next_never_leaves_the_site_without_a_code(client, outbox, make_user, payload):
    user = make_user("Faculty", otp=False)
    resp = browser_login(client, outbox, user, next_url=payload)
    assert _lands_on_this_site(resp.headers["Location"]), (payload, resp.headers["Location"])


@pytest.mark.parametrize("payload, expected", [
    ("/patients", "/patients"),
    ("/admin/users?q%3Dverma", "/admin/users?q=verma"),
    ("/patients/%3Fx", "/patients/?x"),
    ("/patients?q%3Dram%2520kumar", "/patients?q=ram%20kumar"),
])
def test_local_next_still_works(client, outbox, users, payload, expected):
    resp = browser_login(client, outbox, users["admin"], next_url=payload)
    assert resp.headers["Location"] == expected
