"""Alerts to the people on duty (issue 11 item 4): `rules` decides when to alert and whom (the event scan),
`compose` writes the message, `send` delivers it (Apprise, or settings.smtp for users' e-mail) with retries.

The scheduler runs two jobs, each every ALERT_SECONDS in a thread of its own (never a crawl worker's):
`scan` turns new events into alert rows, `send` delivers the due ones. See db/migrations/070_alerts.sql.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlite_utils

from monitor.config import Settings

ALERT_SECONDS = 5.0


def scan_job(database: sqlite_utils.Database, settings: Settings, *,
             stop: Callable[[], bool] | None = None) -> dict[str, int] | None:
    """The scheduler's scan job: new events → alert rows; a summary when it queued something. (`stop` is
    the sender's: one scan is a few reads and one short transaction.)"""
    from monitor.alerts.rules import scan as scan_events

    outcome = scan_events(database, settings)
    return outcome.as_dict() if outcome.added or outcome.merged else None


def send_job(database: sqlite_utils.Database, settings: Settings, *,
             stop: Callable[[], bool] | None = None) -> dict[str, Any] | None:
    """The scheduler's sender job: deliver the due alerts (stopping between messages once `stop()` says so);
    a summary when it tried something."""
    from monitor.alerts.send import send_due

    outcome = send_due(database, settings, stop=stop)
    summary = outcome.as_dict()
    return summary if any(summary.values()) else None
