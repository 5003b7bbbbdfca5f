"""Issue 11 item 3 (spikes): each rule kind fires when it should and not when it should not, once per window
across runs, from feeds.yaml's `settings: spikes:`, in the scheduler every minute and on `monitor spikes`.

The rules' cases (those taking `any_db`) run on both backends; the scheduler, CLI, dashboard and query-plan
tests stay on SQLite."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

import db
import db.spikes
import db.state
from db.sources import ensure_source
from monitor import spikes
from monitor.config import ConfigError, SpikeRule, default_spike_rules, load_text
from monitor.domain import RawItem
from monitor.pipeline import ingest
from tests.helpers import RULE_HIT, FakeScorer
from tests.scheduler_fixtures import feeds_yaml

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
STORY = SpikeRule("lan-nhanh", "story_sources", sources=5, hours=2)
RULE = SpikeRule("tu-khoa", "rule_rate", factor=3, min_count=5)
PLACE = SpikeRule("dia-ban", "place_rate", factor=3, min_count=5)
_serial = itertools.count()


def _ago(**delta: float) -> str:
    return db.to_iso(NOW - timedelta(**delta))


def _sources(database, count: int) -> list[int]:
    return [ensure_source(database, f"Trang {n}", "rss", f"https://trang{n}.example.vn/rss", "vi") for n in range(count)]


def _items(database, source_id: int, times: list[str], *, cluster: int | None = None, rule: str | None = None,
           place: str | None = None, province: str = "p:38") -> list[int]:
    """Items stored at `times` as the pipeline stores them: in a cluster (counted on its source), with a rule hit
    (item_rule_hits) or a commune or ward of `province` (item_places) when given."""
    ids = []
    with db.transaction(database) as conn:
        for fetched_at in times:
            n = next(_serial)
            item_id = conn.execute("INSERT INTO items (source_id, guid, title, fetched_at, content_hash, cluster_id)"
                                   " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                                   (source_id, f"g{n}", f"Tin số {n}", fetched_at, f"h{n}", cluster)).fetchone()[0]
            if cluster is not None:
                db.clusters.note_source(conn, cluster, source_id, fetched_at)
                db.clusters.refresh_after_item(conn, cluster, item_id, fetched_at)
            if rule:
                db.spikes.record_rule_hits(conn, item_id, fetched_at, [rule])
            if place:
                conn.execute("INSERT INTO item_places (item_id, code, level, province_code) VALUES (?, ?, ?, ?)",
                             (item_id, place, "commune", province))
            ids.append(item_id)
    return ids


def _cluster(database, at: str) -> int:
    with db.transaction(database) as conn:
        return db.clusters.new_cluster(conn, at)


def _spikes(database) -> list[dict]:
    return list(database.query("SELECT * FROM spikes ORDER BY id"))


# -- story_sources -------------------------------------------------------------------------------------------

def test_a_story_reaching_n_sources_within_h_hours_fires_with_its_items(any_db):
    src = _sources(any_db, 6)
    story = _cluster(any_db, _ago(hours=5))
    old = _items(any_db, src[0], [_ago(hours=5)], cluster=story)  # first seen long before: not in the window
    recent = [item for n, minutes in zip(range(1, 6), (110, 90, 60, 30, 5), strict=True)
              for item in _items(any_db, src[n], [_ago(minutes=minutes)], cluster=story)]
    fired = spikes.check(any_db, [STORY], now=NOW)
    assert [(f["rule"], f["kind"], f["subject"], f["observed"], f["items"]) for f in fired] == \
        [("lan-nhanh", "story_sources", str(story), 5.0, 5)]
    row = _spikes(any_db)[0]
    assert row["window_start"] == _ago(hours=2) and row["fired_at"] == db.to_iso(NOW) and row["expected"] is None
    made_it = any_db.conn.execute("SELECT item_id, cluster_id FROM spike_items WHERE spike_id = ?", (row["id"],)).fetchall()
    assert sorted(made_it) == [(item, story) for item in recent] and old[0] not in dict(made_it)


def test_a_story_below_n_sources_or_spread_over_longer_does_not_fire(any_db):
    src = _sources(any_db, 6)
    four = _cluster(any_db, _ago(hours=1))
    for n in range(4):
        _items(any_db, src[n], [_ago(minutes=10 + n)], cluster=four)
    _items(any_db, src[0], [_ago(minutes=3), _ago(minutes=2)], cluster=four)  # more copies, no new source
    slow = _cluster(any_db, _ago(hours=4))
    for n, minutes in enumerate((230, 170, 130, 100, 50)):  # five sources, but never five within two hours
        _items(any_db, src[n], [_ago(minutes=minutes)], cluster=slow)
    assert spikes.check(any_db, [STORY], now=NOW) == []
    assert _spikes(any_db) == []


def test_exact_reposts_count_as_sources_and_the_representative_stands_for_them(any_db):
    src = _sources(any_db, 5)
    story = _cluster(any_db, _ago(hours=3))
    first = _items(any_db, src[0], [_ago(hours=3)], cluster=story)[0]
    from monitor.pipeline import dedup

    with db.transaction(any_db) as conn:
        for n in range(1, 5):
            dedup.record_repost(conn, first, src[n], _ago(minutes=10 * n))
    fired = spikes.check(any_db, [SpikeRule("bon-nguon", "story_sources", sources=4, hours=1)], now=NOW)
    assert [(f["observed"], f["items"]) for f in fired] == [(4.0, 1)]
    assert db.spikes.spike_item_ids(any_db.conn, fired[0]["id"]) == [first]


def test_a_spike_fires_once_per_window_across_runs_and_restarts(database_url, any_db):
    src = _sources(any_db, 10)
    story = _cluster(any_db, _ago(minutes=50))
    for n in range(5):
        _items(any_db, src[n], [_ago(minutes=50 - n)], cluster=story)
    assert len(spikes.check(any_db, [STORY], now=NOW)) == 1
    assert spikes.check(any_db, [STORY], now=NOW) == []
    reopened = db.connect(database_url)  # a restart: nothing but the any_db remembers
    assert spikes.check(reopened, [STORY], now=NOW + timedelta(minutes=30)) == []
    assert spikes.check(reopened, [STORY], now=NOW + timedelta(hours=2, minutes=1)) == []  # quiet since: no new sources
    for n in range(5, 10):
        _items(any_db, src[n], [db.to_iso(NOW + timedelta(hours=2, minutes=n))], cluster=story)
    later = NOW + timedelta(hours=2, minutes=30)
    again = spikes.check(reopened, [STORY], now=later)
    assert [f["observed"] for f in again] == [5.0]  # still spreading a window later: a second spike
    assert [s["window_start"] for s in _spikes(any_db)] == [_ago(hours=2), db.to_iso(later - timedelta(hours=2))]
    # A check running meanwhile in another process finds it recorded and records nothing.
    assert spikes.check(any_db, [STORY], now=later + timedelta(seconds=1)) == []
    assert len(_spikes(any_db)) == 2


# -- rule_rate and place_rate --------------------------------------------------------------------------------

def _history(database, source_id: int, **subject: str) -> None:
    """A week of one hit every 6 hours before the last hour: 27 in the 7-day baseline, a mean of 27/168 an hour."""
    _items(database, source_id, [_ago(hours=1 + 6 * k) for k in range(1, 29)], **subject)


@pytest.mark.parametrize(("rule", "subject", "other", "fires"), [
    (RULE, {"rule": "Kêu gọi chia sẻ gấp"}, {"rule": "Khác"}, ["Kêu gọi chia sẻ gấp"]),
    # a province counts the items about any of its communes: p:38 fires with its commune, p:40 stays under
    (PLACE, {"place": "c:26734", "province": "p:38"}, {"place": "c:11111", "province": "p:40"}, ["c:26734", "p:38"]),
])
def test_a_rate_fires_at_factor_times_its_hourly_mean_and_min_count(any_db, rule, subject, other, fires):
    src = _sources(any_db, 1)[0]
    _history(any_db, src, **subject)
    _history(any_db, src, **other)
    _items(any_db, src, [_ago(minutes=m) for m in (55, 40, 30, 20, 5)], **subject)  # five in the last hour
    _items(any_db, src, [_ago(minutes=m) for m in (50, 30, 20, 5)], **other)  # four: under min_count
    fired = spikes.check(any_db, [rule], now=NOW)
    assert [(f["kind"], f["subject"], f["observed"], f["items"]) for f in fired] == \
        [(rule.kind, subject, 5.0, 5) for subject in fires]
    assert [s["expected"] for s in _spikes(any_db)] == [pytest.approx(27 / 168, abs=1e-4)] * len(fires)
    assert _spikes(any_db)[0]["window_start"] == _ago(hours=1)
    # The same counts against a higher bar: 5 >= 30 x 0.16 fires, 5 < 40 x 0.16 does not.
    assert len(spikes.check(any_db, [SpikeRule("x30", rule.kind, factor=30, min_count=5)], now=NOW)) == len(fires)
    assert spikes.check(any_db, [SpikeRule("x40", rule.kind, factor=40, min_count=5)], now=NOW) == []
    assert spikes.check(any_db, [rule], now=NOW + timedelta(minutes=20)) == []  # once per hour


def test_a_province_counts_each_item_once_however_many_of_its_units_it_names(any_db):
    src = _sources(any_db, 1)[0]
    _items(any_db, src, [_ago(days=2)])
    ids = _items(any_db, src, [_ago(minutes=m) for m in (50, 40, 30, 20)], place="c:1")
    with db.transaction(any_db) as conn:  # each also names a second commune and the province itself
        conn.executemany("INSERT INTO item_places VALUES (?, 'c:2', 'commune', 'p:38')", [(i,) for i in ids])
        conn.executemany("INSERT INTO item_places VALUES (?, 'p:38', 'province', 'p:38')", [(i,) for i in ids])
    assert db.spikes.place_counts(any_db.conn, _ago(hours=1), _ago(hours=0)) == {"c:1": 4, "c:2": 4, "p:38": 4}
    assert spikes.check(any_db, [PLACE], now=NOW) == []  # four items, not twelve mentions
    _items(any_db, src, [_ago(minutes=10)], place="c:3")
    fired = spikes.check(any_db, [PLACE], now=NOW)
    assert [(f["subject"], f["observed"], f["items"]) for f in fired] == [("p:38", 5.0, 5)]


def test_rates_wait_for_a_day_of_history(any_db):
    src = _sources(any_db, 1)[0]
    _items(any_db, src, [_ago(hours=20)], rule="Tin đồn")  # the oldest item: 19 hours before the hour
    _items(any_db, src, [_ago(minutes=m) for m in range(1, 40, 4)], rule="Tin đồn", place="c:1")
    assert spikes.check(any_db, [RULE, PLACE], now=NOW) == []
    assert {f["kind"] for f in spikes.check(any_db, [RULE, PLACE], now=NOW + timedelta(hours=5, minutes=30))} == set()
    _items(any_db, src, [_ago(days=3)])  # older history arrives (an import): a mean over 3 days, here 1/71
    assert {(f["kind"], f["subject"]) for f in spikes.check(any_db, [RULE, PLACE], now=NOW)} == \
        {("rule_rate", "Tin đồn"), ("place_rate", "c:1"), ("place_rate", "p:38")}


def test_ingest_records_the_watchlist_rules_an_item_hit(tmp_db):
    source = {"id": _sources(tmp_db, 1)[0], "name": "Trang 0"}
    raws = [RawItem(guid="a", title="RULE chia sẻ gấp", text="Chia sẻ gấp trước khi bị xoá, mọi người ơi."),
            RawItem(guid="b", title="Tin thời tiết", text="Trời nắng ráo suốt cả tuần ở các tỉnh miền Trung.")]
    result = ingest(tmp_db, source, raws, FakeScorer())
    rows = tmp_db.conn.execute("SELECT item_id, rule, fetched_at FROM item_rule_hits").fetchall()
    fetched = tmp_db.conn.execute("SELECT fetched_at FROM items WHERE id = ?", (result.new_ids[0],)).fetchone()[0]
    assert rows == [(result.new_ids[0], RULE_HIT["name"], fetched)]


# -- configuration ---------------------------------------------------------------------------------------------

def test_spike_rules_are_read_from_settings_with_defaults():
    assert load_text("sources: []\n").settings.spikes == default_spike_rules()
    assert [r.kind for r in default_spike_rules()] == ["story_sources", "rule_rate", "place_rate"]
    config = load_text("settings:\n  spikes:\n    - {name: nhanh, kind: story_sources, sources: 3, hours: 1.5}\n"
                       "    - {name: tu-khoa, kind: rule_rate, factor: 2.5}\nsources: []\n")
    assert config.settings.spikes == [SpikeRule("nhanh", "story_sources", sources=3, hours=1.5),
                                      SpikeRule("tu-khoa", "rule_rate", factor=2.5, min_count=5)]
    assert load_text("settings:\n  spikes: []\nsources: []\n").settings.spikes == []


@pytest.mark.parametrize(("spikes_yaml", "line", "field", "words"), [
    ("  spikes: 5\n", 2, "spikes", "must be a list"),
    ("  spikes:\n    - just-a-name\n", 3, "spikes[0]", "must be a mapping"),
    ("  spikes:\n    - {kind: story_sources}\n", 3, "spikes[0].name", "is required"),
    ("  spikes:\n    - {name: a, kind: story_source}\n", 3, "spikes[0].kind", "must be one of"),
    ("  spikes:\n    - name: a\n      kind: story_sources\n      factor: 3\n", 5, "spikes[0].factor",
     "not a setting of a story_sources rule"),
    ("  spikes:\n    - name: a\n      kind: story_sources\n      sources: 1\n", 5, "spikes[0].sources", "from 2"),
    ("  spikes:\n    - {name: a, kind: rule_rate}\n    - name: b\n      kind: place_rate\n      min_count: 2.5\n",
     6, "spikes[1].min_count", "whole number"),
    ("  spikes:\n    - {name: a, kind: rule_rate}\n    - {name: a, kind: place_rate}\n", 4, "spikes[1].name",
     "duplicate"),
])
def test_a_bad_spike_rule_names_its_line_and_field(spikes_yaml, line, field, words):
    with pytest.raises(ConfigError) as caught:
        load_text("settings:\n" + spikes_yaml + "sources: []\n", "feeds.yaml")
    assert (caught.value.line, caught.value.field) == (line, field)
    assert words in caught.value.message and str(caught.value).startswith(f"feeds.yaml:{line}:")


# -- the scheduler job and the command -------------------------------------------------------------------------

def _spreading_story(database, sources: int = 5) -> int:
    src = _sources(database, sources)
    now = datetime.now(UTC)
    story = _cluster(database, db.to_iso(now - timedelta(minutes=30)))
    for n in range(sources):
        _items(database, src[n], [db.to_iso(now - timedelta(minutes=30 - n))], cluster=story)
    return story


def test_the_scheduler_checks_the_spike_rules_on_its_own_thread(db_path, tmp_path):
    from monitor.schedule.scheduler import Scheduler

    database = db.connect(db_path)
    story = _spreading_story(database)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([{"name": "a", "kind": "rss", "url": "http://127.0.0.1:9/a", "interval": "1h"}]))
    scheduler = Scheduler(db_path, feeds, crawl=lambda *a, **k: None, housekeeping=False, first_run_spread=3600,
                          heartbeat_seconds=0.5, reconcile_seconds=0.5, spike_check_seconds=0.2)
    scheduler.start()
    try:
        assert scheduler._aps.get_job("spike_check").executor == "spikes"
        deadline = time.monotonic() + 20
        while not _spikes(database) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.6)  # a few more checks: still one spike
    finally:
        scheduler.stop(timeout=5)
    assert [(s["rule"], s["subject"]) for s in _spikes(database)] == [("lan-nhanh", str(story))]
    state = json.loads(db.state.get_state(database, "housekeeping:spike_check"))
    assert state["ok"] is True


def test_monitor_spikes_check_and_list(db_path, tmp_path, capsys):
    from monitor.cli import main

    database = db.connect(db_path)
    story = _spreading_story(database)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("settings:\n  spikes:\n    - {name: ba-nguon, kind: story_sources, sources: 3, hours: 1}\n"
                     "sources: []\n")
    assert main(["--db", str(db_path), "--feeds", str(feeds), "spikes", "check", "--json"]) == 0
    fired = json.loads(capsys.readouterr().out)
    assert [(f["rule"], f["subject"], f["items"]) for f in fired] == [("ba-nguon", str(story), 5)]
    assert main(["--db", str(db_path), "--feeds", str(feeds), "spikes", "check"]) == 0
    assert "0 spike(s) fired, 1 rule(s) checked" in capsys.readouterr().out
    assert main(["--db", str(db_path), "spikes", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    first_title = database.conn.execute("SELECT title FROM items WHERE cluster_id = ? ORDER BY id", (story,)).fetchone()[0]
    assert [(s["rule"], s["items"], s["title"]) for s in listed] == [("ba-nguon", 5, first_title)]
    assert main(["--db", str(db_path), "spikes", "list"]) == 0
    assert "ba-nguon (story_sources)" in capsys.readouterr().out
    feeds.write_text("settings:\n  spikes:\n    - {name: x, kind: nope}\nsources: []\n")
    assert main(["--db", str(db_path), "--feeds", str(feeds), "spikes", "check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "feeds.yaml:3: field 'spikes[0].kind'" in err and "Traceback" not in err


def test_the_dashboard_lists_recent_spikes_escaped(world):
    from tests import helpers

    path, _ids = world
    database = db.connect(path)
    story = _spreading_story(database)
    with db.transaction(database) as conn:
        conn.execute("UPDATE items SET title = '<script>alert(1)</script> Tin đồn' WHERE cluster_id = ?", (story,))
    src = _sources(database, 1)[0]
    _items(database, src, [db.to_iso(datetime.now(UTC) - timedelta(days=3))])  # history for the rate rule
    _items(database, src, [db.to_iso(datetime.now(UTC) - timedelta(minutes=m)) for m in range(1, 7)],
           rule="<b>Kêu gọi</b>")
    fired = spikes.check(database, default_spike_rules())
    assert {f["kind"] for f in fired} == {"story_sources", "rule_rate"}
    client = helpers.make_app(path).test_client()
    helpers.login(client, "ana")
    page = client.get("/dashboard").get_data(as_text=True)
    table = page[page.index('id="spikes"'):page.index("</table>", page.index('id="spikes"'))]
    assert "Tin lan truyền nhanh" in table and "Từ khóa theo dõi tăng vọt" in table
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tin đồn" in table and "<script>" not in table
    assert "&lt;b&gt;Kêu gọi&lt;/b&gt;" in table and "<b>" not in table
    first = min(db.spikes.spike_item_ids(database.conn, fired[0]["id"]))
    assert f'href="/items/{first}"' in table
    item_page = client.get(f"/items/{first}").get_data(as_text=True)
    listed = item_page[item_page.index('id="spread-spikes"'):item_page.index("</ul>", item_page.index('id="spread-spikes"'))]
    assert "Tin lan truyền nhanh — 5 nguồn mới" in listed and "quy tắc lan-nhanh" in listed
    assert "Từ khóa theo dõi" not in listed  # not this story's
    with db.transaction(database) as conn:
        conn.execute("DELETE FROM spike_items")
        conn.execute("DELETE FROM spikes")
    assert 'id="no-spikes"' in client.get("/dashboard").get_data(as_text=True)


def test_every_spike_query_reads_its_window_through_an_index(tmp_db):
    """The check runs every minute for years: no statement of it may walk a table or a subject's rows of all
    time (a full SCAN), only the window's range of an index."""
    src = _sources(tmp_db, 6)
    _items(tmp_db, src[0], [_ago(days=3)], rule="R", place="c:1")
    story = _cluster(tmp_db, _ago(minutes=50))
    for n in range(6):
        _items(tmp_db, src[n], [_ago(minutes=40 - n)], cluster=story, rule="R", place="c:1")
    statements: list[str] = []
    tmp_db.conn.set_trace_callback(statements.append)
    spikes._baselines.clear()
    fired = spikes.check(tmp_db, [STORY, RULE, PLACE], now=NOW)
    tmp_db.conn.set_trace_callback(None)
    assert {f["kind"] for f in fired} == {"story_sources", "rule_rate", "place_rate"}
    reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(reads) >= 8
    for statement in reads:
        plan = [row[3] for row in tmp_db.conn.execute("EXPLAIN QUERY PLAN " + statement)]
        scans = [step for step in plan if step.startswith("SCAN") and step != "SCAN hits"]
        assert not scans, (statement, plan)


