"""Sources: the configured feeds mirrored into the database, with their health."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import sqlite_utils

from db import dialect, transaction, utcnow


def sync_sources(database: sqlite_utils.Database, sources: list[Any]) -> dict[str, int]:
    """Upsert configured sources by name (keeping fetch state and health); return name → id.

    Sources removed from the file are disabled, not deleted: their items keep their source.
    """
    ids: dict[str, int] = {}
    with transaction(database) as conn:
        for source in sources:
            row = conn.execute("SELECT id FROM sources WHERE name = ?", (source.name,)).fetchone()
            values = (source.kind, source.url, source.language, source.interval_seconds,
                      json.dumps(source.tags, ensure_ascii=False), int(source.enabled))
            if row:
                conn.execute(
                    "UPDATE sources SET kind = ?, url = ?, language = ?, interval_seconds = ?, tags = ?, enabled = ?"
                    " WHERE id = ?", (*values, row[0]))
                ids[source.name] = row[0]
            else:
                cursor = conn.execute(
                    "INSERT INTO sources (kind, url, language, interval_seconds, tags, enabled, name, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", (*values, source.name, utcnow()))
                ids[source.name] = int(cursor.fetchone()[0])
        names = [s.name for s in sources]
        placeholders = ",".join("?" * len(names)) or "''"
        conn.execute(f"UPDATE sources SET enabled = 0 WHERE name NOT IN ({placeholders})", names)
    return ids


def ensure_source(database: sqlite_utils.Database, name: str, kind: str, url: str,
                  language: str | None = None) -> int:
    """A source row for intake that has no feeds.yaml entry (manual import, web reports)."""
    with transaction(database) as conn:
        row = conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
        if row:
            return int(row[0])
        cursor = conn.execute(
            "INSERT INTO sources (name, kind, url, language, enabled, created_at) VALUES (?, ?, ?, ?, 0, ?)"
            " RETURNING id", (name, kind, url, language, utcnow()))
        return int(cursor.fetchone()[0])


def get_source(database: sqlite_utils.Database, source_id: int) -> dict | None:
    rows = list(database.query("SELECT * FROM sources WHERE id = ?", [source_id]))
    return rows[0] if rows else None


RUN_OWNER_KEY = "crawl_run_owner:"


def start_run(database: sqlite_utils.Database, source_id: int, owner: str | None = None) -> int:
    """Open a crawl run ('running'); `owner` names the process doing it, so that a later start can
    tell a run whose process died (to be closed as interrupted) from one still in progress."""
    with transaction(database) as conn:
        now = utcnow()
        cursor = conn.execute("INSERT INTO crawl_runs (source_id, started_at) VALUES (?, ?) RETURNING id",
                              (source_id, now))
        run_id = int(cursor.fetchone()[0])
        conn.execute("UPDATE sources SET last_attempt_at = ? WHERE id = ?", (now, source_id))
        if owner:
            conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
                         " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                         (f"{RUN_OWNER_KEY}{run_id}", owner, now))
        return run_id


def running_runs(database: sqlite_utils.Database) -> list[tuple[int, str | None]]:
    """(run id, owner or None) of every crawl run still marked 'running'."""
    return [(row[0], row[1]) for row in database.conn.execute(
        "SELECT r.id, s.value FROM crawl_runs r LEFT JOIN service_state s ON s.key = ? || CAST(r.id AS TEXT)"
        " WHERE r.status = 'running' AND r.finished_at IS NULL ORDER BY r.id", (RUN_OWNER_KEY,))]


def close_interrupted_runs(database: sqlite_utils.Database, run_ids: list[int]) -> int:
    """Close runs whose process is gone: their uncommitted items were rolled back, so the next run
    of the source fetches them again. Returns how many were closed."""
    closed = 0
    with transaction(database) as conn:
        for run_id in run_ids:
            closed += conn.execute(
                "UPDATE crawl_runs SET status = 'error', finished_at = ?, error = 'interrupted: the process"
                " stopped during this crawl; the next run fetches again' WHERE id = ? AND status = 'running'",
                (utcnow(), run_id)).rowcount
            conn.execute("DELETE FROM service_state WHERE key = ?", (f"{RUN_OWNER_KEY}{run_id}",))
    return closed


def finish_run(database: sqlite_utils.Database, run_id: int, source_id: int, *, status: str,
               http_status: int | None = None, found: int = 0, new: int = 0, seen: int = 0,
               error: str | None = None, fetch_state: dict | None = None) -> None:
    """Close a crawl run and update the source's health in one transaction."""
    now = utcnow()
    with transaction(database) as conn:
        conn.execute(
            "UPDATE crawl_runs SET finished_at = ?, status = ?, http_status = ?, items_found = ?, items_new = ?,"
            " items_seen = ?, error = ? WHERE id = ?",
            (now, status, http_status, found, new, seen, error, run_id))
        conn.execute("DELETE FROM service_state WHERE key = ?", (f"{RUN_OWNER_KEY}{run_id}",))
        if status == "error":
            conn.execute(
                "UPDATE sources SET last_error_at = ?, last_error = ?, consecutive_failures = consecutive_failures + 1"
                " WHERE id = ?", (now, error, source_id))
        else:
            conn.execute("UPDATE sources SET last_success_at = ?, consecutive_failures = 0 WHERE id = ?",
                         (now, source_id))
        if fetch_state:
            allowed = {"etag", "last_modified", "body_hash"}
            for key, value in fetch_state.items():
                if key in allowed:
                    conn.execute(f"UPDATE sources SET {key} = ? WHERE id = ?", (value, source_id))


