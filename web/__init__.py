"""The moderators' web app: `create_app(config)` wires blueprints, login, CSRF and the per-request db.

Everything a browser can change goes through a POST that needs login, the right role and a
CSRF token; crawled content is only ever rendered as escaped text (see web/render.py).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, g, has_request_context, jsonify, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect

import db
from db import keys
from db.decisions import UNDO_SECONDS
from monitor.domain import DEFAULT_TIMEZONE
from web import access, keymap, params, render
from web.access import login_manager

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    "DATABASE": "monitor.db",
    "FEEDS": None,
    "TESTING": False,
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # Cookie flags: no JavaScript access, not sent cross-site. SESSION_COOKIE_SECURE "auto" marks the
    # cookie Secure whenever the request came over https (behind a TLS proxy too: with MONITOR_BEHIND_PROXY=1
    # waitress takes the scheme and client address from the proxy, see monitor.service.proxy_options), so
    # a plain-http 127.0.0.1 install still works; set True to require https always.
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": "auto",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
    "SESSION_IDLE_TIMEOUT": timedelta(hours=1),
    "CLAIM_MINUTES": 15,
    "UNDO_SECONDS": UNDO_SECONDS,  # how long the "Undo" notice is offered (the server refuses later undos)
    "QUEUE_PAGE_SIZE": 50,
    # Capture the page of every confirmed or escalated item as evidence, in the background (web/evidence.py).
    "EVIDENCE_ON_DECIDE": True,
    # Failed logins only: per client address (one address guessing many names) and per user name (that
    # account waits, the others do not); see web/auth.py.
    "RATELIMIT_LOGIN": "30 per minute;200 per hour",
    "LOGIN_LOCKOUT": "10 per 15 minutes",
    # None: chosen by backend (ratelimit_storage_for): this process's memory on SQLite, the shared database
    # on PostgreSQL, where several web processes must count the same failed logins.
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_ENABLED": True,
    "BABEL_DEFAULT_LOCALE": "vi",
    "BABEL_DEFAULT_TIMEZONE": DEFAULT_TIMEZONE,
}


class _SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        value = app.config["SESSION_COOKIE_SECURE"]
        if value == "auto":
            return bool(has_request_context() and request.is_secure)
        return bool(value)


def get_db():
    """The request's database connection, opened on first use and closed at teardown."""
    if "db" not in g:
        from flask import current_app

        g.db = db.connect(current_app.config["DATABASE"], migrate_schema=False)
    return g.db


def storage_problem(exc: BaseException) -> dict | None:
    """`monitor.storage`'s verdict on an error met opening or reading the app's database: a dict when the
    disk is full or refuses writes (the request gets a 503, see create_app), None for anything else."""
    from flask import current_app

    from monitor import storage

    return storage.problem(current_app.config["DATABASE"], exc)


