"""Whole-database copies at the SQLite level: open, copy page by page, check integrity.

monitor/backup.py decides names, folders, pruning and what an error means; the statements and the
connections they run on are here. These are raw sqlite3 connections to files that may not be the
live database (a backup, a copy being written), so they skip connect()'s migrations and pragmas.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to a database file (a backup to check or restore from)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def integrity_verdict(conn: sqlite3.Connection) -> str:
    """SQLite's integrity check: "ok", or the first problem it found (sqlite3.DatabaseError when the file
    is no database at all)."""
    return conn.execute("PRAGMA integrity_check").fetchone()[0]


def open_for_backup(db_path: Path) -> sqlite3.Connection:
    """A connection to the live database that has read it once, so an error it raises is the database's
    own, not the copy's; it waits for writers like every other connection."""
    source = sqlite3.connect(str(db_path), timeout=30)
    try:
        source.execute("PRAGMA busy_timeout = 30000")
        source.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except BaseException:
        source.close()
        raise
    return source


def copy_into(source: sqlite3.Connection, target: Path) -> None:
    """Copy `source` into the new file `target` in steps (writers are not blocked for the whole copy),
    leaving it a single self-contained file (rollback journal, not WAL)."""
    dest = sqlite3.connect(str(target))
    try:
        source.backup(dest, pages=1024, sleep=0.005)
        dest.execute("PRAGMA journal_mode = DELETE")
    finally:
        dest.close()


def copy_over(backup_path: Path, db_path: Path) -> None:
    """Copy the database file `backup_path` over `db_path`, then fold its write-ahead log in."""
    source = open_readonly(backup_path)
    try:
        dest = sqlite3.connect(str(db_path), timeout=30)
        try:
            source.backup(dest)
            dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dest.close()
    finally:
        source.close()
