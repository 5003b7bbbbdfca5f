"""Online backups with SQLite's backup API, and restore.

The backup API copies a consistent snapshot while the service keeps writing (a plain file copy
of a WAL database can capture a torn state). Each backup is checked before older ones are pruned,
so a broken copy never replaces a good one.

A PostgreSQL database is not a file: it is backed up with PostgreSQL's own pg_dump and pg_restore (or
the server's base backups), which the operator schedules; `monitor backup` and `monitor restore` refuse
it with one line saying so, and the scheduler's daily backup leaves it to them.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import db
from db import copies

log = logging.getLogger("monitor.backup")

PREFIX = "monitor-backup-"
SUFFIX = ".db"
STAMP = "%Y%m%dT%H%M%SZ"
# Only files this module wrote are ever pruned: the marker, a time stamp and nothing else. A looser
# match (`monitor-*.db`) once deleted a live database that lived in the backup folder.
BACKUP_NAME = re.compile(rf"{re.escape(PREFIX)}\d{{8}}T\d{{6}}Z{re.escape(SUFFIX)}")
PARTIAL_NAME = re.compile(rf"{re.escape(PREFIX)}(\d{{8}}T\d{{6}}Z)\.partial")
# A copy being written is named .partial until it is checked. One left behind this long was cut off (the
# process killed); a younger one may be a backup running now, so it is left alone.
STALE_PARTIAL = timedelta(days=1)
# SQLite's own files beside a copy being written: a failed write can leave its rollback journal behind.
_COMPANIONS = ("", "-journal", "-wal", "-shm")


class BackupError(RuntimeError):
    """A backup or restore could not be made or failed its integrity check."""


def postgresql_refusal(target: str | Path) -> str | None:
    """The one-line refusal for a PostgreSQL URL (named without its password), None for a SQLite file."""
    if not db.is_url(str(target)):
        return None
    from db.postgres import redacted

    return (f"{redacted(str(target))} is a PostgreSQL database: back it up with pg_dump (for example "
            "pg_dump --format=custom --file=monitor.dump \"$MONITOR_DB\") and restore with pg_restore; "
            "`monitor backup` copies SQLite files only")


def _only_sqlite(target: str | Path) -> None:
    refusal = postgresql_refusal(target)
    if refusal is not None:
        raise BackupError(refusal)


def _check(path: Path) -> None:
    conn = copies.open_readonly(path)
    try:
        verdict = copies.integrity_verdict(conn)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a usable SQLite database ({exc})") from None
    finally:
        conn.close()
    if verdict != "ok":
        raise BackupError(f"{path}: integrity check failed: {verdict}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # either one missing
        return False


def list_backups(folder: str | Path, *, exclude: str | Path | None = None) -> list[Path]:
    """Backups this module wrote in `folder`, oldest first (names sort by their UTC time stamp).

    `exclude` is the database in use: even if it is named like a backup (a backup restored and used
    in place), it is never listed, so never pruned.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = (p for p in folder.iterdir() if BACKUP_NAME.fullmatch(p.name) and p.is_file())
    return sorted(p for p in found if exclude is None or not _same_file(p, Path(exclude)))


def backup(db_path: str | Path, folder: str | Path, *, keep: int = 7, now: datetime | None = None) -> Path:
    """Copy the live database to `folder/monitor-backup-YYYYMMDDTHHMMSSZ.db`, verify it, keep the newest `keep`.

    Pruning touches only files named exactly like a backup, and never `db_path` itself.
    """
    _only_sqlite(db_path)
    db_path = Path(db_path)
    if not db_path.exists():
        raise BackupError(f"{db_path}: no such database")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime(STAMP)
    target = folder / f"{PREFIX}{stamp}{SUFFIX}"
    if _same_file(target, db_path):
        raise BackupError(f"{target}: is the database being backed up; choose another --dir")
    partial = target.with_suffix(".partial")
    source = copies.open_for_backup(db_path)  # read once now: its errors are the database's
    try:
        try:
            _copy(source, partial)
            _check(partial)
            os.replace(partial, target)
        except BaseException as exc:
            _discard(partial)  # a half-written copy is no backup, and nothing else would ever remove it
            if isinstance(exc, sqlite3.Error):  # the file it failed on: storage.describe names it, not db_path
                exc.filename = str(target)  # type: ignore[attr-defined]
            raise
    finally:
        source.close()
    for old in list_backups(folder, exclude=db_path)[:-max(keep, 1)]:
        old.unlink(missing_ok=True)
    _remove_stale_partials(folder, now or datetime.now(UTC))
    log.info("backup written", extra={"path": str(target)})
    return target


def _copy(source: sqlite3.Connection, partial: Path) -> None:
    """Copy `source` into the new file `partial`, in steps so writers are not blocked for the whole copy.

    The source was read before this, so a failure here is the copy's: backup() names the backup in it
    (`filename`, which monitor.storage.describe uses for "disk full / cannot write <file>"), not the database.
    """
    copies.copy_into(source, partial)


def _discard(partial: Path) -> None:
    """Remove a copy that failed, with any file SQLite left beside it; a removal that fails is logged, so the
    error that matters (usually the full disk) is the one raised."""
    for suffix in _COMPANIONS:
        try:
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove a failed backup's file: %s", exc)


def _remove_stale_partials(folder: Path, now: datetime) -> None:
    """Remove copies of this module's naming left by a backup that was killed, once STALE_PARTIAL old."""
    for path in folder.iterdir():
        match = PARTIAL_NAME.fullmatch(path.name)
        if match and path.is_file():
            started = datetime.strptime(match.group(1), STAMP).replace(tzinfo=UTC)
            if now - started > STALE_PARTIAL:
                _discard(path)


def restore(backup_path: str | Path, db_path: str | Path) -> Path:
    """Replace the database with a verified backup. The service must be stopped (checked by the caller)."""
    _only_sqlite(db_path)
    backup_path = Path(backup_path)
    db_path = Path(db_path)
    if not backup_path.exists():
        raise BackupError(f"{backup_path}: no such backup")
    _check(backup_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    copies.copy_over(backup_path, db_path)
    _check(db_path)
    log.info("database restored", extra={"from": str(backup_path), "to": str(db_path)})
    return db_path
