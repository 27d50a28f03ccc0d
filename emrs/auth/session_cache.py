"""The session rows a process has checked, kept in its memory for a few seconds.

Every request's authentication reads its session row with its user (a browser cookie's token,
an API token's ``sid``): one database round trip per request, and the largest part of an API
read's authentication. This cache keeps, per application, a snapshot of each such row (the
session's and the user's column values, no ORM object shared between threads) for at most
``SESSION_CACHE_SECONDS`` (30), and serves it only while revocation is sure to reach it:

- **PostgreSQL announces every change** that could end or alter a session (migration 0027:
  triggers on ``users`` and ``user_sessions`` send ``NOTIFY emrs_sessions, '<user id>'`` when
  the change commits: logout, "end sessions", deactivation, password or role change, an
  administrator's SQL). Each process has one listening connection (a daemon thread); an
  announcement drops that user's snapshots in every application of the process. The process
  that committed the change also drops them itself when its commit returns
  (``after_commit``), before its answer leaves.
- **No listener, no cache.** Snapshots are served only while the listening connection is up;
  when it fails every snapshot is dropped and requests read their rows again until it is back
  (and has dropped everything once more: what changed while it was deaf is unknown).
- **A snapshot read before a change is never stored after it**: every drop moves an epoch,
  and a row read under an older epoch is not kept.
- **Only a live session is served from memory**: a snapshot whose session would be refused
  (revoked, idle, past its lifetime, user inactive) is read again from the database, which
  also decides, as before, whether to end it. The activity time a snapshot holds may be up to
  its age old (touches are not announced); "idle" is therefore always confirmed by the row.
- SQLite (the zero-setup first run): no LISTEN/NOTIFY, no cache.

``SESSION_CACHE=0`` turns it off.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
import weakref
from types import SimpleNamespace
from typing import Callable

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..extensions import db
from .models import User, UserSession

log = logging.getLogger("emrs.auth")

CHANNEL = "emrs_sessions"  # migration 0027
EXTENSION = "emrs.session_cache"
MAX_ENTRIES = 4096
PING_SECONDS = 5.0  # the listening connection is checked this often when nothing arrives
EVERYONE = "*"
LISTENER_NAME = "emrs-session-listener"

_USER_COLUMNS = tuple(a.key for a in inspect(User).column_attrs)
_SESSION_COLUMNS = tuple(a.key for a in inspect(UserSession).column_attrs)


class SessionCache:
    """One application's snapshots (module docstring)."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._entries: dict[tuple, SimpleNamespace] = {}
        self._lock = threading.Lock()
        self.epoch = 0
        self.listener: Listener | None = None

    # ---- serving
    def live(self) -> bool:
        return self.listener is not None and self.listener.listening

    def get(self, key: tuple, load: Callable[[], UserSession | None],
            usable: Callable[[SimpleNamespace], bool]) -> UserSession | None:
        """The session row for `key`: from a fresh, live snapshot, else `load()` (kept when it may be)."""
        if not self.live():
            return load()
        snap = self._entries.get(key)
        if snap is not None and time.monotonic() - snap.at <= self.ttl and usable(snap):
            return _materialize(snap)
        epoch = self.epoch
        row = load()
        if row is not None:
            snap = _snapshot(row)
            if snap is not None:
                with self._lock:
                    if self.epoch == epoch and self.live():
                        if len(self._entries) >= MAX_ENTRIES:
                            del self._entries[next(iter(self._entries))]  # the oldest
                        self._entries[key] = snap
        return row

    # ---- dropping
    def drop(self, user_id) -> None:
        """Forget the snapshots of one user (an int), or of everyone (EVERYONE)."""
        with self._lock:
            self.epoch += 1
            if user_id == EVERYONE:
                self._entries.clear()
            else:
                for key in [k for k, s in self._entries.items() if s.user_id == user_id]:
                    del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


def _snapshot(row: UserSession) -> SimpleNamespace | None:
    """Plain copies of the row's and its user's column values; None if any is not loaded."""
    session_values, user = row.__dict__, row.__dict__.get("user")
    if user is None:
        return None
    user_values = user.__dict__
    if any(k not in session_values for k in _SESSION_COLUMNS) or any(k not in user_values for k in _USER_COLUMNS):
        return None
    s = {k: session_values[k] for k in _SESSION_COLUMNS}
    u = {k: user_values[k] for k in _USER_COLUMNS}
    return SimpleNamespace(values=s, user_values=u, user_id=u["id"], at=time.monotonic(),
                           revoked_at=s["revoked_at"], revoked_reason=s["revoked_reason"],
                           last_activity=s["last_activity"], expires_at=s["expires_at"],
                           user=SimpleNamespace(is_active=u["is_active"]))


