"""rate_limits: fixed-window counters every web process shares (the login limits, web/auth.py).

The `limits` library keeps its counters in memory or in Redis/Memcached/MongoDB; a PostgreSQL installation
has several `monitor serve` processes and no such service, so the counters live in the database they
already share. One row per key: its count and the moment (epoch seconds) its window ends. Each statement
stands alone (autocommit), so no writer takes the global write lock: the upsert is atomic by itself, and
two processes counting the same key at once both land (neither increment is lost).

Times are the web processes' clocks (epoch seconds), not the database's: windows are minutes long, and
servers behind one database keep NTP time far closer than that.
"""

from __future__ import annotations

import time

import sqlite_utils


def incr(database: sqlite_utils.Database, key: str, expiry: float, amount: int = 1, *,
         now: float | None = None) -> int:
    """Add `amount` to `key`'s count and return the new count; a key absent or past its window starts a
    new window of `expiry` seconds at `amount`. Rows past their window are dropped on the way."""
    now = time.time() if now is None else now
    database.conn.execute("DELETE FROM rate_limits WHERE expires_at <= ? AND key <> ?", (now, key))
    row = database.conn.execute(
        "INSERT INTO rate_limits (key, hits, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET"
        " hits = CASE WHEN rate_limits.expires_at <= ? THEN excluded.hits ELSE rate_limits.hits + excluded.hits END,"
        " expires_at = CASE WHEN rate_limits.expires_at <= ? THEN excluded.expires_at"
        " ELSE rate_limits.expires_at END"
        " RETURNING hits",
        (key, amount, now + expiry, now, now)).fetchone()
    return int(row[0])


def get(database: sqlite_utils.Database, key: str, *, now: float | None = None) -> int:
    """`key`'s count in its current window; 0 when it has none."""
    now = time.time() if now is None else now
    row = database.conn.execute("SELECT hits FROM rate_limits WHERE key = ? AND expires_at > ?",
                                (key, now)).fetchone()
    return int(row[0]) if row else 0


def expires_at(database: sqlite_utils.Database, key: str, *, now: float | None = None) -> float:
    """When `key`'s current window ends (epoch seconds); `now` when it has none."""
    now = time.time() if now is None else now
    row = database.conn.execute("SELECT expires_at FROM rate_limits WHERE key = ? AND expires_at > ?",
                                (key, now)).fetchone()
    return float(row[0]) if row else now


def clear(database: sqlite_utils.Database, key: str) -> None:
    """Forget `key`'s count."""
    database.conn.execute("DELETE FROM rate_limits WHERE key = ?", (key,))


def reset(database: sqlite_utils.Database) -> int:
    """Forget every count; how many keys were dropped."""
    return database.conn.execute("DELETE FROM rate_limits").rowcount


def reachable(database: sqlite_utils.Database) -> bool:
    """Whether the table can be read (the limiter's health check)."""
    database.conn.execute("SELECT 1 FROM rate_limits WHERE key = ?", ("",)).fetchall()
    return True
