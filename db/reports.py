"""The periodic report's read queries (monitor/reports/ turns their rows into tables).

Every function takes the connection of the report's read transaction, so all of a report's figures
come from one snapshot of the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from db import dialect

POSTGRESQL = "postgresql"


def scan_hint(conn: sqlite3.Connection) -> str:
    """Force the covering index of migration 051 when present: with few sources, SQLite's planner
    otherwise prefers a skip-scan of (source_id, fetched_at) that reads every row (3× slower).
    PostgreSQL has no index hints (and its planner needs none here)."""
    if dialect(conn) == POSTGRESQL:
        return ""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'items_report_scan'").fetchone()
    return " INDEXED BY items_report_scan" if found else ""


def local_time_expr(column: str, offset: int | None, sql_dialect: str = "sqlite") -> str:
    """SQL for the local "YYYY-MM-DD HH:MM" of a stored time at a fixed UTC `offset` in seconds, or NULL
    when the offset varies (the caller then converts in Python). Stored times are text ending in Z:
    PostgreSQL reads them as a timestamp (the Z is ignored, they are UTC) and formats it back."""
    if offset is None:
        return "NULL"
    if sql_dialect == POSTGRESQL:
        return f"to_char(CAST({column} AS timestamp) + interval '{int(offset):d} seconds', 'YYYY-MM-DD HH24:MI')"
    return f"strftime('%Y-%m-%d %H:%M', {column}, '{int(offset):+d} seconds')"


def day_index_expr(column: str, start_utc: str, *, start_timestamp: int | None = None,
                   day_starts: list[str] | None = None, sql_dialect: str = "sqlite") -> tuple[str, list]:
    """SQL (and its parameters) giving the 0-based local-day index of `column`, −1 before `start_utc`.

    Without `day_starts` every day is 86,400 s from `start_timestamp` (one UTC offset throughout): constant
    work per row. With them (the UTC starts of the second and later days, when the offset changes) a CASE
    over those midnights, whose work per row grows with the days. Integer division in both dialects: a
    time at or after the start counts whole days.
    """
    if day_starts is None:
        seconds = (f"CAST(EXTRACT(EPOCH FROM CAST({column} AS timestamp)) AS bigint)" if sql_dialect == POSTGRESQL
                   else f"CAST(strftime('%s', {column}) AS INTEGER)")
        return (f"CASE WHEN {column} < ? THEN -1 ELSE ({seconds} - ?) / 86400 END", [start_utc, start_timestamp])
    parts, params = ["CASE WHEN " + column + " < ? THEN -1"], [start_utc]
    for index, day_start in enumerate(day_starts):
        parts.append(f"WHEN {column} < ? THEN {index}")
        params.append(day_start)
    parts.append(f"ELSE {len(day_starts)} END")
    return " ".join(parts), params


def cluster_schema(conn: sqlite3.Connection) -> tuple[bool, bool]:
    """(whether exact reposts are recorded in cluster_sources, whether clusters have a representative
    item): older SQLite databases lack either, and the story queries leave out what is missing. A
    PostgreSQL schema starts at today's (db/migrations_postgresql), so it has both."""
    if dialect(conn) == POSTGRESQL:
        return True, True
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    cluster_columns = {row[1] for row in conn.execute("PRAGMA table_info(clusters)")}
    return "cluster_sources" in tables, "representative_item_id" in cluster_columns


