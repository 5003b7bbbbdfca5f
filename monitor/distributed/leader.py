"""The scheduler on PostgreSQL: one active at a time (leader election), queueing crawls instead of running them.

`monitor run` (or `monitor scheduler`) may be started on several machines for availability; exactly one
schedules. Leadership is a session-level advisory lock held on a connection of its own: PostgreSQL drops
it the moment that connection ends (a clean stop, a crash, kill -9, a lost machine once the server
notices), and a standby, which tries every few seconds, takes it and starts scheduling. No lease has to
time out and no clock has to agree.

The active scheduler is the in-process one (monitor.schedule.scheduler) with one change: where it
would crawl a due source in its thread pool, it queues a job (monitor.distributed.queue) and a worker
crawls it. Due-ness is the source's `next_run_at`, which the worker records after each crawl through the
same timing decision (scheduler.plan_next_poll), so a new leader continues where the last one stopped.
Housekeeping (reports, alerts, spike checks, retention, the audit checkpoint) stays in the leader: each
must run once, and the leader is already the one process guaranteed to be alone; as queued tasks they
would need the same once-only guarantee again, from the queue, for no gain (they are few and short).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

import db
from db import workers
from db.dispatch import due_sources, lease, make_due
from monitor.config import SourceConfig
from monitor.distributed import queue
from monitor.distributed.worker import identity
from monitor.schedule.locks import recover_interrupted_runs
from monitor.schedule.scheduler import ReloadResult, Scheduler

log = logging.getLogger("monitor.distributed")

DISPATCH_SECONDS = 2.0  # how often the leader looks for due sources
MAINTAIN_SECONDS = 10.0  # stalled jobs back in the queue, interrupted runs closed
ELECTION_SECONDS = 3.0  # how often a standby tries to take over (and the leader checks it still leads)
FORGET_WORKERS_SECONDS = 86400.0  # rows of processes silent this long are dropped from `workers`


class DistributedScheduler(Scheduler):
    """The scheduler's timing and housekeeping, with due crawls queued for `monitor worker`s."""

    def __init__(self, url: str, feeds_path: str | Path | None = None, *, dispatch_seconds: float = DISPATCH_SECONDS,
                 maintain_seconds: float = MAINTAIN_SECONDS, stalled_seconds: float = queue.STALLED_SECONDS,
                 **options: Any):
        super().__init__(url, feeds_path, **options)
        self.dispatch_seconds = dispatch_seconds
        self.maintain_seconds = maintain_seconds
        self.stalled_seconds = stalled_seconds
        self.app = queue.make_app(url)

    def start(self) -> None:
        queue.ensure_schema(self.db_path)
        self.app.open()
        super().start()
        assert self._aps is not None
        self._aps.add_job(self.maintain, IntervalTrigger(seconds=self.maintain_seconds), id="maintain",
                          executor="housekeeping", misfire_grace_time=None, coalesce=True, max_instances=1,
                          next_run_time=datetime.now(UTC))

    def stop(self, timeout: float = 8.0) -> bool:
        finished = super().stop(timeout)
        try:
            self.app.close()
        except Exception:  # noqa: BLE001 - closing on the way out
            log.warning("job queue connection not closed cleanly", exc_info=True)
        return finished

    def _add_source_job(self, source: SourceConfig, *, first: bool = False) -> None:
        """No job per source here: one dispatch job queues every source that is due."""
        assert self._aps is not None
        if self._aps.get_job("dispatch") is None:
            self._aps.add_job(self.dispatch, IntervalTrigger(seconds=self.dispatch_seconds), id="dispatch",
                              executor="housekeeping", misfire_grace_time=None, coalesce=True, max_instances=1,
                              next_run_time=datetime.now(UTC))

    def run_now(self, name: str) -> None:
        make_due(self.database(), name)
        if self._aps is not None and self._aps.running and self._aps.get_job("dispatch") is not None:
            self._aps.modify_job("dispatch", next_run_time=datetime.now(UTC))

    def dispatch(self) -> int:
        """Queue one crawl per due source (never two waiting for one source); returns how many were queued.
        Each queued source is leased one interval ahead; the worker's own next poll replaces the lease."""
        if self._stopping.is_set():
            return 0
        database = self.database()
        enabled = {source.name for source in self.config.sources if source.enabled}
        queued = 0
        for row in due_sources(database, db.utcnow()):
            if row["name"] not in enabled:
                continue
            job_id = queue.enqueue_crawl(self.app, row["id"])
            ahead = self._scaled(int(row["interval_seconds"] or 0) or 60)
            lease(database, row["id"], db.to_iso(datetime.now(UTC) + timedelta(seconds=ahead)))
            if job_id is not None:
                queued += 1
        if queued:
            log.info("crawls queued", extra={"count": queued})
        return queued

    def maintain(self) -> None:
        """Jobs of dead workers back in the queue, their crawl runs closed, long-dead workers forgotten."""
        if self._stopping.is_set():
            return
        try:
            queue.retry_stalled(self.db_path, self.stalled_seconds)
            database = self.database()
            recover_interrupted_runs(database)
            workers.prune(database, FORGET_WORKERS_SECONDS)
        except Exception:  # noqa: BLE001 - the next pass tries again
            log.exception("queue maintenance failed")

    def job_counts(self) -> tuple[int, int, int]:
        try:
            counts = queue.queue_counts(self.app)
        except Exception:  # noqa: BLE001 - the status row must still be written
            counts = {}
        return (counts.get("doing", 0), counts.get("todo", 0),
                len([s for s in self.config.sources if s.enabled]))

    def queue_depth(self) -> int:
        return self.job_counts()[1]


