"""`monitor run` as operators run it: a child process serving the web UI with the scheduler inside."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

from tests.scheduler_fixtures import REPO, ServiceProcess, feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer


def _count(db_path, sql: str, args: tuple = ()) -> int:
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def test_run_serves_health_stores_items_and_stops_on_sigterm(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    with TestServer() as server:
        server.route("/a.xml", rss("a", items_for("a", range(5))), content_type="application/rss+xml")
        server.route("/b.xml", rss("b", items_for("b", range(3))), content_type="application/rss+xml")
        feeds.write_text(feeds_yaml([
            {"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "5s"},
            {"name": "b", "kind": "rss", "url": server.url("/b.xml"), "interval": "5s"},
        ]), encoding="utf-8")
        service = ServiceProcess(db_path, feeds)
        try:
            service.wait_address()
            wait_for(lambda: _count(db_path, "SELECT COUNT(*) FROM items") == 8, timeout=30)
            status, body = wait_for(lambda: (lambda r: r if r[1].get("scheduler_heartbeat_age") is not None
                                             else None)(service.get_json("/health")))
            assert status == 200 and body["database"] is True
            assert body["scheduler_heartbeat_age"] < 5
            started = time.monotonic()
            service.signal(signal.SIGTERM)
            service.proc.wait(10)
            assert time.monotonic() - started < 10
            assert service.proc.returncode == 0, service.read_log()
        finally:
            service.stop()
    # Each published item stored exactly once.
    assert _count(db_path, "SELECT COUNT(*) FROM items") == 8
    assert _count(db_path, "SELECT COUNT(DISTINCT source_id || '/' || guid) FROM items") == 8


def test_second_run_on_same_database_refuses(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a.xml",
                                  "interval": "1h"}]), encoding="utf-8")
    with ServiceProcess(db_path, feeds) as first:
        first.wait_address()
        second = subprocess.run(
            [sys.executable, "-c", "import sys; from monitor.service import run; "
             f"sys.exit(run({str(db_path)!r}, {str(feeds)!r}, '127.0.0.1', 0))"],
            cwd=REPO, capture_output=True, text=True, timeout=30)
        assert second.returncode == 3
        assert "already running" in second.stderr and "monitor.db" in second.stderr
        assert first.proc.poll() is None  # the first one is unaffected


def test_invalid_config_starts_nothing(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    feeds.write_text("sources:\n  - name: a\n    kind: rss\n    url: http://127.0.0.1/a\n    interval: soon\n",
                     encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from monitor.service import run; "
         f"sys.exit(run({str(db_path)!r}, {str(feeds)!r}, '127.0.0.1', 0))"],
        cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"{feeds}:5" in result.stderr and "interval" in result.stderr
    assert not db_path.exists()


def test_sighup_reloads_feeds_and_rejects_an_invalid_edit_keeping_the_running_config(tmp_path):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    with TestServer() as server:
        server.route("/a.xml", rss("a", items_for("a", range(2))), content_type="application/rss+xml")
        server.route("/c.xml", rss("c", items_for("c", range(3))), content_type="application/rss+xml")
        a = {"name": "a", "kind": "rss", "url": server.url("/a.xml"), "interval": "5s"}
        feeds.write_text(feeds_yaml([a]), encoding="utf-8")
        # The file watcher is slowed right down so that only SIGHUP can explain a reload.
        with ServiceProcess(db_path, feeds, scheduler_options={"reconcile_seconds": 3600}) as service:
            service.wait_address()
            wait_for(lambda: _count(db_path, "SELECT COUNT(*) FROM items") == 2)
            feeds.write_text(feeds_yaml([a, {"name": "c", "kind": "rss", "url": server.url("/c.xml"),
                                             "interval": "5s"}]), encoding="utf-8")
            service.signal(signal.SIGHUP)
            wait_for(lambda: _count(db_path, "SELECT COUNT(*) FROM items") == 5, timeout=20)

            feeds.write_text(feeds_yaml([a, {"name": "c", "kind": "gopher", "url": server.url("/c.xml")}]),
                             encoding="utf-8")
            service.signal(signal.SIGHUP)
            wait_for(lambda: "reload rejected" in service.read_log(), timeout=10)
            log = service.read_log()
            assert f"{feeds}:" in log and "'kind'" in log and "gopher" in log
            assert service.proc.poll() is None
            requests = len(server.requests_to("/c.xml"))
            wait_for(lambda: len(server.requests_to("/c.xml")) > requests, timeout=15)  # c still polled
            status, body = service.get_json("/health")
            assert status == 200