def _per_cluster_sql(conn: sqlite3.Connection, start: str, end: str, reposts: bool) -> tuple[str, list]:
    """Per story touched in [start, end): distinct sources by end, those new since start, the first
    time seen and the items stored. A source carries a story with an item in it or an exact repost.
    (The SQL and its parameters, in order: `?` placeholders, which both backends take.)"""
    touched = (f"SELECT cluster_id FROM items{scan_hint(conn)} WHERE fetched_at >= ? AND fetched_at < ?"
               " AND cluster_id IS NOT NULL")
    params = [start, end]
    if reposts:
        touched += " UNION SELECT cluster_id FROM cluster_sources WHERE first_seen_at >= ? AND first_seen_at < ?"
        params += [start, end]
    carriers_sql = ("SELECT cluster_id, source_id, fetched_at AS seen, 1 AS stored FROM items"
                    " WHERE cluster_id IN (SELECT cluster_id FROM touched) AND fetched_at < ?")
    params.append(end)
    if reposts:
        carriers_sql += (" UNION ALL SELECT cluster_id, source_id, first_seen_at, 0 FROM cluster_sources"
                         " WHERE cluster_id IN (SELECT cluster_id FROM touched) AND first_seen_at < ?")
        params.append(end)
    params.append(start)
    return (f"WITH touched AS ({touched}),"
            f" carriers AS (SELECT cluster_id, source_id, MIN(seen) AS first, SUM(stored) AS items"
            f"  FROM ({carriers_sql}) AS carried GROUP BY cluster_id, source_id)"
            " SELECT cluster_id, COUNT(*) AS sources, COUNT(*) FILTER (WHERE first >= ?) AS new_sources,"
            " MIN(first) AS first, SUM(items) AS items FROM carriers GROUP BY cluster_id"), params


def spreading_count(conn: sqlite3.Connection, start: str, end: str, *, reposts: bool) -> int:
    """How many stories touched in [start, end) had two or more sources by `end`."""
    sql, params = _per_cluster_sql(conn, start, end, reposts)
    return int(conn.execute(f"SELECT COUNT(*) FROM ({sql}) AS stories WHERE sources >= 2", params).fetchone()[0])


def cluster_spread(conn: sqlite3.Connection, start: str, end: str, *, reposts: bool) -> dict[int, dict]:
    """cluster id → {"sources", "new", "first", "items"} for each story touched in [start, end)."""
    sql, params = _per_cluster_sql(conn, start, end, reposts)
    return {row[0]: {"sources": row[1], "new": row[2], "first": row[3], "items": int(row[4])}
            for row in conn.execute(sql, params)}


def cluster_members(conn: sqlite3.Connection, cluster_id: int, end: str) -> list[tuple]:
    """(item id, title, status, source name) of a story's items fetched before `end`, oldest first."""
    return conn.execute(
        "SELECT i.id, i.title, i.status, s.name FROM items i JOIN sources s ON s.id = i.source_id"
        " WHERE i.cluster_id = ? AND i.fetched_at < ? ORDER BY i.fetched_at, i.id", [cluster_id, end]).fetchall()


def representative_title(conn: sqlite3.Connection, cluster_id: int) -> str | None:
    """The title of the story's representative item (None or "" when it has none)."""
    row = conn.execute("SELECT items.title FROM clusters JOIN items ON items.id = clusters.representative_item_id"
                       " WHERE clusters.id = ?", [cluster_id]).fetchone()
    return row[0] if row else None


def repost_source_names(conn: sqlite3.Connection, cluster_id: int, end: str) -> set[str]:
    """Names of the sources that carried the story (stored or as exact reposts) before `end`."""
    return {r[0] for r in conn.execute(
        "SELECT s.name FROM cluster_sources c JOIN sources s ON s.id = c.source_id"
        " WHERE c.cluster_id = ? AND c.first_seen_at < ?", [cluster_id, end])}


def confirmed_texts(conn: sqlite3.Connection, start: str, end: str) -> list[tuple[str, str | None]]:
    """(title, text) of the items a decision confirmed in [start, end)."""
    return conn.execute(
        "SELECT title, text FROM items WHERE id IN (SELECT DISTINCT item_id FROM decisions"
        " WHERE new_status = 'confirmed' AND created_at >= ? AND created_at < ?)", [start, end]).fetchall()


