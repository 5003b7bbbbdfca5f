"""Which sources are due, for the active scheduler on PostgreSQL (monitor.distributed.leader).

In-process, each source is an APScheduler job timed from the last crawl's result. With the crawls on
other machines, the result's timing decision (scheduler.plan_next_poll) is recorded by the worker on the
source as `next_run_at`, and the scheduler queues whatever is due: the time lives in the database, so a
standby that takes over continues where the last leader stopped.
"""

from __future__ import annotations

from typing import Any


def due_sources(database: Any, now: str) -> list[dict]:
    """Enabled, unpaused sources whose next poll is due (or never set), most overdue first:
    id, name and the interval that is current for them (the adaptive one when recorded)."""
    return list(database.query(
        "SELECT id, name, COALESCE(effective_interval_seconds, interval_seconds) AS interval_seconds"
        " FROM sources WHERE enabled = 1 AND paused = 0 AND (next_run_at IS NULL OR next_run_at <= ?)"
        " ORDER BY next_run_at IS NOT NULL, next_run_at, id", [now]))


def lease(database: Any, source_id: int, next_run_at: str) -> None:
    """Once queued: not due again before `next_run_at` unless the crawl records its own next poll first
    (a job lost with its queue comes back after one interval)."""
    database.conn.execute("UPDATE sources SET next_run_at = ? WHERE id = ?", (next_run_at, source_id))


def make_due(database: Any, name: str) -> None:
    """Due now (after `sources resume`, or for a test): the next dispatch queues it."""
    database.conn.execute("UPDATE sources SET next_run_at = NULL WHERE name = ?", (name,))
