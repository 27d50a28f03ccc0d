"""One-time submission tokens for page forms that create a record (registration, the
walk-in proforma, a patient's file upload): the same form sent twice — a double click, a script, a flaky network
resending — creates one record, and the second sender lands on it.

The form carries a hidden ``_submission`` field with a random token (``submission_field()``
in templates). The view is wrapped with ``@once_per_submission``: on a POST with a token,
the token is claimed as a row of ``idempotency_keys`` (key ``form:<token>``, per user) that is
added and flushed in the request's transaction before the view runs — the same mechanism as
the API's Idempotency-Key (emrs/api/idempotency.py; the rows: emrs/idempotency_keys.py). It commits with the record the view
creates, or disappears with its rollback (a validation error: the form comes back and can be
sent again). After the view, the address the user was sent to (the new record) is stored on
the row. A second POST with the same token then does not run the view: it is redirected to
that address. A concurrent second POST waits on the unique index, then finds the address.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import time

from flask import current_app, flash, redirect, request
from markupsafe import Markup, escape
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError

from .doors import page_error
from .extensions import db
from .idempotency_keys import TTL, IdempotencyKey, delete_expired, find

FIELD = "_submission"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
WAIT_SECONDS = 5.0  # a concurrent duplicate waits this long for the first one's answer


def _valid(token) -> bool:
    return isinstance(token, str) and bool(_TOKEN.fullmatch(token))


def submission_field() -> Markup:
    """The hidden field; a form re-rendered after a refused POST keeps its token."""
    posted = request.form.get(FIELD) if request.method == "POST" else None
    token = posted if _valid(posted) else secrets.token_urlsafe(24)
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(token)}">')


def _fingerprint() -> str:
    h = hmac.new(current_app.config["SECRET_KEY"].encode(), digestmod=hashlib.sha256)
    h.update(b"page-form\n" + (request.endpoint or "").encode() + b"\n")
    return h.hexdigest()


def _landing(row) -> str | None:
    if row is None or row.response_body is None:
        return None
    return bytes(row.response_body).decode("utf-8", "replace")


def _already_sent(location: str | None):
    if location and location.startswith("/") and not location.startswith("//"):
        flash("This form was already sent; nothing was saved twice. Here is what it saved.", "info")
        return redirect(location, code=303)
    return page_error("This form was already sent and is still being saved. Open the patient "
                      "again in a moment instead of sending it a second time.", 409, "Already sent")


def once_per_submission(view):
    """Wrap a page view that creates a record on POST (see the module docstring)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from .auth.guard import principal
        from .models_base import utcnow
        from .timeutil import as_utc

        token = request.form.get(FIELD) if request.method == "POST" else None
        user = principal()
        if not _valid(token) or user is None:
            return view(*args, **kwargs)
        key, now = f"form:{token}", utcnow()
        row = find(user.id, key)
        if row is not None:
            if as_utc(row.created_at) > now - TTL:
                return _already_sent(_landing(row))
            db.session.delete(row)
            db.session.flush()
        delete_expired(user.id, now - TTL)
        claim = IdempotencyKey(user_id=user.id, key=key, fingerprint=_fingerprint(), created_at=now)
        db.session.add(claim)
        try:
            db.session.flush()  # a concurrent claim of the same token waits here, then fails
        except IntegrityError:
            db.session.rollback()
            deadline = time.monotonic() + WAIT_SECONDS
            while True:
                location = _landing(find(user.id, key))
                if location or time.monotonic() > deadline:
                    return _already_sent(location)
                db.session.rollback()
                time.sleep(0.05)
        resp = current_app.make_response(view(*args, **kwargs))
        state = sa_inspect(claim)
        if not state.persistent:  # rolled back with the view's refusal: the form may be sent again
            return resp
        try:
            if resp.status_code in (301, 302, 303) and resp.location:
                landing = resp.location
            elif 200 <= resp.status_code < 300:  # a fragment answer (a scripted upload): the form's page
                landing = request.path
            else:
                landing = None
            if landing:
                claim.status_code, claim.response_body = resp.status_code, landing.encode()
                claim.content_type = "text/uri-list"
            else:  # committed by something else (an audit row) while the form was refused
                db.session.delete(claim)
            db.session.commit()
        except Exception:  # the answer stands; a resend finds no address and gets the 409 page
            db.session.rollback()
        return resp

    return wrapper
