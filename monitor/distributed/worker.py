"""`monitor worker`: crawl the sources the active scheduler queues, on any number of machines.

A worker takes crawl jobs from the queue (monitor.distributed.queue) and runs each through the same code
as the in-process scheduler: `crawl_source` with the shared fetcher, the parse helpers and the scorer,
then `plan_next_poll` for when the source is due again. What differs is only what must be shared
between machines: per-host politeness lives in PostgreSQL (PgHostPacer), the crawl runs it opens carry
its heartbeat id (monitor.schedule.locks), and it beats in `workers` every few seconds.

Items are stored once even when a worker is killed mid-job: the ingest writes each group in one
transaction (db.transaction, PostgreSQL's write lock) after checking for the item again inside it, so
a killed worker's uncommitted group vanishes with its connection, and the retried job finds what an
earlier group committed and skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import db
from db import workers
from db.sources import get_source, schedule_state
from monitor import config as config_module
from monitor.config import FeedsConfig
from monitor.distributed import queue
from monitor.distributed.politeness import PgHostPacer
from monitor.schedule.locks import recover_interrupted_runs, set_process_owner
from monitor.schedule.resources import WorkerResources
from monitor.schedule.scheduler import plan_next_poll

log = logging.getLogger("monitor.distributed")

BEAT_SECONDS = 5.0
SHUTDOWN_GRACE_SECONDS = 30.0  # SIGTERM: running crawls get this long; the rest go back to the queue


def identity() -> str:
    """This process's name in `workers` and on the crawl runs it opens: "<hostname>:<pid>"."""
    return f"{socket.gethostname()}:{os.getpid()}"


