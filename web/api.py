"""JSON API for scripts and other tools: the queue and decisions, authenticated by bearer token only.

Session cookies are not accepted here, which is why these routes can skip CSRF: a browser never
sends the token on its own. Documented in web/static/openapi.yaml.
"""

from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, request
from flask_login import current_user

import db.decisions
import db.followups
import db.items
import db.known_claims
import db.queue
import db.spread
import db.users
from db.decisions import StaleItemError
from db.queue import ClaimError
from monitor.domain import DECISIONS, Action, Role
from web import get_db
from web.access import MODERATE, READ, refuse_if_storage_failed, roles
from web.decisions import default_target
from web.evidence import capture_after
from web.params import INT64_MAX, int_arg
from web.places import places_of
from web.queue_filter import format_after, parse_after, parse_filters

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ITEM_FIELDS = ("id", "title", "text", "url", "language", "status", "version", "fetched_at", "published_at",
               "score_misinformation", "score_harm", "flag_reasons", "source_name", "cluster_id", "priority",
               "about_jurisdiction")

# A follow-up as the API shows it (db.followups; kinds and outcomes from vocab).
FOLLOWUP_FIELDS = ("id", "kind", "link", "platform", "agency", "note", "acted_on", "due_on", "outcome", "user_name",
                   "created_at", "outcome_user_name", "outcome_at")


@bp.before_request
def token_only():
    # Touch current_user so the request loader runs; refuse anything not authenticated by token.
    if not current_user.is_authenticated or not g.get("token_auth"):
        refuse_if_storage_failed()  # a full disk, not a bad token: 503
        response = jsonify({"error": "unauthorized", "message": "send Authorization: Bearer <token>"})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return None


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(405)
def json_error(error):
    # JSON, never an HTML page: an HTML page would start a cookie session on a token client.
    return jsonify({"error": error.name.lower().replace(" ", "_"), "message": error.description}), error.code


def _item(row: dict) -> dict:
    body = {field: row.get(field) for field in ITEM_FIELDS}
    body["about_jurisdiction"] = bool(body["about_jurisdiction"])  # 0/1 in SQLite
    return body


@bp.get("/queue")
@roles(*READ)
def queue():
    limit = min(max(int_arg(request.args, "limit", default=50), 1), 200)
    filters = parse_filters(request.args)
    page = db.queue.queue(get_db(), filters, limit=limit, after=parse_after(request.args.get("after")))
    return jsonify({"items": [_item(r) for r in page.items], "next": format_after(page.next_after)})


@bp.get("/items/<int:item_id>")
@roles(*READ)
def item(item_id: int):
    row = db.items.get_item(get_db(), item_id)
    if row is None:
        return jsonify({"error": "not_found", "message": f"item {item_id} does not exist"}), 404
    body = _item(row)
    body["decisions"] = [{k: d[k] for k in ("id", "action", "old_status", "new_status", "note", "created_at",
                                            "user_name")} for d in db.decisions.history(get_db(), item_id)]
    body["followups"] = [{k: f[k] for k in FOLLOWUP_FIELDS} for f in db.followups.for_items(get_db(), [item_id])]
    body["claim_matches"] = [{"claim_id": m["claim_id"], "url": m["url"], "similarity": m["similarity"]}
                             for m in db.known_claims.matches_for_item(get_db(), item_id)]
    body["spread"] = db.spread.story_spread(get_db().conn, row.get("cluster_id"))
    body["places"] = [{k: p[k] for k in ("name", "code", "level")} for p in places_of(get_db(), item_id)]
    return jsonify(body)


@bp.post("/items/<int:item_id>/decisions")
@roles(*MODERATE)
def decide(item_id: int):
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify({"error": "bad_request", "message": "send a JSON object"}), 400
    action = payload.get("action")
    # A list, not a set: the JSON value may be unhashable. An undo is offered only to the web session that decided.
    if action not in [a.value for a in DECISIONS]:
        return jsonify({"error": "bad_request", "message": f"action must be one of {[a.value for a in DECISIONS]}"}), 400
    action = Action(action)
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= INT64_MAX:
        return jsonify({"error": "bad_request", "message": f"version (an integer from 0 to {INT64_MAX}) is required"}), 400
    note = str(payload.get("note") or "").strip()
    if action.needs_note and not note:
        return jsonify({"error": "bad_request", "message": "note is required for escalate and reopen"}), 400
    target_role = payload.get("target_role")
    target_user = payload.get("target_user")
    target_user_id = None
    if action == Action.ESCALATE:
        if target_user:
            user = db.users.find_user(get_db(), str(target_user))
            if not user or not user["active"]:
                return jsonify({"error": "bad_request", "message": f"unknown user '{target_user}'"}), 400
            target_user_id = user["id"]
        if not isinstance(target_role, str) or target_role not in {r.value for r in Role}:
            target_role = None if target_user_id else (default_target(current_user.role) or "").partition(":")[2]
        if not target_role and not target_user_id:  # an admin names whom: the default is never one's own role
            return jsonify({"error": "bad_request", "message": "target_role or target_user is required"}), 400
    if db.items.get_item(get_db(), item_id) is None:
        return jsonify({"error": "not_found", "message": f"item {item_id} does not exist"}), 404
    try:
        decision_id = db.queue.apply_decision(
            get_db(), item_id=item_id, user_id=current_user.id, action=action.value,
            new_status=action.new_status.value, note=note, expected_version=version,
            target_role=target_role if action == Action.ESCALATE else None, target_user_id=target_user_id)
    except StaleItemError as error:
        return jsonify({"error": "conflict", "message": str(error), "decided_by": error.by, "decided_at": error.at,
                        "status": error.status}), 409
    except ClaimError as error:
        return jsonify({"error": "claimed", "message": str(error), "claimed_by": error.holder,
                        "claimed_until": error.expires_at}), 409
    capture_after([item_id], action.value)
    return jsonify({"decision_id": decision_id, "item_id": item_id, "status": action.new_status.value}), 201


def register(app: Flask) -> None:
    from web import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)

    @app.errorhandler(401)
    def unauthorized(_error):
        return jsonify({"error": "unauthorized"}), 401

