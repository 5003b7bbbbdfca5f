"""service_state: small named values the processes share (heartbeats, last retrain, storage errors)."""

from __future__ import annotations

import json
import sqlite3

import sqlite_utils

from db import transaction, utcnow


def get_state(database: sqlite_utils.Database, key: str) -> str | None:
    """The value stored under `key`, or None when nothing is."""
    row = database.conn.execute("SELECT value FROM service_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def put_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store `value` under `key` (replacing any) inside the caller's transaction."""
    conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                 (key, value, utcnow()))


def set_state(database: sqlite_utils.Database, key: str, value: str) -> None:
    """Store `value` under `key` in a transaction of its own."""
    with transaction(database) as conn:
        put_state(conn, key, value)


def delete_state(database: sqlite_utils.Database, key: str) -> None:
    """Forget `key` (nothing happens when it is not stored)."""
    with transaction(database) as conn:
        conn.execute("DELETE FROM service_state WHERE key = ?", (key,))


# The scorer's trouble, as the scheduler's scorer records it (monitor/schedule/resources.py): no model could
# be loaded at all (items stored unscored), or the registry's promoted model was refused and an older one
# keeps scoring (monitor.scoring.ActiveScorer). /health reports either as "scorer refusing its model".
SCORER_ERROR_KEY = "scorer_error"
SCORER_REFUSED_KEY = "scorer_refused"


def scorer_problem(database: sqlite_utils.Database) -> dict | None:
    """{"error": …, "refused": …} (either may be None) when the scorer has trouble, else None.

    "refused" is the JSON the scorer recorded ({"model_path", "error", "current_version", "at"}); a value
    that is not JSON is passed on as the error text it is."""
    rows = dict(database.conn.execute("SELECT key, value FROM service_state WHERE key IN (?, ?)",
                                      (SCORER_ERROR_KEY, SCORER_REFUSED_KEY)).fetchall())
    if not rows:
        return None
    refused = rows.get(SCORER_REFUSED_KEY)
    if refused is not None:
        try:
            refused = json.loads(refused)
        except ValueError:
            refused = {"error": refused}
    return {"error": rows.get(SCORER_ERROR_KEY), "refused": refused}
