"""The review queue: flagged items, most urgent first, keyset-paginated."""

from __future__ import annotations

from flask import Blueprint, render_template, request

import db.items
from web import get_db
from web.access import READ, roles

bp = Blueprint("queue", __name__)


def _after(token: str | None) -> tuple[float, int] | None:
    if not token:
        return None
    try:
        score, item_id = token.split(":", 1)
        return float(score), int(item_id)
    except ValueError:
        return None


@bp.get("/queue")
@roles(*READ)
def index():
    size = 50
    rows = db.items.queue(get_db(), status="flagged", limit=size + 1, after=_after(request.args.get("after")))
    more = len(rows) > size
    rows = rows[:size]
    next_token = f"{rows[-1]['top_score']}:{rows[-1]['id']}" if more and rows else None
    return render_template("queue.html", items=rows, next_token=next_token)
