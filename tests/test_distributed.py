"""The distributed crawl on PostgreSQL (issue 14 §2): queue, workers, shared politeness, leader election.

Feeds are served from 127.0.0.1 (tests/servers.py); the server records when each request started and ended,
which is what politeness is judged by. Workers run in-process where what is tested lives in the database
(two CrawlWorkers in one process share nothing in memory: each has its own pacer and connections), and as
child processes where a process must die (SIGKILL) or compete (two workers, two schedulers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import db
from db import workers
from db.sources import set_paused, sync_sources
from monitor import config as config_module
from monitor.distributed import queue
from monitor.distributed.leader import DistributedScheduler
from monitor.distributed.worker import CrawlWorker
from monitor.schedule.locks import recover_interrupted_runs
from tests.helpers import FakeScorer
from tests.scheduler_fixtures import REPO, ChildProcess, feeds_yaml, items_for, query_url, rss, stop_process, wait_for
from tests.servers import Response, TestServer

# A worker in a child process: fast heartbeats so a killed one is found stalled within seconds. With a
# pause, it sleeps after the crawl has stored its items and before the job is done (the kill window).
WORKER = """
import sys, time
import monitor.distributed.worker as w
from tests.helpers import FakeScorer
url, feeds, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
if pause:
    real = w.plan_next_poll
    def slow(*args, **kwargs):
        print("stored", flush=True)
        time.sleep(pause)
        return real(*args, **kwargs)
    w.plan_next_poll = slow
w.CrawlWorker(url, feeds, concurrency=2, scorer=FakeScorer(), beat_seconds=0.5, queue_heartbeat_seconds=0.5,
              stalled_seconds=3).run()
"""
STALLED = 3.0
SEND_JITTER = 0.2  # seconds from a request's start in the worker to its arrival at the test server, at most


def _feeds(tmp_path: Path, sources: list[dict], **settings) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(feeds_yaml(sources, {"allow_private_networks": True, **settings}), encoding="utf-8")
    return path


def _prepare(url: str, feeds: Path) -> dict[str, int]:
    """The schema, the queue's schema and the sources, as `monitor scheduler` leaves them at start."""
    database = db.connect(url)
    try:
        ids = sync_sources(database, config_module.load(feeds).sources)
    finally:
        database.close()
    queue.ensure_schema(url)
    return ids


def _enqueue(url: str, *source_ids: int) -> None:
    app = queue.make_app(url)
    with app.open():
        for number in source_ids:
            queue.enqueue_crawl(app, number)


def _work(url: str, feeds: Path) -> None:
    """One in-process worker until the queue is empty."""
    CrawlWorker(url, feeds, concurrency=2, scorer=FakeScorer()).run(wait=False, install_signal_handlers=False)




def _timed(server: TestServer, log: list, body: bytes, seconds: float, lock: threading.Lock):
    """A handler that answers `body` after `seconds`, noting (path, start, end) of each request."""
    def handler(request) -> Response:
        started = time.monotonic()
        time.sleep(seconds)
        with lock:
            log.append((request.path, started, time.monotonic()))
        return Response(200, {"Content-Type": "application/rss+xml"}, body)
    return handler