def crawl_runs_by_source(conn: sqlite3.Connection, prev_start: str, start: str, end: str) -> dict[int, tuple]:
    """source id → (runs since `start`, error runs since `start`, error runs in [prev_start, start))."""
    return {row[0]: row[1:] for row in conn.execute(
        "SELECT source_id, COUNT(*) FILTER (WHERE started_at >= ?),"
        " COUNT(*) FILTER (WHERE started_at >= ? AND status = 'error'),"
        " COUNT(*) FILTER (WHERE started_at < ? AND status = 'error')"
        " FROM crawl_runs WHERE started_at >= ? AND started_at < ? GROUP BY source_id",
        [start, start, start, prev_start, end])}


def last_item_before(conn: sqlite3.Connection, source_id: int, end: str) -> str | None:
    """When the source's newest item fetched before `end` was fetched (None when it has none)."""
    return conn.execute("SELECT MAX(fetched_at) FROM items WHERE source_id = ? AND fetched_at < ?",
                        [source_id, end]).fetchone()[0]


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one read transaction (rolled back: it writes nothing), so every figure comes
    from one snapshot while the crawler and moderators keep writing; joins a transaction already open.
    PostgreSQL's default (read committed) takes a snapshot per statement: repeatable read keeps one."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if dialect(conn) == POSTGRESQL else "BEGIN")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")


def report_sources(conn: sqlite3.Connection) -> list[tuple]:
    """(id, name, kind, language, enabled, paused, consecutive_failures, last_success_at, last_error,
    last_error_at) of every source."""
    return conn.execute(
        "SELECT id, name, kind, language, enabled, paused, consecutive_failures, last_success_at,"
        " last_error, last_error_at FROM sources").fetchall()


def source_enabled_history(conn: sqlite3.Connection) -> dict[int, list[tuple[str, int]]] | None:
    """source id → [(changed_at, enabled), …] oldest first (migration 065's log), or None in a database
    older than that log (the caller then goes by the current flag and the creation time). A PostgreSQL
    schema always has the log."""
    if dialect(conn) != POSTGRESQL and not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'source_enabled_log'").fetchone():
        return None
    history: dict[int, list[tuple[str, int]]] = {}
    for source_id, changed_at, enabled in conn.execute(
            "SELECT source_id, changed_at, enabled FROM source_enabled_log ORDER BY source_id, changed_at, id"):
        history.setdefault(source_id, []).append((changed_at, enabled))
    return history


def source_created_times(conn: sqlite3.Connection) -> dict[int, str]:
    """source id → created_at (for a database without the enabled log)."""
    return dict(conn.execute("SELECT id, created_at FROM sources").fetchall())


def latest_activity_before(conn: sqlite3.Connection, moment: str) -> str | None:
    """The latest time before `moment` at which an item was first seen or a decision made (None: none),
    each one seek on its time index."""
    item = conn.execute("SELECT MAX(fetched_at) FROM items WHERE fetched_at < ?", [moment]).fetchone()[0]
    decision = conn.execute("SELECT MAX(created_at) FROM decisions WHERE created_at < ?", [moment]).fetchone()[0]
    return max((time for time in (item, decision) if time), default=None)


def item_groups(conn: sqlite3.Connection, day_sql: str, day_params: list, start: str, end: str) -> list[tuple]:
    """(source id, language or '', flag_reasons, day, count) of the items first seen in [start, end),
    in one scan of the fetched_at index; `day_sql` (with `day_params`) computes each item's day index."""
    return conn.execute(
        f"SELECT source_id, COALESCE(language, ''), flag_reasons, {day_sql} AS day, COUNT(*)"
        f" FROM items{scan_hint(conn)} WHERE fetched_at >= ? AND fetched_at < ?"
        " GROUP BY source_id, COALESCE(language, ''), flag_reasons, day",
        [*day_params, start, end]).fetchall()


