"""Admin Users page: list accounts, create them, change role, (de)activate, reset passwords.

Routes live on the admin blueprint (web/admin.py imports this module before registering it). The rules
(no self-lock-out, never zero active admins, audit row per change) are enforced in db/users.py inside
one transaction; this module only turns their refusals into translated messages.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

import db.users
from db.users import MIN_PASSWORD, ROLES, UserChangeRefused, UserError
from web import get_db
from web.access import ADMIN, User, roles
from web.admin import bp


def _refusal(error: UserChangeRefused) -> str:
    messages = {
        "unknown_user": _("Unknown user."),
        "bad_role": _("Unknown role."),
        "short_password": _("The password must be at least %(n)d characters.", n=MIN_PASSWORD),
        "self_demote": _("You cannot change your own role."),
        "self_deactivate": _("You cannot deactivate your own account."),
        "last_admin": _("%(name)s is the last active admin; make another admin first.", name=error.name),
    }
    return messages.get(error.code, str(error))


def _page(status: int = 200, *, errors: list[str] | None = None, form: dict | None = None):
    database = get_db()
    return render_template("admin_users.html", users=db.users.list_users(database), roles=ROLES,
                           changes=db.users.recent_changes(database), errors=errors or [], form=form or {},
                           min_password=MIN_PASSWORD), status


@bp.get("/users")
@roles(*ADMIN)
def users():
    return _page()


@bp.post("/users")
@roles(*ADMIN)
def create_user():
    """Create an account; every problem is listed on the page and nothing is written unless all is well."""
    name = (request.form.get("name") or "").strip()
    role = request.form.get("role", "")
    password = request.form.get("password", "")
    errors = []
    if not name:
        errors.append(_("Enter a user name."))
    elif db.users.find_user(get_db(), name):
        errors.append(_("A user named %(name)s already exists.", name=name))
    if role not in ROLES:
        errors.append(_("Unknown role."))
    if len(password) < MIN_PASSWORD:
        errors.append(_("The password must be at least %(n)d characters.", n=MIN_PASSWORD))
    elif password != request.form.get("password2", ""):
        errors.append(_("The two passwords differ."))
    if not errors:
        try:
            db.users.create_user(get_db(), current_user.id, name, password, role)
        except UserError as exc:  # e.g. the same name created a moment ago by another admin
            errors.append(str(exc))
    if errors:
        return _page(400, errors=errors, form={"name": name, "role": role})
    flash(_("User %(name)s created.", name=name), "ok")
    return redirect(url_for("admin.users")), 303


@bp.post("/users/<int:user_id>")
@roles(*ADMIN)
def update_user(user_id: int):
    """One change per request, chosen by the submit button's `action`."""
    database = get_db()
    action = request.form.get("action", "")
    try:
        if action == "role":
            changed = db.users.set_role(database, current_user.id, user_id, request.form.get("role", ""))
        elif action in ("deactivate", "reactivate"):
            changed = db.users.set_active(database, current_user.id, user_id, action == "reactivate")
        elif action == "password":
            password = request.form.get("password", "")
            if len(password) >= MIN_PASSWORD and password != request.form.get("password2", ""):
                return _page(400, errors=[_("The two passwords differ.")])
            db.users.reset_password(database, current_user.id, user_id, password)
            changed = True
            if user_id == current_user.id:  # a reset ends the user's other sessions, not this one
                login_user(User.from_row(db.users.get_user(database, user_id)))
        else:
            return _page(400, errors=[_("Unknown change.")])
    except UserChangeRefused as exc:
        return _page(404 if exc.code == "unknown_user" else 400, errors=[_refusal(exc)])
    target = db.users.get_user(database, user_id)
    flash(_("Saved: %(name)s.", name=target["name"]) if changed else _("Nothing to change."), "ok")
    return redirect(url_for("admin.users")), 303
