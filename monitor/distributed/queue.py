"""The crawl job queue: procrastinate on the same PostgreSQL database as the data.

Why procrastinate: it keeps its jobs in PostgreSQL tables, so a deployment that already runs PostgreSQL
for the data needs no other service (no Redis, no RabbitMQ) and the queue is backed up, restored and
monitored with the data. It gives what a crawl queue needs and this module only configures it:
- `queueing_lock`: at most one job waiting per source ("source:<id>"), however often it is enqueued;
- `lock`: jobs of one source never run at the same time, even after a retry;
- worker heartbeats and stalled-job detection: the job of a worker killed with SIGKILL goes back to the
  queue (`retry_stalled`, run by the active scheduler) and another worker does it again;
- a retry strategy for the jobs that raise (the database failing under a crawl).

Its schema is applied on first use by `ensure_schema`, under an advisory lock so that many processes
starting at once apply it once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from procrastinate import App, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status

import db
from db import workers

log = logging.getLogger("monitor.distributed")

QUEUE = "crawl"
CRAWL_TASK = "monitor.crawl_source"
# A job that raised (not a bad source: crawl_source records those itself) is tried twice more, 30 s apart.
RETRY = RetryStrategy(max_attempts=3, wait=30)
# procrastinate's worker heartbeat: a worker silent for STALLED_SECONDS is taken for dead and its jobs run again.
HEARTBEAT_SECONDS = 5.0
STALLED_SECONDS = 30.0


def make_app(url: str, crawl: Any = None, *, pool_size: int = 4) -> App:
    """A procrastinate App on the database at `url`, with the crawl task registered.

    `crawl` is the function a worker runs for a job (crawl(source_id=...)); a process that only enqueues
    (the scheduler) registers a placeholder that refuses to run."""
    app = App(connector=PsycopgConnector(conninfo=url, min_size=1, max_size=max(2, pool_size)))
    app.task(name=CRAWL_TASK, queue=QUEUE, retry=RETRY)(crawl or _not_here)
    return app


def _not_here(source_id: int) -> None:
    raise RuntimeError(f"crawl job for source {source_id} reached a process that does not crawl")


def ensure_schema(url: str) -> bool:
    """Apply procrastinate's schema unless it is there (once, under an advisory lock); True when applied."""
    database = db.connect(url, migrate_schema=False)
    try:
        workers.lock_schema(database)
        try:
            if workers.has_table(database, "procrastinate_jobs"):
                return False
            app = make_app(url)
            with app.open():
                app.schema_manager.apply_schema()
            log.info("job queue schema applied (procrastinate)")
            return True
        finally:
            workers.unlock_schema(database)
    finally:
        database.close()


def enqueue_crawl(app: App, source_id: int) -> int | None:
    """Defer one crawl of the source; None when one is already waiting (its queueing lock)."""
    key = f"source:{source_id}"
    try:
        return app.configure_task(CRAWL_TASK, queue=QUEUE, queueing_lock=key, lock=key).defer(source_id=source_id)
    except AlreadyEnqueued:
        return None


def queue_counts(app: App) -> dict[str, int]:
    """Jobs of the crawl queue by status ("todo", "doing", ...), for the scheduler's status row."""
    for row in app.job_manager.list_queues(queue=QUEUE):
        return {key: int(value) for key, value in row.items() if key != "name"}
    return {"todo": 0, "doing": 0}


def retry_stalled(url: str, stalled_seconds: float = STALLED_SECONDS) -> list[int]:
    """Put back in the queue the jobs of workers that stopped beating (killed, frozen); their ids.

    The job's transaction died with its worker, so nothing it stored is half there; what it did commit
    (items of an earlier group) is found again by the ingest's duplicate check, so every item is
    stored once. A job that cannot go back (another job of the source is waiting) is marked failed."""
    return asyncio.run(_retry_stalled(url, stalled_seconds))


async def _retry_stalled(url: str, stalled_seconds: float) -> list[int]:
    app = make_app(url, pool_size=1)
    retried = []
    async with app.open_async():
        manager = app.job_manager
        await manager.prune_stalled_workers(stalled_seconds)
        for job in await manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_seconds):
            try:
                await manager.retry_job(job)
                retried.append(job.id)
            except UniqueViolation:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            log.warning("crawl job of a stopped worker queued again", extra={"job": job.id,
                                                                             "source_id": job.task_kwargs})
    return retried
