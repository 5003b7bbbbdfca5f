"""The unattended scheduler: one APScheduler job per source, heartbeat, reload, single-instance lock.

No parsing or fetching here — a job calls the crawler's `crawl_source` and then decides when the
source should next be polled (adaptive interval, failure back-off, feed TTL / cache hints).
Nobody watches this code run, so every decision it takes is written to the database where
`/health`, the sources page and `monitor status` can show it.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import hashlib
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

import db
from db.sources import close_interrupted_runs, running_runs, sync_sources
from monitor import config as config_module
from monitor import storage
from monitor.config import ConfigError, FeedsConfig, Settings, SourceConfig
from monitor.domain import DEFAULT_TIMEZONE

if TYPE_CHECKING:
    from monitor.fetch import Fetcher

log = logging.getLogger("monitor.scheduler")

HEARTBEAT_KEY = "scheduler_heartbeat"
STATUS_KEY = "scheduler_status"
AUDIT_CHECKPOINT_SECONDS = 3600  # a signed checkpoint of the decision log (db.decisions.checkpoint)
CONFIG_ERROR_KEY = "config_error"
SCORER_ERROR_KEY = "scorer_error"
SCORER_RETRY_SECONDS = 300
MAX_BACKOFF_SECONDS = 24 * 3600  # a failing source is retried at least once a day
MAX_JITTER_SECONDS = 120
STORAGE_BACKOFF_SECONDS = 60  # first wait after the storage refused a write (disk full), doubling
STORAGE_MAX_BACKOFF_SECONDS = 3600
SOURCE_JOB_PREFIX = "source:"


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


# --------------------------------------------------------------------------- interval policy


@dataclass
class IntervalBounds:
    base: int
    minimum: int
    maximum: int
    adaptive: bool


def bounds_for(source: SourceConfig) -> IntervalBounds:
    """Configured interval and the adaptive range (default: a quarter to four times the interval)."""
    base = source.interval_seconds
    opts = source.options or {}
    adaptive = bool(opts.get("adaptive", False))
    minimum = _seconds(opts.get("min_interval"), max(config_module.MIN_INTERVAL_SECONDS, base // 4))
    maximum = _seconds(opts.get("max_interval"), base * 4)
    minimum = min(minimum, base)
    maximum = max(maximum, base)
    return IntervalBounds(base=base, minimum=minimum, maximum=maximum, adaptive=adaptive)


def _seconds(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return config_module.parse_interval(value)
    except ValueError:
        return default


def _hint_seconds(result: Any) -> int | None:
    """The longest "don't come back before" the source gave, the one place its hints meet: the feed's TTL
    (read by the parser), the response's Cache-Control/Expires lifetime (FetchResult.cache_seconds) and
    Retry-After, all carried on the crawl result."""
    hints = []
    for name in ("ttl_seconds", "cache_seconds", "retry_after"):
        value = getattr(result, name, None)
        if isinstance(value, (int, float)) and value > 0:
            hints.append(int(value))
    return max(hints) if hints else None


def backoff_seconds(interval: int, failures: int, retry_after: float | None = None) -> float:
    """Delay before the next attempt after `failures` consecutive failures: doubling, capped at a day.

    The one back-off policy for a failing source. A server's Retry-After wins when it asks for longer.
    """
    if failures <= 0:
        delay = float(interval)
    else:
        delay = min(float(interval) * (2 ** min(failures, 16)), MAX_BACKOFF_SECONDS)
        delay = max(delay, float(interval))
    if retry_after:
        delay = max(delay, retry_after)
    return delay


def next_interval(bounds: IntervalBounds, current: int | None, result: Any, consecutive_failures: int) -> int:
    """Seconds until the next poll of a source, given what the last crawl found.

    * failures: exponential back-off from the configured interval, capped (the crawler counts
      failures and pauses the source after N; a paused source is not polled at all);
    * adaptive sources (Miniflux/Media Cloud style): mostly new entries → poll sooner,
      mostly seen or not modified → later, within [min_interval, max_interval];
    * feed TTL, HTTP cache lifetime and Retry-After are honoured as a floor, capped by the
      upper bound so a misconfigured feed cannot silence itself for a month.
    """
    current = current or bounds.base
    status = getattr(result, "status", "ok")
    if status == "error" or consecutive_failures > 0:
        return int(backoff_seconds(bounds.base, max(consecutive_failures, 1), getattr(result, "retry_after", None)))
    if bounds.adaptive:
        found = int(getattr(result, "found", 0) or 0)
        new = int(getattr(result, "new", 0) or 0)
        if status == "not_modified" or (found > 0 and new == 0):
            interval = current * 1.5
        elif found > 0 and new / found >= 0.5:
            interval = current * 0.6
        elif found > 0 and new / found < 0.2:
            interval = current * 1.2
        else:
            interval = current
        interval = int(min(max(interval, bounds.minimum), bounds.maximum))
    else:
        interval = bounds.base
    hint = _hint_seconds(result)
    if hint:
        interval = max(interval, min(hint, bounds.maximum))
    return int(interval)


def jitter_for(interval: float) -> int:
    """Spread polls of many sources so they do not all hit at the top of the hour."""
    return int(min(max(interval * 0.1, 0), MAX_JITTER_SECONDS))


# --------------------------------------------------------------------------- the scheduler


CrawlFunction = Callable[..., Any]  # as crawl_source: (database, source, settings, scorer, *, fetcher)


def _default_crawl() -> CrawlFunction:
    from monitor.crawl import crawl_source

    return crawl_source


def _default_scorer() -> Any:
    """The registry's active classifier, followed as versions are promoted; without one, items are stored unscored."""
    try:
        from monitor.scoring import ActiveScorer

        return ActiveScorer()
    except (ImportError, OSError, ValueError) as exc:
        log.warning("classifier not available: items will be stored unscored (%s)", exc)
        return None


