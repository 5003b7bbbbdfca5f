"""The scheduler in-process: jobs per source, no overlap, back-off and pause, resume, reload, housekeeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

import db
from db.state import get_state, set_state
from monitor.cli import main
from monitor.config import SourceConfig, load_text
from monitor.crawl.crawler import crawl_source
from monitor.schedule.policy import bounds_for, next_interval
from monitor.schedule.scheduler import CONFIG_ERROR_KEY, HEARTBEAT_KEY, Scheduler
from monitor.service import scheduler_health
from tests.scheduler_fixtures import feeds_yaml, items_for, rss, wait_for
from tests.servers import TestServer

FAST = {"interval_scale": 0.02, "heartbeat_seconds": 0.1, "reconcile_seconds": 0.1, "housekeeping": False,
        "first_run_spread": 0.05, "scorer_factory": lambda: None}


def _result(status="ok", found=0, new=0, **extra):
    return SimpleNamespace(status=status, found=found, new=new, **extra)


def _source(**options) -> SourceConfig:
    return SourceConfig(name="s", kind="rss", url="http://127.0.0.1/x", interval_seconds=600, options=options)


# --------------------------------------------------------------------------- interval policy


def test_fixed_interval_unless_adaptive():
    bounds = bounds_for(_source())
    assert next_interval(bounds, 600, _result(found=10, new=10), 0) == 600
    assert next_interval(bounds, 600, _result(status="not_modified"), 0) == 600


def test_adaptive_faster_when_mostly_new_slower_when_mostly_seen_within_bounds():
    bounds = bounds_for(_source(adaptive=True, min_interval="5m", max_interval="30m"))
    assert (bounds.minimum, bounds.maximum) == (300, 1800)
    faster = next_interval(bounds, 600, _result(found=10, new=9), 0)
    slower = next_interval(bounds, 600, _result(found=10, new=0), 0)
    assert faster < 600 < slower
    current = 600
    for _ in range(20):
        current = next_interval(bounds, current, _result(found=10, new=10), 0)
    assert current == 300
    for _ in range(20):
        current = next_interval(bounds, current, _result(status="not_modified"), 0)
    assert current == 1800


def test_feed_ttl_and_cache_headers_are_a_floor_capped_by_the_upper_bound():
    bounds = bounds_for(_source(adaptive=True, min_interval="5m", max_interval="30m"))
    assert next_interval(bounds, 300, _result(found=10, new=10, ttl_seconds=1200), 0) == 1200
    assert next_interval(bounds, 300, _result(found=10, new=10, cache_seconds=86400), 0) == 1800


def test_failures_back_off_exponentially_and_honour_retry_after():
    bounds = bounds_for(_source())
    delays = [next_interval(bounds, 600, _result(status="error"), n) for n in (1, 2, 3)]
    assert delays == [1200, 2400, 4800]
    assert next_interval(bounds, 600, _result(status="error", retry_after=7200), 1) == 7200


# --------------------------------------------------------------------------- the running scheduler


def _write(path, sources, **settings):
    path.write_text(feeds_yaml(sources, settings), encoding="utf-8")


def test_one_job_per_enabled_source_never_overlapping_in_a_bounded_pool(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    _write(feeds, [{"name": f"s{i}", "kind": "rss", "url": f"http://127.0.0.1:9/{i}", "interval": "5s"}
                   for i in range(6)] + [{"name": "off", "kind": "rss", "url": "http://127.0.0.1:9/off",
                                          "enabled": False}], workers=3)
    lock = threading.Lock()
    running: dict[str, int] = {}
    peak = {"total": 0, "per_source": 0}
    calls: list[str] = []

    def slow_crawl(database, source, settings, scorer, fetcher=None, parsers=None):
        with lock:
            running[source.name] = running.get(source.name, 0) + 1
            calls.append(source.name)
            peak["total"] = max(peak["total"], sum(running.values()))
            peak["per_source"] = max(peak["per_source"], running[source.name])
        time.sleep(0.3)  # three times the scaled interval: the next runs must be skipped, not stacked
        with lock:
            running[source.name] -= 1
        return _result(found=1, new=0)

    scheduler = Scheduler(db_path, feeds, crawl=slow_crawl, **FAST)
    scheduler.start()
    try:
        time.sleep(1.5)
    finally:
        assert scheduler.stop(timeout=5)
    assert set(calls) == {f"s{i}" for i in range(6)}
    assert peak["per_source"] == 1
    assert peak["total"] <= 3


def test_failing_source_backs_off_pauses_and_resumes_from_the_cli(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    with TestServer() as server:
        url = server.route("/feed.xml", b"oops", status=500)
        _write(feeds, [{"name": "flaky", "kind": "rss", "url": url, "interval": "5s"}], max_failures=3)
        scheduler = Scheduler(db_path, feeds, crawl=crawl_source, **FAST)
        scheduler.start()
        try:
            database = db.connect(db_path, migrate_schema=False)
            wait_for(lambda: database.conn.execute("SELECT paused FROM sources WHERE name='flaky'").fetchone()[0],
                     timeout=10)
            times = [r.path for r in server.requests_to("/feed.xml")]
            assert len(times) == 3
            row = database.conn.execute("SELECT consecutive_failures, last_error, effective_interval_seconds "
                                        "FROM sources WHERE name='flaky'").fetchone()
            assert row[0] == 3 and "500" in row[1]
            assert row[2] > 5  # backed off beyond the configured interval
            time.sleep(0.8)  # paused: not polled at all, whatever the interval says
            assert len(server.requests_to("/feed.xml")) == 3
            server.route("/feed.xml", rss("flaky", items_for("flaky", range(4))), content_type="application/rss+xml")
            assert main(["--db", str(db_path), "sources", "resume", "flaky"]) == 0
            wait_for(lambda: database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 4, timeout=5)
            row = database.conn.execute("SELECT paused, consecutive_failures FROM sources WHERE name='flaky'")
            assert tuple(row.fetchone()) == (0, 0)
        finally:
            assert scheduler.stop(timeout=5)


def test_adaptive_source_speeds_up_when_every_entry_is_new(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    counter = {"n": 0}

    with TestServer() as server:
        def fresh(request):
            counter["n"] += 1
            body = rss("busy", items_for("busy", range(counter["n"] * 5, counter["n"] * 5 + 5)))
            from tests.servers import Response
            return Response(200, {"Content-Type": "application/rss+xml"}, body)

        url = server.route("/busy.xml", handler=fresh)
        _write(feeds, [{"name": "busy", "kind": "rss", "url": url, "interval": "20s", "adaptive": True,
                        "min_interval": "5s", "max_interval": "1m"}])
        scheduler = Scheduler(db_path, feeds, crawl=crawl_source, **{**FAST, "interval_scale": 0.01})
        scheduler.start()
        try:
            database = db.connect(db_path, migrate_schema=False)
            wait_for(lambda: database.conn.execute(
                "SELECT effective_interval_seconds FROM sources WHERE name='busy'").fetchone()[0] == 5, timeout=10)
            assert database.conn.execute("SELECT last_new_item_at FROM sources").fetchone()[0]
        finally:
            scheduler.stop(timeout=5)


def test_feeds_file_change_is_applied_and_an_invalid_edit_is_rejected(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    seen: list[str] = []

    def crawl(database, source, settings, scorer, fetcher=None, parsers=None):
        seen.append(source.name)
        return _result()

    _write(feeds, [{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "5s"},
                   {"name": "b", "kind": "rss", "url": "http://127.0.0.1:9/b", "interval": "5s"}])
    scheduler = Scheduler(db_path, feeds, crawl=crawl, **{**FAST, "interval_scale": 0.05})
    scheduler.start()
    try:
        wait_for(lambda: {"a", "b"} <= set(seen))
        _write(feeds, [{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "10s"},
                       {"name": "c", "kind": "rss", "url": "http://127.0.0.1:9/c", "interval": "5s"}])
        wait_for(lambda: "c" in seen)
        seen.clear()
        time.sleep(1.0)
        assert "b" not in seen and {"a", "c"} <= set(seen)
        jobs = {job.name: job for job in scheduler._aps.get_jobs() if job.id.startswith("source:")}
        assert set(jobs) == {"a", "c"}
        assert jobs["a"].trigger.interval.total_seconds() == pytest.approx(0.5)
        database = db.connect(db_path, migrate_schema=False)
        assert database.conn.execute("SELECT enabled FROM sources WHERE name='b'").fetchone()[0] == 0

        feeds.write_text(feeds.read_text(encoding="utf-8").replace('"10s"', '"often"'), encoding="utf-8")
        wait_for(lambda: get_state(database, CONFIG_ERROR_KEY))
        error = get_state(database, CONFIG_ERROR_KEY)
        assert f"{feeds}:" in error and "interval" in error
        assert scheduler.config.source("a").interval_seconds == 10  # running configuration kept
        assert scheduler_health(database)["config_error"] == error
        seen.clear()
        time.sleep(0.5)
        assert {"a", "c"} <= set(seen)
    finally:
        scheduler.stop(timeout=5)


def test_a_half_written_feeds_file_is_not_rejected_until_it_settles(db_path, tmp_path):
    """An editor that truncates then writes must not flash a config error for the empty moment."""
    feeds = tmp_path / "feeds.yaml"
    _write(feeds, [{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "1h"}])
    database = db.connect(db_path)  # migrated, as start() would leave it
    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: _result(), **FAST)
    feeds.write_text("", encoding="utf-8")  # the truncated moment, seen by one tick
    scheduler.reconcile()
    assert get_state(database, CONFIG_ERROR_KEY) is None
    _write(feeds, [{"name": "b", "kind": "rss", "url": "http://127.0.0.1:9/b", "interval": "1h"}])
    scheduler.reconcile()
    assert [s.name for s in scheduler.config.sources] == ["a"]  # not yet settled
    scheduler.reconcile()
    assert [s.name for s in scheduler.config.sources] == ["b"]
    feeds.write_text("sources: nope\n", encoding="utf-8")  # a real mistake is still reported once it settles
    scheduler.reconcile()
    scheduler.reconcile()
    assert "sources" in get_state(database, CONFIG_ERROR_KEY)


def test_heartbeat_written_and_health_turns_unhealthy_when_stale(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    _write(feeds, [{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "1h"}])
    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: _result(), **FAST)
    scheduler.start()
    database = db.connect(db_path, migrate_schema=False)
    try:
        wait_for(lambda: get_state(database, HEARTBEAT_KEY))
        health = scheduler_health(database)
        assert health["healthy"] is True and health["heartbeat_age"] < 2
        assert health["queue_depth"] == 0
    finally:
        scheduler.stop(timeout=5)
    stale = db.to_iso(datetime.now(UTC) - timedelta(minutes=5))
    set_state(database, HEARTBEAT_KEY, stale)
    health = scheduler_health(database)
    assert health["healthy"] is False and health["heartbeat_age"] >= 299


def test_housekeeping_jobs_are_scheduled_in_hanoi_time_and_record_their_outcome(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    _write(feeds, [{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "1h"}])
    calls: list[str] = []

    def report(database, settings, path):
        calls.append("report")
        return ["r.csv"]

    def broken(database, settings, path):
        raise RuntimeError("disk full")

    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: _result(),
                          **{**FAST, "housekeeping": True,
                             "housekeeping_jobs": {"weekly_report": report, "backup": broken}})
    scheduler.start()
    try:
        job = scheduler._aps.get_job("housekeeping:weekly_report")
        fire = job.trigger.get_next_fire_time(None, datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
        assert fire.astimezone(UTC) == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 07:00 +07:00
        assert scheduler._aps.get_job("housekeeping:backup") is not None
        scheduler._housekeeping("weekly_report")
        with pytest.raises(RuntimeError):
            scheduler._housekeeping("backup")
        database = db.connect(db_path, migrate_schema=False)
        assert '"ok": true' in get_state(database, "housekeeping:weekly_report")
        assert "disk full" in get_state(database, "housekeeping:backup")
        assert calls == ["report"]
    finally:
        scheduler.stop(timeout=5)


def test_load_text_accepts_adaptive_options():
    config = load_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1/a", "interval": "10m",
                                    "adaptive": True, "min_interval": "2m", "max_interval": "2h"}]))
    bounds = bounds_for(config.sources[0])
    assert (bounds.base, bounds.minimum, bounds.maximum, bounds.adaptive) == (600, 120, 7200, True)


def test_cache_headers_and_feed_ttl_are_read():
    from monitor.crawl.fetch import cache_seconds
    from monitor.crawl.sources.rss import feed_ttl_seconds

    assert cache_seconds({"Cache-Control": "public, max-age=900"}) == 900
    assert cache_seconds({"cache-control": "no-cache"}) is None
    assert cache_seconds({"Date": "Mon, 23 Nov 2026 10:00:00 GMT", "Expires": "Mon, 23 Nov 2026 10:30:00 GMT"}) == 1800
    assert cache_seconds({}) is None
    assert feed_ttl_seconds(b"<rss><channel><ttl>30</ttl></channel></rss>") == 1800
    assert feed_ttl_seconds(b"<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>") \
        == 21600
    assert feed_ttl_seconds(b"<rss/>") is None


def test_scheduled_crawls_honour_the_feeds_ttl_and_cache_lifetime(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    with TestServer() as server:
        ttl = server.route("/ttl.xml", rss("ttl", items_for("ttl", range(3)), ttl_minutes=30),
                           content_type="application/rss+xml")
        cached = server.route("/cached.xml", rss("cached", items_for("cached", range(3))),
                              content_type="application/rss+xml", headers={"Cache-Control": "max-age=900"})
        plain = server.route("/plain.xml", rss("plain", items_for("plain", range(3))),
                             content_type="application/rss+xml")
        adaptive = {"interval": "5m", "adaptive": True, "min_interval": "1m", "max_interval": "1h"}
        _write(feeds, [{"name": "ttl", "kind": "rss", "url": ttl, **adaptive},
                       {"name": "cached", "kind": "rss", "url": cached, **adaptive},
                       {"name": "plain", "kind": "rss", "url": plain, **adaptive}])
        scheduler = Scheduler(db_path, feeds, crawl=crawl_source, **FAST)
        scheduler.start()
        try:
            database = db.connect(db_path, migrate_schema=False)
            wait_for(lambda: database.conn.execute(
                "SELECT COUNT(*) FROM sources WHERE effective_interval_seconds IS NOT NULL").fetchone()[0] == 3)
            intervals = dict(database.conn.execute("SELECT name, effective_interval_seconds FROM sources"))
        finally:
            scheduler.stop(timeout=5)
    assert intervals["ttl"] == 1800
    assert intervals["cached"] == 900
    assert intervals["plain"] == 180  # all entries new: faster than the configured 5 minutes


def test_nightly_retrain_proposal_trains_on_decisions_and_leaves_promotion_to_the_gate(world):
    from db.decisions import decide
    from monitor.schedule.retrain import propose_retrain
    from tests import helpers

    path, built = world
    database = db.connect(path)
    user = built["users"]["mod"]
    source = built["sources"]["thanhhoa"]
    ids = [helpers.make_item(database, source, 100 + n, title=f"Tin {n}", text=f"Nội dung {n}") for n in range(6)]
    for n, item_id in enumerate(ids):
        action, status = ("confirm_misinformation", "confirmed") if n % 2 else ("dismiss", "dismissed")
        decide(database, item_id=item_id, user_id=user, action=action, new_status=status, note="",
               expected_version=1)
    trained: list[list[dict]] = []
    verdicts = iter([{"promoted": False, "reason": "regression on dev"}, {"promoted": True}])

    def trainer(examples, progress):
        trained.append(examples)
        progress("fit", 1.0)
        return {"candidate": len(trained)}

    def gate(candidate):
        return next(verdicts)

    first = propose_retrain(database, trainer=trainer, gate=gate, min_new_examples=3)
    assert first["proposed"] is True and first["promoted"] is False
    assert first["gate"]["reason"] == "regression on dev"
    assert sorted((e["category"], e["label"]) for e in trained[0]) == [("misinformation", 0)] * 3 + \
        [("misinformation", 1)] * 3
    # Nothing new since: no retrain tonight.
    again = propose_retrain(database, trainer=trainer, gate=gate, min_new_examples=3)
    assert again["proposed"] is False and len(trained) == 1


def test_a_restart_keeps_each_sources_next_run_instead_of_polling_everything_at_once(db_path, tmp_path):
    feeds = tmp_path / "feeds.yaml"
    _write(feeds, [{"name": "hourly", "kind": "rss", "url": "http://127.0.0.1:9/h", "interval": "1h"},
                   {"name": "never", "kind": "rss", "url": "http://127.0.0.1:9/n", "interval": "1h"}])
    calls: list[str] = []
    options = {**FAST, "interval_scale": 1.0, "first_run_spread": 0.05}
    first = Scheduler(db_path, feeds, crawl=lambda d, s, *a, **k: calls.append(s.name) or _result(), **options)
    first.start()
    wait_for(lambda: {"hourly", "never"} <= set(calls))
    first.stop(timeout=5)
    database = db.connect(db_path, migrate_schema=False)
    with db.transaction(database) as conn:  # as if "never" had crashed before finishing its first run
        conn.execute("UPDATE sources SET next_run_at = NULL WHERE name = 'never'")
    planned = db.from_iso(database.conn.execute("SELECT next_run_at FROM sources WHERE name='hourly'").fetchone()[0])
    second = Scheduler(db_path, feeds, crawl=lambda d, s, *a, **k: calls.append(s.name) or _result(), **options)
    before = len(calls)
    second.start()
    try:
        jobs = {job.name: job.next_run_time for job in second._aps.get_jobs() if job.id.startswith("source:")}
        assert abs((jobs["hourly"] - planned).total_seconds()) < 1
        # "never" is polled at once (on a busy machine it may already have run and been rescheduled an hour on
        # by the time its job is read, so the run itself is what is checked); "hourly" waits for its time.
        wait_for(lambda: "never" in calls[before:], timeout=5)
        assert "hourly" not in calls[before:]
    finally:
        second.stop(timeout=5)


def test_freed_memory_is_handed_back_once_crawls_have_ended_and_none_runs(db_path, tmp_path, monkeypatch):
    """An idle `monitor run` gives the memory its finished crawls freed back to the system (issue 17 §3):
    not while a crawl runs (it is still using it), and not again until another crawl has ended."""
    import monitor.schedule.scheduler as scheduler_module

    released: list[int] = []
    monkeypatch.setattr(scheduler_module, "release_free_memory", lambda: released.append(1) or True)
    feeds = tmp_path / "feeds.yaml"
    _write(feeds, [{"name": "s0", "kind": "rss", "url": "http://127.0.0.1:9/0", "interval": "5s"}])
    scheduler = Scheduler(db_path, feeds, crawl=lambda *args, **kwargs: _result(), **FAST)
    assert scheduler.release_memory() is False and released == []  # nothing crawled yet
    with scheduler._inflight.running():
        pass
    with scheduler._inflight.running():
        assert scheduler.release_memory() is False  # a crawl is running
        assert released == []
    assert scheduler.release_memory() is True and len(released) == 1
    assert scheduler.release_memory() is False and len(released) == 1  # no crawl ended since
