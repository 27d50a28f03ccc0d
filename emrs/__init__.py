"""EMRS — electronic medical record of the psychiatry out-patient department."""
from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config as config_module
from .extensions import csrf, db, limiter, login_manager, migrate

BASE = config_module.BASE_DIR


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR),
                template_folder=str(BASE / "templates"), static_folder=str(BASE / "static"))
    from .json_provider import FastJSONProvider
    app.json = FastJSONProvider(app)  # orjson for JSON answers (emrs/json_provider.py)
    app.config.from_mapping(config_module.from_environment())
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = config_module.engine_options(config["SQLALCHEMY_DATABASE_URI"])
    # Statement parameters are patients' names and clinical text: no engine error message carries
    # them (they would reach the log file with the exception), whoever supplied the options.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}),
                                               "hide_parameters": True}
    for options in (app.config.get("SQLALCHEMY_BINDS") or {}).values():
        if isinstance(options, dict):
            options["hide_parameters"] = True
    configure_logging(app)
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:  # trust exactly this many proxies for the client address and scheme
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0)
    from .resilience import RetryIdempotentReads
    app.wsgi_app = RetryIdempotentReads(app.wsgi_app, int(app.config.get("DB_READ_RETRIES") or 0),
                                        float(app.config.get("DB_RETRY_DELAY_MS") or 0) / 1000)
    from .health import HealthFastPath
    app.wsgi_app = HealthFastPath(app, app.wsgi_app)  # GET/HEAD /health answered before Flask (emrs/health.py)
    # The pool's ping before lending, skipped where a retry covers it (emrs/resilience.py).
    ping = bool(app.config["SQLALCHEMY_ENGINE_OPTIONS"].pop("pool_pre_ping", False))
    register_extensions(app)
    if ping:
        from .resilience import PingBeforeWrites
        with app.app_context():
            PingBeforeWrites(db.engine)
    register_blueprints(app)
    from .services import configure as configure_services
    configure_services(app)  # EMRS_SERVICES: which services' routes this process answers
    register_hooks(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


_PARAMETERS = re.compile(r"\[(?:SQL )?parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.DOTALL)
PARAMETERS_HIDDEN = "[parameters hidden]"


def redact_parameters(text: str) -> str:
    """A database error's text without its "[parameters: ...]" part (the statement stays)."""
    return _PARAMETERS.sub(PARAMETERS_HIDDEN, text) if "parameters:" in text else text


class RedactParameters(logging.Filter):
    """Second line of defence behind hide_parameters: every record reaching an emrs handler
    has the statement parameters of a database error removed from its message and its
    exception text (an engine built elsewhere, a driver message quoting its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_parameters(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_parameters(record.exc_text)
            record.exc_info = None  # formatters use exc_text; the raw exception would be formatted again
        elif record.exc_text:
            record.exc_text = redact_parameters(record.exc_text)
        return True


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line for the log files. A request line (already a JSON
    object, emrs/web.py) is merged into it; any other message goes under "message"."""

    def format(self, record: logging.LogRecord) -> str:
        import json
        from datetime import datetime, timezone

        out = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat().replace("+00:00", "Z"),
               "level": record.levelname, "logger": record.name}
        message = record.getMessage()
        parsed = None
        if message.startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            out.update(parsed)
        else:
            out["message"] = message
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str)


