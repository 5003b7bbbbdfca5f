"""Alerts: the outbox and log (`alerts`), users' subscriptions, the event scan's cursor, and the reads the scan
and the message need (new flagged items, claim matches, spikes, a story's copies and places).

An alert row is the only licence to send: the sender claims it with a conditional UPDATE (pending → sending)
committed before it contacts the channel, as db/deliveries.py does for the weekly report. See
db/migrations/070_alerts.sql for the states. Channels are recorded by name: no URL is ever written here.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from db import dialect, transaction, utcnow
from db.deliveries import one_line

STATUSES = ("pending", "sending", "sent", "failed", "uncertain")
_COLUMNS = ("id", "story", "item_id", "events", "reasons", "channel", "user_id", "digest", "status", "attempts",
            "next_attempt_at", "claimed_at", "last_error", "sent_at", "created_at", "updated_at")
_SELECT = ", ".join(f"a.{column}" for column in _COLUMNS)


def _alert(row: tuple) -> dict[str, Any]:
    alert = dict(zip(_COLUMNS, row, strict=False))
    alert["events"] = json.loads(alert["events"])
    alert["reasons"] = json.loads(alert["reasons"])
    return alert


# --------------------------------------------------------------------------- the scan's cursor


def cursor(database: sqlite_utils.Database, name: str) -> str | None:
    row = database.conn.execute("SELECT position FROM alert_cursor WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def set_cursor(conn: sqlite3.Connection, name: str, position: str) -> None:
    conn.execute("INSERT INTO alert_cursor (name, position) VALUES (?, ?)"
                 " ON CONFLICT (name) DO UPDATE SET position = excluded.position", (name, position))


def last_item_id(database: sqlite_utils.Database) -> int:
    return int(database.conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0])


def last_spike_id(database: sqlite_utils.Database) -> int:
    return int(database.conn.execute("SELECT COALESCE(MAX(id), 0) FROM spikes").fetchone()[0])


def latest_match(database: sqlite_utils.Database) -> tuple[str, int, int]:
    """The position of the last claim match (matched_at, item_id, claim_id); ("", 0, 0) when there is none."""
    row = database.conn.execute("SELECT matched_at, item_id, claim_id FROM claim_matches"
                                " ORDER BY matched_at DESC, item_id DESC, claim_id DESC LIMIT 1").fetchone()
    return tuple(row) if row else ("", 0, 0)


# --------------------------------------------------------------------------- what the scan reads

_ITEM = ("i.id, i.cluster_id, i.status, i.score_misinformation, i.score_harm, i.explanation, i.about_jurisdiction,"
         " i.fetched_at")


def _item(row: tuple) -> dict[str, Any]:
    item = dict(zip(("id", "cluster_id", "status", "score_misinformation", "score_harm", "explanation",
                     "about_jurisdiction", "fetched_at"), row, strict=True))
    try:
        item["rules"] = json.loads(item.pop("explanation") or "{}").get("rules") or []
    except (ValueError, AttributeError):
        item["rules"] = []
    return item


def items_after(database: sqlite_utils.Database, after_id: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The items stored after `after_id` (at most `limit` of them, by id) that may make an alert — flagged,
    or matching a known claim — and the id the scan got to. Reads the primary key only: cheap every few
    seconds whatever the crawl stores."""
    upto = database.conn.execute("SELECT MAX(id) FROM (SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?) AS batch",
                                 (after_id, limit)).fetchone()[0]
    if upto is None:
        return [], after_id
    rows = database.conn.execute(
        f"SELECT {_ITEM} FROM items i WHERE i.id > ? AND i.id <= ? AND (i.status != 'new'"
        " OR EXISTS (SELECT 1 FROM claim_matches m WHERE m.item_id = i.id)) ORDER BY i.id",
        (after_id, upto)).fetchall()
    return [_item(row) for row in rows], int(upto)


