"""Who may run: one scheduler per database (SchedulerLock) and the process owning each crawl run.

Both rest on kernel file locks, which die with their process, even on kill -9: nothing stale is left
for a restart to time out, so a crash is recovered the moment the next process starts.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import threading
from pathlib import Path

import sqlite_utils

import db
from db.sources import close_interrupted_runs, running_runs

log = logging.getLogger("monitor.scheduler")


# --------------------------------------------------------------------------- single-instance lock


class AlreadyRunning(RuntimeError):
    """Another process already schedules this database."""


class SchedulerLock:
    """An exclusive fcntl lock on `<database>.lock`, held for the life of the process.

    The kernel drops the lock when the process dies — even on kill -9 — so a crash never
    leaves a stale lock behind, unlike a pid file or a lease row that must time out.
    """

    def __init__(self, db_path: str | Path):
        self.path = Path(str(db_path) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> SchedulerLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                os.close(fd)
                raise
            try:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise AlreadyRunning(
                f"another scheduler ({holder}) is already running on {self.path.with_suffix('')}; "
                "stop it first (only one `monitor run` per database)") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} since {db.utcnow()}".encode())
            os.fsync(fd)
        except OSError as exc:  # a full or read-only disk: name the file (os.write knows no path), drop the lock
            os.close(fd)
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def is_held_elsewhere(self) -> bool:
        """True when some process (not this object) holds the lock: e.g. `monitor restore` checks it."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def __enter__(self) -> SchedulerLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# --------------------------------------------------------------------------- who owns a crawl run

RUNS_LOCK_SUFFIX = ".runs.lock"
_OWNER_PATTERN = re.compile(r"pid (\d+)")
# (pid, lock file) → [descriptor, runs open]. One descriptor per process and file, closed only when
# the process has no run open on that database: closing any descriptor of a file drops all of the
# process's POSIX locks on it.
_owners: dict[tuple[int, str], list[int]] = {}
_owners_lock = threading.Lock()


def _runs_lock_path(db_path: str) -> str:
    return os.path.realpath(db_path) + RUNS_LOCK_SUFFIX


def claim_run(db_path: str | None) -> str | None:
    """Before opening a crawl run: the owner to record on it ("pid N"), None in memory.

    While this process has runs open on the database it holds a POSIX lock on byte <pid> of
    `<database>.runs.lock`. The kernel drops it when the process dies, even on kill -9, so a lock
    another process can take means the run's process is gone (and a reused pid is not mistaken for
    a crawler unless it took the lock itself). Pair with `release_run`.
    """
    if not db_path:
        return None
    key = (os.getpid(), _runs_lock_path(db_path))
    with _owners_lock:
        held = _owners.get(key)
        if held is None:
            try:
                fd = os.open(key[1], os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:  # runs stay unowned: the next start closes them, as before owners
                log.warning("crawl runs not marked with their process: %s", exc)
                return None
            try:
                # Blocking: the only other holder of this byte is a prober, for microseconds.
                fcntl.lockf(fd, fcntl.LOCK_EX, 1, os.getpid())
            except OSError as exc:
                os.close(fd)
                log.warning("crawl runs not marked with their process: %s", exc)
                return None
            held = _owners[key] = [fd, 0]
        held[1] += 1
    return f"pid {os.getpid()}"


def release_run(db_path: str | None, owner: str | None) -> None:
    """After closing a crawl run claimed with `claim_run`."""
    if not db_path or not owner:
        return
    key = (os.getpid(), _runs_lock_path(db_path))
    with _owners_lock:
        held = _owners.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _owners[key]
            os.close(held[0])


def owner_alive(db_path: str | None, owner: str | None) -> bool:
    """True while the process that recorded `owner` on a run is alive (this process always is).
    Runs without an owner come from before owners were recorded, or from an in-memory database."""
    match = _OWNER_PATTERN.fullmatch(owner or "")
    if not match or not db_path:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    key = (os.getpid(), _runs_lock_path(db_path))
    with _owners_lock:
        held = _owners.get(key)
        try:
            fd = held[0] if held else os.open(key[1], os.O_RDWR)
        except FileNotFoundError:  # no process ever marked a run here: its owner is gone
            return False
        except OSError as exc:  # cannot tell (permissions): keep the run rather than close a live one
            log.warning("cannot check whether crawl run owner %s is alive: %s", owner, exc)
            return True
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, pid)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    return True
                raise
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, pid)
            return False
        finally:
            if held is None:
                os.close(fd)  # this process holds no lock on the file: nothing of ours is dropped


# On PostgreSQL the crawling processes are on several machines, so no file lock can tell who is alive: a
# `monitor worker` names itself (its heartbeat id, db.workers) and its runs are alive while it beats.
_process_owner: str | None = None


def set_process_owner(owner: str | None) -> None:
    """The name a distributed worker records on the crawl runs it opens on PostgreSQL (its heartbeat id)."""
    global _process_owner
    _process_owner = owner


def claim_run_on(database: sqlite_utils.Database) -> str | None:
    """`claim_run` for a database: the file lock's owner on SQLite, this worker's heartbeat id on PostgreSQL."""
    if db.dialect(database) == "postgresql":
        return _process_owner
    return claim_run(db.file_path(database))


def _run_owner_alive(database: sqlite_utils.Database, path: str | None, owner: str | None) -> bool:
    if db.dialect(database) == "postgresql":
        from db.workers import alive

        return owner is not None and (owner == _process_owner or alive(database, owner))
    return owner_alive(path, owner)


def recover_interrupted_runs(database: sqlite_utils.Database) -> int:
    """Close the crawl runs a killed process left 'running' (the one place for it: `monitor run` and
    `monitor crawl` call it on start, the active scheduler on PostgreSQL every few seconds). A run whose
    process is alive — another `monitor crawl`, a `monitor run`, a beating `monitor worker` — is left
    alone: liveness is the kernel's lock of `run_owner`, as for SchedulerLock, or the worker's heartbeat."""
    path = db.file_path(database)
    dead = [run_id for run_id, owner in running_runs(database) if not _run_owner_alive(database, path, owner)]
    closed = close_interrupted_runs(database, dead) if dead else 0
    if closed:
        log.warning("closed interrupted crawl runs", extra={"count": closed})
    return closed
