"""Moderators' decisions: an append-only, hash-chained log, applied with optimistic locking.

The chain is anchored outside the database, so that someone who can write the database file cannot
rewrite the log unnoticed:

* each row's hash is an HMAC-SHA256 under the audit key, which lives beside the database or in the
  environment, never in it (db/keys.py), over everything the decision means: its id, the previous
  hash, the item and the version it left it at, the user's id and name at the time, the action,
  the statuses, the note, the time and the escalation targets (role, person and their name);
  without the key nobody can recompute the chain or append a row;
* after every decision a signed checkpoint (count, head, time) is appended to a file beside the
  database and logged (db/checkpoints.py), so rows deleted from the end, or a wiped log, are below
  a checkpoint's count even when the head record in service_state was moved too. Each checkpoint also
  signs the follow-up log's length and head (db/followups.py), and adding a follow-up or an outcome
  writes one too (anchor_now), so that log is anchored the same way.

Rows written before migration 054 keep their plain SHA-256 hashes (hash_scheme 1). `rekey()` verifies
them the old way once and anchors them with a signed "rekey" checkpoint; it refuses a chain that fails,
and rows above any signed checkpoint's count: the service writes no row the old way once it signs, so
such a row was forged by someone who can compute the published unkeyed hash. It runs by itself only
while nothing was ever signed; after that a person runs `monitor audit rekey` after reading verify.

Verification reads what an attacker wrote: a hash that is not ASCII text, a value SQLite holds as bytes,
text that is not UTF-8. Each is a problem in the report, never an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from db import checkpoints, dialect, followups, from_iso, known_claims, transaction, utcnow
from db.checkpoints import Checkpoint
from db.keys import AUDIT_KEY_ENV, KeyFileError, audit_key, audit_key_source, key_id
from vocab import Action

ACTIONS = frozenset(a.value for a in Action)
UNDO_SECONDS = 30  # how long a decision can be taken back without a note (the web offers it as long)
UNDO_NOTE_PREFIX = "undoes decision "

GENESIS = "0" * 64
# The chain's head (last id and hash) is also kept outside the table; the signed checkpoints are what
# makes moving it back useless.
HEAD_KEY = "decisions_head"
LEGACY, KEYED = 1, 2  # decisions.hash_scheme: plain SHA-256 (before migration 054), HMAC under the audit key
HASHED_FIELDS = ("id", "prev_hash", "item_id", "item_version", "user_id", "user_name", "action", "old_status",
                 "new_status", "note", "created_at", "target_role", "target_user_id", "target_user_name")
MAX_PROBLEMS = 200  # a chain rewritten from its second row would otherwise list every row

log = logging.getLogger("monitor.audit")


class StaleItemError(Exception):
    """The item changed since the moderator loaded it; nothing was written."""

    def __init__(self, item_id: int, by: str | None, at: str | None, status: str):
        self.item_id, self.by, self.at, self.status = item_id, by, at, status
        who = f" by {by} at {at}" if by else ""
        super().__init__(f"Item {item_id} was already decided{who} (now '{status}'); nothing was changed.")


class DecisionError(ValueError):
    pass


class RekeyRefused(Exception):
    """The rows hashed the old way fail the old verification: anchoring them would bless the tampering."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"the old chain fails verification ({len(problems)} problem(s)); not re-keyed")


@dataclass
class Decision:
    id: int
    item_id: int
    user_id: int
    action: str
    old_status: str
    new_status: str
    note: str
    created_at: str
    row_hash: str = ""
    follows_legacy: bool = False  # the first keyed row after rows hashed the old way


@dataclass
class AuditReport:
    decisions: int = 0
    keyed: int = 0
    legacy: int = 0
    checkpoints: int = 0  # signed checkpoints that were checked against the log
    problems: list[str] = field(default_factory=list)


