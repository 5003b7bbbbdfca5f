"""Follow-up actions on confirmed items (case tracking) and the story's comment thread.

After a confirmation, moderators record what was done (a rebuttal, a takedown request, a referral, the
poster contacted) and later how it ended; the open ones are listed on /followups with the overdue ones
marked, and the nav counts the user's own overdue ones. Every change is a signed entry (db/followups.py).
Comments are conversation beside the decisions: anyone signed in may write one, and an @name mention puts
the story in that user's inbox.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import db.comments
import db.followups
import db.items
from db.followups import FollowUpError
from monitor.domain import AGENCIES, DEFAULT_TIMEZONE, FOLLOW_UP_OUTCOMES
from web import get_db
from web.access import MODERATE, READ, roles
from web.decisions import safe_return
from web.params import item_or_404

bp = Blueprint("followups", __name__)

# The form fields a follow-up may carry (db.followups checks which its kind needs).
FORM_FIELDS = ("link", "platform", "agency", "agency_other", "note", "acted_on", "due_on")


def user_today() -> str:
    """Today's date where the user is: a follow-up due today is not overdue until the user's day ends."""
    zone = getattr(current_user, "timezone", None) or DEFAULT_TIMEZONE
    try:
        return datetime.now(ZoneInfo(zone)).date().isoformat()
    except (KeyError, ValueError):
        return datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date().isoformat()


def refusal(reason: str) -> str:
    """The rule a refused follow-up broke, in the user's language (db.followups.FollowUpError.reason)."""
    return {
        "date": _("a date is not a date."), "kind": _("choose an action."),
        "link": _("a rebuttal needs its link."), "platform": _("a takedown request needs the platform."),
        "agency": _("a referral needs the agency (or its name)."),
        "confirmed": _("follow-ups are recorded on confirmed items only."),
    }.get(reason, _("the form is not valid."))


def _error(message: str, status: int = 400):
    return render_template("error.html", title=str(status), message=message), status


@bp.get("/followups")
@roles(*READ)
def index():
    """The open follow-ups, overdue first."""
    rows = db.followups.open_list(get_db(), user_today())
    return render_template("followups.html", rows=rows, outcomes=FOLLOW_UP_OUTCOMES, agencies=AGENCIES,
                           return_to=request.full_path)


@bp.post("/items/<int:item_id>/followups")
@roles(*MODERATE)
def add(item_id: int):
    """Record a follow-up on a confirmed item (pending until its outcome is recorded)."""
    database = get_db()
    item_or_404(database, item_id)
    kind = str(request.form.get("kind") or "")
    values = {name: str(request.form.get(name) or "") for name in FORM_FIELDS}
    try:
        db.followups.add(database, item_id=item_id, user_id=current_user.id, kind=kind, values=values)
    except FollowUpError as error:
        return _error(_("The follow-up was not recorded: %(why)s", why=refusal(error.reason)))
    flash(_("Follow-up recorded on item %(id)s.", id=item_id), "ok")
    return redirect(url_for("items.show", item_id=item_id) + "#followups"), 303


@bp.post("/followups/<int:followup_id>/outcome")
@roles(*MODERATE)
def outcome(followup_id: int):
    """Record (or correct) how a follow-up ended."""
    database = get_db()
    found = db.followups.get(database, followup_id)
    if found is None:
        abort(404)
    try:
        db.followups.record_outcome(database, followup_id=followup_id, user_id=current_user.id,
                                    outcome=str(request.form.get("outcome") or ""))
    except FollowUpError:
        return _error(_("Choose an outcome."))
    flash(_("Outcome recorded for follow-up %(id)s.", id=followup_id), "ok")
    return redirect(safe_return(request.form.get("next")) if request.form.get("next")
                    else url_for("items.show", item_id=found["item_id"]) + "#followups"), 303


@bp.post("/items/<int:item_id>/comments")
@roles(*READ)
def comment(item_id: int):
    """Add a note to the story's thread; @name mentions reach those users' inboxes."""
    database = get_db()
    item_or_404(database, item_id)
    body = str(request.form.get("body") or "")
    if not body.strip():
        return _error(_("Write a comment."))
    _comment_id, mentioned = db.comments.add(database, item_id=item_id, user_id=current_user.id, body=body)
    if mentioned:
        flash(_("Comment added; %(names)s will see it in their inbox.", names=", ".join(mentioned)), "ok")
    else:
        flash(_("Comment added."), "ok")
    return redirect(url_for("items.show", item_id=item_id) + "#comments"), 303


def overdue_followups() -> dict:
    """Template context: the signed-in moderator's own overdue follow-ups (the nav badge)."""
    if not current_user or not current_user.is_authenticated or current_user.role not in MODERATE:
        return {"overdue_count": 0}
    try:
        return {"overdue_count": db.followups.overdue_count(get_db(), current_user.id, user_today())}
    except db.Error:  # the error page of a database that fails must still render
        return {"overdue_count": 0}


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(overdue_followups)
