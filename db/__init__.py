"""SQLite storage through sqlite-utils: connection pragmas and numbered migrations.

Every process opens the database with `connect()`, which applies pending migrations,
so an upgraded install migrates itself on start-up and a second start changes nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a connection is made: the parse helpers read to_iso and no more
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
URL_SCHEMES = ("postgresql://", "postgres://")

log = logging.getLogger("db")


def utcnow() -> str:
    """Current time as stored everywhere: UTC ISO 8601 with a Z, second precision."""
    return to_iso(datetime.now(UTC))


def to_iso(moment: datetime) -> str:
    """A datetime as stored text; naive datetimes are taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> datetime:
    """Parse a stored time back to an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def numbered_migrations(folder_name: str = "migrations") -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of each `NNN_*.sql` in a db/ folder, in order: SQLite's `migrations`,
    PostgreSQL's `migrations_postgresql` (numbered per backend)."""
    folder = resources.files("db") / folder_name
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(database: sqlite_utils.Database) -> list[str]:
    """Apply every migration newer than the recorded schema version; return the names applied."""
    conn = database.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
    done = []
    for number, name, sql in numbered_migrations():
        if number in applied:
            continue
        # executescript commits first; wrap the migration so it applies whole or not at all.
        try:
            conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + sql
                + f"\nINSERT OR IGNORE INTO schema_version VALUES ({number}, '{name}', '{utcnow()}');\nCOMMIT;"
            )
        except sqlite3.Error:
            # A failing statement stops the script inside its transaction: undo the part already run
            # instead of leaving the connection holding the write lock with a half-applied schema.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        done.append(name)
    return done


# Driver errors callers catch, as tuples over both backends: `except db.IntegrityError`. psycopg's classes
# join only once psycopg is imported (a SQLite installation never imports it; it costs ~0.3 s).
_DRIVER_ERRORS = ("Error", "DatabaseError", "OperationalError", "IntegrityError")


def __getattr__(name: str):
    if name in _DRIVER_ERRORS:
        pg = sys.modules.get("psycopg")
        return (getattr(sqlite3, name),) + ((getattr(pg, name),) if pg is not None else ())
    raise AttributeError(f"module 'db' has no attribute {name!r}")


def is_url(target: object) -> bool:
    """Whether a --db / MONITOR_DB value names a PostgreSQL database (postgresql://…) rather than a file."""
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


def dialect(database) -> str:
    """"sqlite" or "postgresql": for the few queries that differ, and the features bound to a file.

    Takes a database or a connection (`database.conn`, the `conn` of a transaction)."""
    return getattr(database, "dialect", "sqlite")


def location(database) -> str | None:
    """What another connection opens to reach the same data: the file's path, or the PostgreSQL URL."""
    return database.url if dialect(database) == "postgresql" else file_path(database)


def connect(path: str | Path, *, migrate_schema: bool = True, readonly: bool = False):
    """Open the database: a postgresql:// URL through db.postgres, otherwise a SQLite file with WAL,
    foreign keys and a busy timeout. Migrate unless told not to."""
    if is_url(path):
        from db import postgres

        return postgres.connect(path, migrate_schema=migrate_schema, readonly=readonly)
    path = Path(path)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                               isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    import sqlite_utils

    database = sqlite_utils.Database(conn)
    if migrate_schema and not readonly:
        migrate(database)
    return database


def file_path(database: sqlite_utils.Database) -> str | None:
    """The main database file's path (None in memory or on PostgreSQL): for worker connections and for
    messages that must name the file, such as "disk full / cannot write <path>"."""
    if dialect(database) != "sqlite":
        return None
    for _, name, path in database.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return path or None
    return None


def schema_version(database: sqlite_utils.Database) -> int:
    row = database.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


class transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error.

    Taking the write lock up front (rather than upgrading a read lock mid-transaction)
    is what lets many writers wait on the busy timeout instead of failing with
    "database is locked". Nested use joins the outer transaction.

    On PostgreSQL the same guarantee is a transaction-scoped advisory lock (db.postgres.WRITE_LOCK);
    `exclusive=False` leaves it out for writes that are safe concurrently (unique keys, ON CONFLICT).
    """

    def __init__(self, database: sqlite_utils.Database, *, exclusive: bool = True):
        self.conn = database.conn
        self.postgres = dialect(database) == "postgresql"
        self.exclusive = exclusive
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.conn.in_transaction
        if self.outer and self.postgres:
            self.conn.execute("BEGIN")
            if self.exclusive:
                from db.postgres import WRITE_LOCK

                self.conn.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK])
        elif self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (a deferred constraint, disk full) leaves the transaction open; roll it
                # back so the caller's retry starts a fresh one instead of silently joining this one.
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        """Roll back, never raising: the error that led here is the one the caller must see.

        On some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) SQLite has already rolled back by
        itself, and a ROLLBACK of ours would fail with "cannot rollback - no transaction is active",
        replacing "database or disk is full" in every message and log line.
        """
        if not self.conn.in_transaction:
            return
        try:
            self.conn.execute("ROLLBACK")
        except __getattr__("Error") as exc:
            log.warning("rollback failed after an error: %s", exc)
