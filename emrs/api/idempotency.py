"""Optional ``Idempotency-Key`` header on JSON API POSTs: a client that did not get an
answer (a timeout, or a 503 after the write had committed) may send the same request
again under the same key without creating a second record.

Only POSTs of a signed-in user to a non-public route take part (sign-in, OTP and
refresh ignore the header); keys are per user. The flow:

- before the view (after authentication, after the body size cap): look up (user, key).
  Younger than 24 h: a different request (fingerprint) → 422; a stored answer → replayed
  as it was (status, body, content type) with ``Idempotent-Replayed: true``, audited, the
  view not run; no stored answer → 409 (still running, or committed and then answered
  5xx: the client must look the record up). Otherwise the claim row is added and flushed
  in the request's transaction, without a commit, and keys older than 24 h are deleted
  (this user's, and the oldest 100 of anybody's: two indexed DELETEs). A concurrent claim of the same key waits on the unique
  index and ends as the 409.
- the services commit themselves: the claim commits with the view's write, or goes with
  its rollback (a validation error leaves no row: a retry runs again). A session listener
  notes whether the claim was committed.
- after the view: a committed claim with an answer below 500 stores the answer and
  commits. Answers over 1 MB store status and content type only and are replayed as the
  409. A failure while storing is logged (without the body) and the answer stands.

The fingerprint is the SHA-256 (an HMAC keyed with SECRET_KEY) of method, path, query
string and the raw body; form and multipart bodies (whose boundary a client may choose anew on each send) are hashed as
their parsed fields and files.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re

from flask import current_app, request
from sqlalchemy import event, inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..auth.guard import principal
from ..auth.permissions import PUBLIC, rule_for
from ..doors import envelope_error
from ..extensions import db
from ..idempotency_keys import TTL, IdempotencyKey, delete_expired, find, save_answer
from ..models_base import utcnow
from ..timeutil import as_utc

log = logging.getLogger("emrs.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_STORED_BODY = 1024 * 1024  # larger answers: status and content type only, replayed as the 409
KEY_PATTERN = r"^[!-~]{1,128}$"  # printable ASCII 0x21–0x7E (also the OpenAPI parameter's pattern)
_KEY = re.compile(r"[!-~]{1,128}")

INVALID = "Idempotency-Key must be 1–128 printable ASCII characters"
MISMATCH = "Idempotency-Key was already used for a different request"
UNKNOWN = ("A request with this Idempotency-Key was already received and its result is not known yet; "
           "look the record up before sending it again")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_CLAIM = "emrs_idempotency_claim"          # session.info: the claim row of this request
_COMMITTED = "emrs_idempotency_committed"  # session.info: True once a commit carried it


# ---------------------------------------------------------------------------- before the view

def claim_or_replay():
    """before_request of the API blueprint (after cap_body_size)."""
    if request.method != "POST":
        return None
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    user = principal()
    if user is None or rule_for(request.endpoint) == PUBLIC:
        return None  # sign-in, OTP, refresh: the header is ignored
    if len(values) != 1 or not _KEY.fullmatch(values[0]):
        return envelope_error(INVALID, 400)
    key, digest, now = values[0], fingerprint(), utcnow()
    row = find(user.id, key)
    if row is not None:
        if as_utc(row.created_at) > now - TTL:
            if row.fingerprint != digest:
                return envelope_error(MISMATCH, 422)
            if row.status_code is None or row.response_body is None:
                return envelope_error(UNKNOWN, 409)
            return _replay(row)
        db.session.expunge(row)  # expired: deleted with the user's other old keys below
    delete_expired(user.id, now - TTL)
    claim = IdempotencyKey(user_id=user.id, key=key, fingerprint=digest, created_at=now)
    db.session.add(claim)
    try:
        db.session.flush()
    except IntegrityError:  # the same key claimed by a concurrent request that has committed
        db.session.rollback()
        return envelope_error(UNKNOWN, 409)
    db.session.info[_CLAIM] = claim
    db.session.info[_COMMITTED] = False
    return None


def fingerprint() -> str:
    """HMAC-SHA256 (keyed with SECRET_KEY, as stored codes and tokens are) of the request:
    a body may carry a password (users/register) or clinical text, and a plain hash of it
    in a database dump could be checked against guesses."""
    h = hmac.new(current_app.config["SECRET_KEY"].encode(), digestmod=hashlib.sha256)
    for part in (request.method.encode(), request.path.encode("utf-8", "backslashreplace"), request.query_string):
        h.update(part + b"\n")
    if request.mimetype in FORM_TYPES:
        # Parsed already (web.refuse_unstorable_text): the raw body is gone, and a client may
        # choose a new multipart boundary on every send.
        for name, value in request.form.items(multi=True):
            h.update(json.dumps(["field", name, value]).encode() + b"\n")
        for name, storage in request.files.items(multi=True):
            h.update(json.dumps(["file", name, storage.filename, storage.mimetype]).encode() + b"\n")
            for chunk in iter(lambda: storage.stream.read(1 << 16), b""):
                h.update(chunk)
            storage.stream.seek(0)
    else:
        h.update(request.get_data(cache=True))  # within API_JSON_MAX_BYTES (cap_body_size ran first)
    return h.hexdigest()


def _replay(row: IdempotencyKey):
    """The stored answer again, audited like a read (it may carry patient data)."""
    resp = current_app.response_class(row.response_body, status=row.status_code, content_type=row.content_type)
    resp.headers[REPLAYED_HEADER] = "true"
    audit.record_now("idempotent_replay", "idempotency_keys", row.id, patient_id=_patient_of(row),
                     details={"status": row.status_code})
    return resp


def _patient_of(row: IdempotencyKey) -> int | None:
    """The patient a stored answer names: data.patient.id, data.patient_id, the patient_id of
    an object in data (proforma, prescription, intake record), else the route's
    <patient_id>. None when the answer names no patient."""
    try:
        data = json.loads(row.response_body).get("data")
    except (ValueError, AttributeError, TypeError):
        data = None
    candidates = []
    if isinstance(data, dict):
        patient = data.get("patient")
        if isinstance(patient, dict):
            candidates.append(patient.get("id"))
        candidates.append(data.get("patient_id"))
        candidates.extend(v.get("patient_id") for v in data.values() if isinstance(v, dict))
    candidates.append((request.view_args or {}).get("patient_id"))
    for value in candidates:
        if isinstance(value, str) and value.isdecimal() and len(value) < 10:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
            return value
    return None


# ---------------------------------------------------------------------------- the claim's fate

@event.listens_for(Session, "after_commit")
def _claim_committed(session) -> None:
    """A commit while the claim is still in the session carried it to the database (a
    rollback before that expunged it: it is transient then, and stays uncommitted)."""
    claim = session.info.get(_CLAIM)
    if claim is not None and sa_inspect(claim).persistent:
        session.info[_COMMITTED] = True


# ---------------------------------------------------------------------------- after the view

def store_response(resp):
    """after_request of the API blueprint: keep the answer of a committed claim."""
    info = db.session.info
    claim = info.pop(_CLAIM, None)
    committed = info.pop(_COMMITTED, False)
    if claim is None or not committed or resp.status_code >= 500:
        return resp  # rolled back: nothing to keep (a retry runs again); 5xx: the 409 on retry
    claim_id = sa_inspect(claim).identity[0]
    try:
        store(claim_id, resp)
    except Exception as exc:  # the answer stands; a retry gets the 409
        try:
            db.session.rollback()
        except Exception:  # a dead connection: end_session discards it
            pass
        log.warning("idempotency key %s: the answer (status %s) could not be stored: %s",
                    claim_id, resp.status_code, type(exc).__name__)
    return resp


def store(claim_id: int, resp) -> None:
    body = None if resp.direct_passthrough or resp.is_streamed else resp.get_data()
    if body is not None and len(body) > MAX_STORED_BODY:
        body = None
    save_answer(claim_id, resp.status_code, body, resp.content_type)