def _instance(session: Session, cls, values: dict):
    """A persistent instance of `cls` in this request's session, from column values, without SQL."""
    mapper = inspect(cls)
    existing = session.identity_map.get(mapper.identity_key_from_primary_key((values["id"],)))
    if existing is not None:
        return existing
    obj = mapper.class_manager.new_instance()
    for key, value in values.items():
        set_committed_value(obj, key, value)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _materialize(snap: SimpleNamespace) -> UserSession:
    session = db.session()
    user = _instance(session, User, snap.user_values)
    row = _instance(session, UserSession, snap.values)
    if "user" not in row.__dict__:
        set_committed_value(row, "user", user)
    return row


# --------------------------------------------------------------------------- the listener

class Listener:
    """One listening connection per database per process, shared by its applications' caches."""

    def __init__(self, connect: Callable[[], object]):
        self.connect = connect
        self.caches: weakref.WeakSet[SessionCache] = weakref.WeakSet()
        self.listening = False
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="emrs-session-listener", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _drop_all(self, user_id=EVERYONE) -> None:
        for cache in list(self.caches):
            cache.drop(user_id)

    def _run(self) -> None:
        try:
            self._listen()
        finally:  # the thread never ends; if it did, nothing may be served from memory again
            self.listening = False
            self._drop_all()

    def _listen(self) -> None:
        pause = 0.5
        while True:
            conn = None
            try:
                conn = self.connect()
                conn.autocommit = True
                cur = conn.cursor()
                cur.execute(f"LISTEN {CHANNEL}")
                self._drop_all()  # whatever changed while nobody listened
                self.listening = True
                self.ready.set()
                pause = 0.5
                while True:
                    readable, _, _ = select.select([conn], [], [], PING_SECONDS)
                    if not readable:
                        cur.execute("SELECT 1")  # a silently dead connection shows here
                    conn.poll()
                    while conn.notifies:
                        payload = conn.notifies.pop(0).payload
                        self._drop_all(int(payload) if payload.isdigit() else EVERYONE)
            except Exception as exc:  # noqa: BLE001 - any failure: stop serving, retry
                if self.listening:
                    log.warning("session listener lost its connection (%s): sessions are read from "
                                "the database until it is back", type(exc).__name__)
                self.listening = False
                self._drop_all()
                self.ready.set()  # a waiting first request goes on without the cache
                time.sleep(pause)
                pause = min(pause * 2, 10.0)
            finally:
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass


_LISTENERS: dict[tuple, Listener] = {}
_LISTENERS_LOCK = threading.Lock()


def _listener_for(engine) -> Listener:
    url = engine.url
    key = (os.getpid(), url.host, url.port, url.database, url.username)
    with _LISTENERS_LOCK:
        listener = _LISTENERS.get(key)
        if listener is None:
            args, kwargs = engine.dialect.create_connect_args(url)
            kwargs["application_name"] = LISTENER_NAME  # to be found in pg_stat_activity
            dbapi = engine.dialect.loaded_dbapi
            listener = Listener(lambda: dbapi.connect(*args, **kwargs))
            _LISTENERS[key] = listener
            listener.start()
        return listener


def for_app(app) -> SessionCache | None:
    return app.extensions.get(EXTENSION)


def init_app(app) -> None:
    """Give the application its cache if it runs on PostgreSQL and SESSION_CACHE is on; the
    listening connection opens on the first request that asks for a session."""
    if not app.config.get("SESSION_CACHE", True) or \
            not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    app.extensions[EXTENSION] = SessionCache(float(app.config.get("SESSION_CACHE_SECONDS", 30)))


def cached_session(key: tuple, load: Callable[[], UserSession | None],
                   usable: Callable[[SimpleNamespace], bool]) -> UserSession | None:
    """The session row for `key` through the current application's cache, if it has one."""
    cache = current_app.extensions.get(EXTENSION)
    if cache is None:
        return load()
    if cache.listener is None:
        cache.listener = _listener_for(db.engine)
        cache.listener.caches.add(cache)
        if not cache.listener.ready.wait(2.0):
            return load()
    return cache.get(key, load, usable)


# --------------------------------------------------------------------------- this process's own changes

_CHANGED = "emrs_session_users"


@event.listens_for(Session, "after_flush")
def _note_changes(session, _flush_context):
    changed = session.info.setdefault(_CHANGED, set())
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, User):  # read without loading anything (no SQL inside a flush)
            identity = inspect(obj).identity
            changed.add(identity[0] if identity else EVERYONE)
        elif isinstance(obj, UserSession):
            changed.add(obj.__dict__.get("user_id", EVERYONE))


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state):
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in (User, UserSession):
        state.session.info.setdefault(_CHANGED, set()).add(EVERYONE)


@event.listens_for(Session, "after_commit")
def _drop_committed(session):
    changed = session.info.pop(_CHANGED, None)
    if not changed or not has_app_context():
        return
    cache = current_app.extensions.get(EXTENSION)
    if cache is not None:
        for user_id in changed:
            cache.drop(user_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session):
    session.info.pop(_CHANGED, None)