def decisions_with_context(conn: sqlite3.Connection, start: str, end: str) -> list[tuple]:
    """Decisions made in [start, end) by id, each with its user's name and role, its item's fetched_at,
    flag_reasons and model version, and whether it is the item's first-ever decision."""
    return conn.execute(
        "SELECT d.id, d.item_id, d.action, d.old_status, d.new_status, d.note, d.created_at,"
        " u.name, u.role, i.fetched_at, i.flag_reasons, COALESCE(i.model_version, ''),"
        " CASE WHEN (SELECT MIN(d2.id) FROM decisions d2 WHERE d2.item_id = d.item_id) = d.id THEN 1 ELSE 0 END AS is_first"
        " FROM decisions d JOIN users u ON u.id = d.user_id JOIN items i ON i.id = d.item_id"
        " WHERE d.created_at >= ? AND d.created_at < ? ORDER BY d.id", [start, end]).fetchall()


def count_items_between(conn: sqlite3.Connection, start: str, end: str) -> int:
    """How many items were first seen in [start, end)."""
    return conn.execute("SELECT COUNT(*) FROM items WHERE fetched_at >= ? AND fetched_at < ?",
                        (start, end)).fetchone()[0]


def undecided_items(conn: sqlite3.Connection, statuses: tuple[str, ...]) -> list[tuple[str, str]]:
    """(status, fetched_at) of the items in one of two `statuses` that no decision ever touched."""
    return conn.execute(
        "SELECT status, fetched_at FROM items WHERE status IN (?, ?) AND NOT EXISTS"
        " (SELECT 1 FROM decisions d WHERE d.item_id = items.id)", statuses).fetchall()


def decision_log(conn: sqlite3.Connection) -> sqlite3.Cursor:
    """(item id, created_at, old_status, new_status) of every decision, oldest first (read as it goes)."""
    return conn.execute("SELECT item_id, created_at, old_status, new_status FROM decisions ORDER BY id")


def fetched_times(conn: sqlite3.Connection, item_ids: list[int]) -> dict[int, str]:
    """item id → fetched_at, looked up 500 ids per statement."""
    fetched: dict[int, str] = {}
    for offset in range(0, len(item_ids), 500):
        chunk = item_ids[offset:offset + 500]
        fetched.update(conn.execute(f"SELECT id, fetched_at FROM items WHERE id IN ({','.join('?' * len(chunk))})",
                                    chunk).fetchall())
    return fetched


def decisions_for_rows(conn: sqlite3.Connection, start: str, end: str, local_sql: str) -> sqlite3.Cursor:
    """(item id, decision id, user name, created_at, action, old, new, note, local time by `local_sql`)
    of the decisions made in [start, end), by id."""
    return conn.execute(
        "SELECT d.item_id, d.id, u.name, d.created_at, d.action, d.old_status, d.new_status, d.note,"
        f" {local_sql}"
        " FROM decisions d JOIN users u ON u.id = d.user_id"
        " WHERE d.created_at >= ? AND d.created_at < ? ORDER BY d.id", [start, end])


def _item_row_columns(local_sql: str) -> str:
    return ("id, source_id, fetched_at, language, title, COALESCE(url, canonical_url), status, flag_reasons,"
            f" score_misinformation, score_harm, model_version, {local_sql}")


def item_rows_between(conn: sqlite3.Connection, start: str, end: str, local_sql: str) -> list[tuple]:
    """The report's item columns (local fetch time by `local_sql` last) of items first seen in [start, end), by id."""
    return conn.execute(f"SELECT {_item_row_columns(local_sql)} FROM items WHERE fetched_at >= ? AND fetched_at < ?"
                        " ORDER BY id", [start, end]).fetchall()


