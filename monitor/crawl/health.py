"""Per-source health as plain data: for the admin sources page, `monitor status` and the soak bench.

While the storage refuses writes (a full disk), every enabled source is "failing" with that error
(`storage_error`): its crawls cannot store anything, whether or not the failure could be recorded.

"Gone dark" = a source that used to publish (it has stored items) and whose last new item is older
than several of its polling intervals and of its own usual gaps (`dark_threshold`) — the failure mode
no error message ever reports. It is a state as of now, and not the report's "idle" source (nothing new
in the report's period, monitor/reports/sections.py), which the report happens to word "gone dark" too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlite_utils

import db
from db.sources import overview_rows
from monitor import storage

DARK_AFTER_INTERVALS = 6
DARK_MIN_SECONDS = 6 * 3600


DARK_AFTER_GAPS = 4


def dark_threshold(interval_seconds: int | None, mean_gap_seconds: float | None = None,
                   time_scale: float = 1.0) -> float:
    """Seconds of silence after which a publishing source counts as gone dark.

    Several polling intervals, but also several of the source's own usual gaps between items:
    a weekly bulletin polled hourly is not "dark" after six quiet hours.
    """
    configured = max(DARK_AFTER_INTERVALS * int(interval_seconds or 3600), DARK_MIN_SECONDS) * time_scale
    return max(configured, DARK_AFTER_GAPS * (mean_gap_seconds or 0))


def sources_overview(database: sqlite_utils.Database, *, now: datetime | None = None,
                     time_scale: float = 1.0) -> list[dict]:
    """One dict per source (enabled first, then by name) with everything an operator asks about it.

    `time_scale` shrinks the "gone dark" threshold like the scheduler's interval_scale (soak bench).
    """
    now = now or datetime.now(UTC)
    day = db.to_iso(now - timedelta(days=1))
    week = db.to_iso(now - timedelta(days=7))
    month = db.to_iso(now - timedelta(days=30))
    rows = overview_rows(database, day=day, week=week, month=month)
    # A disk that refuses writes fails every source's next crawl, recorded on the source or not.
    trouble = storage.status(database)
    overview = []
    for row in rows:
        interval = row["effective_interval_seconds"] or row["interval_seconds"]
        threshold = dark_threshold(row["interval_seconds"], row["mean_gap"], time_scale)
        silent = None
        if row["last_item_at"]:
            silent = (now - db.from_iso(row["last_item_at"])).total_seconds()
        gone_dark = bool(row["enabled"] and row["items_total"] and silent is not None and silent > threshold)
        state = "disabled"
        if row["enabled"]:
            if row["paused"]:
                state = "paused"
            elif row["consecutive_failures"] or trouble:
                state = "failing"
            elif gone_dark:
                state = "dark"
            elif row["last_success_at"]:
                state = "ok"
            else:
                state = "waiting"
        overview.append({
            "id": row["id"], "name": row["name"], "kind": row["kind"], "url": row["url"],
            "enabled": bool(row["enabled"]), "paused": bool(row["paused"]), "state": state,
            "interval_seconds": row["interval_seconds"], "effective_interval_seconds": interval,
            "last_attempt_at": row["last_attempt_at"], "last_success_at": row["last_success_at"],
            "last_error_at": row["last_error_at"], "last_error": row["last_error"],
            "consecutive_failures": row["consecutive_failures"], "next_run_at": row["next_run_at"] if
            row["enabled"] and not row["paused"] else None,
            "items_24h": row["items_24h"], "items_7d": row["items_7d"], "items_total": row["items_total"],
            "items": row["items_total"],
            "last_item_at": row["last_item_at"], "silent_seconds": None if silent is None else int(silent),
            "gone_dark": gone_dark, "tags": json.loads(row["tags"] or "[]"),
            "storage_error": trouble["error"] if trouble and row["enabled"] and not row["paused"] else None,
        })
    return overview
