"""Issue 15 item 19: crawl runs a killed `monitor crawl` left 'running' are closed as interrupted at the next
start (`monitor crawl` or `monitor run`), while a run still in progress in another live process is left alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import db
from monitor.schedule.scheduler import Scheduler
from tests.scheduler_fixtures import REPO, feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer, slow_drip


def _query(db_path, sql: str, *args):
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _runs(db_path, source: str) -> list[tuple[str, str | None]]:
    return _query(db_path, "SELECT r.status, r.error FROM crawl_runs r JOIN sources s ON s.id = r.source_id"
                           " WHERE s.name = ? ORDER BY r.id", source)


def _monitor(db_path, feeds, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", "--db", str(db_path), "--feeds", str(feeds), *args]


def _setup(tmp_path, server: TestServer):
    db_path, feeds = tmp_path / "monitor.db", tmp_path / "feeds.yaml"
    server.route("/slow.xml", handler=slow_drip(b"<rss>" + b" " * 10_000, delay=0.2))
    server.route("/fast.xml", rss("fast", items_for("fast", range(3))), content_type="application/rss+xml")
    feeds.write_text(feeds_yaml([{"name": "slow", "kind": "rss", "url": server.url("/slow.xml")},
                                 {"name": "fast", "kind": "rss", "url": server.url("/fast.xml")}],
                                {"deadline": 120, "read_timeout": 60, "allow_private_networks": True}),
                     encoding="utf-8")
    db.connect(db_path).conn.close()
    return db_path, feeds


def _start_slow_crawl(db_path, feeds, server: TestServer) -> subprocess.Popen:
    """A `monitor crawl` stuck in a slow fetch, its run open ('running')."""
    proc = subprocess.Popen(_monitor(db_path, feeds, "crawl", "--source", "slow"), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: server.requests_to("/slow.xml") and _runs(db_path, "slow") == [("running", None)], timeout=30)
    return proc


def test_a_killed_crawls_run_is_closed_as_interrupted_by_the_next_monitor_crawl(tmp_path):
    with TestServer() as server:
        db_path, feeds = _setup(tmp_path, server)
        killed = _start_slow_crawl(db_path, feeds, server)
        killed.kill()  # SIGKILL: no finally, no atexit
        killed.wait(10)
        assert _runs(db_path, "slow") == [("running", None)]
        done = subprocess.run(_monitor(db_path, feeds, "crawl", "--source", "fast"), cwd=REPO,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    [(status, error)] = _runs(db_path, "slow")
    assert status == "error" and error.startswith("interrupted")
    assert _query(db_path, "SELECT COUNT(*) FROM crawl_runs WHERE status = 'running'") == [(0,)]
    assert _query(db_path, "SELECT COUNT(*) FROM service_state WHERE key LIKE 'crawl_run_owner:%'") == [(0,)]


def test_a_run_in_progress_in_another_process_is_not_closed_by_monitor_crawl_or_monitor_run(tmp_path):
    with TestServer() as server:
        db_path, feeds = _setup(tmp_path, server)
        live = _start_slow_crawl(db_path, feeds, server)
        try:
            done = subprocess.run(_monitor(db_path, feeds, "crawl", "--source", "fast"), cwd=REPO,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            assert _runs(db_path, "slow") == [("running", None)]  # its process is alive: not interrupted

            fast_only = tmp_path / "fast.yaml"
            fast_only.write_text(feeds_yaml([{"name": "fast", "kind": "rss", "url": server.url("/fast.xml"),
                                              "interval": "1h"}], {"allow_private_networks": True}),
                                 encoding="utf-8")
            scheduler = Scheduler(db_path, fast_only, housekeeping=False, scorer_factory=lambda: None)
            scheduler.start()  # what `monitor run` does on start
            assert scheduler.stop(timeout=5)
            assert _runs(db_path, "slow") == [("running", None)]
        finally:
            live.kill()
            live.wait(10)
        subprocess.run(_monitor(db_path, feeds, "crawl", "--source", "fast"), cwd=REPO, capture_output=True,
                       timeout=60, check=True)
    [(status, error)] = _runs(db_path, "slow")
    assert status == "error" and error.startswith("interrupted")


def test_a_stale_running_row_left_by_an_old_version_is_closed(tmp_db, db_path, tmp_path):
    """Rows from before runs named their process (no owner recorded) are closed like before."""
    from monitor.config import load_text
    from monitor.crawl.crawler import crawl_sources

    with db.transaction(tmp_db) as conn:
        conn.execute("INSERT INTO sources (name, kind, url, created_at) VALUES ('old', 'rss', 'http://x/', ?)",
                     (db.utcnow(),))
        conn.execute("INSERT INTO crawl_runs (source_id, started_at) VALUES (1, '2026-01-01T00:00:00Z')")
        # ... and one whose process is gone: pid 2**22 + 1 is above Linux's pid_max, so nobody holds its lock.
        conn.execute("INSERT INTO crawl_runs (source_id, started_at) VALUES (1, '2026-01-02T00:00:00Z')")
        conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES ('crawl_run_owner:2', ?, 'x')",
                     (f"pid {2**22 + 1}",))
    crawl_sources(tmp_db, load_text(feeds_yaml([]) + "  []\n", "feeds.yaml"), scorer=None)
    rows = tmp_db.conn.execute("SELECT status, error FROM crawl_runs ORDER BY id").fetchall()
    assert [status for status, _ in rows] == ["error", "error"]
    assert all(error.startswith("interrupted") for _, error in rows)


def test_checking_an_owner_creates_no_lock_file_and_an_unreadable_one_keeps_the_run(tmp_path):
    from monitor.schedule.locks import owner_alive

    path = str(tmp_path / "monitor.db")
    assert owner_alive(path, f"pid {2**22 + 1}") is False
    assert not (tmp_path / "monitor.db.runs.lock").exists()
    lock = tmp_path / "monitor.db.runs.lock"
    lock.write_bytes(b"")
    lock.chmod(0)
    try:
        import os
        if os.geteuid() != 0:  # root reads anything: then the lock is simply free
            assert owner_alive(path, f"pid {2**22 + 1}") is True
        else:
            assert owner_alive(path, f"pid {2**22 + 1}") is False
    finally:
        lock.chmod(0o644)