def items_by_id(database: sqlite_utils.Database, item_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = database.conn.execute(f"SELECT {_ITEM} FROM items i WHERE i.id IN ({marks})", ids).fetchall()
    return {row[0]: _item(row) for row in rows}


_MATCH = ("m.item_id, m.claim_id, m.similarity, m.matched_at, k.text, k.url, k.publisher, k.verdict"
          " FROM claim_matches m JOIN known_claims k ON k.id = m.claim_id")
_MATCH_KEYS = ("item_id", "claim_id", "similarity", "matched_at", "text", "url", "publisher", "verdict")


def claim_matches_of(database: sqlite_utils.Database, item_ids: Iterable[int]) -> list[dict[str, Any]]:
    ids = sorted(set(item_ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = database.conn.execute(f"SELECT {_MATCH} WHERE m.item_id IN ({marks}) ORDER BY m.similarity DESC",
                                 ids).fetchall()
    return [dict(zip(_MATCH_KEYS, row, strict=True)) for row in rows]


def late_claim_matches(database: sqlite_utils.Database, after: tuple[str, int, int], upto_item: int
                       ) -> list[dict[str, Any]]:
    """Matches made after the position `after` (matched_at, item_id, claim_id) for items the item scan had
    already passed (a claim imported after the item was stored), in that order."""
    rows = database.conn.execute(f"SELECT {_MATCH} WHERE (m.matched_at, m.item_id, m.claim_id) > (?, ?, ?)"
                                 " AND m.item_id <= ? ORDER BY m.matched_at, m.item_id, m.claim_id LIMIT 1000",
                                 (*after, upto_item)).fetchall()
    return [dict(zip(_MATCH_KEYS, row, strict=True)) for row in rows]


def spikes_after(database: sqlite_utils.Database, after_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Spikes fired after `after_id`, each with its items and their stories (`items`: [(item_id, cluster)])."""
    rows = database.conn.execute("SELECT id, rule, kind, subject, window_start, fired_at, observed, expected"
                                 " FROM spikes WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
    spikes = [dict(zip(("id", "rule", "kind", "subject", "window_start", "fired_at", "observed", "expected"), row,
                       strict=True)) for row in rows]
    for spike in spikes:
        spike["items"] = database.conn.execute(
            "SELECT s.item_id, COALESCE(s.cluster_id, i.cluster_id) FROM spike_items s JOIN items i"
            " ON i.id = s.item_id WHERE s.spike_id = ? ORDER BY s.item_id", (spike["id"],)).fetchall()
    return spikes


def story_places(database: sqlite_utils.Database, stories: Iterable[int]) -> dict[int, set[str]]:
    """Each story's place codes and the provinces they lie in (what a subscription's places are matched on)."""
    ids = sorted(set(stories))
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    found: dict[int, set[str]] = {story: set() for story in ids}
    for story, code, province in database.conn.execute(
            f"SELECT i.cluster_id, p.code, p.province_code FROM items i JOIN item_places p ON p.item_id = i.id"
            f" WHERE i.cluster_id IN ({marks})", ids):
        found[story].update((code, province))
    return found


def story_copies(database: sqlite_utils.Database, story: int, limit: int = 50) -> list[dict[str, Any]]:
    """A story's copies for the message: title, link and source name, first stored first."""
    rows = database.conn.execute(
        "SELECT i.id, i.title, COALESCE(i.url, i.canonical_url), s.name, i.fetched_at FROM items i"
        " JOIN sources s ON s.id = i.source_id WHERE i.cluster_id = ? ORDER BY i.id LIMIT ?",
        (story, limit)).fetchall()
    return [dict(zip(("id", "title", "url", "source", "fetched_at"), row, strict=True)) for row in rows]


def places_of_items(database: sqlite_utils.Database, item_ids: Iterable[int]) -> list[tuple[str, str]]:
    """(code, level) of the places the items mention, most mentioned first (at most 10)."""
    ids = sorted(set(item_ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return database.conn.execute(
        f"SELECT code, MIN(level) FROM item_places WHERE item_id IN ({marks}) GROUP BY code"
        " ORDER BY COUNT(*) DESC, code LIMIT 10", ids).fetchall()


# --------------------------------------------------------------------------- subscriptions


_SUBSCRIPTION = ("user_id", "kind", "address", "events", "places", "enabled", "updated_at")


def _subscription(row: tuple) -> dict[str, Any]:
    sub = dict(zip(_SUBSCRIPTION, row, strict=True))
    sub["events"], sub["places"] = json.loads(sub["events"]), json.loads(sub["places"])
    sub["enabled"] = bool(sub["enabled"])
    return sub


def subscriptions(database: sqlite_utils.Database) -> list[dict[str, Any]]:
    """The enabled subscriptions of active users."""
    rows = database.conn.execute(
        f"SELECT {', '.join('s.' + c for c in _SUBSCRIPTION)} FROM alert_subscriptions s JOIN users u"
        " ON u.id = s.user_id WHERE s.enabled = 1 AND u.active = 1 ORDER BY s.user_id").fetchall()
    return [_subscription(row) for row in rows]


def subscription(database: sqlite_utils.Database, user_id: int) -> dict[str, Any] | None:
    row = database.conn.execute(f"SELECT {', '.join(_SUBSCRIPTION)} FROM alert_subscriptions WHERE user_id = ?",
                                (user_id,)).fetchone()
    return _subscription(row) if row else None


def save_subscription(database: sqlite_utils.Database, user_id: int, kind: str, address: str, events: list[str],
                      places: list[str], enabled: bool) -> None:
    now = utcnow()
    with transaction(database) as conn:
        conn.execute(
            "INSERT INTO alert_subscriptions (user_id, kind, address, events, places, enabled, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind,"
            " address = excluded.address, events = excluded.events, places = excluded.places,"
            " enabled = excluded.enabled, updated_at = excluded.updated_at",
            (user_id, kind, address, json.dumps(events), json.dumps(places, ensure_ascii=False), int(enabled), now))


def delete_subscription(database: sqlite_utils.Database, user_id: int) -> bool:
    with transaction(database) as conn:
        return conn.execute("DELETE FROM alert_subscriptions WHERE user_id = ?", (user_id,)).rowcount == 1


# --------------------------------------------------------------------------- the outbox


def recent_alert(conn: sqlite3.Connection, story: int, channel: str | None, user_id: int | None,
                 since: str) -> dict[str, Any] | None:
    """The latest alert about `story` to this recipient still waiting to go (a digest held overnight may be
    older than the cooldown), or else created at or after `since` (the cooldown's start), not counting one
    that failed for good. (SQLite's `IS` compares NULL as a value; PostgreSQL says IS NOT DISTINCT FROM.)"""
    same = "IS NOT DISTINCT FROM" if dialect(conn) == "postgresql" else "IS"
    row = conn.execute(
        f"SELECT {_SELECT} FROM alerts a WHERE a.story = ? AND a.channel {same} ? AND a.user_id {same} ?"
        " AND (a.created_at >= ? OR a.status = 'pending') AND a.status != 'failed'"
        " ORDER BY a.status = 'pending' DESC, a.id DESC LIMIT 1",
        (story, channel, user_id, since)).fetchone()
    return _alert(row) if row else None


def add_alert(conn: sqlite3.Connection, *, story: int, item_id: int, events: list[str], reasons: dict,
              channel: str | None, user_id: int | None, digest: bool, next_attempt_at: str, now: str) -> int:
    cursor_ = conn.execute(
        "INSERT INTO alerts (story, item_id, events, reasons, channel, user_id, digest, status, next_attempt_at,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING id",
        (story, item_id, json.dumps(events), json.dumps(reasons, ensure_ascii=False), channel, user_id,
         int(digest), next_attempt_at, now, now))
    return int(cursor_.fetchone()[0])


def merge_alert(conn: sqlite3.Connection, alert_id: int, events: list[str], reasons: dict, now: str) -> bool:
    """More reasons for an alert not sent yet (the same story fired again before it went); False once claimed."""
    return conn.execute("UPDATE alerts SET events = ?, reasons = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
                        (json.dumps(events), json.dumps(reasons, ensure_ascii=False), now, alert_id)).rowcount == 1


def due(database: sqlite_utils.Database, now: str, limit: int = 200) -> list[dict[str, Any]]:
    """Pending alerts whose (next) attempt is due, oldest first."""
    rows = database.conn.execute(f"SELECT {_SELECT} FROM alerts a WHERE a.status = 'pending'"
                                 " AND a.next_attempt_at <= ? ORDER BY a.id LIMIT ?", (now, limit)).fetchall()
    return [_alert(row) for row in rows]


def claim(database: sqlite_utils.Database, alert_ids: list[int], now: str) -> bool:
    """Take pending alerts for one attempt (all or none, committed before sending); False when one of them is
    no longer pending (another sender has it)."""
    marks = ",".join("?" * len(alert_ids))
    try:
        with transaction(database) as conn:
            changed = conn.execute(
                f"UPDATE alerts SET status = 'sending', attempts = attempts + 1, claimed_at = ?, updated_at = ?"
                f" WHERE id IN ({marks}) AND status = 'pending'", (now, now, *alert_ids)).rowcount
            if changed != len(alert_ids):
                raise _Taken  # rolls the partial claim back
    except _Taken:
        return False
    return True


class _Taken(Exception):
    """Another sender claimed one of the alerts first."""


def mark_sent(database: sqlite_utils.Database, alert_ids: list[int], now: str) -> None:
    marks = ",".join("?" * len(alert_ids))
    with transaction(database) as conn:
        conn.execute(f"UPDATE alerts SET status = 'sent', sent_at = ?, last_error = NULL, next_attempt_at = NULL,"
                     f" updated_at = ? WHERE id IN ({marks}) AND status = 'sending'", (now, now, *alert_ids))


def mark_failed(database: sqlite_utils.Database, alert_ids: list[int], error: str, next_attempt_at: str | None,
                now: str, *, uncertain: bool = False) -> None:
    """After an attempt that did not deliver: pending again until `next_attempt_at`, 'failed' when None,
    'uncertain' when the message may have arrived (never retried by itself)."""
    status = "uncertain" if uncertain else ("pending" if next_attempt_at else "failed")
    marks = ",".join("?" * len(alert_ids))
    with transaction(database) as conn:
        conn.execute(f"UPDATE alerts SET status = ?, last_error = ?, next_attempt_at = ?, updated_at = ?"
                     f" WHERE id IN ({marks}) AND status = 'sending'",
                     (status, one_line(error)[:1000], None if uncertain else next_attempt_at, now, *alert_ids))


def defer(database: sqlite_utils.Database, alert_ids: list[int], until: str) -> None:
    """Pending alerts to a recipient that just failed wait for its retry (not claimed, no attempt counted):
    the later of their own next attempt and `until` (a CASE, as SQLite's two-argument MAX is PostgreSQL's
    GREATEST)."""
    marks = ",".join("?" * len(alert_ids))
    with transaction(database) as conn:
        conn.execute(f"UPDATE alerts SET next_attempt_at = CASE WHEN next_attempt_at > ? THEN next_attempt_at"
                     f" ELSE ? END WHERE id IN ({marks}) AND status = 'pending'", (until, until, *alert_ids))


def expire_claims(database: sqlite_utils.Database, claimed_before: str, now: str) -> int:
    """Alerts left 'sending' by a process that died mid-send become 'uncertain'. Looked for first without the
    write lock: the sender asks every few seconds and there is almost never one."""
    if database.conn.execute("SELECT 1 FROM alerts WHERE status = 'sending' AND claimed_at < ? LIMIT 1",
                             (claimed_before,)).fetchone() is None:
        return 0
    with transaction(database) as conn:
        return conn.execute(
            "UPDATE alerts SET status = 'uncertain', next_attempt_at = NULL, updated_at = ?,"
            " last_error = COALESCE(last_error || '; ', '') || 'interrupted while sending'"
            " WHERE status = 'sending' AND claimed_at < ?", (now, claimed_before)).rowcount


def retry(database: sqlite_utils.Database, alert_id: int, now: str | None = None) -> bool:
    """Someone's decision to send a 'failed' or 'uncertain' alert again: pending now, attempts reset."""
    now = now or utcnow()
    with transaction(database) as conn:
        return conn.execute("UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ?"
                            " WHERE id = ? AND status IN ('failed', 'uncertain')", (now, now, alert_id)).rowcount == 1


def get(database: sqlite_utils.Database, alert_id: int) -> dict[str, Any] | None:
    row = database.conn.execute(f"SELECT {_SELECT} FROM alerts a WHERE a.id = ?", (alert_id,)).fetchone()
    return _alert(row) if row else None


def log_page(database: sqlite_utils.Database, *, status: str | None, offset: int, limit: int
             ) -> tuple[list[dict[str, Any]], int]:
    """One page of the alerts log, newest first, with the user's name and the story's title; and the total."""
    where, params = ("WHERE a.status = ?", (status,)) if status else ("", ())
    total = database.conn.execute(f"SELECT COUNT(*) FROM alerts a {where}", params).fetchone()[0]
    rows = database.conn.execute(
        f"SELECT {_SELECT}, u.name, i.title FROM alerts a LEFT JOIN users u ON u.id = a.user_id"
        f" LEFT JOIN items i ON i.id = a.item_id {where} ORDER BY a.id DESC LIMIT ? OFFSET ?",
        (*params, limit, offset)).fetchall()
    page = []
    for row in rows:
        alert = _alert(row[:len(_COLUMNS)])
        alert["user_name"], alert["title"] = row[len(_COLUMNS)], row[len(_COLUMNS) + 1]
        page.append(alert)
    return page, int(total)


def summary(database: sqlite_utils.Database, since: str) -> dict[str, Any] | None:
    """The alerts made since `since` at a glance (`monitor status`): counts by status, the next retry and the
    last error; None when there were none."""
    counts = dict(database.conn.execute("SELECT status, COUNT(*) FROM alerts WHERE created_at >= ? GROUP BY status",
                                        (since,)).fetchall())
    if not counts:
        return None
    next_attempt = database.conn.execute(
        "SELECT MIN(next_attempt_at) FROM alerts WHERE status = 'pending' AND attempts > 0").fetchone()[0]
    error = database.conn.execute("SELECT last_error FROM alerts WHERE created_at >= ? AND last_error IS NOT NULL"
                                  " ORDER BY updated_at DESC LIMIT 1", (since,)).fetchone()
    return {"since": since, "counts": {status: counts.get(status, 0) for status in STATUSES},
            "next_attempt_at": next_attempt, "last_error": error[0] if error else None}


def all_alerts(database: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every alert, oldest first (tests and the bench)."""
    return [_alert(row) for row in database.conn.execute(f"SELECT {_SELECT} FROM alerts a ORDER BY a.id")]
