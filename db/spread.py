"""A story's spread over time: its copies and distinct sources per hour since it was first seen, and its
velocity (sources new in the last hour and the last six).

A story is a cluster (monitor/pipeline/dedup.py). Its copies are its stored items plus the exact reposts the
pipeline did not store again; those are counted only in `cluster_sources.copies` (dedup.record_repost), so a
source's copies beyond its stored items are reposts, dated when the source first carried the story. Its
sources are its `cluster_sources` rows, each dated by `first_seen_at` (the reports count sources the same way,
db/reports.py). Two index-only reads per story (a third, of the item rows, only for a story with exact
reposts), so one with thousands of copies takes a few milliseconds (bench/bench_spread.py).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

from db import to_iso


def hour_of(stamp: str) -> str:
    """The UTC hour a stored time falls in, as a stored time ("2026-12-02T10:00:00Z")."""
    return stamp[:13] + ":00:00Z"


# A story's stored copies per UTC hour (read from the covering index items_cluster_queue, which ends in
# fetched_at: no item row is read), and its sources' rows (the cluster_sources primary key).
STORY_HOURS_SQL = ("SELECT substr(fetched_at, 1, 13) AS hour, COUNT(*), MIN(fetched_at) FROM items"
                   " WHERE cluster_id = ? GROUP BY hour")
STORY_SOURCES_SQL = "SELECT source_id, first_seen_at, copies FROM cluster_sources WHERE cluster_id = ?"
# Stored copies per source: read only when the story has exact reposts (it reads the item rows).
STORED_BY_SOURCE_SQL = "SELECT source_id, COUNT(*) FROM items WHERE cluster_id = ? GROUP BY source_id"


def story_spread(conn: sqlite3.Connection, cluster_id: int | None, now: datetime | None = None) -> dict | None:
    """A story's spread: {copies, sources, new_sources_1h, new_sources_6h, first_seen_at,
    timeline: [{hour, copies, sources, total_copies, total_sources}]}; None when it has no copy at all.

    The timeline lists, oldest first, each UTC hour in which the story gained a copy or a source (`copies`
    and `sources` are that hour's new ones, the totals are by the hour's end). `now` (default: the clock)
    is what the last hour and the last six are counted back from.
    """
    if cluster_id is None:
        return None
    hours = conn.execute(STORY_HOURS_SQL, (cluster_id,)).fetchall()
    sources = conn.execute(STORY_SOURCES_SQL, (cluster_id,)).fetchall()
    if not hours and not sources:
        return None
    copies_per_hour: Counter[str] = Counter({hour + ":00:00Z": count for hour, count, _first in hours})
    sources_per_hour: Counter[str] = Counter(hour_of(first) for _source, first, _copies in sources)
    for hour, reposts in _repost_hours(conn, cluster_id, sources, sum(copies_per_hour.values())).items():
        copies_per_hour[hour] += reposts
    firsts = sorted(first for _source, first, _copies in sources)
    now = now or datetime.now(UTC)
    last_hour, last_six = to_iso(now - timedelta(hours=1)), to_iso(now - timedelta(hours=6))
    return {
        "copies": sum(copies_per_hour.values()),
        "sources": len(sources),
        "new_sources_1h": sum(1 for first in firsts if first > last_hour),
        "new_sources_6h": sum(1 for first in firsts if first > last_six),
        "first_seen_at": min([*firsts[:1], *(first for _hour, _count, first in hours)]),
        "timeline": _timeline(copies_per_hour, sources_per_hour),
    }


def _repost_hours(conn: sqlite3.Connection, cluster_id: int, sources: list[tuple], stored: int) -> Counter[str]:
    """Exact reposts per hour: a source's copies beyond its stored items, dated when it first carried the story.
    Most stories have none (their sources' copies add up to the items stored), and skip the per-source count."""
    if sum(copies for _source, _first, copies in sources) <= stored:
        return Counter()
    stored_by_source = dict(conn.execute(STORED_BY_SOURCE_SQL, (cluster_id,)).fetchall())
    reposts: Counter[str] = Counter()
    for source_id, first_seen_at, copies in sources:
        extra = copies - stored_by_source.get(source_id, 0)
        if extra > 0:
            reposts[hour_of(first_seen_at)] += extra
    return reposts


def _timeline(copies: Counter[str], sources: Counter[str]) -> list[dict]:
    """The hours with a new copy or source, oldest first, with running totals."""
    rows, total_copies, total_sources = [], 0, 0
    for hour in sorted(set(copies) | set(sources)):
        total_copies += copies.get(hour, 0)
        total_sources += sources.get(hour, 0)
        rows.append({"hour": hour, "copies": copies.get(hour, 0), "sources": sources.get(hour, 0),
                     "total_copies": total_copies, "total_sources": total_sources})
    return rows
