"""The unattended scheduler's job lifecycle: one APScheduler job per source, heartbeat, reload, housekeeping.

No parsing or fetching here — a job calls the crawler's `crawl_source` and then decides when the
source should next be polled. The pieces it stands on live in monitor/schedule/: `policy` (when to
poll next, the storage back-off), `resources` (each thread's connection, the scorer, the shared
fetcher), `inflight` (the crawls queued and running) and `locks` (one scheduler per database, who
owns a crawl run); callers import those names from there. Housekeeping's jobs (`housekeeping`,
`retrain`) live beside it too.
Nobody watches this code run, so every decision it takes is written to the database where
`/health`, the sources page and `monitor status` can show it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from classifiers.heap import release_free_memory
from db.sources import enabled_paused, record_next_poll, schedule_state, sync_sources
from db.state import delete_state, set_state
from monitor import config as config_module
from monitor import storage
from monitor.config import ConfigError, FeedsConfig, SourceConfig
from monitor.domain import DEFAULT_TIMEZONE
from monitor.schedule.inflight import InFlight
from monitor.schedule.locks import (
    recover_interrupted_runs,
)
from monitor.schedule.policy import (
    StorageBackoff,
    bounds_for,
    jitter_for,
    next_interval,
)
from monitor.schedule.resources import WorkerResources

log = logging.getLogger("monitor.scheduler")

HEARTBEAT_KEY = "scheduler_heartbeat"
STATUS_KEY = "scheduler_status"
AUDIT_CHECKPOINT_SECONDS = 3600  # a signed checkpoint of the decision log (db.decisions.checkpoint)
CONFIG_ERROR_KEY = "config_error"
REPORT_DELIVERY_SECONDS = 300
SPIKE_CHECK_SECONDS = 60.0  # monitor.spikes: how often the spike rules are evaluated
# How often an idle scheduler checks whether crawls have ended and hands their freed memory back (release_memory).
RELEASE_MEMORY_SECONDS = 15.0
SOURCE_JOB_PREFIX = "source:"


# --------------------------------------------------------------------------- the scheduler


def plan_next_poll(database: sqlite_utils.Database, source: SourceConfig, before: dict, result: Any,
                   scaled: Callable[[float], float]) -> tuple[int, bool, bool]:
    """After a crawl: choose the source's next interval from the result and the failures the crawler
    counted, and record it with the next poll time on the source (so a restart, or the next scheduler
    after a fail-over, keeps it). Returns (interval, paused now, the storage refused the write).

    The one timing decision after a crawl, made in the scheduler for an in-process crawl and in the
    worker for a queued one (monitor.distributed)."""
    after = schedule_state(database, source.name)
    failures = int(after["consecutive_failures"]) if after else 0
    interval = next_interval(bounds_for(source), before["effective_interval_seconds"], result, failures)
    next_at = db.to_iso(datetime.now(UTC) + timedelta(seconds=scaled(interval)))
    try:
        record_next_poll(database, before["id"], interval, next_at, int(getattr(result, "new", 0) or 0))
    except db.Error as exc:
        if not storage.cannot_write(exc):
            raise
        return interval, bool(after and after["paused"]), True
    return interval, bool(after and after["paused"]), False


CrawlFunction = Callable[..., Any]  # as crawl_source: (database, source, settings, scorer, *, fetcher, parsers)


def _default_crawl() -> CrawlFunction:
    from monitor.crawl.crawler import crawl_source

    return crawl_source


@dataclass
class FirstPass:
    """How the first crawl of every source after start went: `monitor run` warns when none got through."""
    total: int
    failed: int
    first_error: str | None = None

    @property
    def all_failed(self) -> bool:
        return self.total > 0 and self.failed == self.total


@dataclass
class ReloadResult:
    ok: bool
    error: str | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


class Scheduler:
    """Polls every enabled source on its own schedule in a bounded thread pool.

    Each worker thread keeps its own SQLite connection (`resources`: a connection is not shared across
    threads mid-transaction); writers queue on the busy timeout behind BEGIN IMMEDIATE.
    """

    def __init__(self, db_path: str | Path, feeds_path: str | Path | None = None, *,
                 config: FeedsConfig | None = None, crawl: CrawlFunction | None = None,
                 scorer: Any = None, scorer_factory: Callable[[], Any] | None = None,
                 heartbeat_seconds: float = 5.0, reconcile_seconds: float = 5.0,
                 interval_scale: float = 1.0, housekeeping: bool = True,
                 housekeeping_jobs: dict[str, Callable[..., Any]] | None = None,
                 first_run_spread: float = 10.0, on_first_pass: Callable[[FirstPass], None] | None = None,
                 spike_check_seconds: float | None = SPIKE_CHECK_SECONDS, alerts_seconds: float | None = None):
        self.db_path = str(db_path)
        self.feeds_path = str(feeds_path) if feeds_path else None
        if config is None:
            if not self.feeds_path:
                raise ValueError("a feeds path or a config is required")
            config = config_module.load(self.feeds_path)
        self.config = config
        self._crawl = crawl
        self.resources = WorkerResources(self.db_path, scorer=scorer, scorer_factory=scorer_factory)
        self.heartbeat_seconds = heartbeat_seconds
        self.reconcile_seconds = reconcile_seconds
        self.interval_scale = interval_scale
        self.housekeeping = housekeeping
        self.housekeeping_jobs = housekeeping_jobs
        self.first_run_spread = first_run_spread
        self.spike_check_seconds = spike_check_seconds  # None or 0: no spike check
        self._inflight = InFlight()
        self._stopping = threading.Event()
        self._service_lock = threading.RLock()
        self._paused_seen: dict[str, bool] = {}
        self._storage = StorageBackoff(self._scaled)
        self._source_ids: dict[str, int] = {}
        self._config_signature = self._seen_signature = self._signature()
        self._config_error: str | None = None
        self.started_at: str | None = None
        self._aps: BackgroundScheduler | None = None
        self._on_first_pass = on_first_pass
        self._first_pass: dict[str, str | None] = {}  # source → its first crawl's error (None when it got through)
        self._first_pass_waiting: set[str] = set()
        self._first_pass_lock = threading.Lock()
        self._released_after = 0  # crawls finished when freed memory was last handed back (release_memory)
        # How often the alert scan and sender run (monitor.alerts); None: monitor.alerts.ALERT_SECONDS.
        self.alerts_seconds = alerts_seconds
        self._alerts_inflight = InFlight()  # a pass of the alert jobs under way, which stop() lets finish

    # -- plumbing ------------------------------------------------------------------------

    def database(self) -> sqlite_utils.Database:
        """This thread's connection to the database, opened once per thread."""
        return self.resources.database()

    @property
    def crawl(self) -> CrawlFunction:
        if self._crawl is None:
            self._crawl = _default_crawl()
        return self._crawl

    @property
    def scorer(self) -> Any:
        """The classifier, loaded on first use (retried every few minutes; see WorkerResources.scorer)."""
        return self.resources.scorer()

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
        database = self.resources.open_migrated()  # migrations once, in this thread
        self._source_ids = sync_sources(database, self.config.sources)
        self._sync_jurisdiction(database)
        recover_interrupted_runs(database)
        workers = max(1, int(self.config.settings.workers or 1))
        self._aps = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(workers),
                "housekeeping": ThreadPoolExecutor(2),
                "long": ThreadPoolExecutor(1),
                "alerts": ThreadPoolExecutor(2),  # the alert scan and sender: never behind a crawl or a report
                "spikes": ThreadPoolExecutor(1),  # never queued behind a report, a backup or a retrain
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._aps.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
                               | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        for source in self.config.sources:
            if source.enabled:
                self._add_source_job(source, first=True)
                if not (schedule_state(database, source.name) or {}).get("paused"):
                    self._first_pass_waiting.add(source.name)
        self._aps.add_job(self.heartbeat, IntervalTrigger(seconds=self.heartbeat_seconds), id="heartbeat",
                          executor="housekeeping", misfire_grace_time=None, next_run_time=datetime.now(UTC))
        self._aps.add_job(self.reconcile, IntervalTrigger(seconds=self.reconcile_seconds), id="reconcile",
                          executor="housekeeping", misfire_grace_time=None)
        self._aps.add_job(self.release_memory, IntervalTrigger(seconds=max(self.heartbeat_seconds,
                                                                           RELEASE_MEMORY_SECONDS)),
                          id="release_memory", executor="housekeeping", misfire_grace_time=None)
        self._add_alert_jobs()
        if self.spike_check_seconds:
            self._aps.add_job(self._spike_check, IntervalTrigger(seconds=self.spike_check_seconds), id="spike_check",
                              executor="spikes", misfire_grace_time=None)
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
        finished = self._inflight.wait(timeout)
        # An alert being sent is let finish (the sender stops between messages): a message cut off mid-send
        # would be left 'sending' and later 'uncertain', never sent again by itself.
        self._alerts_inflight.wait(max(deadline - time.monotonic(), 0.5))
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
            self.resources.close()
            self._service_lock.release()
        log.info("scheduler stopped", extra={"finished": finished})
        return finished

    @property
    def running(self) -> bool:
        return self._aps is not None and self._aps.running

    def wait_idle(self, timeout: float) -> bool:
        """For tests: wait until no crawl is queued or running."""
        return self._inflight.wait(timeout, queued_too=True)

    # -- jobs ------------------------------------------------------------------------------

    def _job_id(self, name: str) -> str:
        return SOURCE_JOB_PREFIX + name

    def _add_source_job(self, source: SourceConfig, *, first: bool = False) -> None:
        """Schedule a source's job, resuming the interval and next poll a previous run recorded."""
        assert self._aps is not None
        database = self.database()
        state = schedule_state(database, source.name) or {}
        bounds = bounds_for(source)
        interval = bounds.base
        known = state.get("effective_interval_seconds")
        if known and bounds.adaptive:
            interval = min(max(int(known), bounds.minimum), bounds.maximum)
        elif known and state.get("consecutive_failures"):
            interval = int(known)  # keep the back-off across a restart
        next_run = None
        if state.get("next_run_at"):
            try:
                next_run = db.from_iso(state["next_run_at"])
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

    def _add_alert_jobs(self) -> None:
        """The alert scan and sender (monitor.alerts), every few seconds each in its own thread."""
        from monitor import alerts
        from monitor.alerts.rules import start_cursors

        assert self._aps is not None
        # The first start ever begins the alert scan here, before any crawl: what is stored from now on is
        # alerted, the history before it is not.
        start_cursors(self.database())
        seconds = self.alerts_seconds or alerts.ALERT_SECONDS
        for name, function in (("alerts_scan", alerts.scan_job), ("alerts_send", alerts.send_job)):
            self._aps.add_job(self._alert_job, IntervalTrigger(seconds=seconds), args=[name, function], id=name,
                              name=name, executor="alerts", misfire_grace_time=None, coalesce=True, max_instances=1)

    def _alert_job(self, name: str, function: Callable[..., Any]) -> Any:
        """One pass of an alert job; a failure is logged (and the next pass tries again), never raised into
        the scheduler's own jobs."""
        if self._stopping.is_set():
            return None
        with self._alerts_inflight.running(), self.resources.long_running():
            try:
                outcome = function(self.database(), self.config.settings, stop=self._stopping.is_set)
            except Exception:  # noqa: BLE001 - logged; the next pass retries
                log.exception("alert job failed", extra={"job": name})
                return None
        if outcome:
            log.info("alert job done", extra={"job": name, "outcome": outcome})
        return outcome

    def _add_housekeeping_jobs(self) -> None:
        assert self._aps is not None
        jobs = self.housekeeping_jobs
        if jobs is None:
            from monitor.schedule import housekeeping

            jobs = housekeeping.default_jobs()
        self.housekeeping_jobs = jobs
        triggers = {
            "weekly_report": CronTrigger(day_of_week="mon", hour=7, minute=0, timezone=DEFAULT_TIMEZONE),
            # retries of the report e-mails (monitor.reports.delivery: each row waits its own back-off)
            "report_delivery": IntervalTrigger(seconds=REPORT_DELIVERY_SECONDS),
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
        with self.resources.long_running():
            return self._run_housekeeping(name)

    def _spike_check(self) -> Any:
        """The spike rules' minutely check (monitor.spikes), recorded like a housekeeping job; a test may swap it
        through housekeeping_jobs["spike_check"]."""
        from monitor.schedule.housekeeping import spike_check

        if self._stopping.is_set():
            return None
        with self.resources.long_running():
            return self._run_housekeeping("spike_check", (self.housekeeping_jobs or {}).get("spike_check", spike_check))

    def _run_housekeeping(self, name: str, function: Callable[..., Any] | None = None) -> Any:
        if function is None:
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
        with self._inflight.running():
            if self._stopping.is_set():
                return None
            return self._crawl_and_reschedule(name)

    def _crawl_and_reschedule(self, name: str) -> Any:
        """Crawl the source unless it is paused or the storage is backed off, then set its next poll."""
        try:
            source = self.config.source(name)
        except KeyError:
            return None
        database = self.database()
        before = schedule_state(database, name)
        if before is None:
            return None
        if before["paused"]:
            # Auto-paused by the crawler (N consecutive failures) or by an operator: not polled
            # until `monitor sources resume`; reconcile() notices the resume and runs it at once.
            self._paused_seen[name] = True
            return None
        turn = self._storage.turn()
        if turn is None:
            return None  # the storage refuses writes: nothing is fetched that could not be stored
        started = time.monotonic()
        try:
            result = self.crawl(database, source, self.config.settings, self.scorer,
                                fetcher=self.resources.fetcher(self.config.settings),
                                parsers=self.resources.parsers(self.config.settings))
        except Exception as exc:
            self._storage.after(turn, storage.cannot_write(exc), False)
            self._first_crawl_done(name, f"{type(exc).__name__}: {exc}")
            raise
        ok = getattr(result, "status", "ok") in ("ok", "not_modified")
        self._first_crawl_done(name, None if ok else str(getattr(result, "error", None) or getattr(result, "status", "")))
        self._storage.after(turn, bool(getattr(result, "storage_full", False)),
                            getattr(result, "status", "ok") in ("ok", "not_modified"))
        interval = self._reschedule(database, source, before, result)
        log.info("crawled source", extra={
            "source": name, "source_id": before["id"], "status": getattr(result, "status", None),
            "new": int(getattr(result, "new", 0) or 0), "seen": getattr(result, "seen", None),
            "error": getattr(result, "error", None),
            "next_interval": interval, "seconds": round(time.monotonic() - started, 3)})
        return result

    def _reschedule(self, database: sqlite_utils.Database, source: SourceConfig, before: dict, result: Any) -> int:
        """Choose the next interval from the crawl's result and the failures the crawler counted,
        record it on the source (so a restart keeps it) and retime the job; returns the interval."""
        interval, paused, refused = plan_next_poll(database, source, before, result, self._scaled)
        if paused:
            self._paused_seen[source.name] = True
        if refused:
            self._storage.after("normal", True, False)  # the job's own interval below still applies
        job_interval = self._scaled(interval)
        if self._aps is not None and self._aps.running and not self._stopping.is_set():
            job = self._aps.get_job(self._job_id(source.name))
            if job is not None and abs(job.trigger.interval.total_seconds() - job_interval) > 0.01:
                self._aps.reschedule_job(self._job_id(source.name), trigger=IntervalTrigger(
                    seconds=job_interval, jitter=jitter_for(job_interval) or None))
        return interval

    def _first_crawl_done(self, name: str, error: str | None) -> None:
        """Note a source's first crawl since start; once every source expected has had one, tell
        `on_first_pass` (once) how many failed and the first error, so `monitor run` can warn when the
        machine reaches no source at all (no network) instead of looking healthy with an empty queue."""
        with self._first_pass_lock:
            if name not in self._first_pass_waiting:
                return
            self._first_pass_waiting.discard(name)
            self._first_pass[name] = error
            if self._first_pass_waiting or self._on_first_pass is None:
                return
            errors = [f"{source}: {text}" for source, text in self._first_pass.items() if text is not None]
            outcome = FirstPass(len(self._first_pass), len(errors), errors[0] if errors else None)
        try:
            self._on_first_pass(outcome)
        except Exception:  # noqa: BLE001 - a failing listener must not fail the crawl
            log.exception("first-pass listener failed")

    def storage_backoff(self) -> float:
        """Seconds (unscaled) the crawls are currently held back for; 0 when the storage is fine."""
        return self._storage.seconds()

    def _on_event(self, event: Any) -> None:
        job_id = getattr(event, "job_id", "") or ""
        if not job_id.startswith(SOURCE_JOB_PREFIX):
            if isinstance(event, JobExecutionEvent) and event.exception is not None:
                log.error("job failed", extra={"job": job_id, "error": repr(event.exception)})
            return
        name = job_id[len(SOURCE_JOB_PREFIX):]
        if event.code == EVENT_JOB_SUBMITTED:
            self._inflight.submitted()
        elif event.code == EVENT_JOB_ERROR:
            log.error("crawl job raised", extra={"source": name, "error": repr(event.exception)})
        elif event.code == EVENT_JOB_MISSED:
            log.warning("crawl run missed (pool busy or process asleep)", extra={"source": name})
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.info("crawl still running; this run skipped", extra={"source": name})

    # -- heartbeat, status, reload ------------------------------------------------------------

    def release_memory(self) -> bool:
        """Hand the memory freed by finished crawls back to the operating system (classifiers.heap), when
        crawls have ended since the last time and none is running; True when it did. Between passes
        an idle `monitor run` otherwise keeps every worker's freed feeds and score matrices resident,
        and its parse helper processes (stopped here; the next changed feed starts one again)."""
        finished = self._inflight.finished()
        if finished == self._released_after or self._inflight.counts()[0]:
            return False
        self._released_after = finished
        self.resources.stop_idle_parsers()
        return release_free_memory()

    def queue_depth(self) -> int:
        """Crawls due but not yet started (submitted to a busy pool, or overdue in the job store)."""
        return self._inflight.counts()[1]

    def heartbeat(self) -> None:
        with self._service_lock:
            if self._stopping.is_set():
                return
            database = self.database()
            try:
                self._write_status(database)  # status first: a fresh heartbeat always has its status
                set_state(database, HEARTBEAT_KEY, db.utcnow())
            except db.Error as exc:
                if not storage.cannot_write(exc):
                    raise
                # Recorded for /health in this process; the stale heartbeat shows it elsewhere.
                storage.failed(database, exc)
                self._storage.after("normal", True, False)

    def _write_status(self, database: sqlite_utils.Database, *, stopped: bool = False) -> None:
        running, waiting, jobs = self.job_counts()
        status = {"pid": os.getpid(), "started_at": self.started_at, "running": running,
                  "queue_depth": waiting,
                  "jobs": jobs, "workers": self.config.settings.workers, "config_error": self._config_error,
                  "stopped": stopped, "feeds": self.feeds_path}
        set_state(database, STATUS_KEY, json.dumps(status, ensure_ascii=False))

    def job_counts(self) -> tuple[int, int, int]:
        """(crawls running, crawls waiting, sources scheduled) for the status row; the distributed scheduler
        counts its queue instead."""
        running, waiting = self._inflight.counts()
        jobs = len([j for j in self._aps.get_jobs() if j.id.startswith(SOURCE_JOB_PREFIX)]) \
            if self._aps is not None and self._aps.running else 0
        return running, waiting, jobs

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
        # An editor that rewrites in place leaves a truncated file for a moment: apply an edit only
        # once two ticks in a row read the same bytes, so a half-written file is never "rejected".
        signature = self._signature()
        settled = signature == self._seen_signature
        self._seen_signature = signature
        if signature is not None and settled and signature != self._config_signature:
            self.reload()
        database = self.database()
        for name, paused in enabled_paused(database).items():
            was_paused = self._paused_seen.get(name)
            self._paused_seen[name] = bool(paused)
            if was_paused and not paused:
                log.info("source resumed; polling now", extra={"source": name})
                self.run_now(name)

    def _sync_jurisdiction(self, database) -> None:
        """Re-mark items "about us" when settings.jurisdiction changed (issue 11); a failure is logged and
        retried at the next start or reload (the marks are only recorded as applied once written).
        Imported here: the write path (and its HTML parser) is no part of `monitor status`'s start-up."""
        from monitor.pipeline.places import sync_jurisdiction
        from monitor.pipeline.signals import jurisdiction_of

        try:
            sync_jurisdiction(database, jurisdiction_of(self.config.settings))
        except Exception:  # noqa: BLE001 - the queue's "Về địa bàn" marks must not stop the crawl
            log.exception("could not re-mark items for the changed jurisdiction")

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
        self._sync_jurisdiction(database)
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
