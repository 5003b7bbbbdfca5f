"""Log in and out. Passwords are checked against werkzeug hashes by db.users.authenticate."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

import db.users
from web import get_db
from web.access import READ, User, public, roles

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("queue.index")


@bp.get("/login")
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("queue.index"))
    return render_template("login.html", next=request.args.get("next", ""))


@bp.post("/login")
@public
def login_post():
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    user = db.users.authenticate(get_db(), name, password)
    if user is None:
        flash(_("Wrong user name or password."), "error")
        return render_template("login.html", next=request.form.get("next", ""), name=name), 401
    session.clear()
    session.permanent = True
    login_user(User.from_row(user))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@roles(*READ)
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