def set_paused(database: sqlite_utils.Database, source_id: int, paused: bool, reason: str | None = None) -> None:
    """Pause a failing source (the crawler, after N consecutive failures) or resume it (failures reset)."""
    with transaction(database) as conn:
        if paused:
            conn.execute("UPDATE sources SET paused = 1, last_error = COALESCE(?, last_error) WHERE id = ?",
                         (reason, source_id))
        else:
            conn.execute("UPDATE sources SET paused = 0, consecutive_failures = 0, next_run_at = NULL WHERE id = ?",
                         (source_id,))


def source_choices(database: sqlite_utils.Database) -> list[dict]:
    """Every source's id and name, by name: the choices of the queue's source filter (disabled sources
    included, since their items stay in the queue)."""
    return list(database.query("SELECT id, name FROM sources ORDER BY name"))


def find_source(database: sqlite_utils.Database, name: str) -> dict | None:
    """The whole source row by name (None when there is none): the crawler reads its fetch state from it."""
    rows = list(database.query("SELECT * FROM sources WHERE name = ?", [name]))
    return rows[0] if rows else None


def source_id(database: sqlite_utils.Database, name: str) -> int | None:
    """The id of the source with this name, for commands that take a source by name."""
    row = database.conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else None


def source_names(database: sqlite_utils.Database) -> list[str]:
    """Every source's name in order, to tell a person which names exist."""
    return [row[0] for row in database.conn.execute("SELECT name FROM sources ORDER BY name")]


def paused_names(database: sqlite_utils.Database, *, enabled_only: bool = False) -> list[str]:
    """Names of the paused sources; with `enabled_only`, of those feeds.yaml still enables, by name."""
    if enabled_only:
        sql = "SELECT name FROM sources WHERE enabled = 1 AND paused = 1 ORDER BY name"
    else:
        sql = "SELECT name FROM sources WHERE paused = 1"
    return [row[0] for row in database.conn.execute(sql)]


def failing_names(database: sqlite_utils.Database) -> list[str]:
    """Names of the enabled, unpaused sources whose last crawl failed, by name (for /health)."""
    return [row[0] for row in database.conn.execute(
        "SELECT name FROM sources WHERE enabled = 1 AND paused = 0 AND consecutive_failures > 0 ORDER BY name")]


def crawl_summary(database: sqlite_utils.Database) -> dict[str, Any]:
    """What /health judges the crawling by, in one pass over the (small) sources table and one index
    lookup on items: how many sources are enabled, how many of them failed their last run (paused ones
    included: the crawler pauses a source after repeated failures), the shortest poll interval among the
    enabled unpaused ones (the adaptive one where the scheduler recorded it), and when an item was last stored."""
    row = database.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN consecutive_failures > 0 THEN 1 ELSE 0 END), 0),"
        " MIN(CASE WHEN paused = 0 THEN COALESCE(effective_interval_seconds, interval_seconds) END)"
        " FROM sources WHERE enabled = 1").fetchone()
    last = database.conn.execute("SELECT MAX(fetched_at) FROM items").fetchone()
    return {"enabled": int(row[0]), "failed": int(row[1]), "shortest_interval": row[2],
            "last_stored_at": last[0] if last else None}


