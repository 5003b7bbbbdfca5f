"""Storage trouble — a full disk, a file that cannot grow — noticed once and shown everywhere.

A full disk fails every write, including the ones that would record the failure, so a crawl's
"database or disk is full" used to vanish: sources stayed "ok" and were fetched again and again.
What is known about it therefore lives in three places, read together by `status()`:

* this process's own record (the scheduler and `/health` of `monitor run` share a process);
* `service_state['storage_error']`, written when a write still fits, for other processes
  (`monitor status`, `monitor serve`);
* the free space on the database's file system, which another process can see even when
  nothing could be written at all.

A successful crawl write clears the record (`recovered`).

On PostgreSQL the same rule holds for the server's own refusal (SQLSTATE 53100 disk_full, 58030
io_error); the messages name the database URL without its password, and free space is the server's
business (it is not on this machine's file system), so only its errors tell.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import sqlite_utils

import db
from db.state import delete_state, get_state, set_state

log = logging.getLogger("monitor.storage")

REASON = "disk full / cannot write"
STATE_KEY = "storage_error"
# Below this much free space SQLite cannot be relied on to commit a crawl's batch (its WAL grows
# by whole pages, an ingest by hundreds of them): reported as a full disk before a write fails.
MIN_FREE_BYTES = 1024 * 1024

_SQLITE_CODES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY}
_SQLITE_MESSAGES = ("database or disk is full", "disk i/o error", "attempt to write a readonly database")
_POSTGRES_STATES = {"53100", "58030"}  # disk_full, io_error: the server's SQLITE_FULL and SQLITE_IOERR
_OS_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}

_lock = threading.Lock()
_records: dict[str, dict] = {}


def cannot_write(exc: BaseException) -> bool:
    """True when `exc` means the storage refuses writes (full, over quota or a file-size limit,
    read-only, I/O error) — a condition of the machine, not of one source, so crawling backs off
    as a whole instead of failing each source in turn."""
    sqlstate = getattr(exc, "sqlstate", None)  # psycopg's errors carry it; sqlite3's do not
    if sqlstate is not None and isinstance(exc, db.DatabaseError):
        return sqlstate in _POSTGRES_STATES
    if isinstance(exc, sqlite3.DatabaseError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_CODES
        return any(text in str(exc).lower() for text in _SQLITE_MESSAGES)
    return isinstance(exc, OSError) and exc.errno in _OS_ERRNOS


def _key(path: str | None) -> str:
    if path and db.is_url(path):
        return path
    return os.path.realpath(path) if path else ":memory:"


def _where(database: sqlite_utils.Database) -> str | None:
    """The database as the record and the messages name it: the file's path (None in memory), or the
    PostgreSQL URL without its password."""
    location = db.location(database)
    return _shown(location) if location else None


def _shown(path: str) -> str:
    if db.is_url(path):
        from db.postgres import redacted

        return redacted(path)
    return path


def describe(path: str | None, exc: BaseException | str) -> str:
    """The one wording of the error: "disk full / cannot write <path> (<what SQLite, PostgreSQL or the OS
    said>)"; a PostgreSQL URL is named without its password.

    An error that names its own file (`filename`: an OSError's, or the one monitor.backup sets on a SQLite
    error while writing a copy) is about that file, not the database at `path`, so that file is named.
    """
    where = getattr(exc, "filename", None) or (_shown(path) if path else None) or ":memory:"
    return f"{REASON} {where} ({_first_line(exc)})"


def _first_line(exc: BaseException | str) -> str:
    """The error's first line: PostgreSQL's messages go on with DETAIL and HINT lines."""
    return (str(exc).strip().splitlines() or [str(exc)])[0]


def failed(database: sqlite_utils.Database, exc: BaseException) -> str:
    """Record a write that the storage refused; return the message for the run and the source.

    Recorded in this process at once, and in the database if that small write still fits (it
    often does: the WAL reuses its pages), so other processes see it too.
    """
    path = _where(database)
    message = describe(path, exc)
    with _lock:
        record = _records.get(_key(path))
        first = record is None
        if first:
            record = {"reason": REASON, "error": message, "since": db.utcnow(), "path": path}
            _records[_key(path)] = record
        record["error"], record["last_at"] = message, db.utcnow()
    if first:
        log.error("storage refuses writes: crawling backs off until it accepts them again",
                  extra={"error": message})
    try:
        set_state(database, STATE_KEY, json.dumps(record, ensure_ascii=False))
    except db.Error as write_error:
        log.debug("storage error not recorded in the database: %s", write_error)
    return message


def recovered(database: sqlite_utils.Database) -> None:
    """A crawl's writes went through: forget the trouble here and in the database."""
    path = _where(database)
    with _lock:
        had = _records.pop(_key(path), None) is not None
    if had:
        log.warning("storage accepts writes again; crawling resumes")
    try:
        if get_state(database, STATE_KEY) is not None:
            delete_state(database, STATE_KEY)
    except db.Error as exc:
        log.warning("could not clear the recorded storage error: %s", exc)


def free_bytes(path: str | None) -> int | None:
    """Free space for the database's folder (None in memory, on a PostgreSQL server, or when the OS cannot
    say)."""
    if not path or db.is_url(path):
        return None
    try:
        return shutil.disk_usage(Path(path).parent).free
    except OSError:
        return None


def status(database: sqlite_utils.Database) -> dict | None:
    """None when writing works as far as can be told, else {"reason", "error", "since", "seen_by"}.

    `reason` is always REASON (fit for anyone to see); `error` names the file and the cause.
    """
    path = _where(database)
    with _lock:
        record = _records.get(_key(path))
    if record is not None:
        return {**record, "seen_by": "this process"}
    try:
        stored = get_state(database, STATE_KEY)
    except db.Error:
        stored = None
    if stored:
        try:
            return {**json.loads(stored), "reason": REASON, "seen_by": "recorded"}
        except ValueError:
            pass
    return _low_space(path)


def _low_space(path: str | None) -> dict | None:
    """The status for a file system with less than MIN_FREE_BYTES free, else None."""
    free = free_bytes(path)
    if free is not None and free < MIN_FREE_BYTES:
        return {"reason": REASON, "error": describe(path, f"{free} bytes free"), "since": None,
                "path": path, "seen_by": "free space"}
    return None


def problem(path: str | None, exc: BaseException) -> dict | None:
    """What `status()` would say, for a database at `path` that could not even be opened or read.

    On a full disk `monitor serve` (no scheduler holding the database open) cannot open it at all:
    SQLite fails to create the WAL index ("disk I/O error") or the file ("unable to open database
    file"), so `status()` never gets a connection to look with. The same rule applies: the error
    is the storage's (`cannot_write`), or SQLite failed and the disk is visibly full. None for
    anything else (a bug, a missing folder), which callers keep as the error it is.
    """
    if cannot_write(exc):
        return {"reason": REASON, "error": describe(path, exc), "since": None, "path": _shown(path) if path else path,
                "seen_by": "this request"}
    return _low_space(path) if isinstance(exc, db.Error) else None
