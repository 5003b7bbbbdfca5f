"""Heartbeats of the distributed processes (PostgreSQL only) and the scheduler's leader lock.

Every `monitor run` (leader or standby) and every `monitor worker` writes its row in `workers` every few
seconds (migration 002_workers): /health counts the fresh beats, and a crawl run whose owner's beat went
stale was left by a killed process. The leader lock is a session advisory lock: PostgreSQL drops it
the moment the holder's connection ends, kill -9 included, so a standby can take over without a lease
timing out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from db import from_iso, to_iso, utcnow

# Advisory lock keys live beside db.postgres's (one 64-bit space per database).
LEADER_LOCK = 0x6D6F6E00_0010  # `monitor run`: the one scheduler that enqueues crawls and runs housekeeping
QUEUE_SCHEMA_LOCK = 0x6D6F6E00_0011  # procrastinate's schema: one process applies it, the others wait

STALE_SECONDS = 30.0  # a beat older than this is a dead (or hung) process


def beat(database: Any, worker_id: str, kind: str, state: str, started_at: str,
         detail: dict | None = None) -> None:
    """Write this process's heartbeat (insert or refresh its row)."""
    database.conn.execute(
        "INSERT INTO workers (id, kind, state, started_at, last_beat, detail) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, state = excluded.state,"
        " started_at = excluded.started_at, last_beat = excluded.last_beat, detail = excluded.detail",
        (worker_id, kind, state, started_at, utcnow(), json.dumps(detail or {}, ensure_ascii=False)))


def forget(database: Any, worker_id: str) -> None:
    """Remove this process's row on a clean stop, so /health does not count it as a stale process."""
    database.conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))


def beats(database: Any, now: datetime | None = None) -> list[dict]:
    """Every process's row for /health: kind, id, state, started_at, last_beat, age_seconds, alive, detail."""
    now = now or datetime.now(UTC)
    found = []
    for row in database.query("SELECT id, kind, state, started_at, last_beat, detail FROM workers"
                              " ORDER BY kind, id"):
        age = (now - from_iso(row["last_beat"])).total_seconds()
        try:
            detail = json.loads(row["detail"] or "{}")
        except ValueError:
            detail = {}
        found.append({**row, "detail": detail, "age_seconds": round(age, 1), "alive": age <= STALE_SECONDS})
    return found


def alive(database: Any, worker_id: str, stale_seconds: float | None = None) -> bool:
    """Whether the process named `worker_id` beat within `stale_seconds` (default STALE_SECONDS)."""
    stale = STALE_SECONDS if stale_seconds is None else stale_seconds
    cutoff = to_iso(datetime.now(UTC) - timedelta(seconds=stale))
    row = database.conn.execute("SELECT 1 FROM workers WHERE id = ? AND last_beat >= ?",
                                (worker_id, cutoff)).fetchone()
    return row is not None


def prune(database: Any, older_than_seconds: float) -> int:
    """Drop the rows of processes silent for longer than this (killed long ago); returns how many."""
    cutoff = to_iso(datetime.now(UTC) - timedelta(seconds=older_than_seconds))
    return database.conn.execute("DELETE FROM workers WHERE last_beat < ?", (cutoff,)).rowcount


def try_leader_lock(database: Any) -> bool:
    """Take the leader lock on this connection if nobody holds it (never waits)."""
    return bool(database.conn.execute("SELECT pg_try_advisory_lock(?)", (LEADER_LOCK,)).fetchone()[0])


def leader_lock_held(database: Any) -> bool:
    """Whether this connection still holds the leader lock (False if the connection is gone)."""
    row = database.conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        " AND granted AND ((classid::bigint << 32) | objid::bigint) = ? AND objsubid = 1", (LEADER_LOCK,)).fetchone()
    return bool(row[0])


def lock_schema(database: Any) -> None:
    """Wait for the queue-schema lock (session level; pair with `unlock_schema`)."""
    database.conn.execute("SELECT pg_advisory_lock(?)", (QUEUE_SCHEMA_LOCK,))


def unlock_schema(database: Any) -> None:
    database.conn.execute("SELECT pg_advisory_unlock(?)", (QUEUE_SCHEMA_LOCK,))


def has_table(database: Any, name: str) -> bool:
    """Whether a table exists (to_regclass): e.g. procrastinate's, before its schema is applied."""
    return database.conn.execute("SELECT to_regclass(?)", (name,)).fetchone()[0] is not None
