"""`GET /health`: is the database reachable, how old is the scheduler's heartbeat, what is queued."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify

import db
import db.items
from web import get_db
from web.access import public

bp = Blueprint("health", __name__)


@bp.get("/health")
@public
def health():
    body: dict = {"ok": False, "database": False, "scheduler_heartbeat_age": None, "items": {}}
    try:
        database = get_db()
        body["items"] = db.items.counts_by_status(database)
        body["database"] = True
        row = database.conn.execute("SELECT value FROM service_state WHERE key = 'scheduler_heartbeat'").fetchone()
        if row and row[0]:
            try:
                age = (datetime.now(UTC) - db.from_iso(row[0])).total_seconds()
                body["scheduler_heartbeat_age"] = round(max(age, 0.0), 1)
            except ValueError:
                body["scheduler_heartbeat_age"] = None
        # Scheduler section (issue 6): queue depth, failing/paused sources, stale heartbeat → unhealthy.
        # SCHEDULER_EXPECTED is set by `monitor run` (True) and `monitor serve` (False); unset, a
        # scheduler counts as expected once it has ever written a heartbeat.
        from flask import current_app

        from monitor.service import scheduler_health

        body["scheduler"] = scheduler_health(database)
        expected = current_app.config.get("SCHEDULER_EXPECTED", row is not None)
        body["scheduler"]["expected"] = bool(expected)
    except Exception as exc:  # noqa: BLE001 - health must report, not crash
        body["error"] = type(exc).__name__
    body["ok"] = body["database"] and (not body.get("scheduler", {}).get("expected")
                                       or body["scheduler"]["healthy"])
    return jsonify(body), (200 if body["ok"] else 503)
