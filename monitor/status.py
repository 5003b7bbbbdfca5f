"""What `monitor status` and the health checks report: counts and source health, as plain data."""

from __future__ import annotations

import json

import sqlite_utils

from db.items import counts_by_status
from db.sources import source_health


def status_report(database: sqlite_utils.Database) -> dict:
    """Item counts by status and by flagged category, and each source's health."""
    categories: dict[str, int] = {}
    for row in database.query("SELECT flag_reasons FROM items WHERE flag_reasons != '[]'"):
        for category in json.loads(row["flag_reasons"]):
            categories[category] = categories.get(category, 0) + 1
    return {
        "items": counts_by_status(database),
        "flagged_by_category": categories,
        "sources": source_health(database),
    }
