"""Issue 14 §4: the whole cluster on one PostgreSQL database, with processes dying under it.

One scheduler, three workers and two `monitor serve` web processes on 127.0.0.1 crawl 200 local sources of
five items each. One worker is killed with SIGKILL while it is fetching, and the scheduler is killed once and
replaced (the new one must take the leader lock and put the dead worker's job back in the queue). Meanwhile
two moderators decide items through the two web processes at the same moment (the JSON API, one bearer
token each): every item they race for is decided once (one 201, one 409), never twice. At the end no item is
lost or stored twice, the decisions in the database are the 201s, and `monitor audit verify` finds the
decision log intact.

The workers and schedulers run the same code as `monitor worker` / `monitor scheduler` (CrawlWorker.run,
run_scheduler) in child processes, with two timings shortened so the test fits CI: heartbeats every 0.5 s
and a worker silent for 3 s taken for dead (30 s by default), and the scorer replaced by tests.helpers'
FakeScorer (three processes loading the model would cost more than the crawl). The web processes are the
real `monitor serve --port 0`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import db
import db.tokens
import db.users
from tests.helpers import PASSWORD
from tests.scheduler_fixtures import REPO, ChildProcess, feeds_yaml, items_for, query_url, rss, wait_for
from tests.servers import Response, TestServer

SOURCES = 200
PER_SOURCE = 5
SLOW = ("s120", "s121", "s122")  # their first answer takes SLOW_SECONDS: a worker is mid-fetch when it is killed
SLOW_SECONDS = 4.0
RACED = 60  # items both moderators decide at the same moment
STALLED = 3.0
STALE = 5.0

WORKER = f"""
import sys
from monitor.distributed.worker import CrawlWorker
from tests.helpers import FakeScorer
CrawlWorker(sys.argv[1], sys.argv[2], concurrency=2, scorer=FakeScorer(), beat_seconds=0.5,
            queue_heartbeat_seconds=0.5, stalled_seconds={STALLED!r}).run()
"""

SCHEDULER = f"""
import signal, sys, threading
import db.workers
from monitor.distributed.leader import run_scheduler
db.workers.STALE_SECONDS = {STALE!r}  # a killed worker's open run is closed this long after its last beat
stop = threading.Event()
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: stop.set())
run_scheduler(sys.argv[1], sys.argv[2], stop, options={{"stalled_seconds": {STALLED!r}, "maintain_seconds": 1.0,
              "housekeeping": False, "spike_check_seconds": None}},
              announce=lambda line: print("monitor: " + line, flush=True))
"""




def _count(url: str, sql: str, params: tuple = ()) -> int:
    return int(query_url(url, sql, params)[0][0])


def _api(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base.rstrip("/") + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class Moderator(threading.Thread):
    """Decides each item of `items` through one web process, at the same moment as its rival (a barrier)."""

    def __init__(self, base: str, token: str, items: list[int], barrier: threading.Barrier):
        super().__init__(daemon=True)
        self.base, self.token, self.items, self.barrier = base, token, items, barrier
        self.created: list[int] = []  # decision ids answered 201
        self.conflicts = 0
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            for item_id in self.items:
                status, item = _api(self.base, self.token, "GET", f"/api/v1/items/{item_id}")
                if status != 200:
                    self.errors.append(f"GET item {item_id}: {status} {item}")
                    self.barrier.abort()
                    return
                self.barrier.wait(30)  # both have read the same version; now both decide
                status, body = _api(self.base, self.token, "POST", f"/api/v1/items/{item_id}/decisions",
                                    {"action": "dismiss", "version": item["version"]})
                if status == 201:
                    self.created.append(body["decision_id"])
                elif status == 409:
                    self.conflicts += 1
                else:
                    self.errors.append(f"POST item {item_id}: {status} {body}")
                self.barrier.wait(30)  # the other's answer is in before the next item is read
        except threading.BrokenBarrierError:
            self.errors.append("the other moderator stopped")
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(error))
            self.barrier.abort()


def _sources(server: TestServer) -> list[dict]:
    asked: set[str] = set()
    lock = threading.Lock()
    sources = []
    for n in range(SOURCES):
        name = f"s{n}"
        body = rss(name, items_for(name, range(PER_SOURCE)))
        if name in SLOW:
            def slow_first(request, path=f"/{name}.xml", body=body) -> Response:
                with lock:
                    first = path not in asked
                    asked.add(path)
                if first:
                    time.sleep(SLOW_SECONDS)
                return Response(200, {"Content-Type": "application/rss+xml"}, body)
            server.route(f"/{name}.xml", handler=slow_first)
        else:
            server.route(f"/{name}.xml", body, content_type="application/rss+xml")
        sources.append({"name": name, "kind": "rss", "url": server.url(f"/{name}.xml"), "interval": "20s"})
    return sources


def _owner_pid_of_open_run(url: str, source: str) -> int | None:
    """The pid of the worker holding `source`'s open crawl run (its owner is "<host>:<pid>")."""
    rows = query_url(url, "SELECT st.value FROM crawl_runs r JOIN sources s ON s.id = r.source_id"
                       " JOIN service_state st ON st.key = 'crawl_run_owner:' || r.id"
                       " WHERE s.name = ? AND r.status = 'running'", (source,))
    return int(rows[0][0].rsplit(":", 1)[1]) if rows else None


