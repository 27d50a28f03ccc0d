"""Recovering from a database restart without restarting the app.

Three layers: the pool pings a connection before lending it (``SELECT 1``), SQLAlchemy
throws the whole pool away when one connection turns out dead, and this WSGI middleware
retries an idempotent read (GET/HEAD) whose first attempt failed on a dead or unreachable
database. The ping is a round trip on every request, so it is made where it is needed
(``PingBeforeWrites``): before every lending except to a GET/HEAD that still has a retry
left — a read that meets a dead connection fails before anything is committed, the pool is
thrown away and the retry gets fresh connections. A write, a read on its last attempt and
anything outside a request (commands, threads) are pinged as before. The error handler
(web.register_errors) marks such answers with RETRY_HEADER; the middleware tries
again after a short pause, and only when every attempt failed does the client get the
503 envelope (with Retry-After). Writes are never retried: a POST whose connection
died may or may not have committed, and the client must decide.
"""
from __future__ import annotations

import time

from flask import has_request_context, request
from sqlalchemy import event, exc

RETRY_HEADER = "X-EMRS-Retry-Read"
IDEMPOTENT = frozenset({"GET", "HEAD"})
RETRIES_LEFT = "emrs.read_retries_left"  # environ key: attempts this read still has after this one


class RetryIdempotentReads:
    def __init__(self, wsgi_app, attempts: int, delay: float):
        self.wsgi_app = wsgi_app
        self.attempts = max(0, attempts)
        self.delay = max(0.0, delay)

    def __call__(self, environ, start_response):
        if self.attempts == 0 or environ.get("REQUEST_METHOD") not in IDEMPOTENT:
            return self.wsgi_app(environ, start_response)
        for attempt in range(self.attempts + 1):
            environ[RETRIES_LEFT] = self.attempts - attempt
            captured: list = []

            def capture(status, headers, exc_info=None):
                captured[:] = [status, headers, exc_info]
                return _no_write

            result = self.wsgi_app(environ, capture)
            status, headers, exc_info = captured
            retry = any(name == RETRY_HEADER for name, _ in headers)
            if retry and attempt < self.attempts:
                if hasattr(result, "close"):
                    result.close()
                time.sleep(self.delay * (attempt + 1))
                continue
            start_response(status, [(n, v) for n, v in headers if n != RETRY_HEADER], exc_info)
            return result
        raise AssertionError("unreachable")  # pragma: no cover


def _no_write(_data):  # Flask never uses the legacy write() callable
    raise RuntimeError("write() is not supported behind RetryIdempotentReads")


class PingBeforeWrites:
    """The pool's pre-ping, skipped for a read that can still be retried (module docstring).
    Installed instead of ``pool_pre_ping`` (which would ping every lending); a failed ping
    throws the whole pool away, as ``pool_pre_ping`` does."""

    def __init__(self, engine):
        self.dialect = engine.dialect
        event.listen(engine, "checkout", self.checkout)

    def checkout(self, dbapi_connection, _record, _proxy):
        if has_request_context() and request.environ.get(RETRIES_LEFT, 0) > 0:
            return
        try:
            self.dialect.do_ping(dbapi_connection)
        except self.dialect.loaded_dbapi.Error as err:
            if self.dialect.is_disconnect(err, dbapi_connection, None):
                raise exc.InvalidatePoolError() from err
            raise
