"""PostgreSQL storage through psycopg 3, behind the same small interface the SQLite code uses.

The rest of the project talks to a database through `database.conn.execute(sql, params)`,
`database.query(sql, params)` (rows as dicts) and `db.transaction(database)`. SQLite's connection and
sqlite-utils' Database provide those; here `PgDatabase` and `PgConnection` provide them over psycopg, so
each query in `db/` is written once, with `?` placeholders, and runs on both backends. Where the two
dialects differ (full-text search, a date function), the db/ function holds both variants side by side
and picks one with `db.dialect(database)`.

Why a thin adapter and not an ORM or SQLAlchemy Core: the queries already exist, are tuned, and are
plain SQL a reader can run in `psql`; the adapter only rewrites placeholders, so what runs is what is
written.

Transactions: the connection runs in autocommit mode, like the SQLite connections (isolation_level=None),
and `db.transaction` issues BEGIN/COMMIT itself. SQLite's BEGIN IMMEDIATE serialises every writer, and
some code reads then writes inside one transaction relying on that; on PostgreSQL the same guarantee comes
from a transaction-scoped advisory lock (`WRITE_LOCK`), taken by `db.transaction` unless the caller says
its writes are safe concurrently (`exclusive=False`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

# Advisory lock keys (one 64-bit space per database). Named here, the one place for them.
WRITE_LOCK = 0x6D6F6E00_0001  # db.transaction: one writer at a time, as SQLite's BEGIN IMMEDIATE
MIGRATE_LOCK = 0x6D6F6E00_0002  # migrations: one process applies them, the others wait and find them done

CONNECT_TIMEOUT_S = 10


def redacted(url: str) -> str:
    """The URL for messages and logs, without its password."""
    parts = urlsplit(url)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name in _SECRET_PARAMETERS for name, _ in query):  # libpq takes ?password=… too
        shown = [(name, "***" if name in _SECRET_PARAMETERS else value) for name, value in query]
        parts = parts._replace(query=urlencode(shown, safe="/*"))
    return parts.geturl()


_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|::|:[A-Za-z_]\w*|\?|%", re.S)


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """sqlite3's placeholders to psycopg's: `?` to `%s`, `:name` to `%(name)s`, a literal `%` to `%%`.

    psycopg reads `%` everywhere in a query that has parameters (inside string literals too), so every
    `%` is doubled; a `?` or `:name` inside a literal or comment is text and stays, and `::` is a cast."""

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token[0] == ":" and token != "::":
            return f"%({token[1:]})s"
        return token.replace("%", "%%")  # a lone %, or one inside a literal or comment

    return _TOKEN.sub(replace, sql)


class PgConnection:
    """The subset of sqlite3.Connection the project uses, over one psycopg connection."""

    dialect = "postgresql"  # db.dialect() answers for a connection too: functions that take the caller's `conn`

    def __init__(self, raw: psycopg.Connection, url: str):
        self.raw = raw
        self.url = url

    def execute(self, sql: str, params: Sequence[Any] | dict | None = ()) -> psycopg.Cursor:
        return self.raw.execute(to_pyformat(sql), _params(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(to_pyformat(sql), [_params(row) for row in rows])
        return cursor

    def executescript(self, sql: str) -> None:
        """Several statements, no parameters (migrations)."""
        self.raw.execute(sql)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def commit(self) -> None:
        if self.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed


def _params(params: Sequence[Any] | dict | None) -> Sequence[Any] | dict:
    if params is None:
        return ()
    if isinstance(params, dict):
        return params
    return tuple(params)


class PgDatabase:
    """What sqlite_utils.Database offers the project (`conn`, `query`, `execute`), on PostgreSQL."""

    dialect = "postgresql"

    def __init__(self, conn: PgConnection):
        self.conn = conn
        self.url = conn.url

    def query(self, sql: str, params: Sequence[Any] | dict | None = ()) -> Iterator[dict]:
        with self.conn.raw.cursor(row_factory=dict_row) as cursor:
            cursor.execute(to_pyformat(sql), _params(params))
            if cursor.description is None:
                return
            yield from cursor

    def execute(self, sql: str, params: Sequence[Any] | dict | None = ()) -> psycopg.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()

    def close_quietly(self) -> None:
        """Close a connection that may already be broken (a lost leader's, a failed pacer's): never raises."""
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - already broken; the error that led here was logged
            pass

    def __repr__(self) -> str:
        return f"<PgDatabase {redacted(self.url)}>"


def connect(url: str, *, migrate_schema: bool = True, readonly: bool = False) -> PgDatabase:
    """Open a connection (autocommit, UTC, lock timeout like SQLite's busy timeout); migrate unless told not to."""
    from db import BUSY_TIMEOUT_MS

    # a lock is waited for as long as SQLite's busy timeout, then the statement fails
    # plan_cache_mode: psycopg prepares a statement run five times, and PostgreSQL then drifts to a generic plan,
    # which cannot tell a common search word (walk the newest items) from a rare one (take the GIN index): 0.6 s
    # instead of 20 ms at a million items. Custom plans always; the statements stay parsed once.
    options = f"-c timezone=UTC -c lock_timeout={BUSY_TIMEOUT_MS} -c plan_cache_mode=force_custom_plan"
    if readonly:
        options += " -c default_transaction_read_only=on"
    raw = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, options=options)
    database = PgDatabase(PgConnection(raw, url))
    if migrate_schema and not readonly:
        migrate(database)
    return database


def database_name(url: str) -> str:
    """The database a URL names (libpq's rules: the path, or a dbname parameter), without connecting."""
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(url).get("dbname") or "")


def has_schema(database: PgDatabase) -> bool:
    """Whether migrations have ever run here (the schema_version table exists)."""
    row = database.conn.execute("SELECT to_regclass('schema_version')").fetchone()
    return row[0] is not None


def migrate(database: PgDatabase) -> list[str]:
    """Apply every PostgreSQL migration newer than the recorded version, each whole or not at all.

    Many processes start at once on a shared server (scheduler, workers, web): a session advisory lock lets
    one apply the migrations while the others wait, then find nothing left to do."""
    from db import numbered_migrations, utcnow

    raw = database.conn.raw
    raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        raw.execute("CREATE TABLE IF NOT EXISTS schema_version "
                    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        applied = {row[0] for row in raw.execute("SELECT version FROM schema_version")}
        done = []
        for number, name, sql in numbered_migrations("migrations_postgresql"):
            if number in applied:
                continue
            with raw.transaction():
                raw.execute(sql)
                raw.execute("INSERT INTO schema_version VALUES (%s, %s, %s)", (number, name, utcnow()))
            done.append(name)
        return done
    finally:
        raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