class CrawlWorker:
    """One worker process: the crawl task, its resources and its heartbeat."""

    def __init__(self, url: str, feeds_path: str | Path, *, concurrency: int = 2, scorer: Any = None,
                 scorer_factory: Any = None, interval_scale: float = 1.0, beat_seconds: float = BEAT_SECONDS,
                 queue_heartbeat_seconds: float = queue.HEARTBEAT_SECONDS,
                 stalled_seconds: float = queue.STALLED_SECONDS):
        self.url = url
        self.feeds_path = str(feeds_path)
        self.concurrency = max(1, int(concurrency))
        self.interval_scale = interval_scale
        self.beat_seconds = beat_seconds
        self.queue_heartbeat_seconds = queue_heartbeat_seconds
        self.stalled_seconds = stalled_seconds
        self.id = identity()
        self.started_at = db.utcnow()
        self._config, self._config_mtime = config_module.load(self.feeds_path), self._mtime()
        self._config_lock = threading.Lock()
        self.resources = WorkerResources(url, scorer=scorer, scorer_factory=scorer_factory,
                                         pacer_factory=lambda s: PgHostPacer(url, s.host_delay, s.host_concurrency))
        self.app = queue.make_app(url, self.crawl_job, pool_size=self.concurrency + 2)
        self._counts = {"running": 0, "done": 0, "failed": 0}
        self._counts_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- the task ----------------------------------------------------------------------------

    def crawl_job(self, source_id: int) -> str:
        """One queued crawl: the source as feeds.yaml has it now, crawled and given its next poll time."""
        with self._counts_lock:
            self._counts["running"] += 1
        finished = "failed"
        try:
            outcome = self._crawl(source_id)
            finished = "done"
        finally:
            with self._counts_lock:
                self._counts["running"] -= 1
                self._counts[finished] += 1
        return outcome

    def _crawl(self, source_id: int) -> str:
        from monitor.crawl.crawler import crawl_source

        config = self.config()
        database = self.resources.database()
        row = get_source(database, source_id)
        if row is None or not row["enabled"]:
            return "skipped: source gone or disabled"
        try:
            source = config.source(row["name"])
        except KeyError:
            return "skipped: not in feeds.yaml"
        before = schedule_state(database, source.name)
        if before is None or before["paused"]:
            return "skipped: paused"
        started = time.monotonic()
        result = crawl_source(database, source, config.settings, self.resources.scorer(),
                              fetcher=self.resources.fetcher(config.settings),
                              parsers=self.resources.parsers(config.settings))
        interval, _, _ = plan_next_poll(database, source, before, result, self._scaled)
        log.info("crawled source", extra={
            "source": source.name, "source_id": source_id, "status": result.status, "new": result.new,
            "seen": result.seen, "error": result.error, "next_interval": interval,
            "seconds": round(time.monotonic() - started, 3), "worker": self.id})
        return result.status

    def _scaled(self, seconds: float) -> float:
        return max(seconds * self.interval_scale, 0.05)

    def config(self) -> FeedsConfig:
        """feeds.yaml as it is now: re-read when the file changed (an invalid file keeps the last good one)."""
        with self._config_lock:
            mtime = self._mtime()
            if mtime != self._config_mtime:
                try:
                    self._config = config_module.load(self.feeds_path)
                    log.info("feeds file reloaded", extra={"worker": self.id})
                except config_module.ConfigError as exc:
                    log.error("feeds file rejected; keeping the running configuration", extra={"error": str(exc)})
                self._config_mtime = mtime
            return self._config

    def _mtime(self) -> float | None:
        try:
            return os.stat(self.feeds_path).st_mtime
        except OSError:
            return None

    # -- the process ---------------------------------------------------------------------------

    def run(self, *, wait: bool = True, install_signal_handlers: bool = True) -> int:
        """Work until SIGTERM/SIGINT (or, with wait=False, until the queue is empty); the exit code."""
        queue.ensure_schema(self.url)
        database = db.connect(self.url)  # migrations, once, here
        try:
            recover_interrupted_runs(database)
        finally:
            database.close()
        set_process_owner(self.id)
        beating = threading.Thread(target=self._beat_loop, name="worker-beat", daemon=True)
        beating.start()
        log.info("worker started", extra={"worker": self.id, "concurrency": self.concurrency})
        try:
            asyncio.run(self._work(wait, install_signal_handlers))
        finally:
            self._stopping.set()
            beating.join(timeout=self.beat_seconds + 5)
            self._forget()
            self.resources.close()
            set_process_owner(None)
            log.info("worker stopped", extra={"worker": self.id, **self._counts})
        return 0

    async def _work(self, wait: bool, install_signal_handlers: bool) -> None:
        # procrastinate runs a sync task in the loop's default executor: size it to the concurrency.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="crawl"))
        async with self.app.open_async():
            await self.app.run_worker_async(
                queues=[queue.QUEUE], concurrency=self.concurrency, name=self.id, wait=wait,
                delete_jobs="successful", install_signal_handlers=install_signal_handlers,
                shutdown_graceful_timeout=SHUTDOWN_GRACE_SECONDS,
                update_heartbeat_interval=self.queue_heartbeat_seconds,
                stalled_worker_timeout=self.stalled_seconds)

    def _beat_loop(self) -> None:
        while True:
            try:
                with self._counts_lock:
                    detail = {"concurrency": self.concurrency, **self._counts}
                workers.beat(self.resources.database(), self.id, "worker", "running", self.started_at, detail)
            except Exception:  # noqa: BLE001 - a missed beat must not stop the worker; the next one retries
                log.warning("worker heartbeat not written", exc_info=True)
            if self._stopping.wait(self.beat_seconds):
                return

    def _forget(self) -> None:
        try:
            database = db.connect(self.url, migrate_schema=False)
            try:
                workers.forget(database, self.id)
            finally:
                database.close()
        except Exception:  # noqa: BLE001 - the row goes stale and is pruned instead
            log.warning("worker row not removed", exc_info=True)


@contextlib.contextmanager
def heartbeat(url: str, *, kind: str) -> Iterator[str]:
    """This process beats in `workers` as `kind` and names itself on the crawl runs it opens, until the block
    ends (then its row is removed): for a one-off crawl beside the distributed ones."""
    me, started, stop = identity(), db.utcnow(), threading.Event()
    database = db.connect(url, migrate_schema=False)
    workers.beat(database, me, kind, "running", started)
    set_process_owner(me)

    def loop() -> None:
        while not stop.wait(BEAT_SECONDS):
            try:
                workers.beat(database, me, kind, "running", started)
            except Exception:  # noqa: BLE001 - a missed beat must not stop the crawl; the next one retries
                log.warning("heartbeat not written", exc_info=True)

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield me
    finally:
        stop.set()
        thread.join()
        set_process_owner(None)
        try:
            workers.forget(database, me)
        finally:
            database.close_quietly()


def run_worker(url: str, feeds_path: str | Path, concurrency: int) -> int:
    """`monitor worker`: one worker process until SIGTERM/SIGINT."""
    return CrawlWorker(url, feeds_path, concurrency=concurrency).run()