def _assert_every_item_once(url: str) -> None:
    """None lost, none twice, five per source; the killed worker's run closed as interrupted."""
    total = _count(url, "SELECT count(*) FROM items")
    distinct = _count(url, "SELECT count(*) FROM (SELECT DISTINCT source_id, guid FROM items) AS d")
    assert total == distinct == SOURCES * PER_SOURCE
    assert query_url(url, "SELECT count(*) FROM sources s WHERE (SELECT count(*) FROM items i"
                      " WHERE i.source_id = s.id) <> ?", (PER_SOURCE,)) == [(0,)]
    # The killed worker's run was closed as interrupted, and its source crawled again by another.
    assert _count(url, "SELECT count(*) FROM crawl_runs WHERE error LIKE 'interrupted%'") >= 1
    assert _count(url, "SELECT count(*) FROM crawl_runs WHERE status = 'running'") == 0


def _assert_each_raced_item_decided_once(url: str, moderators: list[Moderator]) -> None:
    """One 201 and one 409 per raced item, and the database holds exactly the 201s."""
    created = sorted(d for moderator in moderators for d in moderator.created)
    assert len(created) == RACED and sum(moderator.conflicts for moderator in moderators) == RACED
    assert [row[0] for row in query_url(url, "SELECT id FROM decisions ORDER BY id")] == created
    assert query_url(url, "SELECT item_id FROM decisions GROUP BY item_id HAVING count(*) > 1") == []
    assert query_url(url, "SELECT DISTINCT status FROM items WHERE id IN (SELECT item_id FROM decisions)") == \
        [("dismissed",)]