def ratelimit_storage_for(config: dict, *, shared: bool) -> dict:
    """RATELIMIT_STORAGE_URI and _OPTIONS: as configured, else `monitordb://` on PostgreSQL (counters in the
    shared database, web/ratelimit_storage.py) and `memory://` on SQLite, where one process serves a file
    and a failed login should not wait behind the crawler's write lock or fail on a full disk."""
    from web import ratelimit_storage

    uri = config.get("RATELIMIT_STORAGE_URI") or (f"{ratelimit_storage.SCHEME}://" if shared else "memory://")
    options = dict(config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    if uri.startswith(f"{ratelimit_storage.SCHEME}://"):
        options["database"] = str(config["DATABASE"])
    return {"RATELIMIT_STORAGE_URI": uri, "RATELIMIT_STORAGE_OPTIONS": options}


def create_app(config: dict | None = None) -> Flask:
    """Build the app; migrations run once here, not on every request."""
    app = Flask(__name__)
    params.init_app(app)  # the bounded <int:...> converter must be in place before any route is added
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    shared = db.is_url(str(app.config["DATABASE"]))  # PostgreSQL: other web processes share this database
    if not app.config.get("SECRET_KEY"):
        if shared:  # a key per process would make every other process's sessions and CSRF tokens invalid
            raise ValueError("on PostgreSQL the app needs SECRET_KEY, the same in every web process "
                             "(monitor serve reads MONITOR_SECRET_KEY or MONITOR_SECRET_KEY_FILE)")
        # A random key per process: sessions do not survive a restart, which is safe by default.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.update(ratelimit_storage_for(app.config, shared=shared))

    db.connect(app.config["DATABASE"]).conn.close()  # create / migrate up front

    csrf.init_app(app)
    login_manager.init_app(app)
    render.init_app(app)
    keymap.init_app(app)

    from web import (
        admin,
        alerts,
        api,
        apidocs,
        auth,
        dashboard,
        evidence,
        followups,
        health,
        inbox,
        intake,
        items,
        queue,
        reports,
        sources_page,
    )

    app.before_request(_refuse_nul_bytes)  # first: before the login limiter and the user's load read them
    auth.init_app(app)
    app.session_interface = _SessionInterface()

    app.register_blueprint(auth.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(items.bp)
    for blueprint_module in (admin, alerts, api, apidocs, dashboard, evidence, followups, inbox, intake, reports,
                             sources_page):
        blueprint_module.register(app)  # each adds its blueprint and what goes with it (error handlers, sub-pages)
    # Templates show a link or a button to the roles its route allows (web/access.py), by the same names.
    app.jinja_env.globals.update(MODERATE=access.MODERATE, READ=access.READ, ANALYSE=access.ANALYSE,
                                 ADMIN=access.ADMIN)

    @app.teardown_appcontext
    def close_db(_exc: BaseException | None) -> None:
        database = g.pop("db", None)
        if database is not None:
            database.conn.close()

    @app.get("/")
    def index():
        return redirect(url_for("queue.index"))

    index.roles = "public"  # type: ignore[attr-defined]

    _register_error_handlers(app)
    return app


def _refuse_nul_bytes():
    """A NUL byte in a query parameter or form field is a 400: PostgreSQL refuses NUL in text (a 500 from any
    query or insert it reached), and no name, note or filter has one. Both backends answer alike."""
    fields = (*request.args.items(multi=True), *request.form.items(multi=True))
    if any("\x00" in key or "\x00" in value for key, value in fields) or _NUL_IN_JSON.search(_json_body()):
        return _error_answer(400, "bad_request", _("The request contains a NUL character."))
    return None


# A JSON string holding NUL spells it \u0000 (not preceded by another backslash, which would make it text).
_NUL_IN_JSON = re.compile(rb"(?<!\\)\\u0000", re.IGNORECASE)


def _json_body() -> bytes:
    """The body of a JSON request (the API's decisions), for the NUL check; empty for anything else."""
    return request.get_data(cache=True) if request.is_json else b""


def _error_answer(status: int, error: str, message: str):
    """An error as the caller reads it: JSON under /api/ (an HTML page would set a session cookie that
    locks a token client out: strong session protection), the error page elsewhere."""
    if request.path.startswith("/api/"):
        return jsonify({"error": error, "message": message}), status
    return render_template("error.html", title=str(status), message=message), status


def _register_error_handlers(app: Flask) -> None:
    """What a refused or failed request shows: never a bare 500 for a condition staff can act on."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_template("error.html", title="400", message=error.description), 400

    @app.errorhandler(keys.KeyFileError)
    def audit_key_unusable(error: keys.KeyFileError):
        """Decisions are refused while the decision log's key is missing or exposed (signing with a new
        key would hide tampering). Staff see why nothing was saved; the file named is in the log."""
        app.logger.error("decision refused: %s", error)
        return _error_answer(503, "audit_key_unusable", _(
            "Nothing was saved: the decision log's key cannot be used. "
            "An administrator must restore it (see monitor audit verify)."))

    @app.errorhandler(OSError)
    def storage_unavailable(error: BaseException):
        """A full or read-only disk answers 503 with a fixed phrase (the file's path goes to the log, not to
        whoever asked); any other database or OS error is a bug and stays one (logged 500). Registered for
        both drivers' errors (psycopg's once connect() above has imported it, on a PostgreSQL URL)."""
        problem = storage_problem(error)
        if problem is None:
            raise error
        app.logger.error("request refused: %s", problem["error"])
        return _error_answer(503, "storage_unavailable", _(
            "The database cannot be read or written: the disk is full or refuses writes. Nothing was "
            "changed. An administrator must free disk space."))

    for driver_error in db.Error:
        app.register_error_handler(driver_error, storage_unavailable)

    @app.errorhandler(403)
    def forbidden(_error):
        return render_template("error.html", title="403", message=_("You do not have access to this page.")), 403

    @app.errorhandler(404)
    def not_found(error):
        if request.path.startswith("/api/"):  # no URL rule matched (e.g. an id beyond 64 bits): still JSON
            return _error_answer(404, "not_found", error.description)
        return render_template("error.html", title="404", message=_("Not found.")), 404
