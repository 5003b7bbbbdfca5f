"""Moderators' decisions: an append-only, hash-chained log, applied with optimistic locking."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import sqlite_utils

from db import transaction, utcnow

GENESIS = "0" * 64
# The chain's head (last id and hash) is also kept outside the table, so deleting the newest
# rows is detected too, not only edits and deletions in the middle.
HEAD_KEY = "decisions_head"


class StaleItemError(Exception):
    """The item changed since the moderator loaded it; nothing was written."""

    def __init__(self, item_id: int, by: str | None, at: str | None, status: str):
        self.item_id, self.by, self.at, self.status = item_id, by, at, status
        who = f" by {by} at {at}" if by else ""
        super().__init__(f"Item {item_id} was already decided{who} (now '{status}'); nothing was changed.")


class DecisionError(ValueError):
    pass


@dataclass
class Decision:
    id: int
    item_id: int
    user_id: int
    action: str
    old_status: str
    new_status: str
    note: str
    created_at: str


def row_hash(prev_hash: str, item_id: int, user_id: int, action: str, old_status: str, new_status: str,
             note: str, created_at: str) -> str:
    """Hash of a decision row chained to the previous one: editing or deleting any row breaks the chain."""
    payload = json.dumps([prev_hash, item_id, user_id, action, old_status, new_status, note, created_at],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def decide(database: sqlite_utils.Database, *, item_id: int, user_id: int, action: str, new_status: str,
           note: str, expected_version: int) -> Decision:
    """Apply a decision if the item is still at `expected_version`; append it to the chained log.

    The version check and the update are one statement inside one write transaction, so two
    moderators acting on the same stale page can never both win.
    """
    now = utcnow()
    with transaction(database) as conn:
        row = conn.execute("SELECT status, version FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise DecisionError(f"item {item_id} does not exist")
        old_status, version = row
        updated = conn.execute(
            "UPDATE items SET status = ?, version = version + 1 WHERE id = ? AND version = ?",
            (new_status, item_id, expected_version)).rowcount
        if updated != 1:
            last = conn.execute(
                "SELECT users.name, decisions.created_at FROM decisions JOIN users ON users.id = decisions.user_id"
                " WHERE item_id = ? ORDER BY decisions.id DESC LIMIT 1", (item_id,)).fetchone()
            raise StaleItemError(item_id, last[0] if last else None, last[1] if last else None, old_status)
        prev = conn.execute("SELECT row_hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = prev[0] if prev else GENESIS
        digest = row_hash(prev_hash, item_id, user_id, action, old_status, new_status, note, now)
        cursor = conn.execute(
            "INSERT INTO decisions (item_id, user_id, action, old_status, new_status, note, created_at,"
            " prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item_id, user_id, action, old_status, new_status, note, now, prev_hash, digest))
        conn.execute(
            "INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (HEAD_KEY, f"{cursor.lastrowid}:{digest}", now))
        return Decision(int(cursor.lastrowid), item_id, user_id, action, old_status, new_status, note, now)


def history(database: sqlite_utils.Database, item_id: int) -> list[dict]:
    return list(database.query(
        "SELECT decisions.*, users.name AS user_name FROM decisions JOIN users ON users.id = decisions.user_id"
        " WHERE item_id = ? ORDER BY decisions.id", [item_id]))


def verify_chain(database: sqlite_utils.Database) -> list[str]:
    """Problems found in the hash chain (empty when intact): edited, inserted or deleted rows."""
    problems = []
    prev_hash = GENESIS
    expected_id = None
    for row in database.query("SELECT * FROM decisions ORDER BY id"):
        if expected_id is not None and row["id"] != expected_id:
            problems.append(f"decision ids jump from {expected_id - 1} to {row['id']}: rows deleted")
        if row["prev_hash"] != prev_hash:
            problems.append(f"decision {row['id']}: previous-hash link broken (a row before it was changed or removed)")
        digest = row_hash(row["prev_hash"], row["item_id"], row["user_id"], row["action"], row["old_status"],
                          row["new_status"], row["note"], row["created_at"])
        if digest != row["row_hash"]:
            problems.append(f"decision {row['id']}: content does not match its hash (row edited)")
        prev_hash = row["row_hash"]
        expected_id = row["id"] + 1
    head = database.conn.execute("SELECT value FROM service_state WHERE key = ?", (HEAD_KEY,)).fetchone()
    if head:
        head_id, head_hash = head[0].split(":", 1)
        if expected_id is None or int(head_id) != expected_id - 1 or head_hash != prev_hash:
            problems.append(f"the log should end at decision {head_id}: newer rows were deleted or replaced")
    elif expected_id is not None:
        problems.append("the log's recorded head is missing")
    return problems
