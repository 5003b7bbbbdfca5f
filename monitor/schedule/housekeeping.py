"""Housekeeping jobs the scheduler runs unattended: weekly report (and its e-mail), retrain proposal, backup,
retention, and the minutely spike check.

Each job is `job(database, settings, db_path) -> result` so the scheduler can run it, record its
outcome in service_state, and tests can swap any of them for a fake.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

import db
from db.sources import forget_old_raw_bodies, forget_old_runs
from monitor.config import Settings
from monitor.domain import DEFAULT_TIMEZONE
from monitor.schedule.retrain import propose_retrain

log = logging.getLogger("monitor.housekeeping")

Job = Callable[[sqlite_utils.Database, Settings, str], Any]


def data_dir(db_path: str) -> Path:
    return Path(db_path).resolve().parent


def reports_dir(settings: Settings, db_path: str) -> Path:
    return Path(settings.reports_dir) if settings.reports_dir else data_dir(db_path) / "reports"


def backups_dir(settings: Settings, db_path: str) -> Path:
    return Path(settings.backups_dir) if settings.backups_dir else data_dir(db_path) / "backups"


class WeeklyReportError(Exception):
    """Some of the week's formats could not be written; the others were, and were e-mailed."""


def weekly_report(database: sqlite_utils.Database, settings: Settings, db_path: str) -> list[str]:
    """Monday 07:00 Asia/Ho_Chi_Minh: last week's report files for analysts, then the DOCX and PDF e-mailed to
    settings.report.recipients (what fails to send is retried by `report_delivery`).

    A format that fails (a bug, a crawled title no renderer foresaw) does not stop the others nor the e-mail
    of what was written; the job then fails with WeeklyReportError, so the failure is recorded and seen."""
    from monitor.reports import previous_full_week, write_weekly
    from monitor.reports.delivery import deliver_week

    period = previous_full_week(None, DEFAULT_TIMEZONE)
    failures: dict[str, Exception] = {}
    written = write_weekly(database, reports_dir(settings, db_path), period, lang=settings.report.lang,
                           settings=settings.report, failures=failures)
    for fmt, exc in failures.items():
        log.error("weekly report format not written", exc_info=exc, extra={"week": period.label, "format": fmt})
    deliver_week(database, settings, period, written)
    if failures:
        raise WeeklyReportError("; ".join(f"{fmt}: {type(exc).__name__}: {exc}" for fmt, exc in failures.items()))
    return [str(p) for p in written]


def report_delivery(database: sqlite_utils.Database, settings: Settings, db_path: str) -> dict[str, object] | None:
    """Every few minutes: send the report e-mails whose retry is due (none due: nothing contacts the server)."""
    from monitor.reports.delivery import send_due

    outcome = send_due(database, settings)
    return outcome.as_dict() if outcome.sent or outcome.retrying or outcome.failed or outcome.uncertain else None


def daily_backup(database: sqlite_utils.Database, settings: Settings, db_path: str) -> str:
    """The SQLite file's daily copy; on PostgreSQL, the note that pg_dump (scheduled by the operator) does it."""
    from monitor.backup import backup, postgresql_refusal

    refusal = postgresql_refusal(db_path)
    if refusal is not None:
        return f"skipped: {refusal}"
    return str(backup(db_path, backups_dir(settings, db_path), keep=settings.backups_keep))


def retention_days() -> int:
    return int(os.environ.get("MONITOR_RETENTION_DAYS", "90"))


def retention(database: sqlite_utils.Database, settings: Settings, db_path: str, *,
              days: int | None = None, now: datetime | None = None) -> dict[str, int]:
    """Forget crawl-run history (and raw page bodies, where a crawler keeps them) older than N days.

    Items and decisions are never touched: they are the record. Crawl runs are operational
    history that otherwise grows by thousands of rows a day.
    """
    days = retention_days() if days is None else days
    cutoff = db.to_iso((now or datetime.now(UTC)) - timedelta(days=days))
    removed: dict[str, int] = {}
    with db.transaction(database) as conn:
        removed["crawl_runs"] = forget_old_runs(conn, cutoff)
        raw_bodies = forget_old_raw_bodies(conn, cutoff)  # None: no optional store of fetched page bodies
        if raw_bodies is not None:
            removed["raw_bodies"] = raw_bodies
    return removed


def spike_check(database: sqlite_utils.Database, settings: Settings, db_path: str) -> dict[str, object] | None:
    """Every minute: evaluate the spike rules (monitor.spikes) and record the spikes that fire. Scheduled on its
    own (Scheduler.spike_check_seconds), with or without the daily jobs: it is monitoring, not upkeep."""
    from monitor.spikes import check

    fired = check(database, settings.spikes) if settings.spikes else []
    return {"fired": [f"{s['rule']}:{s['subject']}" for s in fired]} if fired else None


def default_jobs() -> dict[str, Job]:
    """The scheduler's daily and weekly jobs by name (each job's time is set in monitor/schedule/scheduler.py)."""
    return {"weekly_report": weekly_report, "report_delivery": report_delivery, "backup": daily_backup,
            "retention": retention, "retrain_proposal": propose_retrain}
