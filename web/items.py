"""One item: its text (escaped, reasons marked), source, scores beside thresholds, explanation, cluster and
decision history; deciding on it."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

import db.comments
import db.decisions
import db.evidence
import db.followups
import db.items
import db.known_claims
import db.queue
from db.decisions import StaleItemError, UndoRefused
from db.queue import ClaimError
from monitor.domain import AGENCIES, DECISIONS, FOLLOW_UP_KINDS, FOLLOW_UP_OUTCOMES
from web import get_db
from web.access import ADMIN, MODERATE, READ, roles
from web.decisions import (
    claimed_message,
    escalation_choices,
    forget_undo,
    parse_decision_form,
    remember_undo,
    safe_return,
    stale_message,
    undo_notice,
    undo_refused_message,
)
from web.evidence import capture_after
from web.followups import user_today
from web.params import id_list, int_arg, item_or_404
from web.places import places_of
from web.reasons import item_reasons
from web.spread import item_spread

bp = Blueprint("items", __name__)


@bp.get("/items/<int:item_id>")
@roles(*READ)
def show(item_id: int):
    database = get_db()
    item = item_or_404(database, item_id)
    cluster = db.queue.cluster_items(database, item.get("cluster_id"))
    return render_template(
        "item.html", item=item, reasons=item_reasons(item, admin=current_user.role in ADMIN),
        history=db.decisions.history(database, item_id), actions=list(DECISIONS),
        escalations=db.queue.escalation_targets(database, item_id), claim=db.queue.claim_of(database, item_id),
        cluster=cluster if len(cluster) > 1 else [], escalation_choices=escalation_choices(database, current_user),
        return_to=safe_return(request.args.get("next")), captures=db.evidence.for_item(database, item_id),
        claim_matches=db.known_claims.matches_for_item(database, item_id),
        spread=item_spread(database, item.get("cluster_id")),
        places=places_of(database, item_id),
        **_case(database, item, cluster))


def _case(database, item: dict, cluster: list[dict]) -> dict:
    """What the item page shows after the decisions: the story's follow-ups (on any copy) and its comments."""
    item_ids = sorted({item["id"], *(c["id"] for c in cluster)})
    return {"followups": db.followups.for_items(database, item_ids), "today": user_today(),
            "comments": db.comments.thread(database, item["id"], item.get("cluster_id")),
            "followup_kinds": FOLLOW_UP_KINDS, "agencies": AGENCIES, "outcomes": FOLLOW_UP_OUTCOMES}


@bp.post("/items/<int:item_id>/decide")
@roles(*MODERATE)
def decide(item_id: int):
    database = get_db()
    item_or_404(database, item_id)
    version = int_arg(request.form, "version")
    if version is None:
        return render_template("error.html", title="400", message=_("Missing item version.")), 400
    form = parse_decision_form(request.form, database, current_user.role)
    if isinstance(form, tuple):
        return form
    try:
        decision_id = db.queue.apply_decision(database, item_id=item_id, user_id=current_user.id, action=form.action.value,
                                new_status=form.action.new_status.value, note=form.note, expected_version=version,
                                target_role=form.target_role, target_user_id=form.target_user_id)
    except StaleItemError as error:
        return render_template("error.html", title="409", message=stale_message(error), item_id=item_id), 409
    except ClaimError as error:
        return render_template("error.html", title="409", message=claimed_message(error), item_id=item_id), 409
    flash(_("Item %(id)s: %(action)s.", id=item_id, action=_(form.action.value)), "ok")
    remember_undo([decision_id])
    capture_after([item_id], form.action.value)
    return redirect(safe_return(request.form.get("next"))), 303


@bp.post("/decisions/undo")
@roles(*MODERATE)
def undo():
    """Take back decisions just made (the notice's "Undo", or the `u` key): no note, within the window,
    only one's own (an admin may take back anyone's); each undo is its own signed entry in the log."""
    ids = id_list(request.form, "decision_id")
    if not ids:
        return render_template("error.html", title="400", message=_("Nothing to undo.")), 400
    database, done, refused = get_db(), [], []
    for decision_id in ids:
        try:
            done.append(db.decisions.undo(database, decision_id=decision_id, user_id=current_user.id,
                                          may_undo_others=current_user.role in ADMIN,
                                          window_seconds=current_app.config["UNDO_SECONDS"]))
        except (UndoRefused, StaleItemError) as error:
            refused.append(undo_refused_message(error))
    forget_undo()
    if done:
        flash(_("Undone: %(n)s decision(s); the item(s) are back as they were.", n=len(done)), "ok")
    for message in refused:
        flash(message, "error")
    if refused and not done:
        return render_template("error.html", title="409", message=" ".join(refused)), 409
    return redirect(safe_return(request.form.get("next"))), 303


bp.app_context_processor(undo_notice)
