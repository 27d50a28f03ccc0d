"""Settings, read from the environment with the spec's variable names.

Every variable is listed with its default in `.env.example`.
"""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"
# The version EMRS reports: the API's root document, the OpenAPI info, FHIR's CapabilityStatement.
VERSION = "1.0.0"

try:  # a .env file in the checkout, if present; real environment variables win
    from dotenv import load_dotenv

    load_dotenv(BASE_DIR / ".env", override=False)
except ImportError:  # pragma: no cover
    pass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return int(raw)


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):  # not a number, NaN, negative or infinite: a mistake, not a setting
        raise ValueError(f"{name}={raw!r}: expected a number of seconds, 0 or more (e.g. 1 or 0.5)")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _str(name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else raw


def _secret_key() -> str:
    """SECRET_KEY from the environment, or a random key kept in instance/ for local runs.

    There is no hard-coded fallback: a key in the source would sign everyone's cookies.
    """
    key = _str("SECRET_KEY")
    if key:
        return key
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def database_url() -> str:
    url = _str("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'emrs.sqlite'}")
    # Heroku-style URLs.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


def from_environment() -> dict:
    """Build the Flask config mapping from the environment."""
    secret = _secret_key()
    redis_url = _str("REDIS_URL")
    url = database_url()
    cfg = {
        "SECRET_KEY": secret,
        "JWT_SECRET": _str("JWT_SECRET", secret),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url),
        "REDIS_URL": redis_url,
        "UPLOAD_FOLDER": _str("UPLOAD_FOLDER", str(INSTANCE_DIR / "uploads")),
        # A deleted scan stays on disk, restorable, this many days before an Admin may purge it.
        "FILE_RETENTION_DAYS": _int("FILE_RETENTION_DAYS", 90),
        "MAIL_OUTBOX_DIR": _str("MAIL_OUTBOX_DIR", str(INSTANCE_DIR / "outbox")),
        "EMAIL_HOST": _str("EMAIL_HOST"),
        "EMAIL_PORT": _int("EMAIL_PORT", 587),
        "EMAIL_USER": _str("EMAIL_USER"),
        "EMAIL_PASSWORD": _str("EMAIL_PASSWORD"),
        "EMAIL_FROM": _str("EMAIL_FROM", "EMRS PGIMER <emrs-noreply@localhost>"),
        "EMAIL_USE_TLS": _bool("EMAIL_USE_TLS", True),
        "CORS_ORIGIN": _str("CORS_ORIGIN", ""),
        # Spec knobs (domain/api-contract.md §3.1).
        "ACCESS_TOKEN_EXPIRATION_SECONDS": _int("ACCESS_TOKEN_EXPIRATION_SECONDS", 300),
        "REFRESH_TOKEN_EXPIRATION_MS": _int("REFRESH_TOKEN_EXPIRATION_MS", 604_800_000),
        "REFRESH_TOKEN_COOKIE_MAX_AGE_MS": _int("REFRESH_TOKEN_COOKIE_MAX_AGE_MS", 604_800_000),
        "SESSION_INACTIVITY_TIMEOUT_MS": _int("SESSION_INACTIVITY_TIMEOUT_MS", 900_000),
        "SESSION_ABSOLUTE_TIMEOUT_MS": _int("SESSION_ABSOLUTE_TIMEOUT_MS", 43_200_000),
        # Checked session rows kept in each process's memory (PostgreSQL only; revocation is
        # announced by NOTIFY to every process: emrs/auth/session_cache.py).
        "SESSION_CACHE": _bool("SESSION_CACHE", True),
        "SESSION_CACHE_SECONDS": _int("SESSION_CACHE_SECONDS", 30),
        "OTP_EXPIRATION_MS": _int("OTP_EXPIRATION_MS", _int("OTP_EXPIRATION_SECONDS", 300) * 1000),
        "PASSWORD_RESET_TOKEN_EXPIRATION_MS": _int("PASSWORD_RESET_TOKEN_EXPIRATION_MS", 900_000),
        # Hours an account set-up (invitation) link stays valid.
        "INVITATION_HOURS": _int("INVITATION_HOURS", 24),
        # Seconds a tablet handed to a patient (kiosk, one self-report scale) stays open; the
        # page clears itself at the end (static/js/kiosk.js) and the server refuses it after.
        "KIOSK_SESSION_SECONDS": _int("KIOSK_SESSION_SECONDS", 1800),
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_MINUTES": _int("LOGIN_LOCKOUT_MINUTES", 15),
        "OTP_MAX_ATTEMPTS": _int("OTP_MAX_ATTEMPTS", 5),
        # Seconds a correct password keeps its login open for the second factor.
        "PENDING_LOGIN_SECONDS": _int("PENDING_LOGIN_SECONDS", 600),
        # Seconds in which a just-rotated refresh token still returns its (same) successor:
        # two tabs or a retried request refreshing at once are not taken for token theft.
        "REFRESH_GRACE_SECONDS": _int("REFRESH_GRACE_SECONDS", 10),
        # Reset codes e-mailed per account per hour (beyond: the same answer, no code).
        "RESET_CODES_PER_HOUR": _int("RESET_CODES_PER_HOUR", 5),
        "PASSWORD_HASH_METHOD": _str("PASSWORD_HASH_METHOD", "scrypt"),
        "RATELIMIT_AUTH": _str("RATELIMIT_AUTH", "20 per minute"),
        "RATELIMIT_OTP_RESEND": _str("RATELIMIT_OTP_RESEND", "3 per minute"),
        "RATELIMIT_STORAGE_URI": _str("RATELIMIT_STORAGE_URI", redis_url or "memory://"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        # Every /api request counts against its token's sign-in session (else the client address).
        "RATELIMIT_API": _str("RATELIMIT_API", "600 per minute"),
        # JSON bodies on the API (api-contract.md §1: 10 MB); uploads keep MAX_CONTENT_LENGTH.
        "API_JSON_MAX_BYTES": _int("API_JSON_MAX_BYTES", 10 * 1024 * 1024),
        "RATELIMIT_HEADERS_ENABLED": False,
        # Seconds between the self-refreshes of Today's Patients (docs/opd.md).
        "OPD_LIST_REFRESH_SECONDS": _int("OPD_LIST_REFRESH_SECONDS", 15),
        "HOSPITAL_NAME": _str("HOSPITAL_NAME", "PGIMER Chandigarh"),
        "DEPARTMENT_NAME": _str("DEPARTMENT_NAME", "Department of Psychiatry"),
        "EMRS_SERVICE_NAME": _str("EMRS_SERVICE_NAME", "emrs"),
        # /health reuses its database check while younger than this (seconds, per process; emrs/health.py).
        "HEALTH_MAX_AGE": _float("HEALTH_MAX_AGE", 1.0),
        # Behind a reverse proxy (the nginx gateway): how many proxies set X-Forwarded-For/-Proto.
        # 0 = none (the default); 1 behind the compose gateway, so rate limits and audit see the client.
        "PROXY_FIX_X_FOR": _int("PROXY_FIX_X_FOR", 0),
        # The address users and integrators reach EMRS at (scheme://host[:port][/prefix]): absolute
        # links given out (FHIR bundles) are built on it, never on the request's Host header.
        "PUBLIC_BASE_URL": _str("PUBLIC_BASE_URL", "http://localhost"),
        "PRESCRIPTION_PAGE_SIZE": _str("PRESCRIPTION_PAGE_SIZE", "A5"),
        "PRESCRIPTION_LOGO": _str("PRESCRIPTION_LOGO"),
        "PDF_QUEUE_TIMEOUT": _int("PDF_QUEUE_TIMEOUT", 10),
        # Prescription PDFs: rendered in worker processes, stored, served from the stored copy.
        "PDF_WORKERS": _int("PDF_WORKERS", 1),
        "PDF_CACHE_DIR": _str("PDF_CACHE_DIR", str(INSTANCE_DIR / "pdf-cache")),
        "PDF_PRERENDER": _bool("PDF_PRERENDER", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "SESSION_COOKIE_NAME": "emrs_session",
        "REFRESH_COOKIE_SECURE": _bool("REFRESH_COOKIE_SECURE", False),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 220 * 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
        "LOG_LEVEL": _str("LOG_LEVEL", "INFO"),
        # Rotating JSON-lines log files; LOG_DIR set to an empty string turns them off.
        "LOG_DIR": _log_dir(),
        "LOG_MAX_BYTES": _int("LOG_MAX_BYTES", 10 * 1024 * 1024),
        "LOG_BACKUPS": _int("LOG_BACKUPS", 5),
        # A GET/HEAD that failed on a dead database connection is tried again this many times,
        # DB_RETRY_DELAY_MS x attempt apart, before the client gets 503 (emrs/resilience.py).
        "DB_READ_RETRIES": _int("DB_READ_RETRIES", 3),
        "DB_RETRY_DELAY_MS": _int("DB_RETRY_DELAY_MS", 500),
        # Which of the five services this process answers (emrs/services.py); empty = all.
        "EMRS_SERVICES": _str("EMRS_SERVICES", ""),
    }
    return cfg


def _log_dir() -> str:
    """LOG_DIR: unset -> <checkout>/logs; empty -> "" (no log files); relative -> under the checkout."""
    raw = os.environ.get("LOG_DIR")
    if raw is None:
        return str(BASE_DIR / "logs")
    if raw.strip() == "":
        return ""
    path = Path(raw.strip())
    return str(path if path.is_absolute() else BASE_DIR / path)


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        "pool_pre_ping": True,
        "pool_size": _int("DB_POOL_SIZE", 10),
        "max_overflow": _int("DB_MAX_OVERFLOW", 5),
        "pool_timeout": _int("DB_POOL_TIMEOUT", 5),
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": _int("DB_CONNECT_TIMEOUT", 3)},
    }
