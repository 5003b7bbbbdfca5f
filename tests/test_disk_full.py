"""Issue 15 item 17: a full disk is seen (status, Sources page, /health), backs crawling off, loses nothing."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import namedtuple

import pytest

import db
import monitor.pipeline
from monitor import storage
from monitor.config import load_text
from monitor.crawl.crawler import crawl_sources
from monitor.schedule.scheduler import Scheduler
from monitor.status import status_report
from tests import helpers
from tests.scheduler_fixtures import feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer
from web.sources_page import register

FULL = "database or disk is full"


def test_a_transaction_sqlite_already_rolled_back_keeps_the_error_that_caused_it(tmp_db):
    """SQLite rolls a transaction back by itself on SQLITE_FULL; our ROLLBACK then failed with
    "cannot rollback - no transaction is active", which replaced the real error."""
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        with db.transaction(tmp_db) as conn:
            conn.execute("ROLLBACK")  # what SQLite does on its own after a full disk
            raise sqlite3.OperationalError("database or disk is full")
    assert not tmp_db.conn.in_transaction
    with db.transaction(tmp_db) as conn:  # the connection is usable again
        conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES ('k', 'v', 'now')")


class _FailingRollback:
    """A connection whose ROLLBACK fails (as on an I/O error), everything else passed through."""

    def __init__(self, conn: sqlite3.Connection):
        self.real = conn

    @property
    def in_transaction(self) -> bool:
        return self.real.in_transaction

    def execute(self, sql: str, *args):
        if sql == "ROLLBACK":
            self.real.execute("ROLLBACK")
            raise sqlite3.OperationalError("disk I/O error")
        return self.real.execute(sql, *args)


@pytest.mark.parametrize("fail_in", ["body", "commit"])
def test_a_failing_rollback_is_logged_and_the_original_error_raised(tmp_db, caplog, fail_in):
    caplog.set_level(logging.WARNING, logger="db")
    proxy = type("Database", (), {"conn": _FailingRollback(tmp_db.conn)})()
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with db.transaction(proxy) as conn:
            if fail_in == "commit":
                conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
            conn.execute("INSERT INTO crawl_runs (source_id, started_at) VALUES (999, 'x')")
    assert "rollback failed" in caplog.text and "disk I/O error" in caplog.text
    assert not tmp_db.conn.in_transaction


# --------------------------------------------------------------------------- a full disk during crawls


@pytest.fixture
def disk_full(monkeypatch):
    """Every item write fails as SQLite fails on a full disk; `.release()` gives the space back."""
    real = monitor.pipeline._store
    calls = []

    def refuse(*args, **kwargs):
        calls.append(1)
        raise sqlite3.OperationalError(FULL)

    monkeypatch.setattr(monitor.pipeline, "_store", refuse)

    class Switch:
        attempts = calls

        @staticmethod
        def release() -> None:
            monkeypatch.setattr(monitor.pipeline, "_store", real)

    return Switch


def _serve_feeds(server: TestServer, names: list[str], per_feed: int = 5) -> list[dict]:
    sources = []
    for name in names:
        url = server.route(f"/{name}.xml", rss(name, items_for(name, range(per_feed))),
                           content_type="application/rss+xml", etag=f'"{name}-v1"')
        sources.append({"name": name, "kind": "rss", "url": url, "interval": "5s"})
    return sources


def _feed_requests(server: TestServer, names: list[str]) -> int:
    return sum(len(server.requests_to(f"/{name}.xml")) for name in names)


def test_a_crawl_pass_on_a_full_disk_says_so_stops_fetching_and_loses_nothing(db_path, disk_full):
    names = ["a", "b", "c"]
    with TestServer() as server:
        config = load_text(feeds_yaml(_serve_feeds(server, names), {"workers": 1, "allow_private_networks": True}),
                           "feeds.yaml")
        results = crawl_sources(db_path, config, scorer=None)
        assert all(r.status == "error" and r.storage_full for r in results)
        assert all(f"disk full / cannot write {db_path}" in r.error and FULL in r.error for r in results)
        # The disk is shared by every source: after the first refusal no other host is asked.
        assert _feed_requests(server, names) == 1
        database = db.connect(db_path)
        first = results[0].source
        row = database.conn.execute("SELECT etag, last_error, consecutive_failures, paused FROM sources"
                                    " WHERE name = ?", (first,)).fetchone()
        assert row[0] is None  # not advanced: the next pass must get the feed again, not a 304
        assert "disk full / cannot write" in row[1] and row[2] == 1 and row[3] == 0
        run = database.conn.execute("SELECT status, error FROM crawl_runs").fetchall()
        assert len(run) == 1 and run[0][0] == "error" and "disk full / cannot write" in run[0][1]
        report = status_report(database)
        assert report["storage"]["reason"] == "disk full / cannot write"
        assert str(db_path) in report["storage"]["error"]
        assert {s["name"]: s["state"] for s in report["sources"]} == {n: "failing" for n in names}
        assert database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0

        disk_full.release()  # space returns
        again = crawl_sources(db_path, config, scorer=None)
        assert [r.status for r in again] == ["ok"] * 3 and sum(r.new for r in again) == 15
        assert "if-none-match" not in server.requests_to(f"/{first}.xml")[1].headers
    assert database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 15
    report = status_report(database)
    assert report["storage"] is None
    assert {s["state"] for s in report["sources"]} == {"ok"}
    database.conn.close()


def test_the_scheduler_backs_off_every_source_on_a_full_disk_and_resumes_when_space_returns(
        db_path, tmp_path, disk_full):
    names = ["a", "b", "c", "d"]
    feeds = tmp_path / "feeds.yaml"
    with TestServer() as server:
        feeds.write_text(feeds_yaml(_serve_feeds(server, names), {"workers": 2, "allow_private_networks": True}),
                         encoding="utf-8")
        # 5 s intervals run every 0.1 s; the storage back-off (60 s) lasts 1.2 s.
        scheduler = Scheduler(db_path, feeds, interval_scale=0.02, heartbeat_seconds=0.1, reconcile_seconds=0.1,
                              housekeeping=False, first_run_spread=0.05, scorer_factory=lambda: None)
        scheduler.start()
        try:
            wait_for(lambda: disk_full.attempts, timeout=10)
            time.sleep(0.5)  # well inside the 1.2 s back-off, even on a loaded machine
            # Without the back-off every source is fetched every 0.1 s (a dozen requests by now).
            assert _feed_requests(server, names) <= 2
            assert scheduler.storage_backoff() == 60
            database = db.connect(db_path, migrate_schema=False)
            assert status_report(database)["storage"]["reason"] == "disk full / cannot write"
            disk_full.release()
            wait_for(lambda: database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 20, timeout=15)
            wait_for(lambda: status_report(database)["storage"] is None, timeout=5)
            assert scheduler.storage_backoff() == 0
            assert database.conn.execute("SELECT COUNT(*) FROM sources WHERE paused = 1").fetchone()[0] == 0
        finally:
            assert scheduler.stop(timeout=5)
    database.conn.close()


# --------------------------------------------------------------------------- what operators see


def _web(path, **config):
    app = helpers.make_app(path, **config)
    register(app)
    return app.test_client()


def test_health_status_page_and_monitor_status_say_disk_full(built_world, tmp_path, capsys):
    from monitor.cli import main

    # The path is shown on a page: escaped like everything else.
    path = helpers.copy_database(built_world[0], tmp_path, name="m<img src=x onerror=alert(1)>.db")
    database = db.connect(path)
    storage.failed(database, sqlite3.OperationalError(FULL))  # what a crawl records when its write fails
    anonymous = _web(path).get("/health")
    assert anonymous.status_code == 503
    assert anonymous.get_json() == {"status": "error", "reasons": ["disk full / cannot write"]}

    admin = _web(path)
    helpers.login(admin, "adm")
    body = admin.get("/health").get_json()
    assert body["status"] == "error" and str(path) in body["storage"]["error"]
    page = admin.get("/admin/sources/").get_data(as_text=True)
    assert 'id="storage-error"' in page and "<img src=x" not in page
    assert str(path).replace("<", "&lt;").replace(">", "&gt;") in page
    assert 'data-state="ok"' not in page

    assert main(["--db", str(path), "status"]) == 0
    out = capsys.readouterr().out
    assert f"Storage: disk full / cannot write {path}" in out

    storage.recovered(database)
    assert _web(path).get("/health").get_json()["status"] != "error"
    assert "storage-error" not in admin.get("/admin/sources/").get_data(as_text=True)
    database.conn.close()


def test_another_process_sees_a_full_disk_by_its_free_space(tmp_path, monkeypatch):
    """`monitor status` in another process: nothing could be recorded, but the disk is visibly full."""
    path = tmp_path / "m.db"
    database = db.connect(path)
    assert status_report(database)["storage"] is None
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda folder: usage(10**9, 10**9 - 4096, 4096))
    found = status_report(database)["storage"]
    assert found["reason"] == "disk full / cannot write" and "4096 bytes free" in found["error"]
    database.conn.close()


_SMALL_FILE_LIMIT = """
import json, os, resource, signal, sys
import db
from monitor.config import load_text
from monitor.crawl.crawler import crawl_sources
from monitor.text.language import detect_language
from monitor.status import status_report

