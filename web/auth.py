"""Log in and out, session expiry, language switching.

Passwords are checked against werkzeug hashes by db.users.authenticate. Failed logins are limited
per user name (LOGIN_LOCKOUT: that account waits, shown as "try again in N seconds", while everyone
else logs in) and per client address (RATELIMIT_LOGIN: one address guessing many names), so guessing
is slow even from many addresses. Successful logins count against neither.

A lockout any stranger can trigger would let one address keep an admin out for good, so an address
the user has logged in from before (remembered for KNOWN_ADDRESS_DAYS) has its own count for that user:
failures from elsewhere lock the account everywhere else, not where its owner usually works.

The counts and the known addresses live in the limiter's storage: this process's memory on SQLite (one
web process per file), the shared database on PostgreSQL (`monitordb://`, web/ratelimit_storage.py), so
every web process behind it counts the same failures and knows the same addresses.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user

import db.prefs
import db.users
from web import get_db
from web.access import READ, User, public, roles
from web.decisions import safe_return
from web.render import LOCALES

bp = Blueprint("auth", __name__)
# The storage comes from RATELIMIT_STORAGE_URI / _OPTIONS, which create_app sets per backend.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _address_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _lockout_limit() -> str:
    return current_app.config["LOGIN_LOCKOUT"]


USER_KEY = "user:"
KNOWN_ADDRESS_DAYS = 30


KNOWN_ADDRESS_KEY = "known-address:"


def _known_address_key(name: str, address: str) -> str:
    return f"{KNOWN_ADDRESS_KEY}{name}@{address}"


def remember_address(name: str, address: str) -> None:
    """`name` logged in from `address`: that address has its own lockout count for KNOWN_ADDRESS_DAYS
    from now (a counter in the limiter's storage, started afresh so each login renews the window)."""
    key = _known_address_key(name, address)
    limiter.storage.clear(key)
    limiter.storage.incr(key, KNOWN_ADDRESS_DAYS * 86400)


def knows_address(name: str, address: str) -> bool:
    """Whether `name` logged in from `address` within KNOWN_ADDRESS_DAYS (in any web process that shares
    this storage)."""
    return limiter.storage.get(_known_address_key(name, address)) > 0


def _login_name() -> str:
    return (request.form.get("name") or "").strip().lower()


def _user_key() -> str:
    """The lockout's key: the user name, or the name at this address when the user logged in from it before."""
    name, address = _login_name(), get_remote_address()
    return USER_KEY + (f"{name}@{address}" if knows_address(name, address) else name)


def _failed(response) -> bool:
    """Only a refused password counts against the limits (a 429 is not counted again)."""
    return response.status_code == 401


@bp.get("/login")
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("queue.index"))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
@public
@limiter.limit(_address_limit, key_func=get_remote_address, deduct_when=_failed)
@limiter.limit(_lockout_limit, key_func=_user_key, deduct_when=_failed)
def login_post():
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    user = db.users.authenticate(get_db(), name, password)
    if user is None:
        flash(_("Wrong user name or password."), "error")
        return render_template("login.html", next=request.form.get("next", ""), name=name), 401
    session.clear()  # no fixation: a fresh session for the logged-in user
    if limiter.enabled:
        remember_address(_login_name(), get_remote_address())
    session.permanent = True
    login_user(User.from_row(user))
    now = datetime.now(UTC).timestamp()
    session["login_at"] = now
    session["seen_at"] = now
    return redirect(safe_return(request.form.get("next")))


@bp.post("/logout")
@roles(*READ)
def logout():
    """End this session and every copy of its cookie (the user's session generation moves on)."""
    db.users.end_sessions(get_db(), current_user.id)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/locale")
@public
def set_locale():
    """Switch the UI language; stored on the user so it follows them to any browser."""
    locale = request.form.get("locale", "")
    if locale in LOCALES:
        session["locale"] = locale
        if current_user.is_authenticated:
            db.prefs.set_locale(get_db(), current_user.id, locale)
            current_user.locale = locale
        refresh()
    return redirect(safe_return(request.form.get("next") or request.referrer and _path(request.referrer))), 303


def _path(url: str) -> str | None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def enforce_session_expiry() -> None:
    """Log out sessions idle longer than SESSION_IDLE_TIMEOUT or older than PERMANENT_SESSION_LIFETIME."""
    if request.path.startswith("/static/") or not current_user.is_authenticated or \
            getattr(request, "_token_auth", False):
        return
    from flask import g

    if g.get("token_auth"):
        return
    now = datetime.now(UTC).timestamp()
    idle: timedelta = current_app.config["SESSION_IDLE_TIMEOUT"]
    absolute: timedelta = current_app.config["PERMANENT_SESSION_LIFETIME"]
    login_at = session.get("login_at", 0)
    seen_at = session.get("seen_at", 0)
    if now - seen_at > idle.total_seconds() or now - login_at > absolute.total_seconds():
        logout_user()
        session.clear()
        flash(_("Your session expired; please log in again."), "error")
        return
    session["seen_at"] = now


def init_app(app) -> None:
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    app.before_request(enforce_session_expiry)

    @app.errorhandler(429)
    def too_many(_error):
        return _refused_for_now()


def _refused_for_now():
    """The login form again, saying who waits (this account, or this address) and for how long."""
    breached = [limit for limit in limiter.current_limits if limit.breached]
    wait = max([int(limit.reset_at - time.time()) for limit in breached] + [1])
    if any(arg.startswith(USER_KEY) for limit in breached for arg in limit.request_args):
        message = _("Too many wrong passwords for this account. Try again in %(n)s seconds.", n=wait)
    else:
        message = _("Too many failed logins from your address. Try again in %(n)s seconds.", n=wait)
    flash(message, "error")
    page = render_template("login.html", next=request.form.get("next", ""), name=request.form.get("name", ""))
    return page, 429, {"Retry-After": str(wait)}
