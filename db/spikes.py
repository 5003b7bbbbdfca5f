"""Spikes (issue 11 item 3): the counts the spike rules compare, and the spikes they fired.

monitor/spikes.py decides when a rule fires; the statements it runs are here. Windows are half-open on the
left, (since, until], in stored UTC times. Every count reads the items fetched in its window and no other
(see rule_hit_counts), so a check costs what the last hour, or once an hour the last week, holds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from db import dialect

PROVINCE_PREFIX = "p:"  # item_places codes: 'p:<code>' a province, 'c:<code>' a commune or ward (067_places.sql)


def record_rule_hits(conn: sqlite3.Connection, item_id: int, fetched_at: str, rules: Iterable[str]) -> None:
    """Store which watchlist rules (by human name) an item hit; called beside the item's insert."""
    conn.executemany("INSERT INTO item_rule_hits (item_id, rule, fetched_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     [(item_id, rule, fetched_at) for rule in rules])


def earliest_fetch(conn: sqlite3.Connection) -> str | None:
    """When the first stored item was fetched (None on an empty database): how much history a baseline has."""
    return conn.execute("SELECT MIN(fetched_at) FROM items").fetchone()[0]


def stories_with_new_sources(conn: sqlite3.Connection, since: str, until: str, minimum: int) -> list[tuple[int, int]]:
    """(cluster id, sources) of the stories at least `minimum` sources first carried in (since, until]."""
    return conn.execute(
        "SELECT cluster_id, COUNT(*) AS n FROM cluster_sources WHERE first_seen_at > ? AND first_seen_at <= ?"
        " GROUP BY cluster_id HAVING COUNT(*) >= ? ORDER BY cluster_id", (since, until, minimum)).fetchall()


# Both counts are driven by the items fetched in the window (items_fetched_at, a covering range), each joined to
# its own rule hits or places by item id: CROSS JOIN keeps SQLite from walking a rule's or a place's rows of all
# time instead, so the cost follows the window's items, not the database's age. PostgreSQL's CROSS JOIN takes
# no ON (and its planner picks the order from its statistics): there it is a plain JOIN.
def _window_join(conn: sqlite3.Connection) -> str:
    return "JOIN" if dialect(conn) == "postgresql" else "CROSS JOIN"


def rule_hit_counts(conn: sqlite3.Connection, since: str, until: str) -> dict[str, int]:
    """Watchlist rule → hits by the items fetched in (since, until]."""
    return dict(conn.execute(
        f"SELECT h.rule, COUNT(*) FROM items i {_window_join(conn)} item_rule_hits h ON h.item_id = i.id"
        " WHERE i.fetched_at > ? AND i.fetched_at <= ? GROUP BY h.rule", (since, until)).fetchall())


def place_counts(conn: sqlite3.Connection, since: str, until: str) -> dict[str, int]:
    """Place code → items fetched in (since, until] that mention it: a commune or ward by its own code, a
    province by the items naming it or any unit in it (each item once)."""
    return dict(conn.execute(
        "WITH hits AS MATERIALIZED (SELECT p.item_id, p.code, p.level, p.province_code FROM items i"
        f"  {_window_join(conn)} item_places p ON p.item_id = i.id WHERE i.fetched_at > ? AND i.fetched_at <= ?)"
        " SELECT code, COUNT(*) FROM hits WHERE level = 'commune' GROUP BY code"
        " UNION ALL SELECT province_code, COUNT(DISTINCT item_id) FROM hits GROUP BY province_code",
        (since, until)).fetchall())


def _place_column(code: str) -> str:
    """The item_places column a place is looked up by: a province ('p:…') by province_code, so it counts the
    items about any of its units; a commune or ward by its own code."""
    return "province_code" if code.startswith(PROVINCE_PREFIX) else "code"


def story_items(conn: sqlite3.Connection, cluster_id: int, since: str, until: str, limit: int) -> list[tuple]:
    """(item id, cluster id) of a story's copies fetched in (since, until], oldest first; its representative
    when none was (the window's sources were exact reposts, never stored again)."""
    rows = conn.execute("SELECT id, cluster_id FROM items WHERE cluster_id = ? AND fetched_at > ? AND fetched_at <= ?"
                        " ORDER BY fetched_at, id LIMIT ?", (cluster_id, since, until, limit)).fetchall()
    return rows or conn.execute("SELECT representative_item_id, id FROM clusters WHERE id = ?"
                                " AND representative_item_id IS NOT NULL", (cluster_id,)).fetchall()


def rule_items(conn: sqlite3.Connection, rule: str, since: str, until: str, limit: int) -> list[tuple]:
    """(item id, cluster id) of the items fetched in (since, until] that hit a rule, oldest first."""
    return conn.execute(
        "SELECT i.id, i.cluster_id FROM item_rule_hits h JOIN items i ON i.id = h.item_id WHERE h.rule = ?"
        " AND h.fetched_at > ? AND h.fetched_at <= ? ORDER BY h.fetched_at, i.id LIMIT ?",
        (rule, since, until, limit)).fetchall()


def place_items(conn: sqlite3.Connection, code: str, since: str, until: str, limit: int) -> list[tuple]:
    """(item id, cluster id) of the items fetched in (since, until] that mention a place, oldest first."""
    return conn.execute(
        f"SELECT i.id, i.cluster_id FROM items i WHERE i.fetched_at > ? AND i.fetched_at <= ? AND EXISTS"
        f" (SELECT 1 FROM item_places p WHERE p.item_id = i.id AND p.{_place_column(code)} = ?)"
        f" ORDER BY i.fetched_at, i.id LIMIT ?", (since, until, code, limit)).fetchall()


def fired_since(conn: sqlite3.Connection, rule: str, subject: str, since: str) -> bool:
    """Whether the rule already fired for this subject after `since` (one spike per window)."""
    return conn.execute("SELECT 1 FROM spikes WHERE rule = ? AND subject = ? AND fired_at > ? LIMIT 1",
                        (rule, subject, since)).fetchone() is not None


def insert_spike(conn: sqlite3.Connection, spike: dict, items: list[tuple]) -> int | None:
    """Record a fired spike ({rule, kind, subject, window_start, fired_at, observed, expected}) and the
    (item id, cluster id) pairs that made it; None when that rule, subject and window is already recorded."""
    found = conn.execute(
        "INSERT INTO spikes (rule, kind, subject, window_start, fired_at, observed, expected)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        [spike[name] for name in ("rule", "kind", "subject", "window_start", "fired_at", "observed", "expected")]
    ).fetchone()
    if found is None:
        return None
    spike_id = int(found[0])
    conn.executemany("INSERT INTO spike_items (spike_id, item_id, cluster_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     [(spike_id, item_id, cluster_id) for item_id, cluster_id in items])
    return spike_id


def recent_spikes(conn: sqlite3.Connection, since: str, limit: int = 100) -> list[dict]:
    """Spikes fired after `since`, newest first, each with its item count, first item and that item's title."""
    conn_rows = conn.execute(
        "SELECT s.id, s.rule, s.kind, s.subject, s.window_start, s.fired_at, s.observed, s.expected,"
        " (SELECT COUNT(*) FROM spike_items si WHERE si.spike_id = s.id) AS items,"
        " (SELECT MIN(si.item_id) FROM spike_items si WHERE si.spike_id = s.id) AS first_item_id"
        " FROM spikes s WHERE s.fired_at > ? ORDER BY s.fired_at DESC, s.id DESC LIMIT ?", (since, limit))
    columns = [d[0] for d in conn_rows.description]
    rows = [dict(zip(columns, row, strict=True)) for row in conn_rows.fetchall()]
    titles = dict(conn.execute(
        f"SELECT id, title FROM items WHERE id IN ({','.join('?' * len(rows))})",
        [row["first_item_id"] for row in rows]).fetchall()) if rows else {}
    for row in rows:
        row["title"] = titles.get(row["first_item_id"])
    return rows


def story_spikes(conn: sqlite3.Connection, cluster_id: int, limit: int = 20) -> list[dict]:
    """The spikes a story's copies made (its own, or a rule's or a place's they counted in), newest first."""
    cursor = conn.execute(
        "SELECT id, rule, kind, subject, window_start, fired_at, observed, expected FROM spikes WHERE id IN"
        " (SELECT spike_id FROM spike_items WHERE cluster_id = ?) ORDER BY fired_at DESC, id DESC LIMIT ?",
        (cluster_id, limit))
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def spike_item_ids(conn: sqlite3.Connection, spike_id: int) -> list[int]:
    """The items that made a spike, by id."""
    return [row[0] for row in conn.execute("SELECT item_id FROM spike_items WHERE spike_id = ? ORDER BY item_id",
                                           (spike_id,))]