path, feeds = sys.argv[1], sys.argv[2]
config = load_text(open(feeds, encoding="utf-8").read(), feeds)
detect_language("Le comité provincial examine la transformation numérique")  # py3langid unpacks its model once
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
limit = os.path.getsize(path) + 64 * 1024
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
full = crawl_sources(path, config, scorer=None)
storage = status_report(db.connect(path, migrate_schema=False))["storage"]
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
again = crawl_sources(path, config, scorer=None)
print(json.dumps({"full": [r.to_dict() for r in full], "storage": storage, "again": [r.to_dict() for r in again]}))
"""


def test_a_real_file_size_limit_is_reported_as_cannot_write_and_nothing_is_lost(db_path, tmp_path):
    """The storage really refusing writes (RLIMIT_FSIZE in a child process), not an injected error."""
    import json
    import subprocess
    import sys

    from tests.scheduler_fixtures import REPO

    db.connect(db_path).conn.close()
    feeds = tmp_path / "feeds.yaml"
    with TestServer() as server:
        url = server.route("/big.xml", rss("big", items_for("big", range(300))), content_type="application/rss+xml",
                           etag='"big-1"')
        feeds.write_text(feeds_yaml([{"name": "big", "kind": "rss", "url": url}],
                                    {"workers": 1, "allow_private_networks": True}), encoding="utf-8")
        done = subprocess.run([sys.executable, "-c", _SMALL_FILE_LIMIT, str(db_path), str(feeds)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
        [full], [again] = outcome["full"], outcome["again"]
        assert full["status"] == "error" and full["storage_full"] is True
        assert full["error"].startswith(f"disk full / cannot write {db_path}")
        assert outcome["storage"]["reason"] == "disk full / cannot write"
        assert (again["status"], again["new"]) == ("ok", 300)
        assert "if-none-match" not in server.requests_to("/big.xml")[1].headers
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 300
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# --------------------------------------------------------------------------- `monitor serve` on a full disk


def _web_cannot_open(monkeypatch, path, error: sqlite3.Error):
    """A web app whose later requests cannot open the database, as on a full disk under `monitor serve`:
    nothing holds the database open, so each request must create the WAL index and SQLite refuses."""
    anonymous, admin = _web(path), _web(path)
    helpers.login(admin, "adm")
    real = db.connect

    def refuse(where, **kwargs):
        if str(where) == str(path) and not kwargs.get("readonly"):
            raise error
        return real(where, **kwargs)

    monkeypatch.setattr(db, "connect", refuse)
    return anonymous, admin


@pytest.mark.parametrize("error", [sqlite3.OperationalError("disk I/O error"),
                                   sqlite3.OperationalError(FULL)])
def test_serve_on_a_full_disk_says_disk_full_on_health_and_pages_never_500(world, tmp_path, monkeypatch, error):
    """issue 15 follow-up 6: anonymous /health said "database unreachable"; an admin's /health and the
    Sources page were 500s (loading the logged-in user opened the database first and the error escaped)."""
    path, _ = world
    anonymous, admin = _web_cannot_open(monkeypatch, path, error)
    full = {"status": "error", "reasons": ["disk full / cannot write"]}
    response = anonymous.get("/health")
    assert (response.status_code, response.get_json()) == (503, full)
    response = admin.get("/health")  # who is asking cannot be checked without the database: the public answer
    assert (response.status_code, response.get_json()) == (503, full)
    page = admin.get("/admin/sources/")
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "ổ đĩa đầy" in text  # in the user's language (Vietnamese by default)
    assert str(tmp_path) not in text  # the file's path is for the log and for admins, not for whoever asks
    api = anonymous.get("/api/v1/queue", headers={"Authorization": "Bearer mon_anything"})
    assert api.status_code == 503 and api.get_json()["error"] == "storage_unavailable"
    assert anonymous.post("/login", data={"name": "adm", "password": helpers.PASSWORD}).status_code == 503


def test_serve_sees_a_full_disk_by_its_free_space_when_sqlite_only_says_it_cannot_open(world, monkeypatch):
    """SQLite says "unable to open database file" when it cannot create a file: the free space tells why."""
    path, _ = world
    anonymous, admin = _web_cannot_open(monkeypatch, path, sqlite3.OperationalError("unable to open database file"))
    assert anonymous.get("/health").get_json()["reasons"] == ["database unreachable"]  # the disk has room: not full
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(storage.shutil, "disk_usage", lambda folder: usage(10**9, 10**9 - 4096, 4096))
    assert anonymous.get("/health").get_json() == {"status": "error", "reasons": ["disk full / cannot write"]}
    assert admin.get("/admin/sources/").status_code == 503


def test_a_read_that_fails_for_lack_of_space_is_a_503_and_other_database_errors_stay_errors(world, monkeypatch):
    """The rule is monitor.storage's: a full disk is the machine's condition (503), a bug keeps its traceback."""
    import web.sources_page

    path, _ = world
    admin = _web(path)
    helpers.login(admin, "adm")
    failure = sqlite3.OperationalError(FULL)

    def overview(database):
        raise failure

    monkeypatch.setattr(web.sources_page, "sources_overview", overview)
    page = admin.get("/admin/sources/")
    assert page.status_code == 503 and "ổ đĩa đầy" in page.get_data(as_text=True)
    failure = sqlite3.OperationalError("no such column: bogus")
    with pytest.raises(sqlite3.OperationalError, match="bogus"):  # TESTING propagates what would be a logged 500
        admin.get("/admin/sources/")


def test_a_full_postgresql_server_is_cannot_write_and_named_by_its_url_without_the_password(pg_url):
    """PostgreSQL's disk_full (SQLSTATE 53100) is the storage refusing writes, as SQLITE_FULL is; the message
    names the database URL, never its password, and is recorded where other processes read it."""
    import psycopg.errors

    full = psycopg.errors.DiskFull('could not extend file "base/16384/2619": No space left on device')
    assert storage.cannot_write(full)
    assert not storage.cannot_write(psycopg.errors.UniqueViolation("duplicate key value"))
    secret = "postgresql://monitor:s3cret@db.example.vn:5432/monitor"
    said = storage.describe(secret, full)
    assert said == ('disk full / cannot write postgresql://monitor:***@db.example.vn:5432/monitor'
                    ' (could not extend file "base/16384/2619": No space left on device)')
    assert storage.problem(secret, full)["path"] == "postgresql://monitor:***@db.example.vn:5432/monitor"
    database = db.connect(pg_url)
    try:
        message = storage.failed(database, full)
        assert message.startswith(f"disk full / cannot write {pg_url} (could not extend")
        assert storage.status(database)["error"] == message
        storage.recovered(database)
        assert storage.status(database) is None  # no free-space guess about a server's disk
    finally:
        database.close()
