"""service_state: small named values the processes share (heartbeats, last retrain, storage errors)."""

from __future__ import annotations

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
