"""Crash safety of `monitor run`: kill -9 mid-crawl loses and duplicates nothing; SIGTERM is prompt."""

from __future__ import annotations

import random
import signal
import sqlite3
import time

from tests.scheduler_fixtures import ServiceProcess, feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer, slow_drip

SOURCES = 12
PER_SOURCE = 40


def _query(db_path, sql: str):
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_kill_9_during_crawls_then_restart_stores_every_item_exactly_once(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    rng = random.Random(7)
    with TestServer() as server:
        sources = []
        for i in range(SOURCES):
            name = f"src{i}"
            server.route(f"/{name}.xml", rss(name, items_for(name, range(PER_SOURCE))),
                         content_type="application/rss+xml", delay=0.4 if i else 2.5)
            sources.append({"name": name, "kind": "rss", "url": server.url(f"/{name}.xml"), "interval": "5s"})
        feeds.write_text(feeds_yaml(sources, {"workers": 3}), encoding="utf-8")

        # 1. Killed while src0's fetch is in flight (its crawl run is open, nothing of it committed).
        service = ServiceProcess(db_path, feeds)
        service.wait_address()
        wait_for(lambda: server.requests_to("/src0.xml"), timeout=20)
        time.sleep(0.5)
        running = _query(db_path, "SELECT s.name FROM crawl_runs r JOIN sources s ON s.id = r.source_id"
                                  " WHERE r.status = 'running'")
        assert ("src0",) in running
        service.kill9()
        service.stop()

        # 2. Killed at random moments while many sources are being fetched and stored.
        for _ in range(3):
            service = ServiceProcess(db_path, feeds)
            service.wait_address()
            time.sleep(rng.uniform(0.3, 1.5))
            service.kill9()
            service.stop()

        # 3. Restarted for good: everything arrives, once; interrupted runs are closed; all sources resume.
        with ServiceProcess(db_path, feeds) as service:
            service.wait_address()
            wait_for(lambda: _query(db_path, "SELECT COUNT(*) FROM items")[0][0] >= SOURCES * PER_SOURCE, timeout=60)
            wait_for(lambda: _query(db_path, "SELECT COUNT(*) FROM sources WHERE last_success_at IS NOT NULL"
                                             " AND next_run_at IS NOT NULL")[0][0] == SOURCES, timeout=30)
            time.sleep(1.5)  # a few more cycles of every source: still nothing duplicated
            assert service.stop() == 0

    total = _query(db_path, "SELECT COUNT(*) FROM items")[0][0]
    distinct = _query(db_path, "SELECT COUNT(DISTINCT guid) FROM items")[0][0]
    assert total == distinct == SOURCES * PER_SOURCE
    per_source = dict(_query(db_path, "SELECT s.name, COUNT(*) FROM items i JOIN sources s ON s.id = i.source_id"
                                      " GROUP BY s.name"))
    assert per_source == {f"src{i}": PER_SOURCE for i in range(SOURCES)}
    assert _query(db_path, "SELECT COUNT(*) FROM crawl_runs WHERE status = 'running'")[0][0] == 0
    interrupted = _query(db_path, "SELECT COUNT(*) FROM crawl_runs WHERE error LIKE 'interrupted%'")[0][0]
    assert interrupted >= 1
    assert _query(db_path, "PRAGMA integrity_check")[0][0] == "ok"


def test_sigterm_with_a_crawl_stuck_in_a_slow_fetch_exits_within_10_seconds(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    with TestServer() as server:
        server.route("/drip.xml", handler=slow_drip(b"<rss>" + b" " * 10_000, delay=0.2))
        server.route("/ok.xml", rss("ok", items_for("ok", range(3))), content_type="application/rss+xml")
        feeds.write_text(feeds_yaml([
            {"name": "drip", "kind": "rss", "url": server.url("/drip.xml"), "interval": "5s"},
            {"name": "ok", "kind": "rss", "url": server.url("/ok.xml"), "interval": "5s"},
        ], {"deadline": 120, "read_timeout": 60}), encoding="utf-8")
        service = ServiceProcess(db_path, feeds)
        try:
            service.wait_address()
            wait_for(lambda: server.requests_to("/drip.xml"), timeout=20)
            wait_for(lambda: _query(db_path, "SELECT COUNT(*) FROM items")[0][0] == 3, timeout=20)
            time.sleep(0.3)
            started = time.monotonic()
            service.signal(signal.SIGTERM)
            service.proc.wait(12)
            elapsed = time.monotonic() - started
        finally:
            service.stop()
        print(f"SIGTERM to exit: {elapsed:.1f} s")
        assert elapsed < 10
        assert service.proc.returncode == 0
        # The abandoned crawl committed nothing; the next start closes its run record.
        assert _query(db_path, "SELECT COUNT(*) FROM items")[0][0] == 3
        with ServiceProcess(db_path, feeds) as again:
            again.wait_address()
            wait_for(lambda: _query(db_path, "SELECT COUNT(*) FROM crawl_runs WHERE error LIKE 'interrupted%'")[0][0]
                     == 1, timeout=10)