@dataclass
class ReloadResult:
    ok: bool
    error: str | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


class Scheduler:
    """Polls every enabled source on its own schedule in a bounded thread pool.

    Each worker thread keeps its own SQLite connection (a connection is not shared across
    threads mid-transaction); writers queue on the busy timeout behind BEGIN IMMEDIATE.
    """

    def __init__(self, db_path: str | Path, feeds_path: str | Path | None = None, *,
                 config: FeedsConfig | None = None, crawl: CrawlFunction | None = None,
                 scorer: Any = None, scorer_factory: Callable[[], Any] | None = None,
                 heartbeat_seconds: float = 5.0, reconcile_seconds: float = 5.0,
                 interval_scale: float = 1.0, housekeeping: bool = True,
                 housekeeping_jobs: dict[str, Callable[..., Any]] | None = None,
                 first_run_spread: float = 10.0):
        self.db_path = str(db_path)
        self.feeds_path = str(feeds_path) if feeds_path else None
        if config is None:
            if not self.feeds_path:
                raise ValueError("a feeds path or a config is required")
            config = config_module.load(self.feeds_path)
        self.config = config
        self._crawl = crawl
        self._scorer = scorer
        self._scorer_factory = scorer_factory or _default_scorer
        self._scorer_lock = threading.Lock()
        self._scorer_retry_at = 0.0
        self._fetcher: Fetcher | None = None
        self._fetcher_settings: Settings | None = None
        self._old_fetchers: list[Fetcher] = []
        self.heartbeat_seconds = heartbeat_seconds
        self.reconcile_seconds = reconcile_seconds
        self.interval_scale = interval_scale
        self.housekeeping = housekeeping
        self.housekeeping_jobs = housekeeping_jobs
        self.first_run_spread = first_run_spread
        self._local = threading.local()
        self._connections: list[sqlite_utils.Database] = []
        self._connections_lock = threading.Lock()
        self._owners: dict[int, int] = {}
        self._busy_long: set[int] = set()
        self._counts_lock = threading.Lock()
        self._waiting = 0
        self._running = 0
        self._idle = threading.Condition(self._counts_lock)
        self._stopping = threading.Event()
        self._service_lock = threading.RLock()
        self._paused_seen: dict[str, bool] = {}
        self._storage_lock = threading.Lock()
        self._storage_delay = 0.0  # seconds of the current storage back-off; 0: the storage is fine
        self._storage_until = 0.0  # time.monotonic() before which no crawl starts
        self._storage_probing = False
        self._source_ids: dict[str, int] = {}
        self._config_signature = self._signature()
        self._config_error: str | None = None
        self.started_at: str | None = None
        self._aps: BackgroundScheduler | None = None

    # -- plumbing ------------------------------------------------------------------------

    def database(self) -> sqlite_utils.Database:
        """This thread's connection to the database, opened once per thread."""
        database = getattr(self._local, "database", None)
        if database is None:
            database = db.connect(self.db_path, migrate_schema=False)
            self._local.database = database
            with self._connections_lock:
                self._connections.append(database)
                self._owners[id(database)] = threading.get_ident()
        return database

    @property
    def crawl(self) -> CrawlFunction:
        if self._crawl is None:
            self._crawl = _default_crawl()
        return self._crawl

    def fetcher(self) -> Fetcher:
        """The fetcher shared by every crawl, so per-host pacing and robots.txt caches span all sources;
        replaced (the old one kept for in-flight crawls) when the settings change on reload."""
        with self._scorer_lock:
            settings = self.config.settings
            if self._fetcher is None or self._fetcher_settings != settings:
                from monitor.fetch import Fetcher

                if self._fetcher is not None:
                    self._old_fetchers.append(self._fetcher)  # in-flight crawls may still use it
                self._fetcher = Fetcher(settings)
                self._fetcher_settings = copy.deepcopy(settings)
            return self._fetcher

    @property
    def scorer(self) -> Any:
        """The classifier, loaded on first use.

        If it cannot be loaded the crawl goes on unscored (losing items would be worse than
        storing them unscored) and the load is retried every few minutes; the error is kept in
        service_state 'scorer_error' so /health and the sources page show it.
        """
        with self._scorer_lock:
            if self._scorer is None and self._scorer_factory is not None \
                    and time.monotonic() >= self._scorer_retry_at:
                try:
                    self._scorer = self._scorer_factory()
                except Exception as exc:  # noqa: BLE001 - see docstring
                    self._scorer_retry_at = time.monotonic() + SCORER_RETRY_SECONDS
                    message = f"{type(exc).__name__}: {exc}"[:500]
                    log.error("classifier could not be loaded; storing items unscored", extra={"error": message})
                    set_state(self.database(), SCORER_ERROR_KEY, message)
                else:
                    self._scorer_factory = None
                    delete_state(self.database(), SCORER_ERROR_KEY)
            return self._scorer

    def _signature(self) -> str | None:
        if not self.feeds_path:
            return None
        try:
            return hashlib.sha256(Path(self.feeds_path).read_bytes()).hexdigest()
        except OSError:
            return None

    def _scaled(self, seconds: float) -> float:
        return max(seconds * self.interval_scale, 0.05)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Mirror the sources into the database, recover from a crash, schedule everything."""
        database = db.connect(self.db_path)  # migrations once, in this thread
        self._local.database = database
        with self._connections_lock:
            self._connections.append(database)
        self._source_ids = sync_sources(database, self.config.sources)
        recover_interrupted_runs(database)
        workers = max(1, int(self.config.settings.workers or 1))
        self._aps = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(workers),
                "housekeeping": ThreadPoolExecutor(2),
                "long": ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._aps.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
                               | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        for source in self.config.sources:
            if source.enabled:
                self._add_source_job(source, first=True)
        self._aps.add_job(self.heartbeat, IntervalTrigger(seconds=self.heartbeat_seconds), id="heartbeat",
                          executor="housekeeping", misfire_grace_time=None, next_run_time=datetime.now(UTC))
        self._aps.add_job(self.reconcile, IntervalTrigger(seconds=self.reconcile_seconds), id="reconcile",
                          executor="housekeeping", misfire_grace_time=None)
        if self.housekeeping:
            self._add_housekeeping_jobs()
            self._aps.add_job(self.audit_checkpoint, kwargs={"rekey": True}, id="audit_checkpoint_start",
                              executor="housekeeping", misfire_grace_time=None)  # once, now
            self._aps.add_job(self.audit_checkpoint, IntervalTrigger(seconds=AUDIT_CHECKPOINT_SECONDS),
                              id="audit_checkpoint", executor="housekeeping", misfire_grace_time=None)
        self.started_at = db.utcnow()
        self._aps.start()
        log.info("scheduler started", extra={"sources": len(self.config.sources), "workers": workers})

    def stop(self, timeout: float = 8.0) -> bool:
        """Take no new work and wait up to `timeout` s for in-flight crawls; True when all finished.

        A crawl still running after that is abandoned: its transaction was never committed, so
        SQLite rolls it back and the next start re-crawls the source (dedup keeps it exact).
        """
        self._stopping.set()
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            finished = self._running == 0
        # Heartbeat, reconcile and reload hold this lock while they use their connections.
        if finished and not self._service_lock.acquire(timeout=max(deadline - time.monotonic(), 0.5)):
            finished_light = False
        else:
            finished_light = finished
        if finished_light:
            try:
                self._write_status(self.database(), stopped=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                log.exception("could not record the scheduler stop")
            for fetcher in [self._fetcher, *self._old_fetchers]:
                if fetcher is not None:
                    try:
                        fetcher.close()
                    except Exception:  # noqa: BLE001
                        pass
            self._fetcher, self._old_fetchers = None, []
            with self._connections_lock:
                keep = [d for d in self._connections if self._owners.get(id(d)) in self._busy_long]
                for database in self._connections:
                    if database in keep:
                        continue
                    try:
                        database.conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                self._connections = keep
            self._service_lock.release()
        log.info("scheduler stopped", extra={"finished": finished})
        return finished

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    def wait_idle(self, timeout: float) -> bool:
        """For tests: wait until no crawl is queued or running."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running > 0 or self._waiting > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- jobs ------------------------------------------------------------------------------

    def _job_id(self, name: str) -> str:
        return SOURCE_JOB_PREFIX + name

    def _add_source_job(self, source: SourceConfig, *, first: bool = False) -> None:
        assert self._aps is not None
        database = self.database()
        row = database.conn.execute(
            "SELECT effective_interval_seconds, next_run_at, consecutive_failures FROM sources WHERE name = ?",
            (source.name,)).fetchone()
        bounds = bounds_for(source)
        interval = bounds.base
        next_run = None
        if row:
            if row[0] and bounds.adaptive:
                interval = min(max(int(row[0]), bounds.minimum), bounds.maximum)
            elif row[0] and row[2]:
                interval = int(row[0])  # keep the back-off across a restart
            if row[1]:
                try:
                    next_run = db.from_iso(row[1])
                except ValueError:
                    next_run = None
        now = datetime.now(UTC)
        scaled = self._scaled(interval)
        if next_run is None or next_run < now or next_run > now + timedelta(seconds=scaled * 1.5):
            # Never crawled, overdue after downtime, or a stale far-future time: run soon, spread out.
            next_run = now + timedelta(seconds=random.uniform(0, min(self.first_run_spread, scaled)))
        self._aps.add_job(
            self.run_source, IntervalTrigger(seconds=scaled, jitter=jitter_for(scaled) or None),
            args=[source.name], id=self._job_id(source.name), name=source.name, replace_existing=True,
            next_run_time=next_run, misfire_grace_time=max(int(scaled), 1), coalesce=True, max_instances=1)

    def _add_housekeeping_jobs(self) -> None:
        assert self._aps is not None
        jobs = self.housekeeping_jobs
        if jobs is None:
            from monitor import housekeeping

            jobs = housekeeping.default_jobs()
        self.housekeeping_jobs = jobs
        triggers = {
            "weekly_report": CronTrigger(day_of_week="mon", hour=7, minute=0, timezone=DEFAULT_TIMEZONE),
            "retrain_proposal": CronTrigger(hour=2, minute=30, timezone=DEFAULT_TIMEZONE),
            "backup": CronTrigger(hour=3, minute=15, timezone=DEFAULT_TIMEZONE),
            "retention": CronTrigger(hour=4, minute=0, timezone=DEFAULT_TIMEZONE),
        }
        for name in jobs:
            trigger = triggers.get(name)
            if trigger is None:
                continue
            self._aps.add_job(self._housekeeping, trigger, args=[name], id=f"housekeeping:{name}", name=name,
                              executor="long", misfire_grace_time=6 * 3600, coalesce=True, max_instances=1)

    def _housekeeping(self, name: str) -> Any:
        assert self.housekeeping_jobs is not None
        # Not under the service lock: a long report or retrain must not hold up the heartbeat.
        # Its thread is marked busy so stop() leaves that thread's connection open.
        if self._stopping.is_set():
            return None
        with self._connections_lock:
            self._busy_long.add(threading.get_ident())
        try:
            return self._run_housekeeping(name)
        finally:
            with self._connections_lock:
                self._busy_long.discard(threading.get_ident())

    def _run_housekeeping(self, name: str) -> Any:
        assert self.housekeeping_jobs is not None
        function = self.housekeeping_jobs[name]
        started = time.monotonic()
        try:
            outcome = function(self.database(), self.config.settings, self.db_path)
        except Exception as exc:
            log.exception("housekeeping job failed", extra={"job": name})
            set_state(self.database(), f"housekeeping:{name}",
                      json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}", "at": db.utcnow()}))
            raise
        set_state(self.database(), f"housekeeping:{name}",
                  json.dumps({"ok": True, "result": outcome, "at": db.utcnow(),
                              "seconds": round(time.monotonic() - started, 2)}, default=str, ensure_ascii=False))
        log.info("housekeeping job done", extra={"job": name})
        return outcome

    def run_now(self, name: str) -> None:
        """Make a source's job due now (used after `sources resume` and by tests)."""
        if self._aps is not None:
            job = self._aps.get_job(self._job_id(name))
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    def run_source(self, name: str) -> Any:
        """One scheduled crawl of one source, then the decision on when to come back."""
        with self._idle:
            # May go below zero for a moment: APScheduler announces a submission after handing
            # the run to the pool, so a quick run can start before its "submitted" event.
            self._waiting -= 1
            self._running += 1
        try:
            if self._stopping.is_set():
                return None
            return self._crawl_and_reschedule(name)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _crawl_and_reschedule(self, name: str) -> Any:
        try:
            source = self.config.source(name)
        except KeyError:
            return None
        database = self.database()
        row = database.conn.execute("SELECT id, paused, consecutive_failures, effective_interval_seconds "
                                    "FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        source_id, paused = row[0], bool(row[1])
        if paused:
            # Auto-paused by the crawler (N consecutive failures) or by an operator: not polled
            # until `monitor sources resume`; reconcile() notices the resume and runs it at once.
            self._paused_seen[name] = True
            return None
        turn = self._storage_turn()
        if turn is None:
            return None  # the storage refuses writes: nothing is fetched that could not be stored
        started = time.monotonic()
        try:
            result = self.crawl(database, source, self.config.settings, self.scorer, fetcher=self.fetcher())
        except Exception as exc:
            self._storage_after(turn, storage.cannot_write(exc), False)
            raise
        self._storage_after(turn, bool(getattr(result, "storage_full", False)),
                            getattr(result, "status", "ok") in ("ok", "not_modified"))
        after = database.conn.execute("SELECT consecutive_failures, paused FROM sources WHERE id = ?",
                                      (source_id,)).fetchone()
        failures = int(after[0]) if after else 0
        if after and after[1]:
            self._paused_seen[name] = True
        bounds = bounds_for(source)
        interval = next_interval(bounds, row[3], result, failures)
        new = int(getattr(result, "new", 0) or 0)
        now_text = db.utcnow()
        next_at = db.to_iso(datetime.now(UTC) + timedelta(seconds=self._scaled(interval)))
        try:
            with db.transaction(database) as conn:
                conn.execute("UPDATE sources SET effective_interval_seconds = ?, next_run_at = ?,"
                             " last_new_item_at = CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END WHERE id = ?",
                             (interval, next_at, new, now_text, source_id))
        except sqlite3.Error as exc:
            if not storage.cannot_write(exc):
                raise
            self._storage_after("normal", True, False)  # the job's own interval below still applies
        job_interval = self._scaled(interval)
        if self._aps is not None and self._aps.running and not self._stopping.is_set():
            job = self._aps.get_job(self._job_id(name))
            if job is not None and abs(job.trigger.interval.total_seconds() - job_interval) > 0.01:
                self._aps.reschedule_job(self._job_id(name), trigger=IntervalTrigger(
                    seconds=job_interval, jitter=jitter_for(job_interval) or None))
        log.info("crawled source", extra={
            "source": name, "source_id": source_id, "status": getattr(result, "status", None),
            "new": new, "seen": getattr(result, "seen", None), "error": getattr(result, "error", None),
            "next_interval": interval, "seconds": round(time.monotonic() - started, 3)})
        return result

    # -- storage back-off: a full disk stops all crawling, not one source at a time -------------

    def _storage_turn(self) -> str | None:
        """May a crawl start? "normal"; None while the storage is backed off; afterwards one crawl
        at a time ("probe") finds out whether it accepts writes again. The disk is shared by every
        source, so its back-off is global: no host is fetched for items that cannot be stored."""
        with self._storage_lock:
            if not self._storage_delay:
                return "normal"
            if self._storage_probing or time.monotonic() < self._storage_until:
                return None
            self._storage_probing = True
            return "probe"

    def _storage_after(self, turn: str, refused: bool, stored: bool) -> None:
        """Update the back-off after a crawl: refused → wait (doubling on each failed probe, capped);
        stored (or nothing new to store) → crawling resumes; anything else → the next crawl probes."""
        with self._storage_lock:
            probe = turn == "probe"
            if probe:
                self._storage_probing = False
            if refused and (probe or not self._storage_delay):
                self._storage_delay = (min(self._storage_delay * 2, STORAGE_MAX_BACKOFF_SECONDS)
                                       if self._storage_delay else STORAGE_BACKOFF_SECONDS)
                self._storage_until = time.monotonic() + self._scaled(self._storage_delay)
                log.warning("storage refuses writes: no source is fetched for the next %d s",
                            self._storage_delay, extra={"backoff_seconds": self._storage_delay})
            elif stored and self._storage_delay:
                self._storage_delay = 0.0
                log.warning("storage accepts writes again: crawling resumes")

    def storage_backoff(self) -> float:
        """Seconds (unscaled) the crawls are currently held back for; 0 when the storage is fine."""
        with self._storage_lock:
            return self._storage_delay

    def _on_event(self, event: Any) -> None:
        job_id = getattr(event, "job_id", "") or ""
        if not job_id.startswith(SOURCE_JOB_PREFIX):
            if isinstance(event, JobExecutionEvent) and event.exception is not None:
                log.error("job failed", extra={"job": job_id, "error": repr(event.exception)})
            return
        name = job_id[len(SOURCE_JOB_PREFIX):]
        if event.code == EVENT_JOB_SUBMITTED:
            with self._idle:
                self._waiting += 1
        elif event.code == EVENT_JOB_ERROR:
            log.error("crawl job raised", extra={"source": name, "error": repr(event.exception)})
        elif event.code == EVENT_JOB_MISSED:
            log.warning("crawl run missed (pool busy or process asleep)", extra={"source": name})
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.info("crawl still running; this run skipped", extra={"source": name})

    # -- heartbeat, status, reload ------------------------------------------------------------

    def queue_depth(self) -> int:
        """Crawls due but not yet started (submitted to a busy pool, or overdue in the job store)."""
        with self._idle:
            waiting = self._waiting
        return max(waiting, 0)

    def heartbeat(self) -> None:
        with self._service_lock:
            if self._stopping.is_set():
                return
            database = self.database()
            try:
                self._write_status(database)  # status first: a fresh heartbeat always has its status
                set_state(database, HEARTBEAT_KEY, db.utcnow())
            except sqlite3.Error as exc:
                if not storage.cannot_write(exc):
                    raise
                # Recorded for /health in this process; the stale heartbeat shows it elsewhere.
                storage.failed(database, exc)
                self._storage_after("normal", True, False)

    def _write_status(self, database: sqlite_utils.Database, *, stopped: bool = False) -> None:
        with self._idle:
            running, waiting = self._running, self._waiting
        jobs = len([j for j in self._aps.get_jobs() if j.id.startswith(SOURCE_JOB_PREFIX)]) \
            if self._aps is not None and self._aps.running else 0
        status = {"pid": os.getpid(), "started_at": self.started_at, "running": running,
                  "queue_depth": max(waiting, 0),
                  "jobs": jobs, "workers": self.config.settings.workers, "config_error": self._config_error,
                  "stopped": stopped, "feeds": self.feeds_path}
        set_state(database, STATUS_KEY, json.dumps(status, ensure_ascii=False))

    def audit_checkpoint(self, rekey: bool = False) -> None:
        """At start and hourly: sign the decision log's head (db.decisions.checkpoint). At start only
        (`rekey`), the decisions from before the keyed log are re-keyed first, if nothing was signed yet:
        never hourly, so an old chain refused at start and then made consistent again by someone who
        can write the database is not vouched for an hour later. Failures are logged, never fatal."""
        from db.decisions import RekeyRefused, checkpoint
        from db.decisions import rekey as rekey_old_rows

        with self._service_lock:  # serialised with stop(), like the heartbeat
            if self._stopping.is_set():
                return
            database = self.database()
            try:
                try:
                    if rekey:
                        rekey_old_rows(database, automatic=True)
                except RekeyRefused as refused:
                    log.error("decision log not re-keyed: %s", "; ".join(refused.problems[:5]))
                checkpoint(database)
            except Exception:  # noqa: BLE001 - a missing key or a full disk must not stop the scheduler
                log.exception("audit checkpoint failed")

    def reconcile(self) -> None:
        """Periodic: reload feeds.yaml if it changed on disk; run resumed sources at once."""
        with self._service_lock:
            if not self._stopping.is_set():
                self._reconcile()

    def _reconcile(self) -> None:
        signature = self._signature()
        if signature is not None and signature != self._config_signature:
            self.reload()
        database = self.database()
        for name, paused in database.conn.execute("SELECT name, paused FROM sources WHERE enabled = 1").fetchall():
            was_paused = self._paused_seen.get(name)
            self._paused_seen[name] = bool(paused)
            if was_paused and not paused:
                log.info("source resumed; polling now", extra={"source": name})
                self.run_now(name)

    def reload(self) -> ReloadResult:
        """Apply an edited feeds.yaml without a restart; an invalid file changes nothing."""
        with self._service_lock:  # SIGHUP (main thread) and the file watcher must not interleave
            return self._reload()

    def _reload(self) -> ReloadResult:
        self._config_signature = self._signature()
        if not self.feeds_path:
            return ReloadResult(ok=False, error="no feeds file")
        try:
            new_config = config_module.load(self.feeds_path)
        except ConfigError as exc:
            self._config_error = str(exc)
            set_state(self.database(), CONFIG_ERROR_KEY, str(exc))
            log.error("feeds file rejected; keeping the running configuration", extra={"error": str(exc)})
            return ReloadResult(ok=False, error=str(exc))
        old = {s.name: s for s in self.config.sources if s.enabled}
        new = {s.name: s for s in new_config.sources if s.enabled}
        result = ReloadResult(ok=True)
        result.added = sorted(set(new) - set(old))
        result.removed = sorted(set(old) - set(new))
        result.changed = sorted(n for n in set(old) & set(new) if old[n] != new[n])
        database = self.database()
        self._source_ids = sync_sources(database, new_config.sources)
        self.config = new_config
        self._config_error = None
        delete_state(database, CONFIG_ERROR_KEY)
        if self._aps is not None and self._aps.running:
            for name in result.removed:
                if self._aps.get_job(self._job_id(name)) is not None:
                    self._aps.remove_job(self._job_id(name))
            for name in result.added + result.changed:
                self._add_source_job(new[name])
        log.info("feeds file reloaded", extra={"added": result.added, "removed": result.removed,
                                                "changed": result.changed})
        return result


# --------------------------------------------------------------------------- helpers


def set_state(database: sqlite_utils.Database, key: str, value: str) -> None:
    with db.transaction(database) as conn:
        conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                     (key, value, db.utcnow()))


def get_state(database: sqlite_utils.Database, key: str) -> str | None:
    row = database.conn.execute("SELECT value FROM service_state WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def delete_state(database: sqlite_utils.Database, key: str) -> None:
    with db.transaction(database) as conn:
        conn.execute("DELETE FROM service_state WHERE key = ?", (key,))


def recover_interrupted_runs(database: sqlite_utils.Database) -> int:
    """Close the crawl runs a killed process left 'running' (the one place for it: `monitor run` and
    `monitor crawl` call it on start). A run whose process is alive — another `monitor crawl`, a
    `monitor run` — is left alone: liveness is the kernel's lock of `run_owner`, as for SchedulerLock."""
    path = db.file_path(database)
    dead = [run_id for run_id, owner in running_runs(database) if not owner_alive(path, owner)]
    closed = close_interrupted_runs(database, dead) if dead else 0
    if closed:
        log.warning("closed interrupted crawl runs", extra={"count": closed})
    return closed


def settings_of(config: FeedsConfig) -> Settings:
    return config.settings
