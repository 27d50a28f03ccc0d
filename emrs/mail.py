"""Outgoing mail: SMTP from the EMAIL_* settings, or .eml files in the outbox.

When EMAIL_HOST is unset (a first run on a laptop), each message is written to
``instance/outbox/`` (MAIL_OUTBOX_DIR overrides) and a log line says where; that
is how a first-run user reads their one-time code. The log line never contains
the message body.
"""
from __future__ import annotations

import logging
import smtplib
import uuid
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