def row_hash(prev_hash: str, item_id: int, user_id: int, action: str, old_status: str, new_status: str,
             note: str, created_at: str) -> str:
    """The old, unkeyed hash (hash_scheme 1) of rows written before migration 054.

    Anyone can compute it, which is why new rows use keyed_hash(); it is kept to verify old rows.
    """
    payload = json.dumps([prev_hash, item_id, user_id, action, old_status, new_status, note, created_at],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def keyed_hash(key: bytes, row: Mapping[str, Any]) -> str:
    """HMAC-SHA256 under the audit key of everything a decision means (HASHED_FIELDS), chained by prev_hash."""
    payload = json.dumps([KEYED, *(row[name] for name in HASHED_FIELDS)], ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def _legacy_hash(row: Mapping[str, Any]) -> str:
    return row_hash(row["prev_hash"], row["item_id"], row["user_id"], row["action"], row["old_status"],
                    row["new_status"], row["note"], row["created_at"])


class _Undecodable(str):
    """Text SQLite holds that is not UTF-8, shown with U+FFFD; it never matches a hash (the service writes
    only UTF-8, so the bytes were put there by hand)."""


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Undecodable(raw.decode("utf-8", "replace"))


@contextmanager
def _tampered_text_readable(database: sqlite_utils.Database) -> Iterator[None]:
    """Read text that is not UTF-8 as _Undecodable instead of failing the whole query (sqlite3's default
    raises OperationalError on the first such value). The connection is the caller's own (one per request
    or command), so the change is seen by nothing else and undone after.

    PostgreSQL needs nothing here: a UTF8 database refuses invalid text when it is written (by hand too)
    and its columns are typed, so what verify reads is always text that decodes, where a column says text."""
    if dialect(database) == "postgresql":
        yield
        return
    conn = database.conn
    previous, conn.text_factory = conn.text_factory, _decode
    try:
        yield
    finally:
        conn.text_factory = previous


def _hash_matches(row: Mapping[str, Any], key: bytes | None) -> bool:
    """Whether the stored hash is what the row's content gives under its scheme (the key for keyed rows).

    A stored hash that is not ASCII text, or content that cannot be hashed (bytes, text that was not
    UTF-8), does not match: compare_digest and json.dumps would raise on them.
    """
    stored, scheme = row["row_hash"], row["hash_scheme"]
    if not isinstance(stored, str) or not stored.isascii() or scheme not in (LEGACY, KEYED):
        return False
    if scheme == KEYED and key is None:
        raise ValueError("a keyed row cannot be checked without the key")
    if any(isinstance(row[name], (bytes, _Undecodable)) for name in HASHED_FIELDS):
        return False
    try:
        expected = _legacy_hash(row) if scheme == LEGACY else keyed_hash(key, row)
    except (TypeError, ValueError):  # a value of a type JSON has no form for
        return False
    return hmac.compare_digest(expected, stored)


def _key(database: sqlite_utils.Database, *, create: bool) -> bytes:
    """The audit key, or an error saying where it should be (a missing key is never silently replaced
    once rows were signed with it: the log would split into two halves that cannot both verify)."""
    key = audit_key(database, create=create)
    if key is None:
        raise KeyFileError(f"the audit key {audit_key_source(database)} is missing, but decisions were signed "
                           "with it: restore it from your backup (or set MONITOR_AUDIT_KEY to it); "
                           "no decision is recorded without it")
    return key


# --- writing --------------------------------------------------------------------------------------

def _apply_to_item(conn, item_id: int, new_status: str, expected_version: int) -> str:
    """Move the item to `new_status` if it is still at `expected_version`; return its old status."""
    row = conn.execute("SELECT status, version FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise DecisionError(f"item {item_id} does not exist")
    old_status = row[0]
    updated = conn.execute(
        "UPDATE items SET status = ?, version = version + 1 WHERE id = ? AND version = ?",
        (new_status, item_id, expected_version)).rowcount
    if updated != 1:
        last = conn.execute(
            "SELECT COALESCE(decisions.user_name, users.name), decisions.created_at FROM decisions"
            " JOIN users ON users.id = decisions.user_id WHERE item_id = ? ORDER BY decisions.id DESC LIMIT 1",
            (item_id,)).fetchone()
        raise StaleItemError(item_id, last[0] if last else None, last[1] if last else None, old_status)
    return old_status


def _name_of(conn, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    row = conn.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row else None


def _signed_row(database: sqlite_utils.Database, conn, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The new row with its id, link, names and keyed hash; and whether it follows rows hashed the old way."""
    last = conn.execute("SELECT id, row_hash, hash_scheme FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
    follows_legacy = last is not None and last[2] == LEGACY
    key = _key(database, create=last is None or follows_legacy)
    if fields["action"] != Action.ESCALATE:
        fields.update(target_role=None, target_user_id=None)
    row = {**fields, "id": last[0] + 1 if last else 1, "prev_hash": last[1] if last else GENESIS,
           "user_name": _name_of(conn, fields["user_id"]),
           "target_user_name": _name_of(conn, fields["target_user_id"])}
    row["row_hash"] = keyed_hash(key, row)
    return row, follows_legacy


def decide(database: sqlite_utils.Database, *, item_id: int, user_id: int, action: str, new_status: str,
           note: str, expected_version: int, target_role: str | None = None,
           target_user_id: int | None = None) -> Decision:
    """Apply a decision if the item is still at `expected_version`; append it to the signed log.

    The version check and the update are one statement inside one write transaction, so two
    moderators acting on the same stale page can never both win. An escalation's targets are written
    here, in the same transaction, because they are part of what is signed. Cost does not grow with
    the log: one row is read (the head) and one hashed. The checkpoint is written after the commit;
    a caller that opened the transaction around this call calls anchor() after its own commit.
    """
    if action not in ACTIONS or action == Action.UNDO:
        raise DecisionError(f"unknown action {action!r:.40}" if action not in ACTIONS else "an undo goes through undo()")
    now = utcnow()
    with transaction(database) as conn:
        old_status = _apply_to_item(conn, item_id, new_status, expected_version)
        decision = _record(database, conn, {
            "item_id": item_id, "item_version": expected_version + 1, "user_id": user_id, "action": action,
            "old_status": old_status, "new_status": new_status, "note": note, "created_at": now,
            "target_role": target_role, "target_user_id": target_user_id})
        _sync_claim(conn, item_id, action, now)
    anchor(database, decision)
    return decision


def _sync_claim(conn, item_id: int, action: str, now: str) -> None:
    """The library of debunked claims holds an item of ours while its standing decision confirms it as
    misinformation (issue 11): added with the confirmation, in its transaction; taken out by any later
    decision (dismiss, reopen, escalate, confirm as harm) or by the confirmation's undo."""
    if action == Action.CONFIRM_MISINFORMATION:
        known_claims.add_from_decision(conn, item_id, now)
    else:
        known_claims.remove_decision_claim(conn, item_id)


def _standing_action(conn, item_id: int, restored_status: str, undone_id: int) -> str:
    """After an undo: the action that stands again (the newest decision before the undone one that left
    the item at the restored status), or "" when none does."""
    row = conn.execute("SELECT action FROM decisions WHERE item_id = ? AND id < ? AND action != ?"
                       " ORDER BY id DESC LIMIT 1", (item_id, undone_id, Action.UNDO.value)).fetchone()
    if row is None or Action(row[0]).new_status != restored_status:
        return ""
    return row[0]


def _record(database: sqlite_utils.Database, conn, fields: dict[str, Any]) -> Decision:
    """Append one signed row (and its escalation targets) and move the recorded head, inside the caller's
    transaction; the item was already moved by the caller."""
    row, follows_legacy = _signed_row(database, conn, fields)
    conn.execute(
        "INSERT INTO decisions (id, item_id, user_id, action, old_status, new_status, note, created_at,"
        " prev_hash, row_hash, hash_scheme, user_name, item_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row["id"], row["item_id"], row["user_id"], row["action"], row["old_status"], row["new_status"], row["note"],
         row["created_at"], row["prev_hash"], row["row_hash"], KEYED, row["user_name"], row["item_version"]))
    if row["target_role"] is not None or row["target_user_id"] is not None:  # only escalations have targets
        conn.execute("INSERT INTO escalations (decision_id, item_id, target_role, target_user_id,"
                     " target_user_name, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (row["id"], row["item_id"], row["target_role"], row["target_user_id"], row["target_user_name"],
                      row["created_at"]))
    conn.execute(
        "INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (HEAD_KEY, f"{row['id']}:{row['row_hash']}", row["created_at"]))
    return Decision(row["id"], row["item_id"], row["user_id"], row["action"], row["old_status"], row["new_status"],
                    row["note"], row["created_at"], row["row_hash"], follows_legacy)


class UndoRefused(Exception):
    """An undo the log does not take; `reason` says which rule refused it (the web words each one):
    missing, not_yours, is_undo, expired, superseded (the item was decided again since)."""

    def __init__(self, decision_id: int, reason: str):
        self.decision_id, self.reason = decision_id, reason
        super().__init__(f"decision {decision_id} cannot be undone: {reason}")


def undo_note(decision_id: int) -> str:
    """The note an undo is signed with: which decision it takes back (verify checks the pair)."""
    return f"{UNDO_NOTE_PREFIX}{decision_id}"


def undo(database: sqlite_utils.Database, *, decision_id: int, user_id: int, may_undo_others: bool = False,
         window_seconds: int = UNDO_SECONDS, now: str | None = None) -> Decision:
    """Take back a decision within `window_seconds` of it: the item goes back to the status the decision
    found, and the undo is appended to the signed log as its own row (nothing is erased from the log).

    Only the decider may undo (or `may_undo_others`, for admins), only the item's latest decision (an
    undo never overwrites what someone decided after), and never an undo itself. The window is checked
    here, on the server's clock, so a page left open cannot undo late. No note is asked for: the row's
    note names the decision undone.
    """
    now = now or utcnow()
    with transaction(database) as conn:
        found = conn.execute("SELECT item_id, user_id, action, old_status, new_status, created_at, item_version"
                             " FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        if found is None:
            raise UndoRefused(decision_id, "missing")
        item_id, decider, action, old_status, new_status, created_at, item_version = found
        if decider != user_id and not may_undo_others:
            raise UndoRefused(decision_id, "not_yours")
        if action == Action.UNDO:
            raise UndoRefused(decision_id, "is_undo")
        if item_version is None or (from_iso(now) - from_iso(created_at)).total_seconds() >= window_seconds:
            raise UndoRefused(decision_id, "expired")
        latest = conn.execute("SELECT MAX(id) FROM decisions WHERE item_id = ?", (item_id,)).fetchone()[0]
        if latest != decision_id:
            raise UndoRefused(decision_id, "superseded")
        current = _apply_to_item(conn, item_id, old_status, item_version)
        decision = _record(database, conn, {
            "item_id": item_id, "item_version": item_version + 1, "user_id": user_id, "action": Action.UNDO.value,
            "old_status": current, "new_status": old_status, "note": undo_note(decision_id), "created_at": now,
            "target_role": None, "target_user_id": None})
        _sync_claim(conn, item_id, _standing_action(conn, item_id, old_status, decision_id), now)
    anchor(database, decision)
    return decision


def anchor(database: sqlite_utils.Database, decision: Decision) -> None:
    """After the commit: append a signed checkpoint for the new head (never before it, so no checkpoint
    names a row that was rolled back). The first keyed row after an upgrade first re-keys the old rows,
    if nothing was signed yet (rekey(automatic=True): its own checkpoint would otherwise block that).

    The decision is already recorded, so a checkpoint that cannot be written is logged, not raised:
    the next decision's checkpoint covers this one too. Inside a transaction that is still open,
    nothing is written (the caller anchors after committing).
    """
    if database.conn.in_transaction:
        return
    try:
        if decision.follows_legacy:
            rekey(database, automatic=True)
    except (OSError, KeyFileError) as error:
        log.error("decisions hashed the old way were not re-keyed: %s", error)
    except RekeyRefused as refused:
        log.error("decisions hashed the old way were not re-keyed: %s", "; ".join(refused.problems[:5]))
    try:
        checkpoints.append(database, _key(database, create=False), "checkpoint", decision.id, decision.row_hash,
                           followups.head(database))
    except (OSError, KeyFileError) as error:
        log.error("audit checkpoint for decision %s not written: %s", decision.id, error)


def anchor_now(database: sqlite_utils.Database) -> None:
    """After the commit of a follow-up or an outcome (db.followups): sign both logs' heads, re-keying the
    old decisions first while nothing was signed, as `monitor audit checkpoint` does (a follow-up's own
    checkpoint must not be what keeps them from being re-keyed by themselves). Logged, never raised: the
    follow-up is recorded, and the next checkpoint covers it too."""
    if database.conn.in_transaction:
        return
    try:
        try:
            rekey(database, automatic=True)
        except RekeyRefused as refused:
            log.error("decisions hashed the old way were not re-keyed: %s", "; ".join(refused.problems[:5]))
        checkpoint(database)
    except (OSError, KeyFileError, DecisionError) as error:
        log.error("audit checkpoint after a follow-up not written: %s", error)


def history(database: sqlite_utils.Database, item_id: int) -> list[dict]:
    """The item's decisions, oldest first, each with the decider's name as it was when they decided."""
    return list(database.query(
        "SELECT decisions.id, decisions.item_id, decisions.user_id, decisions.action, decisions.old_status,"
        " decisions.new_status, decisions.note, decisions.created_at, decisions.prev_hash, decisions.row_hash,"
        " decisions.hash_scheme, decisions.item_version, COALESCE(decisions.user_name, users.name) AS user_name"
        " FROM decisions JOIN users ON users.id = decisions.user_id WHERE item_id = ? ORDER BY decisions.id",
        [item_id]))


# --- verifying ------------------------------------------------------------------------------------

_ROWS = ("SELECT decisions.*, escalations.target_role, escalations.target_user_id, escalations.target_user_name"
         " FROM decisions LEFT JOIN escalations ON escalations.decision_id = decisions.id")


class _ChainCheck:
    """One pass over the log in id order: ids, links, hashes, and the checkpoints at each count."""

    def __init__(self, key: bytes | None, signed: list[Checkpoint]):
        self.key = key
        self.at_count: dict[int, list[Checkpoint]] = {}
        for checkpoint in signed:
            self.at_count.setdefault(checkpoint.n, []).append(checkpoint)
        rekeys = [c.n for c in signed if c.kind == "rekey"]
        self.legacy_end = max(rekeys) if rekeys else 0
        # Nothing is hashed the old way once the service signs: the old rows end at or below every signed
        # count (a checkpoint at 0 proves there are none), so rows above the lowest were forged.
        self.lowest = min(signed, key=lambda c: c.n, default=None)
        self.problems: list[str] = []
        self.disagreeing: list[str] = []
        self.prev, self.last_id, self.keyed, self.legacy = GENESIS, 0, 0, 0
        self.unanchored: list[int] = []
        self.after_signed: list[int] = []

    def row(self, row: Mapping[str, Any]) -> None:
        rid = row["id"]
        if rid != self.last_id + 1:
            self.problems.append(f"decision ids jump from {self.last_id} to {rid}: rows deleted")
        if row["prev_hash"] != self.prev:
            self.problems.append(f"decision {rid}: previous-hash link broken (a row before it was changed or removed)")
        if self._hash_mismatch(row):
            self.problems.append(f"decision {rid}: content does not match its hash (row edited, or written "
                                 "without the audit key)")
        for checkpoint in self.at_count.get(rid, []):
            if checkpoint.head != row["row_hash"]:
                self.disagreeing.append(
                    f"decision {rid} is not the one the checkpoint of {checkpoint.at} signed (line {checkpoint.line}):"
                    f" the log was rewritten at or before decision {rid}")
        self.prev, self.last_id = row["row_hash"], rid

    def _hash_mismatch(self, row: Mapping[str, Any]) -> bool:
        rid, scheme = row["id"], row["hash_scheme"]
        if scheme == LEGACY:
            self.legacy += 1
            if self.keyed:
                self.problems.append(f"decision {rid}: hashed the old, unkeyed way after keyed decisions "
                                     "(forged or rewritten without the audit key)")
            elif self.lowest is not None and rid > self.lowest.n:
                self.after_signed.append(rid)
            elif rid > self.legacy_end:
                self.unanchored.append(rid)
            return not _hash_matches(row, None)
        if scheme == KEYED:
            self.keyed += 1
            return self.key is not None and not _hash_matches(row, self.key)
        self.problems.append(f"decision {rid}: unknown hash scheme {scheme!r:.40}")
        return False

    def chain_problems(self) -> list[str]:
        """What is wrong with the rows seen: ids, links, hashes, checkpoints that disagree, forged old rows."""
        problems = self.problems + self.disagreeing[:1]
        if len(self.disagreeing) > 1:
            problems.append(f"{len(self.disagreeing) - 1} later checkpoint(s) disagree with the log too")
        if self.after_signed:
            first, lowest = self.after_signed[0], self.lowest
            span = f"decision {first}" if len(self.after_signed) == 1 else \
                f"decision {first} (and {len(self.after_signed) - 1} more up to {self.after_signed[-1]})"
            problems.append(
                f"{span}: hashed the old, unkeyed way, though the checkpoint of {lowest.at} (line {lowest.line}) "
                f"signed the log when it held {lowest.n} decision(s) and no row is hashed that way after the "
                "service signs: forged (or the database was replaced by an older copy)")
        return problems

    def finish(self, signed: list[Checkpoint]) -> list[str]:
        """Everything found, with the rows no re-key anchors and the rows deleted below a checkpoint's count."""
        problems = self.chain_problems()
        if self.unanchored:
            problems.append(
                f"decisions {self.unanchored[0]}–{self.unanchored[-1]} are hashed the old, unkeyed way and no "
                "re-key checkpoint anchors them: anyone who can write the database could have rewritten them "
                "(run `monitor audit rekey`)")
        beyond = max(signed, key=lambda c: c.n, default=None)
        if beyond is not None and beyond.n > self.last_id:
            what = ("the log is empty: it was wiped" if self.last_id == 0 else
                    f"the log ends at decision {self.last_id}: decisions {self.last_id + 1}–{beyond.n} were deleted")
            problems.append(f"{what} (a checkpoint of {beyond.at}, line {beyond.line}, counted {beyond.n})")
        return problems


def _signed_checkpoints(database: sqlite_utils.Database, key: bytes | None) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in the file that carry this key's signature, and what is wrong with the others."""
    try:
        path = checkpoints.path_for(database)
    except KeyFileError as error:  # PostgreSQL without MONITOR_STATE_DIR: nowhere to look
        return [], [str(error)]
    if path is None or not path.exists():
        return [], []
    try:
        found, problems = checkpoints.read(path)
    except OSError as error:
        return [], [f"cannot read the checkpoint file {path}: {error.strerror or error}"]
    if key is None:
        return [], problems
    signed, other_key, forged = [], [], []
    for checkpoint in found:
        if checkpoint.key != key_id(key):
            other_key.append(checkpoint.line)
        elif checkpoints.is_signed_by(checkpoint, key):
            signed.append(checkpoint)
        else:
            forged.append(checkpoint.line)
    if other_key:
        problems.append(f"{path}: {len(other_key)} checkpoint(s) (first on line {other_key[0]}) were signed with "
                        f"another audit key than {audit_key_source(database)}: the key was replaced, or lines forged")
    if forged:
        problems.append(f"{path}: {len(forged)} checkpoint(s) (first on line {forged[0]}) do not match their "
                        "signature: edited or forged")
    return signed, problems


def _head_problems(database: sqlite_utils.Database, last_id: int, last_hash: str) -> list[str]:
    head = database.conn.execute("SELECT value FROM service_state WHERE key = ?", (HEAD_KEY,)).fetchone()
    if head and not isinstance(head[0], str):
        return ["the log's recorded head is not text (a decision id and hash): it was edited in the database"]
    if head:
        head_id, _, head_hash = head[0].partition(":")
        if head_id != str(last_id) or head_hash != last_hash:
            return [f"the log should end at decision {head_id}: newer rows were deleted or replaced"]
    elif last_id:
        return ["the log's recorded head is missing"]
    return []


def _anchor_problems(database: sqlite_utils.Database, key: bytes | None, keyed: int,
                     signed: list[Checkpoint]) -> list[str]:
    """A key or a checkpoint file that should be there and is not. Both are made together (the key at
    the first decision or checkpoint, the file right after), so a key file alone means a deleted file."""
    try:
        path = checkpoints.path_for(database)
    except KeyFileError:  # no place for the checkpoints (PostgreSQL): _signed_checkpoints said so
        path = None
        if key is not None:
            return []
    exists = path is not None and path.exists()
    if key is None:
        if keyed or exists:
            return [f"the audit key {audit_key_source(database)} is missing: the {keyed} keyed decision(s) and "
                    "the checkpoints cannot be checked; restore it from your backup"]
        return []
    if path is not None and not exists and not os.environ.get(AUDIT_KEY_ENV):
        return [f"the checkpoint file {path} is missing though the audit key exists: it was deleted, and "
                "without it decisions deleted from the end of the log, or a wiped log, cannot be noticed "
                "(restore it from your backup)"]
    if keyed and not signed:
        return [f"no signed checkpoint in {path}: decisions deleted from the end of the log, or a wiped log, "
                "cannot be noticed without one (restore the file from your backup)"]
    return []


def renamed_users(database: sqlite_utils.Database) -> list[str]:
    """Accounts whose name differs from the name they signed decisions with (the service cannot rename)."""
    problems = []
    for user_id, then, now, first in database.conn.execute(
            "SELECT users.id, decisions.user_name, users.name, MIN(decisions.id) FROM decisions"
            " JOIN users ON users.id = decisions.user_id WHERE decisions.user_name != users.name"
            " GROUP BY users.id, decisions.user_name"):
        problems.append(f"decision {first} was signed by '{then}' but user {user_id} is now called '{now}': "
                        "the account was renamed, or the decision given to another user, in the database")
    for user_id, then, now, first in database.conn.execute(
            "SELECT users.id, escalations.target_user_name, users.name, MIN(escalations.decision_id) FROM escalations"
            " JOIN users ON users.id = escalations.target_user_id WHERE escalations.target_user_name != users.name"
            " GROUP BY users.id, escalations.target_user_name"):
        problems.append(f"decision {first} escalated to '{then}' but its target, user {user_id}, is called "
                        f"'{now}': the target or the account was changed in the database")
    return problems


def escalation_problems(database: sqlite_utils.Database) -> list[str]:
    """Escalation records the signed decisions do not account for. An escalation's targets are in its
    decision's hash, its item is not (the decision's item is): one pointing at another item than its
    decision's was moved, and one of no decision was added (the item page would show either)."""
    problems = []
    for decision_id, item_id, decided in database.conn.execute(
            "SELECT escalations.decision_id, escalations.item_id, decisions.item_id FROM escalations"
            " LEFT JOIN decisions ON decisions.id = escalations.decision_id"
            " WHERE decisions.id IS NULL OR escalations.item_id IS DISTINCT FROM decisions.item_id"
            " ORDER BY escalations.decision_id"):
        if decided is None:
            problems.append(f"an escalation of item {item_id!r:.40} names decision {decision_id}, which is not in "
                            "the log: it was added in the database")
        else:
            problems.append(f"decision {decision_id} escalated item {decided}, but its escalation record points "
                            f"at item {item_id!r:.40}: it was moved in the database")
    return problems


def status_contradictions(database: sqlite_utils.Database) -> list[str]:
    """Items whose status or version is not what their last logged decision left (new and flagged are
    the only statuses an item gets without a decision)."""
    problems = []
    for item_id, status in database.conn.execute(
            "SELECT id, status FROM items WHERE status NOT IN ('new', 'flagged')"
            " AND NOT EXISTS (SELECT 1 FROM decisions WHERE decisions.item_id = items.id)"):
        problems.append(f"item {item_id} is '{status}' but no decision in the log says so")
    for item_id, status, version, decision_id, logged, logged_version in database.conn.execute(
            "SELECT items.id, items.status, items.version, last.id, last.new_status, last.item_version FROM"
            " (SELECT item_id, MAX(id) AS id FROM decisions GROUP BY item_id) AS newest"
            " JOIN decisions AS last ON last.id = newest.id JOIN items ON items.id = last.item_id"
            " WHERE items.status != last.new_status OR items.version != last.item_version"):
        problems.append(f"item {item_id} is '{status}' at version {version} but its last decision ({decision_id}) "
                        f"left it '{logged}'" + (f" at version {logged_version}" if logged_version else ""))
    return problems


def undo_problems(database: sqlite_utils.Database) -> list[str]:
    """Undo rows that do not take back the item's decision just before them: an undo restores exactly the
    status that decision found, names it in its note, and is never itself undone (undo() refuses all else,
    so anything different was written by hand)."""
    problems = []
    for undo_id, item_id, old, new, note, prev_id, prev_action, prev_old, prev_new in database.conn.execute(
            "SELECT u.id, u.item_id, u.old_status, u.new_status, u.note, p.id, p.action, p.old_status, p.new_status"
            " FROM decisions u LEFT JOIN decisions p ON p.id = (SELECT MAX(id) FROM decisions"
            " WHERE item_id = u.item_id AND id < u.id) WHERE u.action = ? ORDER BY u.id", (Action.UNDO.value,)):
        if prev_id is None or prev_action == Action.UNDO:
            problems.append(f"decision {undo_id} undoes nothing: item {item_id!r:.40} has no decision before it "
                            "that can be undone")
        elif (old, new, note) != (prev_new, prev_old, undo_note(prev_id)):
            problems.append(f"decision {undo_id} does not take back decision {prev_id} (it should move item "
                            f"{item_id} from '{prev_new}' back to '{prev_old}' and name it)")
    return problems


def verify(database: sqlite_utils.Database) -> AuditReport:
    """Everything that can be checked: the chain under the key, the signed checkpoints, the head record,
    names at the time, and items whose status contradicts the log."""
    problems: list[str] = []
    try:
        key = audit_key(database, cached=False)
    except KeyFileError as error:  # exposed or unreadable: said once, not again as "missing"
        key, problems = None, [str(error)]
    key_said = bool(problems)
    signed, file_problems = _signed_checkpoints(database, key)
    check = _ChainCheck(key, signed)
    with _tampered_text_readable(database):
        for row in database.query(f"{_ROWS} ORDER BY decisions.id"):
            check.row(row)
        problems += check.finish(signed)
        if not key_said:
            problems += _anchor_problems(database, key, check.keyed, signed)
        problems += file_problems + _head_problems(database, check.last_id, check.prev)
        problems += escalation_problems(database) + renamed_users(database) + status_contradictions(database)
        problems += undo_problems(database)
        problems += followups.verify(database, signed)  # signed under the same key, anchored by the same checkpoints
    if len(problems) > MAX_PROBLEMS:
        problems = problems[:MAX_PROBLEMS] + [f"… and {len(problems) - MAX_PROBLEMS} more problem(s)"]
    return AuditReport(check.last_id, check.keyed, check.legacy, len(signed), problems)


def verify_chain(database: sqlite_utils.Database) -> list[str]:
    """Problems found in the decision log (empty when intact); see verify()."""
    return verify(database).problems


# --- anchoring ------------------------------------------------------------------------------------

def _legacy_problems(database: sqlite_utils.Database, last_legacy: int, signed: list[Checkpoint]) -> list[str]:
    """The old verification, on the rows hashed the old way only: ids from 1, links, SHA-256, head; and
    against the signed checkpoints: none may disagree, and none may have a lower count (see _ChainCheck)."""
    check = _ChainCheck(None, signed)
    for row in database.query(f"{_ROWS} WHERE decisions.hash_scheme = ? ORDER BY decisions.id", [LEGACY]):
        check.row(row)
    problems = check.chain_problems()
    following = database.conn.execute("SELECT prev_hash FROM decisions WHERE id = ?", (last_legacy + 1,)).fetchone()
    if following is None:
        problems += _head_problems(database, check.last_id, check.prev)
    elif following[0] != check.prev:
        problems.append(f"decision {last_legacy + 1}: previous-hash link broken (a row before it was changed)")
    return problems


def rekey(database: sqlite_utils.Database, *, automatic: bool = False) -> Checkpoint | None:
    """Anchor the rows hashed the old way with a signed "rekey" checkpoint (once; None if there are none).

    The old chain is verified first, the old way and against the signed checkpoints; if it fails,
    RekeyRefused lists why and nothing is written. Rows above a signed checkpoint's count are refused
    as forged (nothing is hashed the old way once the service signs). `automatic` (the scheduler's
    start, the first decision after the upgrade, `monitor audit checkpoint`) re-keys only while the
    checkpoint file holds nothing: after that, only a person running `monitor audit rekey` after
    reading verify does, so that someone who repaired a rewritten old chain is not vouched for by
    the next hourly run. The anchor vouches for the old rows as they are now: what was rewritten
    before anything was signed cannot be told.
    """
    conn = database.conn
    count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM decisions WHERE hash_scheme = ?", (LEGACY,)).fetchone()
    if not count:
        return None
    keyed = conn.execute("SELECT 1 FROM decisions WHERE hash_scheme != ? LIMIT 1", (LEGACY,)).fetchone()
    key = _key(database, create=keyed is None)
    signed, file_problems = _signed_checkpoints(database, key)
    done = [c for c in signed if c.kind == "rekey" and c.n == last]
    if done:
        return done[0]
    with _tampered_text_readable(database):
        problems = _legacy_problems(database, last, signed)
    if problems:
        raise RekeyRefused(problems)
    if automatic and (signed or file_problems):
        raise RekeyRefused([f"decisions up to {last} are hashed the old way and no re-key checkpoint anchors them, "
                            f"but {checkpoints.path_for(database)} already holds checkpoints: they are re-keyed "
                            "only by hand; read `monitor audit verify`, then run `monitor audit rekey`"])
    head = conn.execute("SELECT row_hash FROM decisions WHERE id = ?", (last,)).fetchone()[0]
    return checkpoints.append(database, key, "rekey", last, head, followups.head(database))


def checkpoint(database: sqlite_utils.Database) -> Checkpoint:
    """Sign the log's current head now (for the scheduler and `monitor audit checkpoint`).

    Refuses (DecisionError) a head row whose hash does not match its content (under the key, or the
    old way for a row from before the keyed log), and a follow-up log whose last entry does not: a
    checkpoint never signs a row known to be edited. The follow-up log's length and head are signed with it.
    """
    with _tampered_text_readable(database):
        row = next(iter(database.query(f"{_ROWS} ORDER BY decisions.id DESC LIMIT 1")), None)
    key = _key(database, create=row is None or row["hash_scheme"] == LEGACY)
    if row is not None and not _hash_matches(row, key):
        raise DecisionError(f"decision {row['id']} does not match its hash: not signing it "
                            "(run `monitor audit verify`)")
    following = followups.head(database)
    if following is None or not followups.head_matches(database, key):
        raise DecisionError("the follow-up log's last entry does not match its hash: not signing it "
                            "(run `monitor audit verify`)")
    if row is None:
        return checkpoints.append(database, key, "checkpoint", 0, GENESIS, following)
    return checkpoints.append(database, key, "checkpoint", row["id"], row["row_hash"], following)
