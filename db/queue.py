"""The moderators' queue: priority order, filters, keyset pagination, claims and bulk decisions.

Ordering walks the `items_queue` index on (status, priority, id), so the first page and every
next page cost the same at a million rows; filters narrow that walk rather than sorting.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

import sqlite_utils

from db import from_iso, to_iso, transaction, utcnow
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

    def conditions(self, now: str) -> tuple[list[str], list[Any], bool]:
        """(SQL conditions, their parameters, whether any is narrow) for the fields that are set."""
        where: list[str] = []
        params: list[Any] = []
        narrow = False
        for spec in fields(self):
            value, choices = getattr(self, spec.name), spec.metadata["choices"]
            if value is None or value == "" or (choices and value not in choices):
                continue
            where.append(spec.metadata["sql"])
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
    pick = (f"SELECT items.id FROM items{'' if narrow else ' INDEXED BY items_queue'}"
            f" WHERE {' AND '.join(where)} ORDER BY items.priority DESC, items.id DESC LIMIT ?")
    ids = [row[0] for row in database.conn.execute(pick, [*params, limit + 1])]
    if not ids:
        return Page(items=[], next_after=None)
    sql = (
        "SELECT items.id, items.source_id, items.title, substr(items.text, 1, 300) AS text, items.url,"
        " items.language, items.fetched_at, items.published_at, items.status, items.version, items.priority,"
        " items.score_misinformation, items.score_harm, items.flag_reasons, items.cluster_id, '{}' AS explanation,"
        " items.top_reason,"
        " MAX(COALESCE(items.score_misinformation, 0), COALESCE(items.score_harm, 0)) AS top_score,"
        " sources.name AS source_name, clusters.size AS cluster_size, clusters.source_count AS cluster_sources,"
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
