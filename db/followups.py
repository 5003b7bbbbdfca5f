"""Follow-up actions on confirmed items (case tracking): what was done after a confirmation and how it ended.

`followups` holds each follow-up's current state, for the pages and the reports; `followup_log` is its
append-only history (the creation, then each outcome recorded), every row an HMAC under the audit key
over its content and the previous row's hash, like the decision log (db/decisions.py). verify() checks
the chain, the recorded head, and that every follow-up row is exactly what its log entries say: a row
edited, added or deleted in the database is reported by `monitor audit verify`. The decision log's signed
checkpoints (db/checkpoints.py) also sign this log's length and head, and every add or outcome writes
one, so entries deleted from its end are caught even when the recorded head was moved back with them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import sqlite_utils

import db
from db import dialect, known_claims, transaction, utcnow
from db.checkpoints import Checkpoint
from db.keys import KeyFileError, audit_key, audit_key_source
from vocab import AGENCIES, FOLLOW_UP_KINDS, FOLLOW_UP_OUTCOMES, Agency, FollowUpKind, FollowUpOutcome, Status

GENESIS = "0" * 64
HEAD_KEY = "followups_head"
CREATED, OUTCOME = "created", "outcome"
# What the creation entry signs (and the row must still hold).
CREATED_FIELDS = ("item_id", "cluster_id", "kind", "link", "platform", "agency", "note", "acted_on", "due_on",
                  "user_id", "user_name", "created_at")
OUTCOME_FIELDS = ("outcome", "outcome_user_id", "outcome_user_name", "outcome_at")
MAX_TEXT = 2000


class FollowUpError(ValueError):
    """A follow-up the rules refuse: unknown kind or outcome, an item not confirmed, a bad date. `reason`
    names the rule (date, kind, link, platform, agency, item, confirmed, outcome) so the web can word it."""

    def __init__(self, message: str, reason: str):
        self.reason = reason
        super().__init__(message)


def _key(database: sqlite_utils.Database) -> bytes:
    """The audit key; a follow-up needs a confirmed item, so a decision was signed and the key exists."""
    key = audit_key(database)
    if key is None:
        raise KeyFileError(f"the audit key {audit_key_source(database)} is missing: no follow-up is recorded "
                           "without it (restore it from your backup)")
    return key


def entry_hash(key: bytes, row: Mapping[str, Any]) -> str:
    """HMAC-SHA256 of one log row's content, chained by prev_hash."""
    payload = json.dumps([row["id"], row["prev_hash"], row["followup_id"], row["event"], row["payload"],
                          row["user_id"], row["created_at"]], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def _append(database: sqlite_utils.Database, conn, followup_id: int, event: str, fields: dict, user_id: int,
            now: str) -> None:
    """Append one signed entry and move the head, inside the caller's transaction."""
    key = _key(database)
    last = conn.execute("SELECT id, row_hash FROM followup_log ORDER BY id DESC LIMIT 1").fetchone()
    row = {"id": last[0] + 1 if last else 1, "prev_hash": last[1] if last else GENESIS, "followup_id": followup_id,
           "event": event, "payload": json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
           "user_id": user_id, "created_at": now}
    row["row_hash"] = entry_hash(key, row)
    columns = ("id", "followup_id", "event", "payload", "user_id", "created_at", "prev_hash", "row_hash")
    conn.execute(f"INSERT INTO followup_log ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                 [row[name] for name in columns])
    conn.execute("INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key)"
                 " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                 (HEAD_KEY, f"{row['id']}:{row['row_hash']}", now))


def head(database: sqlite_utils.Database) -> tuple[int, str] | None:
    """The log's length and last hash, as a checkpoint signs them ((0, GENESIS) when empty); None when the
    last entry is not one the service wrote (verify reports it; a checkpoint then leaves the log out)."""
    # SQLite: as bytes, since text that is not UTF-8 must not raise after a commit; PostgreSQL's text is
    # always valid UTF-8, and is read as it is.
    hash_sql = "row_hash" if dialect(database) == "postgresql" else "CAST(row_hash AS BLOB)"
    last = database.conn.execute(f"SELECT id, {hash_sql} FROM followup_log ORDER BY id DESC LIMIT 1").fetchone()
    if last is None:
        return 0, GENESIS
    entry_id, stored = last
    text = stored.decode("ascii", "replace") if isinstance(stored, bytes) else stored if isinstance(stored, str) else ""
    good = isinstance(entry_id, int) and len(text) == 64 and set(text) <= set("0123456789abcdef")
    return (entry_id, text) if good else None


def head_matches(database: sqlite_utils.Database, key: bytes) -> bool:
    """Whether the last log entry's hash is what its content gives (a checkpoint never signs an edited one)."""
    try:
        row = next(iter(database.query("SELECT * FROM followup_log ORDER BY id DESC LIMIT 1")), None)
        return row is None or hmac.compare_digest(entry_hash(key, row), str(row["row_hash"]))
    except (TypeError, ValueError, *db.OperationalError):  # bytes, non-ASCII hash, text not UTF-8
        return False


def anchor(database: sqlite_utils.Database) -> None:
    """After the commit of a follow-up or an outcome: a signed checkpoint of both logs' heads, as after a
    decision (db.decisions.anchor_now; imported here, since db.decisions imports this module)."""
    from db.decisions import anchor_now

    anchor_now(database)


def _valid_date(text: str | None, what: str) -> str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise FollowUpError(f"{what} is not a date (YYYY-MM-DD)", "date") from None


def _clean(value: Any) -> str | None:
    text = str(value or "").strip()[:MAX_TEXT]
    return text or None


def _fields_for(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's own fields, checked: a rebuttal needs its link, a referral its agency (or a name)."""
    if kind not in FOLLOW_UP_KINDS:
        raise FollowUpError(f"unknown follow-up kind {kind!r:.40}", "kind")
    fields = {"link": None, "platform": None, "agency": None, "note": _clean(values.get("note")) or "",
              "acted_on": _valid_date(values.get("acted_on"), "the date"),
              "due_on": _valid_date(values.get("due_on"), "the due date")}
    if kind == FollowUpKind.REBUTTAL:
        fields["link"] = _clean(values.get("link"))
        if not fields["link"]:
            raise FollowUpError("a rebuttal needs its link", "link")
    elif kind == FollowUpKind.TAKEDOWN:
        fields["platform"] = _clean(values.get("platform"))
        if not fields["platform"]:
            raise FollowUpError("a takedown request needs the platform", "platform")
    elif kind == FollowUpKind.REFERRAL:
        agency = values.get("agency")
        if agency not in AGENCIES:
            raise FollowUpError("a referral needs an agency", "agency")
        fields["agency"] = _clean(values.get("agency_other")) if agency == Agency.OTHER else agency
        if not fields["agency"]:
            raise FollowUpError("name the agency", "agency")
    return fields


def add(database: sqlite_utils.Database, *, item_id: int, user_id: int, kind: str,
        values: Mapping[str, Any]) -> int:
    """Record a follow-up on a confirmed item (pending until its outcome is known); return its id.

    The row and its signed creation entry are written in one transaction."""
    fields = _fields_for(kind, values)
    now = utcnow()
    with transaction(database) as conn:
        item = conn.execute("SELECT status, cluster_id FROM items WHERE id = ?", (item_id,)).fetchone()
        if item is None:
            raise FollowUpError(f"item {item_id} does not exist", "item")
        if item[0] != Status.CONFIRMED:
            raise FollowUpError("follow-ups are recorded on confirmed items only", "confirmed")
        name = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        row = {"item_id": item_id, "cluster_id": item[1], "kind": kind, **fields, "user_id": user_id,
               "user_name": name, "created_at": now}
        followup_id = conn.execute(
            f"INSERT INTO followups ({', '.join(CREATED_FIELDS)}) VALUES ({', '.join('?' * len(CREATED_FIELDS))})"
            " RETURNING id", [row[name] for name in CREATED_FIELDS]).fetchone()[0]
        _append(database, conn, followup_id, CREATED, row, user_id, now)
        if kind == FollowUpKind.REBUTTAL:  # the story's claim in the library now links to its rebuttal
            known_claims.rebuttal_published(conn, item_id, item[1], fields["link"])
    anchor(database)
    return followup_id


def record_outcome(database: sqlite_utils.Database, *, followup_id: int, user_id: int, outcome: str) -> bool:
    """Record how a follow-up ended (or correct it); False when there is no such follow-up."""
    if outcome not in FOLLOW_UP_OUTCOMES:
        raise FollowUpError(f"unknown outcome {outcome!r:.40}", "outcome")
    now = utcnow()
    with transaction(database) as conn:
        name = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0]
        fields = {"outcome": outcome, "outcome_user_id": user_id, "outcome_user_name": name, "outcome_at": now}
        changed = conn.execute("UPDATE followups SET outcome = ?, outcome_user_id = ?, outcome_user_name = ?,"
                               " outcome_at = ? WHERE id = ?", (*fields.values(), followup_id)).rowcount
        if changed != 1:
            return False
        _append(database, conn, followup_id, OUTCOME, fields, user_id, now)
    anchor(database)
    return True


def for_items(database: sqlite_utils.Database, item_ids: list[int]) -> list[dict]:
    """The follow-ups of these items (an item and its story's copies), oldest first."""
    if not item_ids:
        return []
    marks = ",".join("?" * len(item_ids))
    return list(database.query(f"SELECT * FROM followups WHERE item_id IN ({marks}) ORDER BY id", item_ids))


def get(database: sqlite_utils.Database, followup_id: int) -> dict | None:
    rows = list(database.query("SELECT * FROM followups WHERE id = ?", [followup_id]))
    return rows[0] if rows else None


def open_list(database: sqlite_utils.Database, today: str, limit: int = 500) -> list[dict]:
    """Follow-ups still pending, overdue first (due date before `today`), then by due date and age."""
    return list(database.query(
        "SELECT f.*, items.title, (f.due_on IS NOT NULL AND f.due_on < ?) AS overdue FROM followups f"
        " JOIN items ON items.id = f.item_id WHERE f.outcome = ?"
        " ORDER BY overdue DESC, f.due_on IS NULL, f.due_on, f.id LIMIT ?",
        [today, FollowUpOutcome.PENDING.value, limit]))


def overdue_count(database: sqlite_utils.Database, user_id: int, today: str) -> int:
    """How many of the user's own pending follow-ups are past their due date (the nav badge)."""
    return database.conn.execute(
        "SELECT COUNT(*) FROM followups WHERE outcome = ? AND user_id = ? AND due_on IS NOT NULL AND due_on < ?",
        (FollowUpOutcome.PENDING.value, user_id, today)).fetchone()[0]


def period_summary(database: sqlite_utils.Database, start: str, end: str) -> list[dict]:
    """Follow-ups created in [start, end) by kind and outcome, with the count, how many have an outcome,
    and the mean and longest time to outcome in hours (for the reports). The hours between two stored
    times are julianday arithmetic in SQLite and an epoch difference in PostgreSQL (whose ROUND takes a
    numeric, returned as a float like SQLite's)."""
    if dialect(database) == "postgresql":
        hours = "CAST(EXTRACT(EPOCH FROM CAST(outcome_at AS timestamp) - CAST(created_at AS timestamp)) AS numeric) / 3600"
    else:
        hours = "(julianday(outcome_at) - julianday(created_at)) * 24"
    rows = list(database.query(
        f"SELECT kind, outcome, COUNT(*) AS count, COUNT(outcome_at) AS with_outcome,"
        f" ROUND(AVG({hours}), 1) AS mean_hours_to_outcome, ROUND(MAX({hours}), 1) AS max_hours_to_outcome"
        " FROM followups WHERE created_at >= ? AND created_at < ? GROUP BY kind, outcome ORDER BY kind, outcome",
        [start, end]))
    for row in rows:
        for name in ("mean_hours_to_outcome", "max_hours_to_outcome"):
            row[name] = None if row[name] is None else float(row[name])
    return rows


def report_rows(conn: sqlite3.Connection, before: str) -> list[tuple]:
    """(id, item id, kind, agency, due_on, created_at, outcome, outcome_at, the item's fetched_at) of every
    follow-up recorded before `before`, oldest first, for the report's Response section (monitor/reports/
    response.py; follow-ups are made by hand, so there are few). Takes the report's read connection."""
    return conn.execute(
        "SELECT f.id, f.item_id, f.kind, f.agency, f.due_on, f.created_at, f.outcome, f.outcome_at, i.fetched_at"
        " FROM followups f JOIN items i ON i.id = f.item_id WHERE f.created_at < ? ORDER BY f.created_at, f.id",
        [before]).fetchall()


def outcome_history(conn: sqlite3.Connection, followup_ids: list[int], before: str) -> list[tuple[int, str, str]]:
    """(follow-up id, created_at, outcome) of each outcome the log recorded for these follow-ups before
    `before`, oldest first: what a follow-up's outcome was at an earlier moment (the row keeps the last)."""
    history: list[tuple[int, str, str]] = []
    for offset in range(0, len(followup_ids), 500):
        chunk = followup_ids[offset:offset + 500]
        for followup_id, created_at, payload in conn.execute(
                f"SELECT followup_id, created_at, payload FROM followup_log WHERE event = ? AND created_at < ?"
                f" AND followup_id IN ({','.join('?' * len(chunk))}) ORDER BY id", [OUTCOME, before, *chunk]):
            try:
                outcome = json.loads(payload).get("outcome")
            except (TypeError, ValueError, AttributeError):
                continue  # an entry that is not the service's; `monitor audit verify` reports it
            if isinstance(outcome, str):
                history.append((followup_id, created_at, outcome))
    history.sort(key=lambda entry: entry[1])
    return history


# --- verifying ------------------------------------------------------------------------------------

def _chain_problems(database: sqlite_utils.Database, key: bytes,
                    signed: Iterable[Checkpoint]) -> tuple[list[str], dict[int, dict]]:
    """The chain's own problems (with the signed checkpoints'), and each follow-up's state as its entries
    tell it."""
    problems, states, prev, last_id = [], {}, GENESIS, 0
    at_count: dict[int, list[Checkpoint]] = {}
    for checkpoint in signed:
        if checkpoint.fn is not None:
            at_count.setdefault(checkpoint.fn, []).append(checkpoint)
    disagreeing = []
    for row in database.query("SELECT * FROM followup_log ORDER BY id"):
        where = f"follow-up log entry {row['id']}"
        disagreeing += [f"{where} is not the one the checkpoint of {c.at} signed (line {c.line}): the follow-up "
                        f"log was rewritten at or before entry {row['id']}"
                        for c in at_count.get(row["id"], []) if c.fhead != row["row_hash"]]
        if row["id"] != last_id + 1:
            problems.append(f"{where}: entries before it are missing (expected {last_id + 1})")
        if row["prev_hash"] != prev:
            problems.append(f"{where}: previous-hash link broken (a row before it was changed)")
        try:
            good = hmac.compare_digest(entry_hash(key, row), str(row["row_hash"]))
            fields = json.loads(row["payload"])
        except (TypeError, ValueError):
            good, fields = False, {}
        if not good:
            problems.append(f"{where} (follow-up {row['followup_id']}) does not match its hash: edited")
        state = states.setdefault(row["followup_id"], {})
        if row["event"] == CREATED:
            state.update(fields, outcome=FollowUpOutcome.PENDING.value, outcome_user_id=None,
                         outcome_user_name=None, outcome_at=None)
        else:
            state.update(fields)
        prev, last_id = row["row_hash"], row["id"]
    head = database.conn.execute("SELECT value FROM service_state WHERE key = ?", (HEAD_KEY,)).fetchone()
    if (head[0] if head else "") != (f"{last_id}:{prev}" if last_id else ""):
        problems.append("the follow-up log does not end where its recorded head says: entries were deleted or added")
    return problems + _signed_problems(at_count, disagreeing, last_id), states


def _signed_problems(at_count: dict[int, list[Checkpoint]], disagreeing: list[str], last_id: int) -> list[str]:
    """The log against the checkpoints that sign it: a different entry at a signed length, or fewer
    entries than signed (deleted from the end, even with the recorded head moved back)."""
    problems = disagreeing[:1]
    if len(disagreeing) > 1:
        problems.append(f"{len(disagreeing) - 1} later checkpoint(s) disagree with the follow-up log too")
    longest = max(at_count, default=0)
    if longest > last_id:
        beyond = at_count[longest][0]
        what = ("the follow-up log is empty: it was wiped" if last_id == 0 else
                f"the follow-up log ends at entry {last_id}: entries {last_id + 1}–{longest} were deleted")
        problems.append(f"{what} (a checkpoint of {beyond.at}, line {beyond.line}, counted {longest})")
    return problems


def verify(database: sqlite_utils.Database, signed: Iterable[Checkpoint] = ()) -> list[str]:
    """Problems in the follow-up log and rows (empty when intact): the HMAC chain and its head, the
    length and heads the `signed` checkpoints (verified by the caller) give it, and every follow-up row
    compared with what its signed entries say (edited, added or deleted rows)."""
    signed = list(signed)
    if database.conn.execute("SELECT 1 FROM followup_log LIMIT 1").fetchone() is None and \
            database.conn.execute("SELECT 1 FROM followups LIMIT 1").fetchone() is None and \
            not any(c.fn for c in signed):
        return []
    key = audit_key(database, cached=False)
    if key is None:
        return ["the audit key is missing: the follow-up log cannot be checked"]
    problems, states = _chain_problems(database, key, signed)
    seen = set()
    for row in database.query("SELECT * FROM followups ORDER BY id"):
        seen.add(row["id"])
        state = states.get(row["id"])
        if not state or "kind" not in state:
            problems.append(f"follow-up {row['id']} has no signed entry: it was added in the database")
            continue
        changed = [name for name in (*CREATED_FIELDS, *OUTCOME_FIELDS) if state.get(name) != row[name]]
        if changed:
            problems.append(f"follow-up {row['id']} differs from its signed log ({', '.join(changed)}):"
                            " it was edited in the database")
    for followup_id in sorted(set(states) - seen):
        problems.append(f"follow-up {followup_id} is in the signed log but not in the table: it was deleted")
    return problems
