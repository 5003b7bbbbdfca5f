"""A story's spread over time: its copies and distinct sources per hour since it was first seen, and its
velocity (sources new in the last hour and the last six).

A story is a cluster (monitor/pipeline/dedup.py). Its copies are its stored items plus the exact reposts the
pipeline did not store again; those are counted only in `cluster_sources.copies` (dedup.record_repost), so a
source's copies beyond its stored items are reposts, dated when the source first carried the story. Its
sources are its `cluster_sources` rows, each dated by `first_seen_at` (the reports count sources the same way,
db/reports.py). Two indexed reads per story — the cluster's items (items_cluster) and its source rows
(the cluster_sources primary key) — so a story with thousands of copies is still a few milliseconds.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

from db import to_iso


def hour_of(stamp: str) -> str:
    """The UTC hour a stored time falls in, as a stored time ("2026-12-02T10:00:00Z")."""
    return stamp[:13] + ":00:00Z"


# (source id, hour, stored copies, first fetch) of a story's items; (source id, first seen, copies) of its sources.
STORY_ITEMS_SQL = ("SELECT source_id, substr(fetched_at, 1, 13) AS hour, COUNT(*), MIN(fetched_at) FROM items"
                   " WHERE cluster_id = ? GROUP BY source_id, hour")
STORY_SOURCES_SQL = "SELECT source_id, first_seen_at, copies FROM cluster_sources WHERE cluster_id = ?"


def _story_rows(conn: sqlite3.Connection, cluster_id: int) -> tuple[list[tuple], list[tuple]]:
    """A story's item rows and source rows (STORY_ITEMS_SQL, STORY_SOURCES_SQL)."""
    return (conn.execute(STORY_ITEMS_SQL, (cluster_id,)).fetchall(),
            conn.execute(STORY_SOURCES_SQL, (cluster_id,)).fetchall())


def story_spread(conn: sqlite3.Connection, cluster_id: int | None, now: datetime | None = None) -> dict | None:
    """A story's spread: {copies, sources, new_sources_1h, new_sources_6h, first_seen_at,
    timeline: [{hour, copies, sources, total_copies, total_sources}]}; None when it has no copy at all.

    The timeline lists, oldest first, each UTC hour in which the story gained a copy or a source (`copies`
    and `sources` are that hour's new ones, the totals are by the hour's end). `now` (default: the clock)
    is what the last hour and the last six are counted back from.
    """
    if cluster_id is None:
        return None
    items, sources = _story_rows(conn, cluster_id)
    if not items and not sources:
        return None
    copies_per_hour: Counter[str] = Counter()
    stored_by_source: Counter[int] = Counter()
    for source_id, hour, count, _first in items:
        copies_per_hour[hour + ":00:00Z"] += count
        stored_by_source[source_id] += count
    sources_per_hour: Counter[str] = Counter()
    for source_id, first_seen_at, copies in sources:
        sources_per_hour[hour_of(first_seen_at)] += 1
        reposts = copies - stored_by_source.get(source_id, 0)
        if reposts > 0:  # exact reposts are not stored again: dated by the source's first sighting
            copies_per_hour[hour_of(first_seen_at)] += reposts
    now = now or datetime.now(UTC)
    firsts = sorted(first for _, first, _ in sources)
    return {
        "copies": sum(copies_per_hour.values()),
        "sources": len(sources),
        "new_sources_1h": sum(1 for first in firsts if first > to_iso(now - timedelta(hours=1))),
        "new_sources_6h": sum(1 for first in firsts if first > to_iso(now - timedelta(hours=6))),
        "first_seen_at": min([*firsts[:1], *(row[3] for row in items)]),
        "timeline": _timeline(copies_per_hour, sources_per_hour),
    }


def _timeline(copies: Counter[str], sources: Counter[str]) -> list[dict]:
    """The hours with a new copy or source, oldest first, with running totals."""
    rows, total_copies, total_sources = [], 0, 0
    for hour in sorted(set(copies) | set(sources)):
        total_copies += copies.get(hour, 0)
        total_sources += sources.get(hour, 0)
        rows.append({"hour": hour, "copies": copies.get(hour, 0), "sources": sources.get(hour, 0),
                     "total_copies": total_copies, "total_sources": total_sources})
    return rows