def test_a_cluster_with_a_worker_and_the_scheduler_killed_loses_and_repeats_nothing(pg_url, tmp_path):
    started = time.monotonic()
    state = tmp_path / "state"
    state.mkdir()
    feeds = tmp_path / "feeds.yaml"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", MONITOR_ALLOW_PRIVATE_NETWORKS="1",
               MONITOR_SECRET_KEY="s" * 40, MONITOR_AUDIT_KEY="a" * 40, MONITOR_STATE_DIR=str(state),
               MONITOR_FEEDS=str(feeds), MONITOR_ADMIN_PASSWORD=PASSWORD)
    cli = [sys.executable, "-c", "from monitor.cli import console; console()", "--db", pg_url]
    children: list[ChildProcess] = []

    def spawn(args: list[str], name: str) -> ChildProcess:
        child = ChildProcess(args, env, tmp_path / f"{name}.log")
        children.append(child)
        return child

    with TestServer() as server:
        feeds.write_text(feeds_yaml(_sources(server), {"allow_private_networks": True, "host_delay": 0,
                                                        "host_concurrency": 50}), encoding="utf-8")
        subprocess.run([*cli, "init", "--admin", "boss"], env=env, check=True, capture_output=True, timeout=60)
        database = db.connect(pg_url, migrate_schema=False)
        tokens = [db.tokens.create_token(database, db.users.add_user(database, name, PASSWORD, "moderator"), "test")
                  for name in ("mod1", "mod2")]
        database.close()
        try:
            scheduler = spawn([sys.executable, "-c", SCHEDULER, pg_url, str(feeds)], "scheduler1")
            workers = [spawn([sys.executable, "-c", WORKER, pg_url, str(feeds)], f"worker{n}") for n in range(3)]
            webs = [spawn([*cli, "serve", "--port", "0"], f"web{n}") for n in range(2)]
            bases = [wait_for(lambda web=web: web.said(r"serving (http://\S+/)"), timeout=60).group(1)
                     for web in webs]
            wait_for(lambda: scheduler.said("active scheduler"), timeout=30)

            # A worker killed while it fetches one of the slow feeds (its crawl run open, nothing stored).
            victim = wait_for(lambda: next(filter(None, (_owner_pid_of_open_run(pg_url, name)
                                                                     for name in SLOW)), None), timeout=60)
            killed = next(worker for worker in workers if worker.process.pid == victim)
            killed.kill9()
            at_worker_kill = _count(pg_url, "SELECT count(*) FROM items")

            # The scheduler killed too, before it could notice the dead worker: its replacement takes the leader lock
            # and must put the dead worker's jobs back in the queue.
            scheduler.kill9()
            at_scheduler_kill = _count(pg_url, "SELECT count(*) FROM items")
            scheduler = spawn([sys.executable, "-c", SCHEDULER, pg_url, str(feeds)], "scheduler2")
            wait_for(lambda: scheduler.said("active scheduler"), timeout=30)

            # The moderators race through both web processes while the crawl goes on.
            wait_for(lambda: _count(pg_url, "SELECT count(*) FROM items") >= RACED, timeout=60)
            raced = [row[0] for row in query_url(pg_url, "SELECT id FROM items ORDER BY id LIMIT ?", (RACED,))]
            barrier = threading.Barrier(2)
            moderators = [Moderator(base, token, raced, barrier) for base, token in zip(bases, tokens, strict=True)]
            for moderator in moderators:
                moderator.start()

            wait_for(lambda: _count(pg_url, "SELECT count(*) FROM items") >= SOURCES * PER_SOURCE, timeout=90,
                     interval=0.5)
            for moderator in moderators:
                moderator.join(120)
            wait_for(lambda: _count(pg_url, "SELECT count(*) FROM sources WHERE last_success_at IS NULL") == 0,
                     timeout=30, interval=0.5)
            # The killed worker's run is closed once its heartbeat is stale and the leader's maintenance (every
            # MAINTAIN_SECONDS) sees it: the rest of the crawl can finish before that, so wait for it, not race it.
            wait_for(lambda: _count(pg_url, "SELECT count(*) FROM crawl_runs WHERE error LIKE 'interrupted%'") >= 1,
                     timeout=60, interval=0.5)
        finally:
            for child in children:
                child.stop()

    assert 0 < at_worker_kill <= at_scheduler_kill < SOURCES * PER_SOURCE  # mid-crawl
    # The second scheduler found the killed worker's jobs and queued them again.
    assert "crawl job of a stopped worker queued again" in scheduler.log.read_text(encoding="utf-8")
    assert all(not moderator.errors for moderator in moderators), [moderator.errors for moderator in moderators]
    _assert_every_item_once(pg_url)
    _assert_each_raced_item_decided_once(pg_url, moderators)
    verified = subprocess.run([*cli, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    elapsed = time.monotonic() - started
    print(f"cluster test: {elapsed:.1f} s; items stored when the worker was killed: {at_worker_kill},"
          f" when the scheduler was: {at_scheduler_kill}")