class Leadership:
    """Hold or wait for the leader lock and run the scheduler while holding it; beat as leader or standby.

    Duck-types what monitor.service needs of a scheduler: `stop(timeout)` and `reload()`."""

    def __init__(self, url: str, make_scheduler: Callable[[], Scheduler], *,
                 election_seconds: float = ELECTION_SECONDS, announce: Callable[[str], None] | None = None):
        self.url = url
        self.make_scheduler = make_scheduler
        self.election_seconds = election_seconds
        self.announce = announce or (lambda line: None)
        self.id = identity()
        self.started_at = db.utcnow()
        self.scheduler: Scheduler | None = None
        self._database: Any = None
        self._stop = threading.Event()
        self._lock = threading.RLock()  # the scheduler's start/stop against reload and stop
        self._thread: threading.Thread | None = None
        self._said_standby = False

    @property
    def leading(self) -> bool:
        return self.scheduler is not None

    def start(self) -> Leadership:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - a lost connection: step down, reconnect next round
                self._lost(exc)
            if self._stop.wait(self.election_seconds):
                return

    def _round(self) -> None:
        if self._database is None or self._database.conn.closed:
            self._database = db.connect(self.url, migrate_schema=False)
        if self.scheduler is None:
            if workers.try_leader_lock(self._database):
                self._elected()
            elif not self._said_standby:
                self._said_standby = True
                log.info("standby: another scheduler is active", extra={"scheduler": self.id})
                self.announce("standby: another scheduler is active; taking over when it stops")
        elif not workers.leader_lock_held(self._database):
            raise RuntimeError("the leader lock is no longer held")
        workers.beat(self._database, self.id, "scheduler", "leader" if self.leading else "standby",
                     self.started_at)

    def _elected(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            log.warning("this process is the active scheduler", extra={"scheduler": self.id})
            self.announce(f"active scheduler ({self.id})")
            scheduler = self.make_scheduler()
            try:
                scheduler.start()
            except BaseException:
                scheduler.stop(timeout=1.0)  # whatever it had started; the lock goes with the connection
                raise
            self.scheduler = scheduler
            self._said_standby = False

    def _lost(self, exc: BaseException) -> None:
        """The connection holding the lock failed (or lost the lock): stop scheduling at once."""
        log.error("leader connection lost; scheduling stopped", extra={"scheduler": self.id, "error": repr(exc)})
        with self._lock:
            if self.scheduler is not None:
                self.announce("leadership lost; standby")
                self.scheduler.stop(timeout=2.0)
                self.scheduler = None
        if self._database is not None:
            self._database.close_quietly()
            self._database = None

    def reload(self) -> ReloadResult:
        with self._lock:
            if self.scheduler is not None:
                return self.scheduler.reload()
        return ReloadResult(ok=True)  # a standby reads feeds.yaml when it takes over

    def stop(self, timeout: float = 8.0) -> bool:
        """Stop scheduling (within `timeout`), give up the lock and the heartbeat row; True if all finished."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.election_seconds, 1.0) + 5)
        finished = True
        with self._lock:
            if self.scheduler is not None:
                finished = self.scheduler.stop(timeout=max(deadline - time.monotonic(), 0.5))
                self.scheduler = None
        if self._database is not None:
            try:
                workers.forget(self._database, self.id)
                self._database.close()  # the lock goes with the connection
            except Exception:  # noqa: BLE001 - the lock goes with the connection anyway
                pass
            self._database = None
        return finished


def run_scheduler(url: str, feeds_path: str | Path, stop: threading.Event,
                  options: dict[str, Any] | None = None, announce: Callable[[str], None] | None = None) -> bool:
    """`monitor scheduler`: elect, schedule while leading, until `stop` is set; True if all finished."""
    leadership = Leadership(url, lambda: DistributedScheduler(url, feeds_path, **(options or {})),
                            announce=announce).start()
    try:
        while not stop.wait(0.25):
            pass
    finally:
        finished = leadership.stop()
    return finished
