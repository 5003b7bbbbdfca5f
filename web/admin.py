"""Admin pages: the audit-log browser (filters, export, chain check), API tokens; users in web/admin_users.py."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

import db.audit
import db.models
import db.tokens
import db.users
from db.audit import AuditFilter
from db.decisions import verify_chain
from monitor.domain import Action
from web import get_db
from web.access import ADMIN, roles
from web.params import int_arg, local_day_to_utc

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _filters(args) -> AuditFilter:
    return AuditFilter(user=args.get("user") or None,
                       action=args.get("action") if args.get("action") in {a.value for a in Action} else None,
                       item_id=int_arg(args, "item"),
                       date_from=local_day_to_utc(args, "from"), date_to=local_day_to_utc(args, "to", end=True))


@bp.get("/audit")
@roles(*ADMIN)
def audit():
    database = get_db()
    rows = db.audit.browse(database, _filters(request.args), limit=101, before_id=int_arg(request.args, "before"))
    more = len(rows) > 100
    rows = rows[:100]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    users = db.users.user_names(database)
    return render_template("admin_audit.html", rows=rows, args=args, users=users, actions=[a.value for a in Action],
                           next_before=rows[-1]["id"] if more and rows else None)


@bp.get("/audit/export")
@roles(*ADMIN)
def audit_export():
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "jsonl"):
        fmt = "csv"
    body = db.audit.export(get_db(), _filters(request.args), fmt)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(body, mimetype=f"{mimetype}; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=decisions.{fmt}"})


@bp.get("/audit/verify")
@roles(*ADMIN)
def audit_verify():
    problems = verify_chain(get_db())
    return render_template("admin_verify.html", problems=problems)


@bp.get("/tokens")
@roles(*ADMIN)
def tokens():
    database = get_db()
    users = db.users.active_users(database)
    return render_template("admin_tokens.html", tokens=db.tokens.list_tokens(database), users=users, new_token=None)


@bp.post("/tokens")
@roles(*ADMIN)
def create_token():
    database = get_db()
    user_id = int_arg(request.form, "user_id")
    name = (request.form.get("name") or "").strip() or "api"
    if user_id is None or db.users.get_user(database, user_id) is None:
        flash(_("Unknown user."), "error")
        return redirect(url_for("admin.tokens")), 303
    token = db.tokens.create_token(database, user_id, name)
    users = db.users.active_users(database)
    # Shown once, never stored in clear.
    return render_template("admin_tokens.html", tokens=db.tokens.list_tokens(database), users=users, new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
@roles(*ADMIN)
def revoke_token(token_id: int):
    db.tokens.revoke(get_db(), token_id)
    flash(_("Token revoked."), "ok")
    return redirect(url_for("admin.tokens")), 303


@bp.get("/models")
@roles(*ADMIN)
def models():
    """Model versions with their cards (Markdown rendered, then through the nh3 allow-list) and metrics tables."""
    from babel.numbers import get_decimal_symbol
    from flask_babel import get_locale

    from web.models_page import card_html, metrics_table

    decimal = get_decimal_symbol(get_locale() or "vi")
    shown = [{**row, "card_html": card_html(row["card"]), "metrics_table": metrics_table(row["metrics"], decimal)}
             for row in db.models.list_models(get_db())]
    return render_template("admin_models.html", models=shown)


def register(app: Flask) -> None:
    import web.admin_users  # noqa: F401 - adds the Users routes to this blueprint before it is registered

    app.register_blueprint(bp)
