"""Spread and spikes (issue 11 item 3): how long a story's spread takes to read for the item page and the API,
and how long the minutely spike check takes, on a busy province's week.

The database: 100,000 items over 7 days (about 600 an hour) from 1,200 sources, in stories of one to three
copies, 10 % with a watchlist rule hit (20 rules) and 30 % naming a place (300 places); one story with 5,000
stored copies on 1,000 sources and 200 exact reposts on 200 more (the slower path: reposts are dated per source); in the last hour a rule and a place at ten times their usual rate and a story
reaching 8 sources. Built once under /tmp (`--rebuild` to build it again).

Figures: the story's spread (db.spread.story_spread) and the item page's spread part (web.spread.item_spread,
chart included), median of 30 reads; the spike check with the default rules (monitor.spikes.check): the first
of an hour, which reads the week's counts for the rate rules' baseline and records the three spikes, and the
checks of the other minutes, which find them recorded (median of 10).
Run: python bench/bench_spread.py [--rebuild]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import db
import db.clusters
import db.spread
from monitor.config import default_spike_rules

DB_PATH = Path("/tmp/bench_spread.db")
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ITEMS, SOURCES, BIG_COPIES, BIG_SOURCES, BIG_REPOSTS = 100_000, 1_200, 5_000, 1_000, 200


def _iso(moment: datetime) -> str:
    return db.to_iso(moment)


def _insert(conn, rows: list[tuple]) -> None:
    """(source id, fetched_at, cluster id, rule or None, place or None) rows as ingest stores them."""
    for source_id, fetched_at, cluster_id, rule, place in rows:
        item_id = conn.execute("INSERT INTO items (source_id, guid, title, fetched_at, content_hash, cluster_id)"
                               " VALUES (?, ?, ?, ?, ?, ?)", (source_id, f"g{random.getrandbits(60)}",
                                                              "Tin bài", fetched_at, f"h{random.getrandbits(60)}",
                                                              cluster_id)).lastrowid
        db.clusters.note_source(conn, cluster_id, source_id, fetched_at)
        if rule:
            conn.execute("INSERT INTO item_rule_hits VALUES (?, ?, ?)", (item_id, rule, fetched_at))
        if place:
            conn.execute("INSERT INTO item_places VALUES (?, ?, 'commune', 'p:38')", (item_id, place))


def build() -> int:
    """Write the bench database; return the big story's cluster id."""
    random.seed(11)
    building = DB_PATH.with_suffix(".building")
    for path in (DB_PATH, building):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    database = db.connect(building)
    start = NOW - timedelta(days=7)
    with db.transaction(database) as conn:
        conn.executemany("INSERT INTO sources (name, kind, url, created_at) VALUES (?, 'rss', ?, ?)",
                         [(f"nguon-{n}", f"https://n{n}.example.vn/rss", _iso(start)) for n in range(SOURCES)])
        sources = [row[0] for row in conn.execute("SELECT id FROM sources")]
        new_cluster = lambda at: db.clusters.new_cluster(conn, at)  # noqa: E731
        big = new_cluster(_iso(start))
        rows, cluster, left = [], 0, 0
        for n in range(ITEMS):
            at = _iso(start + timedelta(seconds=n * 7 * 86400 / ITEMS))
            if left == 0:
                cluster, left = new_cluster(at), random.choice((1, 1, 2, 3))
            left -= 1
            rule = f"quy-tac-{random.randrange(20)}" if random.random() < 0.1 else None
            place = f"c:{random.randrange(300)}" if random.random() < 0.3 else None
            rows.append((random.choice(sources), at, cluster, rule, place))
        for n in range(BIG_COPIES):
            at = _iso(start + timedelta(days=4, seconds=n * 40))
            rows.append((sources[n % BIG_SOURCES], at, big, None, None))
        burst = new_cluster(_iso(NOW - timedelta(minutes=50)))
        for n in range(60):  # the last hour: rule 0 and place 0 at ten times their rate; a story on 8 sources
            at = _iso(NOW - timedelta(minutes=55 - n * 0.9))
            rows.append((sources[n % 8], at, burst if n < 8 else new_cluster(at), "quy-tac-0", "c:0"))
        rows.sort(key=lambda row: row[1])
        _insert(conn, rows)
        for n in range(BIG_REPOSTS):  # exact reposts on more sources, counted but not stored (dedup.record_repost)
            db.clusters.note_source(conn, big, sources[BIG_SOURCES + n], _iso(start + timedelta(days=6, minutes=n)))
    database.conn.close()  # the last connection: the log is checkpointed into the file
    building.rename(DB_PATH)  # only a finished build is ever used
    return big


def timed(function, runs: int) -> float:
    """Median seconds of `runs` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.rebuild or not DB_PATH.exists():
        started = time.perf_counter()
        build()
        print(f"built {DB_PATH} in {time.perf_counter() - started:.0f} s")
    database = db.connect(DB_PATH)
    with db.transaction(database) as conn:
        conn.execute("DELETE FROM spike_items")
        conn.execute("DELETE FROM spikes")
    big = database.conn.execute("SELECT cluster_id FROM cluster_sources GROUP BY cluster_id ORDER BY COUNT(*) DESC"
                                " LIMIT 1").fetchone()[0]
    spread = db.spread.story_spread(database.conn, big, NOW)
    print(f"big story: {spread['copies']} copies, {spread['sources']} sources, {len(spread['timeline'])} active hours")
    read = timed(lambda: db.spread.story_spread(database.conn, big, NOW), 30)
    print(f"FIGURE story spread, 5,200 copies: {read * 1000:.1f} ms (target: <= 20 ms)")
    from web import create_app
    from web.spread import item_spread

    app = create_app({"DATABASE": str(DB_PATH), "SECRET_KEY": "bench", "TESTING": True})
    with app.test_request_context("/"):
        page = timed(lambda: item_spread(database, big, NOW), 30)
    print(f"FIGURE item page spread part, 5,200 copies: {page * 1000:.1f} ms (target: <= 50 ms)")
    from monitor.spikes import check

    rules = default_spike_rules()
    started = time.perf_counter()
    fired = check(database, rules, now=NOW)
    first = time.perf_counter() - started
    print("fired:", ", ".join(f"{s['rule']}:{s['subject']} ({s['observed']:g}, {s['items']} items)" for s in fired))
    steady = timed(lambda: check(database, rules, now=NOW + timedelta(seconds=30)), 10)
    print(f"FIGURE spike check, first of the hour (reads the week, records 3 spikes): {first * 1000:.0f} ms"
          " (target: <= 1000 ms)")
    print(f"FIGURE spike check, every other minute: {steady * 1000:.0f} ms (target: <= 250 ms)")
    return 0 if {s["kind"] for s in fired} == {"story_sources", "rule_rate", "place_rate"} else 1


if __name__ == "__main__":
    raise SystemExit(main())
