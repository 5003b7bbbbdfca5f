"""The `models` table: the database's mirror of the model versions on disk (shipped + registry)."""

from __future__ import annotations

import sqlite_utils

from db import transaction


def replace_models(database: sqlite_utils.Database, rows: list[tuple]) -> None:
    """Record (version, path, created_at, metrics, card, promoted) rows in one transaction.

    Every version is first marked not promoted, so exactly the rows that say so are promoted after.
    """
    with transaction(database) as conn:
        conn.execute("UPDATE models SET promoted = 0")
        conn.executemany(
            "INSERT INTO models (version, path, created_at, metrics, card, promoted) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(version) DO UPDATE SET path = excluded.path, metrics = excluded.metrics,"
            " card = excluded.card, promoted = excluded.promoted", rows)


def list_models(database: sqlite_utils.Database) -> list[dict]:
    """Every recorded model version with its metrics and card, newest first (the admin's Models page)."""
    return list(database.query("SELECT id, version, created_at, metrics, card, promoted FROM models ORDER BY id DESC"))
