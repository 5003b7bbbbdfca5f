"""One item: its text (escaped, reasons marked), source, scores beside thresholds, explanation, cluster and
decision history; deciding on it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

import db.decisions
import db.items
import db.queue
from db.decisions import StaleItemError
from db.queue import ClaimError
from monitor.domain import Action
from web import get_db
from web.access import ADMIN, MODERATE, READ, roles
from web.decisions import claimed_message, escalation_choices, parse_decision_form, safe_return, stale_message
from web.params import int_arg
from web.reasons import item_reasons

bp = Blueprint("items", __name__)


@bp.get("/items/<int:item_id>")
@roles(*READ)
def show(item_id: int):
    database = get_db()
    item = db.items.get_item(database, item_id)
    if item is None:
        abort(404)
    cluster = db.queue.cluster_items(database, item.get("cluster_id"))
    return render_template(
        "item.html", item=item, reasons=item_reasons(item, admin=current_user.role in ADMIN),
        history=db.decisions.history(database, item_id), actions=list(Action),
        escalations=db.queue.escalation_targets(database, item_id), claim=db.queue.claim_of(database, item_id),
        cluster=cluster if len(cluster) > 1 else [], escalation_choices=escalation_choices(database),
        return_to=safe_return(request.args.get("next")))


@bp.post("/items/<int:item_id>/decide")
@roles(*MODERATE)
def decide(item_id: int):
    database = get_db()
    if db.items.get_item(database, item_id) is None:
        abort(404)
    version = int_arg(request.form, "version")
    if version is None:
        return render_template("error.html", title="400", message=_("Missing item version.")), 400
    form = parse_decision_form(request.form, database)
    if isinstance(form, tuple):
        return form
    try:
        db.queue.apply_decision(database, item_id=item_id, user_id=current_user.id, action=form.action.value,
                                new_status=form.action.new_status.value, note=form.note, expected_version=version,
                                target_role=form.target_role, target_user_id=form.target_user_id)
    except StaleItemError as error:
        return render_template("error.html", title="409", message=stale_message(error), item_id=item_id), 409
    except ClaimError as error:
        return render_template("error.html", title="409", message=claimed_message(error), item_id=item_id), 409
    flash(_("Item %(id)s: %(action)s.", id=item_id, action=_(form.action.value)), "ok")
    return redirect(safe_return(request.form.get("next"))), 303
