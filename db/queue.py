"""The moderators' queue: priority order, filters, keyset pagination, claims and bulk decisions.

Ordering walks the `items_queue` index on (status, priority, id), so the first page and every
next page cost the same at a million rows; filters narrow that walk rather than sorting.

On PostgreSQL the same queries run without SQLite's `INDEXED BY` hints (its planner picks the index from
the ORDER BY … LIMIT and statistics; there is no way, nor need, to name one) and with the velocity's time
span taken by the schema's iso_epoch() instead of julianday(): both variants are in `_index_hint` and
`velocity`, the one place each.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

import sqlite_utils

from db import dialect, from_iso, to_iso, transaction, utcnow
from db.decisions import DecisionError, StaleItemError, anchor, decide
from db.items import _decode
from vocab import CATEGORIES, Status


def _condition(sql: str, *, default: Any = None, narrow: bool = True, binds_now: bool = False,
               choices: tuple[str, ...] = ()) -> Any:
    """A QueueFilter field's query part: its SQL condition (one ? for the value, a second for the current
    time when `binds_now`), applied when the field is set (not None or empty) and, if `choices` are given,
    one of them (any other value is ignored, so a caller cannot turn the condition into a LIKE pattern).

    `narrow`: a filter better served by its own index than by walking the whole priority order (a source, a
    language, my claims, a cluster, a date range), so the planner chooses the index rather than items_queue.
    """
    return field(default=default, metadata={"sql": sql, "narrow": narrow, "binds_now": binds_now, "choices": choices})


@dataclass
class QueueFilter:
    """What the queue is narrowed to, and (in each field's metadata) the SQL condition that narrows it.

    The one definition of the queue's filters: web/queue_filter.py parses each request parameter into a
    field here (the web UI and the API alike), and `queue()` turns the set fields into its WHERE clause.
    """

    status: str = _condition("items.status = ?", default=Status.FLAGGED.value, narrow=False)
    category: str | None = _condition("items.flag_reasons LIKE '%\"' || ? || '\"%'", narrow=False,
                                      choices=CATEGORIES)
    language: str | None = _condition("items.language = ?")
    source_id: int | None = _condition("items.source_id = ?")
    date_from: str | None = _condition("items.fetched_at >= ?")  # UTC ISO, inclusive, on fetched_at
    date_to: str | None = _condition("items.fetched_at < ?")  # UTC ISO, exclusive
    claimed_by: int | None = _condition(  # only items with a live claim by this user
        "items.id IN (SELECT item_id FROM claims WHERE user_id = ? AND expires_at > ?)", binds_now=True)
    cluster_id: int | None = _condition("items.cluster_id = ?")
    # "Về địa bàn": only items about the jurisdiction (issue 11). The literal `= 1` lets the planner use the
    # partial index items_queue_local (migration 067); the value bound is always 1.
    about_jurisdiction: int | None = _condition("items.about_jurisdiction = 1 AND ? = 1")

    def conditions(self, now: str, alias: str = "items") -> tuple[list[str], list[Any], bool]:
        """(SQL conditions, their parameters, whether any is narrow) for the fields that are set, on the
        items table under `alias` (the story query asks the same of a second copy of the table)."""
        where: list[str] = []
        params: list[Any] = []
        narrow = False
        for spec in fields(self):
            value, choices = getattr(self, spec.name), spec.metadata["choices"]
            if value is None or value == "" or (choices and value not in choices):
                continue
            where.append(spec.metadata["sql"].replace("items.", f"{alias}."))
            params += [value, now] if spec.metadata["binds_now"] else [value]
            narrow = narrow or spec.metadata["narrow"]
        return where, params, narrow


@dataclass
class Page:
    items: list[dict]
    next_after: tuple[float, int] | None
    total_hint: int | None = None
    extra: dict = field(default_factory=dict)


def queue(database: sqlite_utils.Database, filters: QueueFilter | None = None, *, limit: int = 50,
          after: tuple[float, int] | None = None, now: str | None = None) -> Page:
    """One page of the queue, highest priority first; `after` is the (priority, id) of the last row seen."""
    filters = filters or QueueFilter()
    now = now or utcnow()
    where, params, narrow = filters.conditions(now)
    if after is not None:
        where.append("(items.priority < ? OR (items.priority = ? AND items.id < ?))")
        params += [after[0], after[0], after[1]]
    # Step 1 picks the page's ids only, so a filter served by a covering index (status + date range)
    # never reads the wide item rows it skips; step 2 loads the fifty rows shown. A narrow filter lets
    # the planner choose its own index instead of the priority walk.
    pick = (f"SELECT items.id FROM items{'' if narrow else _index_hint(database, 'items_queue')}"
            f" WHERE {' AND '.join(where)} ORDER BY items.priority DESC, items.id DESC LIMIT ?")
    ids = [row[0] for row in database.conn.execute(pick, [*params, limit + 1])]
    return _page(database, ids, limit, now)


def _page(database: sqlite_utils.Database, ids: list[int], limit: int, now: str) -> Page:
    """The rows of `ids` (at most limit + 1 picked, in queue order) with their source, cluster and claim;
    the extra one only says there is a next page."""
    if not ids:
        return Page(items=[], next_after=None)
    sql = (
        "SELECT items.id, items.source_id, items.title, substr(items.text, 1, 300) AS text, items.url,"
        " items.language, items.fetched_at, items.published_at, items.status, items.version, items.priority,"
        " items.score_misinformation, items.score_harm, items.flag_reasons, items.cluster_id, '{}' AS explanation,"
        " items.top_reason, items.about_jurisdiction,"
        " CASE WHEN COALESCE(items.score_misinformation, 0) >= COALESCE(items.score_harm, 0)"
        " THEN COALESCE(items.score_misinformation, 0) ELSE COALESCE(items.score_harm, 0) END AS top_score,"
        " sources.name AS source_name, clusters.size AS cluster_size, clusters.source_count AS cluster_sources,"
        " clusters.first_seen_at AS cluster_first_seen, clusters.last_seen_at AS cluster_last_seen,"
        f" {velocity(database)} AS velocity,"
        " claims.user_id AS claim_user_id, users.name AS claim_user, claims.expires_at AS claim_expires"
        " FROM items JOIN sources ON sources.id = items.source_id"
        " LEFT JOIN clusters ON clusters.id = items.cluster_id"
        " LEFT JOIN claims ON claims.item_id = items.id AND claims.expires_at > ?"
        " LEFT JOIN users ON users.id = claims.user_id"
        f" WHERE items.id IN ({','.join('?' * len(ids))}) ORDER BY items.priority DESC, items.id DESC")
    rows = [_decode(row) for row in database.query(sql, [now, *ids])]
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = (rows[-1]["priority"], rows[-1]["id"]) if more and rows else None
    return Page(items=rows, next_after=next_after)


# --- stories: one row per cluster ---------------------------------------------------------------

def velocity(database: sqlite_utils.Database) -> str:
    """SQL for a story's velocity: its copies per hour over its life so far (first to last copy seen),
    counting a life shorter than an hour as one hour, so four copies in ten minutes are 4/h, not 24/h."""
    if dialect(database) == "postgresql":
        return ("(COALESCE(clusters.size, 1) / GREATEST(1.0::float8,"
                " (iso_epoch(clusters.last_seen_at) - iso_epoch(clusters.first_seen_at)) / 3600.0::float8))")
    return ("(COALESCE(clusters.size, 1) / MAX(1.0, 24.0 * (julianday(clusters.last_seen_at)"
            " - julianday(clusters.first_seen_at))))")


def _index_hint(database: sqlite_utils.Database, index: str) -> str:
    """` INDEXED BY <index>` on SQLite, whose planner needs the hint to walk the queue order; nothing on
    PostgreSQL, which has no such clause."""
    return "" if dialect(database) == "postgresql" else f" INDEXED BY {index}"


OPEN_STATUSES = (Status.FLAGGED.value, Status.ESCALATED.value)
COPIES_SHOWN = 5  # copies listed when a story row is expanded (its item page lists them all)


def stories(database: sqlite_utils.Database, filters: QueueFilter | None = None, *, limit: int = 50,
            after: tuple[float, int] | None = None, now: str | None = None) -> Page:
    """One page of the queue with one row per story (cluster): each story is shown by its best copy, the one
    matching the filters with the highest (priority, id), at that copy's place in the queue order, so the
    keyset cursor is the same (priority, id) as the per-item queue's and a story is on exactly one page.

    The best copy is found by walking the queue order and keeping the items no better copy of the same
    cluster (under the same filters) outranks: one seek per item on items_cluster_queue (migration 063).
    The copies themselves are not read here: the page fetches a story's list when its row is opened
    (story_copies)."""
    filters = filters or QueueFilter()
    now = now or utcnow()
    where, params, narrow = filters.conditions(now)
    better_where, better_params, _narrow = filters.conditions(now, alias="better")
    if after is not None:
        where.append("(items.priority < ? OR (items.priority = ? AND items.id < ?))")
        params += [after[0], after[0], after[1]]
    better = (" AND NOT EXISTS (SELECT 1 FROM items AS better WHERE better.cluster_id = items.cluster_id"
              " AND better.priority >= items.priority AND (better.priority > items.priority OR better.id > items.id)"
              f" AND {' AND '.join(better_where)})")
    if not narrow:  # the priority walk stops at the page's last story
        pick = (f"SELECT items.id FROM items{_index_hint(database, 'items_queue')} WHERE {' AND '.join(where)}{better}"
                " ORDER BY items.priority DESC, items.id DESC LIMIT ?")
        ids = [row[0] for row in database.conn.execute(pick, [*params, *better_params, limit + 1])]
    else:
        ids = _narrow_leaders(database, where, params, better, better_params, limit + 1)
    page = _page(database, ids, limit, now)
    clusters = [row["cluster_id"] for row in page.items
                if row["cluster_id"] is not None and (row["cluster_size"] or 1) > 1]
    # What a decision on the story decides: its open copies (or, on a page of decided items, the copies in
    # the status shown), each at the version listed here.
    decided = decided_statuses(filters)
    versions = story_versions(database, clusters, decided)
    for row in page.items:
        row["open_versions"] = versions.get(row["cluster_id"]) or (
            {row["id"]: row["version"]} if row["status"] in decided else {})
    return page


def decided_statuses(filters: QueueFilter) -> tuple[str, ...]:
    """The statuses a story decision takes in under these filters: its open copies, or on a page of decided
    items the copies in the status shown."""
    return OPEN_STATUSES if filters.status in OPEN_STATUSES else (filters.status,)


def _narrow_leaders(database: sqlite_utils.Database, where: list[str], params: list[Any], better: str,
                    better_params: list[Any], wanted: int) -> list[int]:
    """The first `wanted` best copies under a narrow filter. Its index (a date range, say) yields the matching
    items unordered, and checking every one for a better copy before sorting costs a seek each (8,000 for a
    week at a million items); so the items are sorted first (as the per-item queue does), then checked a
    chunk at a time in queue order until the page is full."""
    chunk, found, after = wanted * 4, [], None
    while len(found) < wanted:
        keyset = " AND (items.priority < ? OR (items.priority = ? AND items.id < ?))" if after else ""
        candidates = database.conn.execute(
            f"SELECT items.id, items.priority FROM items WHERE {' AND '.join(where)}{keyset}"
            " ORDER BY items.priority DESC, items.id DESC LIMIT ?",
            [*params, *([after[0], after[0], after[1]] if after else []), chunk]).fetchall()
        if not candidates:
            break
        marks = ",".join("?" * len(candidates))
        found += [row[0] for row in database.conn.execute(
            f"SELECT items.id FROM items WHERE items.id IN ({marks}){better}"
            " ORDER BY items.priority DESC, items.id DESC", [*(c[0] for c in candidates), *better_params])]
        if len(candidates) < chunk:
            break
        after = (candidates[-1][1], candidates[-1][0])
    return found[:wanted]


def story_versions(database: sqlite_utils.Database, cluster_ids: list[int],
                   statuses: tuple[str, ...] = OPEN_STATUSES) -> dict[int, dict[int, int]]:
    """cluster id → {item id: version} of its copies in `statuses`, read from items_cluster_queue alone."""
    if not cluster_ids:
        return {}
    found: dict[int, dict[int, int]] = {}
    rows = database.conn.execute(
        f"SELECT cluster_id, id, version FROM items{_index_hint(database, 'items_cluster_queue')}"
        f" WHERE cluster_id IN ({','.join('?' * len(cluster_ids))})"
        f" AND status IN ({','.join('?' * len(statuses))})", [*cluster_ids, *statuses])
    for cluster_id, item_id, version in rows:
        found.setdefault(cluster_id, {})[item_id] = version
    return found


def story_copies(database: sqlite_utils.Database, cluster_ids: list[int], *, per_story: int = COPIES_SHOWN,
                 now: str | None = None) -> dict[int, list[dict]]:
    """cluster id → its first `per_story` copies (id, title, url, source, status, fetched_at, claim holder),
    the open ones first, then in queue order: what a story row lists when expanded (the item page has all).

    Only the listed copies' rows are read: their ids come from items_cluster_queue, one short walk each."""
    if not cluster_ids:
        return {}
    picked = [row[0] for cluster_id in cluster_ids for row in database.conn.execute(
        f"SELECT id FROM items{_index_hint(database, 'items_cluster_queue')} WHERE cluster_id = ?"
        " ORDER BY status IN (?, ?) DESC, priority DESC, id DESC LIMIT ?",
        (cluster_id, *OPEN_STATUSES, per_story))]
    if not picked:
        return {}
    rows = database.query(
        "SELECT items.id, items.cluster_id, items.title, items.url, items.status, items.version,"
        " items.fetched_at, items.priority, sources.name AS source_name, users.name AS claim_user"
        " FROM items JOIN sources ON sources.id = items.source_id"
        " LEFT JOIN claims ON claims.item_id = items.id AND claims.expires_at > ?"
        " LEFT JOIN users ON users.id = claims.user_id"
        f" WHERE items.id IN ({','.join('?' * len(picked))})", [now or utcnow(), *picked])
    order = {item_id: n for n, item_id in enumerate(picked)}
    found: dict[int, list[dict]] = {}
    for row in sorted(rows, key=lambda row: order[row["id"]]):
        found.setdefault(row["cluster_id"], []).append(row)
    return found


# --- claims -------------------------------------------------------------------------------------

class ClaimError(Exception):
    """Someone else holds a live claim; carries who and until when."""

    def __init__(self, item_id: int, holder: str, expires_at: str):
        self.item_id, self.holder, self.expires_at = item_id, holder, expires_at
        super().__init__(f"item {item_id} is claimed by {holder} until {expires_at}")


def _live_claim(conn, item_id: int, now: str) -> tuple[int, str, str] | None:
    """(holder id, holder name, expires_at) of the item's unexpired claim, if any."""
    return conn.execute(
        "SELECT claims.user_id, users.name, claims.expires_at FROM claims JOIN users ON users.id = claims.user_id"
        " WHERE item_id = ? AND expires_at > ?", (item_id, now)).fetchone()


def claim(database: sqlite_utils.Database, item_ids: list[int], user_id: int, *, minutes: int = 15,
          now: str | None = None) -> list[int]:
    """Claim items for `minutes` (renewing one's own claims); all or nothing when another holds one."""
    now = now or utcnow()
    expires = to_iso(from_iso(now) + timedelta(minutes=minutes))
    with transaction(database) as conn:
        for item_id in item_ids:
            row = _live_claim(conn, item_id, now)
            if row and row[0] != user_id:
                raise ClaimError(item_id, row[1], row[2])
        for item_id in item_ids:
            conn.execute(
                "INSERT INTO claims (item_id, user_id, claimed_at, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(item_id) DO UPDATE SET user_id = excluded.user_id, claimed_at = excluded.claimed_at,"
                " expires_at = excluded.expires_at", (item_id, user_id, now, expires))
    return list(item_ids)


def release(database: sqlite_utils.Database, item_ids: list[int], user_id: int) -> int:
    """Drop the user's own claims on these items (others' claims are left alone)."""
    with transaction(database) as conn:
        released = 0
        for item_id in item_ids:
            released += conn.execute("DELETE FROM claims WHERE item_id = ? AND user_id = ?",
                                     (item_id, user_id)).rowcount
    return released


def claim_of(database: sqlite_utils.Database, item_id: int, now: str | None = None) -> dict | None:
    rows = list(database.query(
        "SELECT claims.*, users.name AS user_name FROM claims JOIN users ON users.id = claims.user_id"
        " WHERE item_id = ? AND expires_at > ?", [item_id, now or utcnow()]))
    return rows[0] if rows else None


# --- clusters, escalations, bulk --------------------------------------------------------------------

def cluster_items(database: sqlite_utils.Database, cluster_id: int | None, limit: int = 200) -> list[dict]:
    """Every copy in a cluster with its source, oldest first: the spread timeline."""
    if cluster_id is None:
        return []
    return list(database.query(
        "SELECT items.id, items.title, items.url, items.status, items.version, items.fetched_at,"
        " items.published_at, sources.name AS source_name FROM items JOIN sources ON sources.id = items.source_id"
        " WHERE cluster_id = ? ORDER BY COALESCE(items.published_at, items.fetched_at), items.id LIMIT ?",
        [cluster_id, limit]))


def escalation_targets(database: sqlite_utils.Database, item_id: int) -> dict[int, dict]:
    """decision id → {target_role, target_user, reply, replied_at, replied_by} for the item's escalations.

    Found through the decision's item, which its hash covers, not escalations.item_id, which it does not:
    an escalation record moved to another item in the database stays with its decision (and verify
    reports the move)."""
    return {row["decision_id"]: row for row in database.query(
        "SELECT escalations.decision_id, escalations.target_role,"
        " COALESCE(escalations.target_user_name, users.name) AS target_user, replies.reply,"
        " replies.created_at AS replied_at, replier.name AS replied_by FROM escalations"
        " JOIN decisions ON decisions.id = escalations.decision_id"
        " LEFT JOIN users ON users.id = escalations.target_user_id"
        " LEFT JOIN escalation_replies AS replies ON replies.decision_id = escalations.decision_id"
        " LEFT JOIN users AS replier ON replier.id = replies.user_id WHERE decisions.item_id = ?", [item_id])}


def apply_decision(database: sqlite_utils.Database, *, item_id: int, user_id: int, action: str, new_status: str,
                   note: str, expected_version: int, target_role: str | None = None,
                   target_user_id: int | None = None) -> int:
    """decide() plus the escalation target and claim release, all in one transaction; returns the decision id.

    A live claim by another moderator blocks the decision (ClaimError): the claim says "I am on it", and
    two people triaging one item at once is what claims exist to prevent. Claims expire on their own."""
    with transaction(database) as conn:
        row = _live_claim(conn, item_id, utcnow())
        if row and row[0] != user_id:
            raise ClaimError(item_id, row[1], row[2])
        decision = decide(database, item_id=item_id, user_id=user_id, action=action, new_status=new_status,
                          note=note, expected_version=expected_version, target_role=target_role,
                          target_user_id=target_user_id)  # the targets are signed with the decision
        conn.execute("DELETE FROM claims WHERE item_id = ?", (item_id,))
    anchor(database, decision)  # the signed checkpoint, after the commit
    return decision.id


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    decisions: list[int] = field(default_factory=list)  # the decision ids of `done`, in the same order
    stale: list[StaleItemError] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    claimed: list[ClaimError] = field(default_factory=list)


def bulk_decide(database: sqlite_utils.Database, versions: dict[int, int], *, user_id: int, action: str,
                new_status: str, note: str, target_role: str | None = None,
                target_user_id: int | None = None) -> BulkResult:
    """Decide each item at the version the moderator saw; a stale one is reported, never overwritten."""
    result = BulkResult()
    for item_id, version in versions.items():
        try:
            decision_id = apply_decision(database, item_id=item_id, user_id=user_id, action=action,
                                         new_status=new_status, note=note, expected_version=version,
                                         target_role=target_role, target_user_id=target_user_id)
            result.done.append(item_id)
            result.decisions.append(decision_id)
        except StaleItemError as error:
            result.stale.append(error)
        except ClaimError as error:
            result.claimed.append(error)
        except DecisionError:
            result.missing.append(item_id)
    return result


def versions_of(database: sqlite_utils.Database, item_ids: list[int]) -> dict[int, int]:
    if not item_ids:
        return {}
    marks = ",".join("?" * len(item_ids))
    return {row[0]: row[1] for row in database.conn.execute(
        f"SELECT id, version FROM items WHERE id IN ({marks})", item_ids)}


def cluster_versions(database: sqlite_utils.Database, cluster_id: int, status: str | None = None) -> dict[int, int]:
    sql = "SELECT id, version FROM items WHERE cluster_id = ?"
    params: list[Any] = [cluster_id]
    if status:
        sql += " AND status = ?"
        params.append(status)
    return {row[0]: row[1] for row in database.conn.execute(sql, params)}


def open_in_cluster(database: sqlite_utils.Database, cluster_id: int) -> list[int]:
    """Ids of the cluster's copies still awaiting a decision (flagged or escalated): what a moderator claims
    when claiming a whole cluster from the queue, so decided copies are never locked again."""
    return [row[0] for row in database.conn.execute(
        "SELECT id FROM items WHERE cluster_id = ? AND status IN ('flagged', 'escalated')", (cluster_id,))]