def configure_logging(app: Flask) -> None:
    """The "emrs" loggers write to stdout and, unless LOG_DIR is empty, to a rotating
    JSON-lines file LOG_DIR/emrs.log. Safe to call for every app in one process: the
    handlers are created once (the file handler is replaced when LOG_DIR changes)."""
    from logging.handlers import RotatingFileHandler

    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    root = logging.getLogger("emrs")
    if not any(getattr(h, "_emrs_role", None) == "stdout" for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler._emrs_role = "stdout"
        root.addHandler(handler)
    log_dir = app.config.get("LOG_DIR")
    path = os.path.abspath(os.path.join(log_dir, "emrs.log")) if log_dir else None
    for h in [h for h in root.handlers if getattr(h, "_emrs_role", None) == "file"]:
        if h.baseFilename != path:
            root.removeHandler(h)
            h.close()
    if path and not any(getattr(h, "_emrs_role", None) == "file" for h in root.handlers):
        os.makedirs(log_dir, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=int(app.config.get("LOG_MAX_BYTES") or 10 * 1024 * 1024),
                                      backupCount=int(app.config.get("LOG_BACKUPS") or 5), encoding="utf-8",
                                      delay=True)
        handler.setFormatter(JsonLineFormatter())
        handler._emrs_role = "file"
        root.addHandler(handler)
    for h in root.handlers:
        if getattr(h, "_emrs_role", None) and not any(isinstance(f, RedactParameters) for f in h.filters):
            h.addFilter(RedactParameters())
    root.setLevel(level)
    # One line per event: servers such as waitress also configure the root logger.
    root.propagate = bool(app.config.get("TESTING"))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # pragma: no cover - driver hook
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()
        # CR/PSY/ADL numbers by their body (patients.search.number_body; an expression index on PostgreSQL).
        from .patients.search import number_body
        dbapi_connection.create_function("emrs_number_body", 1, number_body, deterministic=True)


def register_extensions(app: Flask) -> None:
    # Import every model so that metadata (and Alembic) see the whole schema.
    from . import models  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE / "migrations"),
                     render_as_batch=app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"),
                     compare_type=True)
    login_manager.init_app(app)
    from .auth import session_cache
    session_cache.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # our own session rows do the checking
    # Flask-WTF's own hook runs before ours and reads (parses) the form of every POST, signed
    # in or not: CSRF is checked by csrf_after_authentication (emrs/web.py) instead.
    app.config["EMRS_CSRF_CHECK"] = app.config.get("WTF_CSRF_CHECK_DEFAULT", True)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    limiter.init_app(app)
    os.makedirs(app.config["UPLOAD_FOLDER"], exist_ok=True)


def register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .dashboard import bp as dashboard_bp
    from .health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(api_bp)
    from .clinical import bp as clinical_bp
    from .intake import bp as intake_bp
    from .patients import bp as patients_bp
    from .prescriptions import bp as prescriptions_bp
    from .opd import bp as opd_bp
    from .reports import bp as reports_bp
    from .followups import bp as followups_bp
    from .children import bp as children_bp
    from .child_clinical import bp as child_clinical_bp
    from .drafts import bp as drafts_bp; app.register_blueprint(drafts_bp)  # noqa: E702
    from .cap import bp as cap_bp
    from .assessments.views import bp as assessments_bp
    for domain_bp in (patients_bp, clinical_bp, intake_bp, prescriptions_bp, opd_bp, reports_bp, followups_bp,
                      children_bp, child_clinical_bp, cap_bp, assessments_bp):
        app.register_blueprint(domain_bp)
    from .fhir import bp as fhir_bp
    app.register_blueprint(fhir_bp)
    csrf.exempt(api_bp)  # the API authenticates with bearer tokens, not cookies
    csrf.exempt(fhir_bp)  # so does FHIR (read only)


def register_hooks(app: Flask) -> None:
    from .auth.guard import enforce
    from .web import after_request, before_request, cap_anonymous_body, csrf_after_authentication, end_session, refuse_unstorable_text

    from .services import refuse_disabled

    from .web import SessionCookies
    app.session_interface = SessionCookies()  # the signing serializer built once

    app.before_request(before_request)
    app.before_request(refuse_disabled)  # before authentication: a disabled route is a 404
    app.before_request(enforce)
    app.before_request(cap_anonymous_body)  # public forms: small bodies only
    app.before_request(csrf_after_authentication)  # reads the form: never before the sign-in check
    app.before_request(refuse_unstorable_text)  # NUL or a lone surrogate: a 400, never a database error
    app.after_request(after_request)
    app.teardown_appcontext(end_session)  # runs before Flask-SQLAlchemy's own (reverse order)

    from .submission import submission_field
    app.jinja_env.globals["submission_field"] = submission_field  # one-time token of create forms
    from .links import template_url_for
    app.jinja_env.globals["url_for"] = template_url_for  # each link's shape built once, ids put in place

    @app.context_processor
    def _globals():
        from .web import template_globals
        return template_globals()


def register_errorhandlers(app: Flask) -> None:
    from .doors import register as register_domain_errors
    from .web import register_errors
    register_errors(app)
    register_domain_errors(app)  # a service's refusal no view handled, answered at its door


def register_commands(app: Flask) -> None:
    from .commands import register
    register(app)