# Seconds between two stored times: SQLite's julianday, PostgreSQL's iso_epoch (the schema's strftime('%s')).
_SPAN_SECONDS = {"sqlite": "(julianday(MAX(fetched_at)) - julianday(MIN(fetched_at))) * 86400.0",
                 "postgresql": "(iso_epoch(MAX(fetched_at)) - iso_epoch(MIN(fetched_at)))"}


def overview_rows(database: sqlite_utils.Database, *, day: str, week: str, month: str) -> list[dict]:
    """Each source with its item counts since `day` and `week`, its last item and its mean gap between
    items since `month`: enabled first, then by name (the sources overview's one query)."""
    return list(database.query(
        "SELECT s.id, s.name, s.kind, s.url, s.enabled, s.paused, s.interval_seconds,"
        " s.effective_interval_seconds, s.last_attempt_at, s.last_success_at, s.last_error_at, s.last_error,"
        " s.consecutive_failures, s.next_run_at, s.tags,"
        " (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id AND i.fetched_at >= ?) AS items_24h,"
        " (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id AND i.fetched_at >= ?) AS items_7d,"
        " (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id) AS items_total,"
        " (SELECT MAX(fetched_at) FROM items i WHERE i.source_id = s.id) AS last_item_at,"
        f" (SELECT {_SPAN_SECONDS[dialect(database)]} / NULLIF(COUNT(*) - 1, 0)"
        "  FROM items i WHERE i.source_id = s.id AND i.fetched_at >= ?) AS mean_gap"
        " FROM sources s ORDER BY s.enabled DESC, s.name", [day, week, month]))


def forget_old_runs(conn: sqlite3.Connection, cutoff: str) -> int:
    """Delete finished crawl runs started before `cutoff` (inside the caller's transaction); how many."""
    return conn.execute("DELETE FROM crawl_runs WHERE started_at < ? AND status != 'running'", (cutoff,)).rowcount


def forget_old_raw_bodies(conn: sqlite3.Connection, cutoff: str) -> int | None:
    """Delete raw page bodies fetched before `cutoff` (inside the caller's transaction); how many,
    or None when this database keeps no raw bodies (the table is optional)."""
    if dialect(conn) == "postgresql":
        present = conn.execute("SELECT to_regclass('raw_bodies') IS NOT NULL").fetchone()[0]
    else:
        present = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'raw_bodies'").fetchone()
    if not present:
        return None
    return conn.execute("DELETE FROM raw_bodies WHERE fetched_at < ?", (cutoff,)).rowcount


def schedule_state(database: sqlite_utils.Database, name: str) -> dict | None:
    """What the scheduler needs of a source (id, paused, consecutive_failures, effective_interval_seconds,
    next_run_at), by name; None when there is no such source."""
    row = database.conn.execute("SELECT id, paused, consecutive_failures, effective_interval_seconds, next_run_at"
                                " FROM sources WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    return {"id": row[0], "paused": bool(row[1]), "consecutive_failures": row[2],
            "effective_interval_seconds": row[3], "next_run_at": row[4]}


def enabled_paused(database: sqlite_utils.Database) -> dict[str, bool]:
    """Each enabled source's name and whether it is paused: the scheduler sees a resume as a change."""
    return {name: bool(paused) for name, paused in
            database.conn.execute("SELECT name, paused FROM sources WHERE enabled = 1").fetchall()}


def record_next_poll(database: sqlite_utils.Database, source_id: int, interval: int, next_run_at: str,
                     new_items: int) -> None:
    """After a scheduled crawl: the interval chosen, when the next poll is due, and (if it found new
    items) when it last did — the sources page and a restart read them."""
    with transaction(database) as conn:
        conn.execute("UPDATE sources SET effective_interval_seconds = ?, next_run_at = ?,"
                     " last_new_item_at = CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END WHERE id = ?",
                     (interval, next_run_at, new_items, utcnow(), source_id))
