"""report_deliveries: which week's report went to whom by e-mail, and what is still to send.

The row for (week, recipient) is created once and is the only licence to send: a sender claims it with a
conditional UPDATE (pending → sending) committed before it talks to the mail server, so two senders, a
retry and a restart can never send the same week to the same address twice. See
db/migrations/066_report_deliveries.sql for the states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from db import transaction, utcnow

STATUSES = ("pending", "sending", "sent", "failed", "uncertain")
_COLUMNS = ("id, week, recipient, name, files, status, attempts, last_error, next_attempt_at, claimed_at, sent_at, "
            "message_id, created_at, updated_at")


def _row(cursor_row: tuple) -> dict[str, Any]:
    row = dict(zip([c.strip() for c in _COLUMNS.split(",")], cursor_row, strict=True))
    row["files"] = json.loads(row["files"])
    return row


def one_line(text: str) -> str:
    """An error as stored and shown: a server's multi-line reply (smtplib joins its lines with a newline) and
    any control character become single spaces, so `monitor status` and `monitor deliveries` keep one line."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def enqueue(database: sqlite_utils.Database, week: str, recipients: Iterable[tuple[str, str | None]],
            files: list[str], *, now: str | None = None) -> int:
    """A pending row for each (address, name) not yet known for `week`; returns how many were added.

    An address already recorded for the week keeps its row whatever its state: a week is never queued twice."""
    now = now or utcnow()
    added = 0
    with transaction(database) as conn:
        for address, name in recipients:
            cursor = conn.execute(
                "INSERT INTO report_deliveries (week, recipient, name, files, status, next_attempt_at,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING",
                (week, address.lower(), name, json.dumps(files, ensure_ascii=False), now, now, now))
            added += cursor.rowcount
    return added


def due(database: sqlite_utils.Database, now: str) -> list[dict[str, Any]]:
    """Pending rows whose next attempt is due, oldest week first."""
    rows = database.conn.execute(
        f"SELECT {_COLUMNS} FROM report_deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
        " ORDER BY week, id", (now,)).fetchall()
    return [_row(row) for row in rows]


def claim(database: sqlite_utils.Database, delivery_id: int, now: str) -> bool:
    """Take a pending row for one attempt (committed before sending); False when it is no longer pending."""
    with transaction(database) as conn:
        cursor = conn.execute(
            "UPDATE report_deliveries SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?"
            " WHERE id = ? AND status = 'pending'", (now, now, delivery_id))
        return cursor.rowcount == 1


def mark_sent(database: sqlite_utils.Database, delivery_id: int, message_id: str, now: str) -> None:
    with transaction(database) as conn:
        conn.execute("UPDATE report_deliveries SET status = 'sent', sent_at = ?, message_id = ?, last_error = NULL,"
                     " next_attempt_at = NULL, updated_at = ? WHERE id = ? AND status = 'sending'",
                     (now, message_id, now, delivery_id))


def mark_failed(database: sqlite_utils.Database, delivery_id: int, error: str, next_attempt_at: str | None,
                now: str, *, uncertain: bool = False) -> None:
    """After an attempt that did not send: back to pending until `next_attempt_at`, or `failed` when None;
    `uncertain` when the message may have arrived (never retried by itself)."""
    status = "uncertain" if uncertain else ("pending" if next_attempt_at else "failed")
    error = one_line(error)
    with transaction(database) as conn:
        conn.execute("UPDATE report_deliveries SET status = ?, last_error = ?, next_attempt_at = ?, updated_at = ?"
                     " WHERE id = ? AND status = 'sending'",
                     (status, error[:1000], None if uncertain else next_attempt_at, now, delivery_id))


def withdraw(database: sqlite_utils.Database, delivery_id: int, reason: str, now: str) -> bool:
    """A pending row that must not be sent (its address was taken off the recipients): 'failed' with `reason`,
    so it is listed, never attempted, and `--retry` can still send it once the address is back."""
    with transaction(database) as conn:
        return conn.execute(
            "UPDATE report_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, updated_at = ?"
            " WHERE id = ? AND status = 'pending'", (reason[:1000], now, delivery_id)).rowcount == 1


def expire_claims(database: sqlite_utils.Database, claimed_before: str, now: str) -> int:
    """Rows left 'sending' by a process that died mid-send become 'uncertain' (the message may have gone)."""
    with transaction(database) as conn:
        return conn.execute(
            "UPDATE report_deliveries SET status = 'uncertain', next_attempt_at = NULL, updated_at = ?,"
            " last_error = COALESCE(last_error || '; ', '') || 'interrupted while sending'"
            " WHERE status = 'sending' AND claimed_at < ?", (now, claimed_before)).rowcount


def retry(database: sqlite_utils.Database, delivery_id: int, now: str | None = None) -> bool:
    """An operator's decision to send a 'failed' or 'uncertain' row again: back to pending, attempts reset."""
    now = now or utcnow()
    with transaction(database) as conn:
        return conn.execute(
            "UPDATE report_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('failed', 'uncertain')", (now, now, delivery_id)).rowcount == 1


def deliveries(database: sqlite_utils.Database, week: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The rows of one week, or the latest `limit` rows, newest week first."""
    where, params = ("WHERE week = ?", (week,)) if week else ("", ())
    rows = database.conn.execute(f"SELECT {_COLUMNS} FROM report_deliveries {where} ORDER BY week DESC, id"
                                 " LIMIT ?", (*params, limit)).fetchall()
    return [_row(row) for row in rows]


def latest_summary(database: sqlite_utils.Database) -> dict[str, Any] | None:
    """The most recent week's delivery at a glance: counts by status, the last error and the next retry."""
    row = database.conn.execute("SELECT MAX(week) FROM report_deliveries").fetchone()
    if not row or row[0] is None:
        return None
    week = row[0]
    counts = dict(database.conn.execute(
        "SELECT status, COUNT(*) FROM report_deliveries WHERE week = ? GROUP BY status", (week,)).fetchall())
    next_attempt, last_sent = database.conn.execute(
        "SELECT MIN(next_attempt_at) FILTER (WHERE status = 'pending'), MAX(sent_at)"
        " FROM report_deliveries WHERE week = ?", (week,)).fetchone()
    error = database.conn.execute(
        "SELECT last_error FROM report_deliveries WHERE week = ? AND last_error IS NOT NULL"
        " ORDER BY updated_at DESC LIMIT 1", (week,)).fetchone()
    return {"week": week, "counts": {status: counts.get(status, 0) for status in STATUSES},
            "last_error": error[0] if error else None, "next_attempt_at": next_attempt, "last_sent_at": last_sent}
