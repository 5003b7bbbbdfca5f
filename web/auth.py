"""Log in and out, session expiry, language switching.

Passwords are checked against werkzeug hashes by db.users.authenticate; login attempts are
rate-limited per client address and per user name, so guessing is slow even from many addresses.
"""

from __future__ import annotations

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
limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://")


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _user_key() -> str:
    return "user:" + (request.form.get("name") or "").strip().lower()


@bp.get("/login")
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("queue.index"))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
@public
@limiter.limit(_login_limit, key_func=get_remote_address)
@limiter.limit(_login_limit, key_func=_user_key)
def login_post():
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    user = db.users.authenticate(get_db(), name, password)
    if user is None:
        flash(_("Wrong user name or password."), "error")
        return render_template("login.html", next=request.form.get("next", ""), name=name), 401
    session.clear()  # no fixation: a fresh session for the logged-in user
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
        return render_template("error.html", title="429",
                               message=_("Too many login attempts. Wait a minute and try again.")), 429