STORY_TEXT = ("Tin đồn: từ tối nay toàn tỉnh sẽ mất điện ba ngày liền để sửa chữa đường dây cao thế, người dân cần"
              " tích trữ nước uống, lương thực và nến, chia sẻ ngay cho người thân biết")


def test_a_story_crawled_from_five_feeds_by_the_scheduler_fires_once(db_path, tmp_path):
    """The real path: the scheduler crawls five local feeds carrying one story, the pipeline clusters it, and
    the minutely check (here every 0.2 s) records one spike with the five stored copies."""
    from monitor.crawl.crawler import crawl_source
    from monitor.schedule.scheduler import Scheduler
    from tests.scheduler_fixtures import wait_for
    from tests.servers import TestServer

    feeds = tmp_path / "feeds.yaml"
    with TestServer() as server:
        sources = []
        for n in range(5):
            body = (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Trang {n}</title>"
                    f"<link>http://example.org/{n}</link><description>t</description><item><guid>tin-{n}</guid>"
                    f"<title>Mất điện ba ngày? (trang {n})</title><link>http://example.org/{n}/tin</link>"
                    f"<description>{STORY_TEXT} (bài của trang {n}).</description></item></channel></rss>")
            url = server.route(f"/{n}.xml", body.encode(), content_type="application/rss+xml")
            sources.append({"name": f"trang-{n}", "kind": "rss", "url": url, "interval": "1h"})
        feeds.write_text(feeds_yaml(sources))
        scheduler = Scheduler(db_path, feeds, crawl=crawl_source, interval_scale=0.02, heartbeat_seconds=0.1,
                              reconcile_seconds=0.1, housekeeping=False, first_run_spread=0.05,
                              scorer_factory=lambda: None, spike_check_seconds=0.2)
        scheduler.start()
        try:
            database = db.connect(db_path, migrate_schema=False)
            wait_for(lambda: _spikes(database), timeout=20)
            time.sleep(0.5)
        finally:
            scheduler.stop(timeout=5)
    items = database.conn.execute("SELECT id, cluster_id FROM items ORDER BY id").fetchall()
    assert len(items) == 5 and len({cluster for _, cluster in items}) == 1
    [spike] = _spikes(database)
    assert (spike["rule"], spike["subject"], spike["observed"]) == ("lan-nhanh", str(items[0][1]), 5.0)
    assert db.spikes.spike_item_ids(database.conn, spike["id"]) == [item_id for item_id, _ in items]
