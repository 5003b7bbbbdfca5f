"""Crawler threads and moderators writing at once: nobody ever sees "database is locked"."""

from __future__ import annotations

import logging
import threading

import db
from monitor.crawl.crawler import crawl_source
from monitor.schedule.scheduler import Scheduler
from tests import helpers
from tests.scheduler_fixtures import feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer

SOURCES, PER_SOURCE, DECIDED = 8, 60, 80


def test_crawler_threads_and_web_decisions_never_surface_database_is_locked(world, tmp_path, caplog):
    (db_path, _), feeds = world, tmp_path / "feeds.yaml"
    database = db.connect(db_path)
    source_id = database.conn.execute("SELECT id FROM sources LIMIT 1").fetchone()[0]
    item_ids = [helpers.make_item(database, source_id, 1000 + n, title=f"Tin đồn số {n}", text=f"Nội dung {n}")
                for n in range(DECIDED)]
    app = helpers.make_app(db_path)
    caplog.set_level(logging.WARNING)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def moderator(name: str, ids: list[int]) -> None:
        try:
            client = app.test_client()
            assert helpers.login(client, name).status_code in (302, 303)
            for item_id in ids:
                response = client.post(f"/items/{item_id}/decide", data={"action": "dismiss", "version": "1",
                                                                           "note": "kiểm tra"})
                with lock:
                    statuses.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with TestServer() as server:
        sources = []
        for i in range(SOURCES):
            name = f"feed{i}"
            server.route(f"/{name}.xml", rss(name, items_for(name, range(PER_SOURCE))),
                         content_type="application/rss+xml")
            sources.append({"name": name, "kind": "rss", "url": server.url(f"/{name}.xml"), "interval": "5s"})
        feeds.write_text(feeds_yaml(sources, {"workers": 4}), encoding="utf-8")
        scheduler = Scheduler(db_path, feeds, crawl=crawl_source, scorer_factory=lambda: None, interval_scale=0.02,
                              heartbeat_seconds=0.05, reconcile_seconds=0.05, housekeeping=False,
                              first_run_spread=0.05)
        scheduler.start()
        try:
            # Two moderators race over the same items (one wins, one gets 409), two more on their own halves.
            threads = [threading.Thread(target=moderator, args=("mod", item_ids)),
                       threading.Thread(target=moderator, args=("mod2", item_ids)),
                       threading.Thread(target=moderator, args=("adm", item_ids[::-1]))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            wait_for(lambda: database.conn.execute("SELECT COUNT(*) FROM items WHERE guid LIKE 'feed%'")
                     .fetchone()[0] == SOURCES * PER_SOURCE, timeout=30)
        finally:
            assert scheduler.stop(timeout=10)

    assert not errors, errors
    assert len(statuses) == 3 * DECIDED
    assert set(statuses) <= {303, 409}, sorted(set(statuses))
    decisions = database.conn.execute("SELECT COUNT(*) FROM decisions WHERE note = 'kiểm tra'").fetchone()[0]
    assert decisions == statuses.count(303) == DECIDED  # each item decided exactly once
    formatter = logging.Formatter()
    assert not [r for r in caplog.records
                if "locked" in (r.getMessage() + (formatter.formatException(r.exc_info) if r.exc_info else "")).lower()]
    runs = database.conn.execute("SELECT COUNT(*) FROM crawl_runs WHERE status = 'error'").fetchone()[0]
    assert runs == 0, database.conn.execute("SELECT error FROM crawl_runs WHERE status = 'error'").fetchall()
