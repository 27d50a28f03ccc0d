"""Small primitives: hashing of codes and tokens, password checks."""
from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

# A valid hash of a random password, checked when the e-mail is unknown so that
# "unknown e-mail" and "wrong password" take the same time.
_DUMMY_HASH: dict[str, str] = {}


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 keyed with SECRET_KEY: what is stored for codes and tokens."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_hex(nbytes)


def new_numeric_code() -> str:
    """A 6-digit one-time code (pyotp HOTP over a fresh random secret)."""
    return pyotp.HOTP(pyotp.random_base32(), digits=6).at(secrets.randbelow(1_000_000))


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(pw_hash: str | None, password: str) -> bool:
    if not pw_hash:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in _DUMMY_HASH:
            _DUMMY_HASH[method] = generate_password_hash(secrets.token_hex(8), method=method)
        check_password_hash(_DUMMY_HASH[method], password)
        return False
    return check_password_hash(pw_hash, password)


PASSWORD_RULE = "Password must be at least 8 characters and contain a letter and a digit."


def password_problem(password) -> str | None:
    if not isinstance(password, str) or len(password) < 8 or len(password) > 200:
        return PASSWORD_RULE
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return PASSWORD_RULE
    return None
