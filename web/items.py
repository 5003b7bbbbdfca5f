"""One item: its text (escaped), source, scores, explanation and decision history; deciding on it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import db.decisions
import db.items
from db.decisions import StaleItemError
from monitor.domain import Action
from web import get_db
from web.access import MODERATE, READ, roles
from web.render import localtime

bp = Blueprint("items", __name__)


def explanation_terms(item: dict) -> dict[str, list[str]]:
    """Explanation terms per category, whatever shape the pipeline stored."""
    explanation = item.get("explanation") or {}
    terms = explanation.get("terms", explanation) if isinstance(explanation, dict) else {}
    if not isinstance(terms, dict):
        return {}
    return {str(k): [str(t) for t in v] for k, v in terms.items() if isinstance(v, list)}


def rule_hits(item: dict) -> list[dict]:
    explanation = item.get("explanation") or {}
    hits = explanation.get("rules", []) if isinstance(explanation, dict) else []
    return [h for h in hits if isinstance(h, dict)]


def stale_message(error: StaleItemError) -> str:
    if error.by:
        return _("Already decided by %(who)s at %(when)s (now “%(status)s”). Nothing was changed.",
                 who=error.by, when=localtime(error.at), status=error.status)
    return _("This item changed since you opened it (now “%(status)s”). Nothing was changed.",
             status=error.status)


@bp.get("/items/<int:item_id>")
@roles(*READ)
def show(item_id: int):
    database = get_db()
    item = db.items.get_item(database, item_id)
    if item is None:
        abort(404)
    return render_template("item.html", item=item, terms=explanation_terms(item), rules=rule_hits(item),
                           history=db.decisions.history(database, item_id), actions=list(Action))


@bp.post("/items/<int:item_id>/decide")
@roles(*MODERATE)
def decide(item_id: int):
    database = get_db()
    item = db.items.get_item(database, item_id)
    if item is None:
        abort(404)
    try:
        action = Action(request.form.get("action", ""))
    except ValueError:
        return render_template("error.html", title="400", message=_("Unknown action.")), 400
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        return render_template("error.html", title="400", message=_("Missing item version.")), 400
    note = (request.form.get("note") or "").strip()
    if action.needs_note and not note:
        return render_template("error.html", title="400",
                               message=_("A note is required to escalate or reopen.")), 400
    try:
        db.decisions.decide(database, item_id=item_id, user_id=current_user.id, action=action.value,
                            new_status=action.new_status.value, note=note, expected_version=version)
    except StaleItemError as error:
        return render_template("error.html", title="409", message=stale_message(error),
                               item_id=item_id), 409
    flash(_("Item %(id)s: %(action)s.", id=item_id, action=action.value), "ok")
    return redirect(url_for("queue.index"))