def item_rows_by_id(conn: sqlite3.Connection, item_ids: list[int], local_sql: str) -> list[tuple]:
    """The same columns for the given items, looked up 500 ids per statement."""
    rows: list[tuple] = []
    for offset in range(0, len(item_ids), 500):
        chunk = item_ids[offset:offset + 500]
        rows += conn.execute(f"SELECT {_item_row_columns(local_sql)} FROM items"
                             f" WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
    return rows


def _by_side(rows: list[tuple]) -> dict[str, tuple]:
    """Rows whose first column says whether they belong to the current period (1) or the previous (0)."""
    out = {"cur": (), "prev": ()}
    for row in rows:
        out["cur" if row[0] else "prev"] = tuple(row[1:])
    return out


def jurisdiction_counts(conn: sqlite3.Connection, start: str, mid: str, end: str) -> dict[str, tuple]:
    """(items, flagged items) first seen about the jurisdiction, in [start, mid) ("prev") and [mid, end)
    ("cur"), on the partial index of such items (migration 071)."""
    return _by_side(conn.execute(
        "SELECT fetched_at >= ?, COUNT(*), COUNT(*) FILTER (WHERE flag_reasons != '[]') FROM items"
        " WHERE about_jurisdiction = 1 AND fetched_at >= ? AND fetched_at < ? GROUP BY 1",
        [mid, start, end]).fetchall())


def jurisdiction_places(conn: sqlite3.Connection, start: str, mid: str, end: str) -> list[tuple]:
    """(place code, level, current side, items, flagged items) for the places the items about the
    jurisdiction first seen in [start, end) mention."""
    return conn.execute(
        "SELECT p.code, p.level, i.fetched_at >= ?, COUNT(*), COUNT(*) FILTER (WHERE i.flag_reasons != '[]')"
        " FROM items i JOIN item_places p ON p.item_id = i.id"
        " WHERE i.about_jurisdiction = 1 AND i.fetched_at >= ? AND i.fetched_at < ? GROUP BY 1, 2, 3",
        [mid, start, end]).fetchall()


def claim_match_counts(conn: sqlite3.Connection, start: str, mid: str, end: str) -> dict[str, tuple]:
    """(items, distinct claims) of the debunked-claim matches made in each side."""
    return _by_side(conn.execute(
        "SELECT matched_at >= ?, COUNT(DISTINCT item_id), COUNT(DISTINCT claim_id) FROM claim_matches"
        " WHERE matched_at >= ? AND matched_at < ? GROUP BY 1", [mid, start, end]).fetchall())


def top_matched_claims(conn: sqlite3.Connection, start: str, end: str, limit: int) -> list[tuple]:
    """(claim id, text, verdict, rebuttal URL, publisher, items, sources) of the debunked claims most repeated
    by items matched in [start, end)."""
    return conn.execute(
        "SELECT k.id, k.text, k.verdict, k.url, k.publisher, COUNT(*), COUNT(DISTINCT i.source_id)"
        " FROM claim_matches m JOIN known_claims k ON k.id = m.claim_id JOIN items i ON i.id = m.item_id"
        " WHERE m.matched_at >= ? AND m.matched_at < ? GROUP BY k.id ORDER BY 6 DESC, 7 DESC, k.id LIMIT ?",
        [start, end, limit]).fetchall()


def claims_added_counts(conn: sqlite3.Connection, start: str, mid: str, end: str) -> dict[str, tuple]:
    """(claims) added to the debunked-claims library in each side."""
    return _by_side(conn.execute(
        "SELECT created_at >= ?, COUNT(*) FROM known_claims WHERE created_at >= ? AND created_at < ? GROUP BY 1",
        [mid, start, end]).fetchall())


def spike_counts(conn: sqlite3.Connection, start: str, mid: str, end: str) -> dict[str, tuple]:
    """(spikes) fired in each side."""
    return _by_side(conn.execute(
        "SELECT fired_at >= ?, COUNT(*) FROM spikes WHERE fired_at >= ? AND fired_at < ? GROUP BY 1",
        [mid, start, end]).fetchall())


def alert_counts(conn: sqlite3.Connection, start: str, mid: str, end: str) -> dict[str, tuple]:
    """(alerts delivered, stories alerted, alerts failed for good) of the alerts made in each side."""
    return _by_side(conn.execute(
        "SELECT created_at >= ?, COUNT(*) FILTER (WHERE status = 'sent'), COUNT(DISTINCT story),"
        " COUNT(*) FILTER (WHERE status = 'failed') FROM alerts WHERE created_at >= ? AND created_at < ? GROUP BY 1",
        [mid, start, end]).fetchall())
