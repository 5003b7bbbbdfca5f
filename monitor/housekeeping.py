"""Housekeeping jobs the scheduler runs unattended: weekly report, retrain proposal, backup, retention.

Each job is `job(database, settings, db_path) -> result` so the scheduler can run it, record its
outcome in service_state, and tests can swap any of them for a fake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.config import Settings

log = logging.getLogger("monitor.housekeeping")

Job = Callable[[sqlite_utils.Database, Settings, str], Any]


def data_dir(db_path: str) -> Path:
    return Path(db_path).resolve().parent


def reports_dir(settings: Settings, db_path: str) -> Path:
    return Path(settings.reports_dir) if settings.reports_dir else data_dir(db_path) / "reports"


def backups_dir(settings: Settings, db_path: str) -> Path:
    return Path(settings.backups_dir) if settings.backups_dir else data_dir(db_path) / "backups"


def weekly_report(database: sqlite_utils.Database, settings: Settings, db_path: str) -> list[str]:
    """Monday 07:00 Asia/Ho_Chi_Minh: last week's report files for analysts."""
    from monitor.reports import write_weekly

    return [str(p) for p in write_weekly(database, reports_dir(settings, db_path))]


def daily_backup(database: sqlite_utils.Database, settings: Settings, db_path: str) -> str:
    from monitor.backup import backup

    return str(backup(db_path, backups_dir(settings, db_path), keep=settings.backups_keep))


def default_jobs() -> dict[str, Job]:
    jobs: dict[str, Job] = {"weekly_report": weekly_report, "backup": daily_backup}
    try:
        from monitor.retrain import propose_retrain
    except ImportError:
        pass
    else:
        jobs["retrain_proposal"] = propose_retrain
    return jobs
