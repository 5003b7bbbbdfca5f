"""What `monitor status` prints: item counts, scheduler health, each source's health, a full disk, the last
report e-mail and the last day's alerts, as plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlite_utils

import db
from db.alerts import summary as alerts_summary
from db.deliveries import latest_summary
from db.items import counts_by_category, counts_by_status


def status_report(database: sqlite_utils.Database) -> dict:
    """Item counts by status and flagged category, scheduler health, per-source state, storage trouble."""
    from monitor.crawl.health import sources_overview
    from monitor.service import scheduler_health

    categories = counts_by_category(database)
    from monitor import storage

    return {
        "storage": storage.status(database),  # None, or the disk that refuses writes and why
        "items": counts_by_status(database),
        "flagged_by_category": categories,
        "scheduler": scheduler_health(database),
        "sources": sources_overview(database),
        "report_delivery": latest_summary(database),  # None until a weekly report was queued for e-mail
        "alerts": alerts_summary(database, db.to_iso(datetime.now(UTC) - timedelta(hours=24))),  # None: no alert
    }
