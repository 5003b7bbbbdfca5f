"""The decision log as auditors read it: filtered browsing and export (the log itself is append-only)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

EXPORT_COLUMNS = ("id", "created_at", "user_name", "action", "item_id", "old_status", "new_status", "note",
                  "escalated_to_role", "escalated_to_user", "prev_hash", "row_hash", "item_version", "hash_scheme")


@dataclass
class AuditFilter:
    user: str | None = None
    action: str | None = None
    item_id: int | None = None
    date_from: str | None = None  # UTC ISO inclusive
    date_to: str | None = None  # UTC ISO exclusive


def _where(filters: AuditFilter) -> tuple[str, list[Any]]:
    where, params = ["1 = 1"], []
    if filters.user:
        where.append("users.name = ?")  # the account (names cannot change in the service; verify says if they did)
        params.append(filters.user)
    if filters.action:
        where.append("decisions.action = ?")
        params.append(filters.action)
    if filters.item_id is not None:
        where.append("decisions.item_id = ?")
        params.append(filters.item_id)
    if filters.date_from:
        where.append("decisions.created_at >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        where.append("decisions.created_at < ?")
        params.append(filters.date_to)
    return " AND ".join(where), params


# Names as they were when the decision was signed (decisions.user_name, escalations.target_user_name);
# rows from before migration 054 did not record them, so the account's name stands in.
_SELECT = (
    "SELECT decisions.id, decisions.item_id, decisions.user_id, decisions.action, decisions.old_status,"
    " decisions.new_status, decisions.note, decisions.created_at, decisions.prev_hash, decisions.row_hash,"
    " decisions.item_version, decisions.hash_scheme, COALESCE(decisions.user_name, users.name) AS user_name,"
    " escalations.target_role AS escalated_to_role,"
    " COALESCE(escalations.target_user_name, target.name) AS escalated_to_user, items.title AS item_title"
    " FROM decisions JOIN users ON users.id = decisions.user_id"
    " JOIN items ON items.id = decisions.item_id"
    " LEFT JOIN escalations ON escalations.decision_id = decisions.id"
    " LEFT JOIN users AS target ON target.id = escalations.target_user_id")


def browse(database: sqlite_utils.Database, filters: AuditFilter, *, limit: int = 100,
           before_id: int | None = None) -> list[dict]:
    """Newest first, keyset-paginated on decision id."""
    where, params = _where(filters)
    if before_id is not None:
        where += " AND decisions.id < ?"
        params.append(before_id)
    return list(database.query(f"{_SELECT} WHERE {where} ORDER BY decisions.id DESC LIMIT ?", [*params, limit]))


def export_rows(database: sqlite_utils.Database, filters: AuditFilter):
    where, params = _where(filters)
    for row in database.query(f"{_SELECT} WHERE {where} ORDER BY decisions.id", params):
        yield {column: row.get(column) for column in EXPORT_COLUMNS}


def export(database: sqlite_utils.Database, filters: AuditFilter, fmt: str = "csv") -> str:
    """The filtered log as CSV or JSON Lines, oldest first, hashes included so it can be re-verified."""
    if fmt == "jsonl":  # a value someone stored as bytes is written as the CSV writes it (b'…'), not refused
        return "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n"
                       for row in export_rows(database, filters))
    if fmt != "csv":
        raise ValueError(f"unknown export format '{fmt}' (expected csv or jsonl)")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for row in export_rows(database, filters):
        writer.writerow(row)
    return out.getvalue()