def _spawn_worker(url: str, feeds: Path, tmp_path: Path, name: str, pause: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-c", WORKER, url, str(feeds), str(pause)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=open(tmp_path / f"{name}.log", "wb"))


# --------------------------------------------------------------------------- queue and worker


def test_due_sources_are_queued_once_each_and_paused_or_later_ones_not(pg_url, tmp_path):
    feeds = _feeds(tmp_path, [{"name": n, "kind": "rss", "url": f"http://127.0.0.1:9/{n}.xml", "interval": "10m"}
                              for n in ("a", "b", "c", "d")])
    ids = _prepare(pg_url, feeds)
    database = db.connect(pg_url, migrate_schema=False)
    set_paused(database, ids["c"], True)
    database.execute("UPDATE sources SET next_run_at = '2999-01-01T00:00:00Z' WHERE id = ?", [ids["d"]])
    scheduler = DistributedScheduler(pg_url, feeds, housekeeping=False, spike_check_seconds=None)
    scheduler.app.open()
    try:
        assert scheduler.dispatch() == 2
        database.execute("UPDATE sources SET next_run_at = NULL WHERE id IN (?, ?)", [ids["a"], ids["b"]])
        assert scheduler.dispatch() == 0  # due again, but a job of each is still waiting
    finally:
        scheduler.app.close()
        scheduler.resources.close()
    queued = query_url(pg_url, "SELECT args->>'source_id', status, queueing_lock, lock FROM procrastinate_jobs")
    assert sorted(queued) == [(str(ids["a"]), "todo", f"source:{ids['a']}", f"source:{ids['a']}"),
                              (str(ids["b"]), "todo", f"source:{ids['b']}", f"source:{ids['b']}")]
    database.close()


def test_a_worker_crawls_a_queued_source_and_records_its_next_poll(pg_url, tmp_path):
    with TestServer() as server:
        server.route("/a.xml", rss("a", items_for("a", range(6))), content_type="application/rss+xml")
        feeds = _feeds(tmp_path, [{"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "10m"}])
        ids = _prepare(pg_url, feeds)
        _enqueue(pg_url, ids["a"])
        _work(pg_url, feeds)
    assert query_url(pg_url, "SELECT guid FROM items ORDER BY guid") == [(f"a-{n}",) for n in range(6)]
    assert query_url(pg_url, "SELECT status, items_new FROM crawl_runs") == [("ok", 6)]
    (interval, next_run_at), = query_url(pg_url, "SELECT effective_interval_seconds, next_run_at FROM sources")
    assert interval == 600 and db.from_iso(next_run_at).timestamp() > time.time() + 500
    assert query_url(pg_url, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'") == [(0,)]


# --------------------------------------------------------------------------- politeness across workers


def test_two_worker_processes_keep_one_request_at_a_time_and_the_delay_to_a_host(pg_url, tmp_path):
    log: list = []
    lock = threading.Lock()
    delay = 1.0
    with TestServer() as server:
        names = [f"s{n}" for n in range(6)]
        for name in names:
            server.route(f"/{name}.xml", handler=_timed(server, log, rss(name, items_for(name, range(2))), 0.15, lock))
        feeds = _feeds(tmp_path, [{"name": n, "kind": "rss", "url": server.url(f"/{n}.xml"), "interval": "10m"}
                                  for n in names], host_delay=delay, host_concurrency=1)
        ids = _prepare(pg_url, feeds)
        _enqueue(pg_url, *ids.values())
        processes = [_spawn_worker(pg_url, feeds, tmp_path, f"w{n}") for n in range(2)]
        try:
            wait_for(lambda: len(log) == len(names), timeout=60)
            wait_for(lambda: query_url(pg_url, "SELECT count(*) FROM crawl_runs WHERE status = 'ok'")[0][0] == 6, 30)
        finally:
            for process in processes:
                stop_process(process, 20)
    spans = sorted(log, key=lambda entry: entry[1])
    for (_, _, end), (_, start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.005, "two requests to the host overlapped"
    # The workers start requests at least `delay` apart (db.hosts.confirm_start); what the server sees also
    # carries each request's own way there (a thread scheduled late on a busy machine), hence SEND_JITTER.
    gaps = [second - first for (_, first, _), (_, second, _) in zip(spans, spans[1:], strict=False)]
    assert min(gaps) >= delay - SEND_JITTER, f"requests {min(gaps):.3f}s apart, under host_delay {delay}"
    assert query_url(pg_url, "SELECT requests FROM host_slots") == [(6,)]
    owners = query_url(pg_url, "SELECT DISTINCT value FROM service_state WHERE key LIKE 'crawl_run_owner:%'")
    assert owners == []  # every run closed by its owner
    assert query_url(pg_url, "SELECT count(*) FROM items") == [(12,)]


def test_retry_after_from_one_worker_holds_the_host_for_the_next(pg_url, tmp_path):
    asked: dict[str, float] = {}
    with TestServer() as server:
        def limited(request) -> Response:
            asked.setdefault(request.path, time.monotonic())
            return Response(429, {"Retry-After": "3", "Content-Type": "text/plain"}, b"slow down")
        server.route("/a.xml", handler=limited)
        for name in ("b", "c"):
            server.route(f"/{name}.xml", handler=lambda request, n=name: (
                asked.setdefault(request.path, time.monotonic()),
                Response(200, {"Content-Type": "application/rss+xml"}, rss(n, items_for(n, range(1)))))[1])
        feeds = _feeds(tmp_path, [{"name": n, "kind": "rss", "url": server.url(f"/{n}.xml"), "interval": "10m"}
                                  for n in ("a", "b", "c")], host_delay=0)
        ids = _prepare(pg_url, feeds)
        _enqueue(pg_url, ids["a"])
        _work(pg_url, feeds)  # asked once, told to wait 3 s
        _enqueue(pg_url, ids["b"], ids["c"])
        _work(pg_url, feeds)  # another worker, nothing shared in memory
    assert set(asked) == {"/a.xml", "/b.xml", "/c.xml"}
    assert asked["/b.xml"] - asked["/a.xml"] >= 2.9 and asked["/c.xml"] - asked["/a.xml"] >= 2.9
    assert query_url(pg_url, "SELECT count(*) FROM items") == [(2,)]


# --------------------------------------------------------------------------- a worker killed mid-job


def _items_once(url: str) -> list[tuple]:
    """Every stored item's guid, asserting none is stored twice."""
    assert query_url(url, "SELECT guid FROM items GROUP BY source_id, guid HAVING count(*) > 1") == []
    return query_url(url, "SELECT guid FROM items ORDER BY guid")


def _retried_by_another_worker(url: str, feeds: Path, tmp_path: Path) -> None:
    """What the active scheduler does every few seconds (queue.retry_stalled), until the job is back,
    then a second worker process does it."""
    wait_for(lambda: queue.retry_stalled(url, STALLED), timeout=30, interval=0.5)
    second = _spawn_worker(url, feeds, tmp_path, "second")
    try:
        wait_for(lambda: query_url(url, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
                 == [(0,)], timeout=60)
    finally:
        stop_process(second, 20)


def test_a_worker_killed_during_its_fetch_has_the_job_done_again_and_each_item_stored_once(pg_url, tmp_path,
                                                                                          monkeypatch):
    asked = threading.Event()
    with TestServer() as server:
        body = rss("a", items_for("a", range(8)))

        def slow_first(request) -> Response:
            if not asked.is_set():
                asked.set()
                time.sleep(30)  # the worker is killed meanwhile
            return Response(200, {"Content-Type": "application/rss+xml"}, body)

        server.route("/a.xml", handler=slow_first)
        feeds = _feeds(tmp_path, [{"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "10m"}])
        ids = _prepare(pg_url, feeds)
        _enqueue(pg_url, ids["a"])
        first = _spawn_worker(pg_url, feeds, tmp_path, "first")
        try:
            assert asked.wait(30), "the first worker never asked for the feed"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        _retried_by_another_worker(pg_url, feeds, tmp_path)
    assert _items_once(pg_url) == [(f"a-{n}",) for n in range(8)]
    # The killed worker's run stays open until its heartbeat is stale; then the scheduler's pass closes it.
    monkeypatch.setattr(workers, "STALE_SECONDS", 1.0)
    database = db.connect(pg_url, migrate_schema=False)
    try:
        assert recover_interrupted_runs(database) == 1
    finally:
        database.close()
    runs = query_url(pg_url, "SELECT status, items_new, error FROM crawl_runs ORDER BY id")
    assert [run[:2] for run in runs] == [("error", 0), ("ok", 8)] and "interrupted" in runs[0][2]


def test_a_worker_killed_after_storing_but_before_finishing_leaves_no_item_twice(pg_url, tmp_path):
    served = []
    with TestServer() as server:
        def growing(request) -> Response:  # the retry sees the feed grown by four entries
            served.append(time.monotonic())
            numbers = range(6) if len(served) == 1 else range(10)
            return Response(200, {"Content-Type": "application/rss+xml"}, rss("a", items_for("a", numbers)))

        server.route("/a.xml", handler=growing)
        feeds = _feeds(tmp_path, [{"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "10m"}])
        ids = _prepare(pg_url, feeds)
        _enqueue(pg_url, ids["a"])
        first = _spawn_worker(pg_url, feeds, tmp_path, "first", pause=60)
        try:
            assert first.stdout is not None and first.stdout.readline().strip() == b"stored"
            assert len(_items_once(pg_url)) == 6
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        _retried_by_another_worker(pg_url, feeds, tmp_path)
    assert len(served) == 2
    assert _items_once(pg_url) == sorted((f"a-{n}",) for n in range(10))


# --------------------------------------------------------------------------- leader election


def _Scheduler(url: str, feeds: Path, log: Path) -> ChildProcess:  # noqa: N802 - reads as the class it was
    """`monitor scheduler` in a child process, its stdout lines collected as they come."""
    # On PostgreSQL the audit key and checkpoints cannot live beside the database (db.keys): the leader's
    # hourly checkpoint needs both named.
    (log.parent / "state").mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
               MONITOR_AUDIT_KEY_FILE=str(log.parent / "audit.key"), MONITOR_STATE_DIR=str(log.parent / "state"))
    code = "from monitor.cli import console; console()"
    return ChildProcess([sys.executable, "-c", code, "--db", url, "--feeds", str(feeds), "scheduler"], env, log)


def _roles(url: str) -> dict[int, str]:
    rows = query_url(url, "SELECT id, state FROM workers WHERE kind = 'scheduler'")
    return {int(worker_id.rsplit(":", 1)[1]): state for worker_id, state in rows}


def test_a_standby_scheduler_takes_over_within_seconds_when_the_leader_is_killed(pg_url, tmp_path):
    feeds = _feeds(tmp_path, [{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a.xml", "interval": "10m"}])
    ids = _prepare(pg_url, feeds)
    first = _Scheduler(pg_url, feeds, tmp_path / "first.log")
    second = None
    try:
        wait_for(lambda: first.said("active scheduler"), timeout=60)
        second = _Scheduler(pg_url, feeds, tmp_path / "second.log")
        wait_for(lambda: second.said("standby"), timeout=60)
        wait_for(lambda: _roles(pg_url) == {first.process.pid: "leader", second.process.pid: "standby"}, 15)
        wait_for(lambda: query_url(pg_url, "SELECT count(*) FROM procrastinate_jobs")[0][0] == 1, 15)  # 'a' queued
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        killed = time.monotonic()
        wait_for(lambda: second.said("active scheduler"), timeout=30)
        assert time.monotonic() - killed < 10, "the standby took too long to take over"
        assert not second.said("leadership lost")
        # the new leader schedules: the source, due again, is queued by it (its job is still waiting: once)
        query_url(pg_url, "UPDATE sources SET next_run_at = NULL WHERE id = ? RETURNING id", (ids["a"],))
        wait_for(lambda: query_url(pg_url, "SELECT next_run_at FROM sources")[0][0] is not None, 15)
        assert query_url(pg_url, "SELECT count(*) FROM procrastinate_jobs")[0][0] == 1
        wait_for(lambda: _roles(pg_url).get(second.process.pid) == "leader", 15)
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(30) == 0
        assert second.process.pid not in _roles(pg_url)  # a clean stop removes its heartbeat row
    finally:
        for scheduler in (first, second):
            if scheduler is not None and scheduler.process.poll() is None:
                scheduler.process.kill()
                scheduler.process.wait(10)


def test_a_one_off_crawl_beside_the_workers_keeps_its_runs_while_it_beats(pg_url):
    """`monitor crawl` on PostgreSQL beats like a worker: the active scheduler's recovery (another connection)
    leaves its open run alone while it runs, and closes such a run once its process is gone."""
    from db.sources import ensure_source, start_run
    from monitor.distributed.worker import heartbeat
    from monitor.schedule.locks import claim_run_on

    database = db.connect(pg_url)
    source_id = ensure_source(database, "Nguồn", "rss", "https://nguon.vn/rss", "vi")
    scheduler_side = db.connect(pg_url)
    with heartbeat(pg_url, kind="crawl") as me:
        owner = claim_run_on(database)
        assert owner == me
        run_id = start_run(database, source_id, owner=owner)
        assert recover_interrupted_runs(scheduler_side) == 0
        assert [r["kind"] for r in workers.beats(scheduler_side) if r["id"] == me] == ["crawl"]
    assert claim_run_on(database) is None and not [r for r in workers.beats(scheduler_side) if r["id"] == me]
    assert recover_interrupted_runs(scheduler_side) == 1  # left running by a process that no longer beats
    status = database.conn.execute("SELECT status FROM crawl_runs WHERE id = ?", [run_id]).fetchone()[0]
    assert status != "running"
