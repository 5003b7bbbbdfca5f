"""The library of debunked claims and the items that repeat them (issue 11 item 2; migration 068).

A claim comes from one of four places (origin): a moderator confirming one of the committee's own items
as misinformation ('decision', with item_id), a schema.org ClaimReview ('claimreview'), an item of a
`role: rebuttal` source ('rebuttal'), or `monitor claims import` ('import'). Adding is idempotent on
(folded text, url), so re-crawling a fact-check feed or re-importing a file adds nothing twice.

Matching itself is classifiers.claims (pure text); this module stores what it needs (`index_rows`,
`version`) and what it found (`record_matches`, `matches_for_item`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from classifiers.text import nfc, search_key
from db import dialect, transaction, utcnow

ORIGINS = ("decision", "claimreview", "rebuttal", "import")
DECISION_VERDICT = "misinformation"  # the verdict of a claim taken from a confirmed decision
MAX_TEXT = 2000  # a claim is a sentence or a post, not an article: longer text is cut


@dataclass(frozen=True)
class NewClaim:
    """A claim to add. `url` is the rebuttal (the fact-check or the committee's own correction)."""

    text: str
    verdict: str
    origin: str
    url: str | None = None
    language: str | None = None
    claim_date: str | None = None
    publisher: str | None = None
    item_id: int | None = None


def _clean(value: Any) -> str | None:
    text = nfc(str(value)).strip() if value is not None else ""
    return text or None


def add_in(conn: sqlite3.Connection, claim: NewClaim, now: str | None = None) -> tuple[int, bool]:
    """Add a claim inside the caller's transaction; (its id, whether it is new). An existing claim with
    the same folded text and url is kept as it is."""
    if claim.origin not in ORIGINS:
        raise ValueError(f"unknown claim origin {claim.origin!r:.40}")
    text = (_clean(claim.text) or "")[:MAX_TEXT]
    if not text:
        raise ValueError("a claim needs its text")
    key, url = search_key(text), _clean(claim.url)
    row = (text, key, _clean(claim.verdict) or DECISION_VERDICT, _clean(claim.language), _clean(claim.claim_date),
           url, _clean(claim.publisher), claim.origin, claim.item_id, now or utcnow())
    added = conn.execute(
        "INSERT INTO known_claims (text, text_key, verdict, language, claim_date, url, publisher, origin, item_id,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id", row).fetchone()
    if added is not None:
        return int(added[0]), True
    found = conn.execute("SELECT id FROM known_claims WHERE text_key = ? AND COALESCE(url, '') = ?",
                         (key, url or "")).fetchone()
    return int(found[0]), False


def add(database: sqlite_utils.Database, claim: NewClaim) -> tuple[int, bool]:
    """Add a claim in its own transaction; (its id, whether it is new)."""
    with transaction(database) as conn:
        return add_in(conn, claim)


def add_many(database: sqlite_utils.Database, claims: Iterable[NewClaim]) -> tuple[int, int]:
    """Add claims in one transaction; (new, already there)."""
    new = old = 0
    with transaction(database) as conn:
        now = utcnow()
        for claim in claims:
            if add_in(conn, claim, now)[1]:
                new += 1
            else:
                old += 1
    return new, old


def get(database: sqlite_utils.Database, claim_id: int) -> dict | None:
    rows = list(database.query("SELECT * FROM known_claims WHERE id = ?", [claim_id]))
    return rows[0] if rows else None


def list_claims(database: sqlite_utils.Database, query: str | None = None, *, origin: str | None = None,
                limit: int = 100, offset: int = 0) -> list[dict]:
    """Claims, newest first, with how many items matched each; `query` is looked up in the folded text
    (tone marks and case ignored): a substring test, SQLite's instr and PostgreSQL's strpos (no LIKE, whose
    % and _ in the query would be wildcards)."""
    where, params = [], []
    if query and query.strip():
        where.append("strpos(k.text_key, ?) > 0" if dialect(database) == "postgresql" else "instr(k.text_key, ?) > 0")
        params.append(search_key(query))
    if origin:
        where.append("k.origin = ?")
        params.append(origin)
    sql = ("SELECT k.*, (SELECT COUNT(*) FROM claim_matches m WHERE m.claim_id = k.id) AS matched_items"
           " FROM known_claims k" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY k.id DESC LIMIT ? OFFSET ?")
    return list(database.query(sql, [*params, int(limit), int(offset)]))


def index_rows(database: sqlite_utils.Database) -> list[tuple[int, str, str | None]]:
    """(id, text, rebuttal url) of every claim: what classifiers.claims.ClaimIndex is built from."""
    return [(row[0], row[1], row[2]) for row in
            database.conn.execute("SELECT id, text, url FROM known_claims ORDER BY id")]


def version(database: sqlite_utils.Database) -> int:
    """A number that changes whenever a claim is added, removed, or gets another text or url: a counter
    the triggers of migration 072 keep, so a cached index can be checked on every ingest call for the
    price of one row read."""
    row = database.conn.execute("SELECT version FROM known_claims_version WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def record_matches(conn: sqlite3.Connection, item_id: int, matches: Iterable[Any], at: str) -> int:
    """Store an item's matches (objects with claim_id and similarity) inside the caller's transaction.
    A claim removed since the index was built (an undone decision) is skipped."""
    stored = 0
    for match in matches:
        stored += conn.execute(
            "INSERT INTO claim_matches (item_id, claim_id, similarity, matched_at)"
            " SELECT ?, id, ?, ? FROM known_claims WHERE id = ? ON CONFLICT DO NOTHING",
            (item_id, float(match.similarity), at, int(match.claim_id))).rowcount
    return stored


def matches_for_item(database: sqlite_utils.Database, item_id: int) -> list[dict]:
    """The claims an item repeats, best first: claim id, text, verdict, rebuttal url, publisher, origin,
    similarity."""
    return list(database.query(
        "SELECT m.claim_id, m.similarity, m.matched_at, k.text, k.verdict, k.url, k.publisher, k.origin,"
        " k.claim_date, k.language FROM claim_matches m JOIN known_claims k ON k.id = m.claim_id"
        " WHERE m.item_id = ? ORDER BY m.similarity DESC, m.claim_id", [item_id]))


def matched_item_ids(database: sqlite_utils.Database, item_ids: list[int]) -> set[int]:
    """Which of these items repeat a claim (the queue marks them)."""
    if not item_ids:
        return set()
    marks = ",".join("?" * len(item_ids))
    return {row[0] for row in database.conn.execute(
        f"SELECT DISTINCT item_id FROM claim_matches WHERE item_id IN ({marks})", item_ids)}


# --- claims from the committee's own decisions ------------------------------------------------------

def _rebuttal_link(conn: sqlite3.Connection, item_id: int) -> str | None:
    """The link of the newest rebuttal follow-up on the item or on a copy of its story, if any."""
    row = conn.execute(
        "SELECT f.link FROM followups f WHERE f.kind = 'rebuttal_published' AND f.link IS NOT NULL"
        " AND (f.item_id = ? OR f.cluster_id = (SELECT cluster_id FROM items WHERE id = ?))"
        " ORDER BY f.id DESC LIMIT 1", (item_id, item_id)).fetchone()
    return row[0] if row else None


def add_from_decision(conn: sqlite3.Connection, item_id: int, now: str) -> int | None:
    """The confirmed item as a claim (its title, else the start of its text), inside the decision's
    transaction; its rebuttal is the story's rebuttal follow-up when there is one. None when the item
    has no text to claim."""
    row = conn.execute("SELECT title, text, language, published_at, fetched_at FROM items WHERE id = ?",
                       (item_id,)).fetchone()
    if row is None:
        return None
    title, text, language, published, fetched = row
    claim_text = _claim_text(title, text)
    if not claim_text:
        return None
    claim = NewClaim(text=claim_text, verdict=DECISION_VERDICT, origin="decision", url=_rebuttal_link(conn, item_id),
                     language=language, claim_date=(published or fetched or "")[:10] or None, item_id=item_id)
    return add_in(conn, claim, now)[0]


def _claim_text(title: str | None, text: str | None) -> str:
    """What a confirmed item claims: its title and text together when short (a post), else its title
    (an article's headline states its claim), else the start of its text."""
    title, text = (title or "").strip(), (text or "").strip()
    both = f"{title}\n{text}".strip()
    if len(both) <= 600 or not title:
        return both[:MAX_TEXT]
    return title


def remove_decision_claim(conn: sqlite3.Connection, item_id: int) -> int:
    """Take an item's decision claim (and the matches it made) out of the library, inside the transaction
    of the decision that took the confirmation back; the number of claims removed."""
    ids = [row[0] for row in conn.execute(
        "SELECT id FROM known_claims WHERE origin = 'decision' AND item_id = ?", (item_id,))]
    for claim_id in ids:
        conn.execute("DELETE FROM claim_matches WHERE claim_id = ?", (claim_id,))
        conn.execute("DELETE FROM known_claims WHERE id = ?", (claim_id,))
    return len(ids)


def rebuttal_published(conn: sqlite3.Connection, item_id: int, cluster_id: int | None, link: str) -> None:
    """A rebuttal follow-up was recorded: decision claims of the story without a rebuttal link get it
    (skipped where the same text already has a claim with that link: the NOT EXISTS is SQLite's UPDATE OR
    IGNORE on the (text_key, url) key, written so PostgreSQL runs it too)."""
    conn.execute(
        "UPDATE known_claims SET url = ? WHERE origin = 'decision' AND url IS NULL AND item_id IN"
        " (SELECT id FROM items WHERE id = ? OR (cluster_id IS NOT NULL AND cluster_id = ?))"
        " AND NOT EXISTS (SELECT 1 FROM known_claims other WHERE other.text_key = known_claims.text_key"
        " AND COALESCE(other.url, '') = ? AND other.id != known_claims.id)",
        (link, item_id, cluster_id, link))
