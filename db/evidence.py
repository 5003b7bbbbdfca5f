"""Evidence captures: one row per attempt to keep an item's page as it was (the WARC file lies beside the
database; monitor.evidence writes it). Append-only: the table's triggers refuse UPDATE and DELETE, so a
capture once recorded keeps saying what was fetched, when, by whom and why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlite_utils

from db import transaction

REASONS = ("confirm", "escalate", "manual")  # the table's CHECK says the same
ERROR_KINDS = ("refused", "timeout", "too_large", "http", "other")
_FIELDS = ("item_id", "url", "final_url", "http_status", "path", "sha256", "size", "captured_at", "user_id",
           "why", "text", "error_kind", "error")


def record(database: sqlite_utils.Database, fields: dict[str, Any]) -> int:
    """Store one capture (success: path, sha256 and size; failure: error and error_kind); return its id.
    The user's name is stored as it is now, as the decision log does, so a later rename changes nothing."""
    values = {name: fields.get(name) for name in _FIELDS}
    with transaction(database) as conn:
        name = conn.execute("SELECT name FROM users WHERE id = ?", (values["user_id"],)).fetchone()
        values["user_name"] = name[0] if name else None
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        return conn.execute(f"INSERT INTO evidence ({columns}) VALUES ({marks}) RETURNING id",
                            tuple(values.values())).fetchone()[0]


def for_item(database: sqlite_utils.Database, item_id: int) -> list[dict]:
    """The item's captures, newest first, without the text rendering (the page lists, it does not show)."""
    return list(database.query(
        "SELECT id, item_id, url, final_url, http_status, sha256, size, captured_at, user_name, why, error_kind,"
        " error, path FROM evidence WHERE item_id = ? ORDER BY id DESC", [item_id]))


def get(database: sqlite_utils.Database, capture_id: int) -> dict | None:
    """One capture with everything stored about it."""
    rows = list(database.query("SELECT * FROM evidence WHERE id = ?", [capture_id]))
    return rows[0] if rows else None


def stored_files(database: sqlite_utils.Database) -> Iterator[dict]:
    """Every capture that wrote a file (id, item, path, sha256, size): what `monitor audit verify` re-hashes."""
    yield from database.query("SELECT id, item_id, path, sha256, size FROM evidence WHERE path IS NOT NULL"
                              " ORDER BY id")


def urls_of(database: sqlite_utils.Database, item_ids: list[int]) -> list[tuple[int, str]]:
    """(item id, url) of the items that have a URL: what a decision on them captures."""
    if not item_ids:
        return []
    marks = ",".join("?" * len(item_ids))
    return [(row[0], row[1]) for row in database.conn.execute(
        f"SELECT id, url FROM items WHERE id IN ({marks}) AND url IS NOT NULL AND url != '' ORDER BY id",
        list(item_ids))]
