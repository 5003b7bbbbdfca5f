"""Issue 11 item 3 (spread): a story's copies and sources per hour, its velocity, on the item page and in the API,
and the queries staying indexed for a story with thousands of copies."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import db
import db.spread
import db.tokens
from db.sources import ensure_source
from monitor.pipeline import dedup
from tests import helpers

NOW = datetime(2026, 12, 2, 13, 20, tzinfo=UTC)


def _at(hhmm: str) -> str:
    return f"2026-12-02T{hhmm}:00Z"


@pytest.fixture()
def story(world):
    """The world plus one story: A (src1 10:05), B (src2 10:40), C (src1 again, 11:10), D (src3 12:30) stored,
    and an exact repost of A on src4 at 12:50 that is not stored again. Sources at 10:05, 10:40, 12:30, 12:50."""
    path, ids = world
    database = db.connect(path)
    src = [ensure_source(database, f"Trang {n}", "rss", f"https://trang{n}.example.vn/rss", "vi") for n in range(1, 5)]
    first = helpers.make_item(database, src[0], 101, title="Tin đồn mất điện toàn tỉnh", text="Bản gốc.",
                              fetched_at=_at("10:05"))
    cluster = database.conn.execute("SELECT cluster_id FROM items WHERE id = ?", (first,)).fetchone()[0]
    others = [helpers.make_item(database, source, n, title="Tin đồn mất điện toàn tỉnh", text=f"Bản chép {n}.",
                                fetched_at=_at(when), cluster_id=cluster)
              for source, n, when in ((src[1], 102, "10:40"), (src[0], 103, "11:10"), (src[2], 104, "12:30"))]
    with db.transaction(database) as conn:
        dedup.record_repost(conn, first, src[3], _at("12:50"))
    return path, ids, database, cluster, [first, *others]


def test_spread_counts_copies_and_sources_per_hour_with_reposts(story):
    _path, _ids, database, cluster, _items = story
    spread = db.spread.story_spread(database.conn, cluster, NOW)
    assert spread["copies"] == 5  # four stored copies and one exact repost
    assert spread["sources"] == 4
    assert spread["first_seen_at"] == _at("10:05")
    assert spread["timeline"] == [
        {"hour": _at("10:00"), "copies": 2, "sources": 2, "total_copies": 2, "total_sources": 2},
        {"hour": _at("11:00"), "copies": 1, "sources": 0, "total_copies": 3, "total_sources": 2},
        {"hour": _at("12:00"), "copies": 2, "sources": 2, "total_copies": 5, "total_sources": 4},
    ]


def test_velocity_counts_sources_first_seen_in_the_last_hour_and_six(story):
    _path, _ids, database, cluster, _items = story
    spread = db.spread.story_spread(database.conn, cluster, NOW)  # 13:20: the last hour is after 12:20
    assert (spread["new_sources_1h"], spread["new_sources_6h"]) == (2, 4)
    later = db.spread.story_spread(database.conn, cluster, datetime(2026, 12, 2, 13, 30, tzinfo=UTC))
    assert later["new_sources_1h"] == 1  # 12:30 is exactly an hour before: no longer in the last hour
    next_day = db.spread.story_spread(database.conn, cluster, datetime(2026, 12, 3, 10, 0, tzinfo=UTC))
    assert (next_day["new_sources_1h"], next_day["new_sources_6h"]) == (0, 0)
    assert next_day["copies"] == 5 and next_day["sources"] == 4  # the totals stay


def test_no_story_means_no_spread(tmp_db):
    assert db.spread.story_spread(tmp_db.conn, None) is None
    assert db.spread.story_spread(tmp_db.conn, 12345) is None


def test_item_page_shows_the_spread_in_vietnamese(story, monkeypatch):
    path, _ids, _database, _cluster, items = story
    monkeypatch.setattr("web.spread.datetime", _FrozenDatetime)
    client = helpers.make_app(path).test_client()
    helpers.login(client, "ana")
    page = client.get(f"/items/{items[0]}").get_data(as_text=True)
    assert 'id="spread"' in page and "Nguồn mới trong 1 giờ qua" in page and "Nguồn mới trong 6 giờ qua" in page
    assert 'id="spread-copies">5<' in page and 'id="spread-sources">4<' in page
    assert 'id="spread-new-1h">2<' in page and 'id="spread-new-6h">4<' in page
    chart = page[page.index('<svg xmlns="http://www.w3.org/2000/svg"'):]
    chart = chart[:chart.index("</svg>")]
    assert 'id="spread-chart"' in chart and chart.count('fill="#7a1010"') == 1 + 2  # legend + 2 hours with new sources
    assert "19:00: 2 bản sao, 2 nguồn mới" in chart  # 12:00 UTC is 19:00 in Hà Nội
    assert "<script" not in chart
    table = page[page.index('id="spread-table"'):]
    assert table.index("19:00") < table.index("17:00")  # newest hour first


def test_api_item_json_carries_the_spread(story):
    path, ids, database, cluster, items = story
    token = db.tokens.create_token(database, ids["users"]["ana"], "t")
    client = helpers.make_app(path).test_client()
    body = client.get(f"/api/v1/items/{items[2]}", headers={"Authorization": f"Bearer {token}"}).get_json()
    spread = body["spread"]
    assert spread["copies"] == 5 and spread["sources"] == 4 and spread["first_seen_at"] == _at("10:05")
    assert {"new_sources_1h", "new_sources_6h"} <= set(spread)
    assert [(row["hour"], row["copies"], row["sources"]) for row in spread["timeline"]] == [
        (_at("10:00"), 2, 2), (_at("11:00"), 1, 0), (_at("12:00"), 2, 2)]
    with db.transaction(database) as conn:
        conn.execute("UPDATE items SET cluster_id = NULL WHERE id = ?", (items[0],))
    lone = client.get(f"/api/v1/items/{items[0]}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert lone["spread"] is None


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW if tz is None else NOW.astimezone(tz)


def _big_story(database, copies: int, sources: int) -> int:
    """A story with `copies` stored copies over `sources` sources and as many hours, written in bulk."""
    with db.transaction(database) as conn:
        conn.executemany("INSERT INTO sources (name, kind, url, created_at) VALUES (?, 'rss', ?, ?)",
                         [(f"s{n}", f"https://s{n}.example.vn/rss", "2026-11-01T00:00:00Z") for n in range(sources)])
        source_ids = [row[0] for row in conn.execute("SELECT id FROM sources ORDER BY id")]
        cluster = conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at) VALUES (?, ?)",
                               ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z")).lastrowid
        other = conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at) VALUES (?, ?)",
                             ("2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z")).lastrowid
        for n in range(copies * 2):  # as many items in another story, so a scan would show
            source_id, fetched = source_ids[n % sources], f"2026-11-{1 + (n % 20):02d}T{n % 24:02d}:00:00Z"
            cid = cluster if n % 2 == 0 else other
            conn.execute("INSERT INTO items (source_id, guid, fetched_at, content_hash, cluster_id)"
                         " VALUES (?, ?, ?, ?, ?)", (source_id, f"g{n}", fetched, f"h{n}", cid))
            db.clusters.note_source(conn, cid, source_id, fetched)
    return cluster


def test_a_story_with_thousands_of_copies_is_read_through_indexes(tmp_db):
    cluster = _big_story(tmp_db, 3000, 600)
    plans = [" ".join(row[3] for row in tmp_db.conn.execute("EXPLAIN QUERY PLAN " + sql, (cluster,)))
             for sql in (db.spread.STORY_HOURS_SQL, db.spread.STORY_SOURCES_SQL, db.spread.STORED_BY_SOURCE_SQL)]
    assert "USING COVERING INDEX items_cluster_queue" in plans[0] and "SCAN items" not in plans[0]
    assert "USING INDEX items_cluster" in plans[2] and "SCAN items" not in plans[2]
    assert "USING INDEX sqlite_autoindex_cluster_sources_1" in plans[1] and "SCAN cluster_sources" not in plans[1]
    started = time.perf_counter()
    spread = db.spread.story_spread(tmp_db.conn, cluster, NOW)
    elapsed = time.perf_counter() - started
    assert spread["copies"] == 3000 and spread["sources"] == 300  # even items land on even sources
    assert elapsed < 0.5, elapsed  # a few ms in practice (bench/bench_spread.py); generous for a busy CI
