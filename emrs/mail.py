"""Outgoing mail: SMTP from the EMAIL_* settings, or .eml files in the outbox.

When EMAIL_HOST is unset (a first run on a laptop), each message is written to
``instance/outbox/`` (MAIL_OUTBOX_DIR overrides) and a log line says where; that
is how a first-run user reads their one-time code. The log line never contains
the message body.
"""
from __future__ import annotations

import logging
import os
import smtplib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app

log = logging.getLogger("emrs.mail")


class MailError(Exception):
    pass


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    cfg = current_app.config
    msg = EmailMessage()
    msg["From"] = cfg["EMAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain="emrs.local")
    msg.set_content(body)
    return msg


def send_mail(to: str, subject: str, body: str) -> None:
    cfg = current_app.config
    msg = build_message(to, subject, body)
    if not cfg.get("EMAIL_HOST"):
        outbox = Path(cfg["MAIL_OUTBOX_DIR"])
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = outbox / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(msg))
        log.info("mail: EMAIL_HOST is not set; message %r written to %s", subject, path)
        return
    try:
        with smtplib.SMTP(cfg["EMAIL_HOST"], cfg["EMAIL_PORT"], timeout=10) as smtp:
            if cfg.get("EMAIL_USE_TLS"):
                try:
                    smtp.starttls()
                except smtplib.SMTPNotSupportedError:
                    log.warning("mail: server does not offer STARTTLS; sending in clear")
            if cfg.get("EMAIL_USER"):
                smtp.login(cfg["EMAIL_USER"], cfg.get("EMAIL_PASSWORD") or "")
            smtp.send_message(msg)
        log.info("mail: message %r sent via %s", subject, cfg["EMAIL_HOST"])
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mail: sending %r failed: %s", subject, type(exc).__name__)
        raise MailError("The e-mail could not be sent. Please try again or contact the administrator.") from exc


# ------------------------------------------------------------------ in the background
# A mail server can take seconds. Where the answer must not depend on whether a message
# was sent (forgot-password: known and unknown e-mails answer alike, in the same time),
# the message goes to a small per-process pool and the request does not wait for it.

_pool = None
_pool_pid = None
_pending: set = set()
_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():  # a forked worker makes its own
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="emrs-mail")
            _pool_pid = os.getpid()
        return _pool


def _send_with_app(app, to: str, subject: str, body: str) -> None:
    with app.app_context():
        try:
            send_mail(to, subject, body)
        except MailError:
            pass  # send_mail logged it (without the body)
        except Exception:  # never lose the worker on a bug; never log the body
            log.exception("mail: sending %r in the background failed", subject)


def send_mail_in_background(to: str, subject: str, body: str) -> None:
    """Queue the message; the caller does not wait (and never learns of a failure)."""
    app = current_app._get_current_object()
    future = _executor().submit(_send_with_app, app, to, subject, body)
    with _lock:
        _pending.add(future)
    future.add_done_callback(lambda f: _discard(f))


def _discard(future) -> None:
    with _lock:
        _pending.discard(future)


def wait_for_background_mail(timeout: float = 10) -> None:
    """Block until the queued messages were handed over (tests, and a clean shutdown)."""
    with _lock:
        futures = list(_pending)
    if futures:
        wait(futures, timeout=timeout)
