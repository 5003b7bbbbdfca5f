"""The escalation inbox: what was escalated to me or to my role and still waits, with a count in the nav.

An escalation leaves the queue's default view (it is no longer "flagged"); this page is where its
addressee finds it. Deciding the item closes it (the log says so), and so does a reply, for an
addressee who answers without deciding (an analyst, or "not ours, ask the province").
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import db.comments
import db.escalations
from web import get_db
from web.access import ADMIN, READ, roles

bp = Blueprint("inbox", __name__)
MAX_REPLY = 2000


@bp.get("/inbox")
@roles(*READ)
def index():
    database = get_db()
    rows = db.escalations.open_for(database, current_user.id, current_user.role)
    mentions = db.comments.open_mentions(database, current_user.id)
    return render_template("inbox.html", rows=rows, mentions=mentions, return_to=request.full_path)


@bp.post("/inbox/mentions/<int:comment_id>/read")
@roles(*READ)
def mention_read(comment_id: int):
    """Take a mention out of my inbox (answering in the story's thread does too)."""
    if not db.comments.mark_read(get_db(), comment_id, current_user.id):
        flash(_("That mention was already read."), "error")
    return redirect(url_for("inbox.index")), 303


@bp.post("/inbox/<int:decision_id>/reply")
@roles(*READ)
def reply(decision_id: int):
    """Close an escalation addressed to me (or my role) with a reply; an admin may answer any."""
    database = get_db()
    escalation = db.escalations.get(database, decision_id)
    if escalation is None:
        abort(404)
    mine = escalation["target_user_id"] == current_user.id or escalation["target_role"] == current_user.role
    if not mine and current_user.role not in ADMIN:
        abort(403)
    text = (request.form.get("reply") or "").strip()[:MAX_REPLY]
    if not text:
        return render_template("error.html", title="400", message=_("Write a reply.")), 400
    if db.escalations.reply(database, decision_id, current_user.id, text):
        flash(_("Replied; the escalation of item %(id)s is closed.", id=escalation["item_id"]), "ok")
    else:
        flash(_("The escalation of item %(id)s was already closed.", id=escalation["item_id"]), "error")
    return redirect(url_for("inbox.index")), 303


def inbox_count() -> dict:
    """Template context: the open escalations and unread mentions waiting for the signed-in user (the nav badge)."""
    if not current_user or not current_user.is_authenticated:
        return {"inbox_count": 0}
    try:
        database = get_db()
        return {"inbox_count": db.escalations.open_count(database, current_user.id, current_user.role)
                + db.comments.open_mention_count(database, current_user.id)}
    except db.Error:  # the error page of a database that fails must still render
        return {"inbox_count": 0}


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(inbox_count)
