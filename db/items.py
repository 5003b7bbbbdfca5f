"""Items: storage, exact-duplicate look-ups, the review queue and full-text search."""

from __future__ import annotations

import json
import re
from typing import Any

import sqlite_utils

from classifiers.text import search_key
from db import dialect as dialect_of

ITEM_COLUMNS = (
    "source_id", "guid", "url", "canonical_url", "title", "text", "author", "published_at", "fetched_at",
    "language", "content_hash", "cluster_id", "score_misinformation", "score_harm", "explanation",
    "model_version", "status", "flag_reasons", "top_reason", "about_jurisdiction",
)

# The queue's priority (see migrations 030, 067): the same formula as trigger items_priority_rescore,
# evaluated inside the INSERT so the row is written once (migration 033). On PostgreSQL the schema holds the
# formula as the function items_priority() (float8 throughout, so the value is SQLite's bit for bit).
_PRIORITY_SQL = {
    "sqlite": (
        "10.0 * MAX(COALESCE(?, 0), COALESCE(?, 0))"
        " + COALESCE((SELECT CASE WHEN size >= 50 THEN 3.0 WHEN size >= 10 THEN 2.0 WHEN size >= 3 THEN 1.0"
        " WHEN size >= 2 THEN 0.5 ELSE 0.0 END FROM clusters WHERE id = ?), 0)"
        " + COALESCE((SELECT priority_weight FROM sources WHERE id = ?), 0)"
        " + CAST(strftime('%s', ?) AS REAL) / 43200.0"
        " + 2.0 * ?"),  # "Về địa bàn" (migration 067, which says why 2.0)
    "postgresql": "items_priority(?, ?, ?, ?, ?, ?)",
}
_PRIORITY_ARGS = ("score_misinformation", "score_harm", "cluster_id", "source_id", "fetched_at", "about_jurisdiction")
_INSERT_SQL = {name: f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, priority)"
                     f" VALUES ({', '.join('?' * len(ITEM_COLUMNS))}, {priority}) RETURNING id"
               for name, priority in _PRIORITY_SQL.items()}
def find_existing(conn, source_id: int, guid: str, canonical_url: str | None, content_hash: str) -> int | None:
    """The id of an item this one duplicates: same guid in the source, same canonical URL, or same content."""
    # One indexed OR query (SQLite unions the three index look-ups); the guid match wins, then the URL.
    row = conn.execute(
        "SELECT id FROM items WHERE (source_id = ? AND guid = ?) OR canonical_url = ? OR content_hash = ?"
        " ORDER BY CASE WHEN source_id = ? AND guid = ? THEN 1 ELSE 0 END DESC,"
        " CASE WHEN canonical_url IS NOT DISTINCT FROM ? THEN 1 ELSE 0 END DESC LIMIT 1",
        (source_id, guid, canonical_url, content_hash, source_id, guid, canonical_url)).fetchone()
    return row[0] if row else None


def insert_item(conn, item: dict[str, Any], search_keys: tuple[str, str] | None = None) -> int:
    """Insert one item row and its search-index entry (call inside a transaction).

    `search_keys` are search_key(title) and search_key(text) when the caller has them already.
    """
    values = {column: item.get(column) for column in ITEM_COLUMNS}
    for column, empty in (("explanation", {}), ("flag_reasons", [])):
        if not isinstance(values[column], str):
            values[column] = json.dumps(values[column] or empty, ensure_ascii=False)
    values["top_reason"] = values["top_reason"] or ""  # the queue row's reason (migration 052); none yet is ""
    values["about_jurisdiction"] = int(bool(values["about_jurisdiction"]))  # migration 067
    kind = dialect_of(conn)
    params = [values[column] for column in ITEM_COLUMNS] + [values[name] for name in _PRIORITY_ARGS]
    item_id = int(conn.execute(_INSERT_SQL[kind], params).fetchone()[0])
    if search_keys is None:
        search_keys = (search_key(item.get("title") or ""), search_key(item.get("text") or ""))
    index_search(conn, item_id, search_keys, dialect=kind)
    return item_id


def index_search(conn, item_id: int, search_keys: tuple[str, str], *, dialect: str | None = None) -> None:
    """Add an item's folded search keys (title, text) to the full-text index: SQLite's FTS5 table, or on
    PostgreSQL a tsvector of the same keys ('simple': no stemming, the keys are folded already)."""
    if (dialect or dialect_of(conn)) == "postgresql":
        conn.execute("INSERT INTO items_search (item_id, document) VALUES (?, to_tsvector('simple', ? || ' ' || ?))",
                     (item_id, *search_keys))
    else:
        conn.execute("INSERT INTO items_fts (rowid, title, text) VALUES (?, ?, ?)", (item_id, *search_keys))


def get_item(database: sqlite_utils.Database, item_id: int) -> dict | None:
    rows = list(database.query(
        "SELECT items.*, sources.name AS source_name, sources.kind AS source_kind FROM items"
        " JOIN sources ON sources.id = items.source_id WHERE items.id = ?", [item_id]))
    if not rows:
        return None
    return _decode(rows[0])


def _decode(row: dict) -> dict:
    row = dict(row)
    for column, empty in (("explanation", {}), ("flag_reasons", [])):
        if isinstance(row.get(column), str):
            try:
                row[column] = json.loads(row[column])
            except ValueError:
                row[column] = empty
    return row


class SearchError(ValueError):
    """A search query FTS5 cannot run; the message is safe to show to the user."""


_TERM = re.compile(r"\w+", re.UNICODE)
# Typed in capitals these are FTS syntax the person meant as an operator, not a word to find
# (all words are required anyway), so "AND(" is an empty query rather than a search for "and".
_OPERATORS = re.compile(r"\b(?:AND|OR|NOT|NEAR)\b")


def search_terms(text: str) -> list[str]:
    """The folded words of what a person typed, FTS operators typed in capitals left out; SearchError if none."""
    terms = _TERM.findall(search_key(_OPERATORS.sub(" ", text or "")))
    if not terms:
        raise SearchError("Enter at least one word to search for.")
    return terms


def fts_query(text: str) -> str:
    """Turn what a person typed into a safe FTS5 query: folded words, each quoted, all required.

    Quoting every term means operators and stray quotes in user input are never FTS syntax.
    """
    return " ".join(f'"{term}"' for term in search_terms(text))


def counts_by_status(database: sqlite_utils.Database) -> dict[str, int]:
    return {row["status"]: row["n"] for row in
            database.query("SELECT status, COUNT(*) AS n FROM items GROUP BY status")}


def counts_by_category(database: sqlite_utils.Database) -> dict[str, int]:
    """How many items each flag category was raised on (an item flagged for two counts in both)."""
    categories: dict[str, int] = {}
    for row in database.query("SELECT flag_reasons FROM items WHERE flag_reasons != '[]'"):
        for category in json.loads(row["flag_reasons"]):
            categories[category] = categories.get(category, 0) + 1
    return categories


def is_stored(database: sqlite_utils.Database, source_id: int, guid: str, canonical_url: str | None) -> bool:
    """Whether an item with this guid in this source, or with this canonical URL, is stored already."""
    row = database.conn.execute("SELECT 1 FROM items WHERE source_id = ? AND guid = ?", (source_id, guid)).fetchone()
    if row:
        return True
    return bool(canonical_url and database.conn.execute("SELECT 1 FROM items WHERE canonical_url = ? LIMIT 1",
                                                        (canonical_url,)).fetchone())


def _with_kind(rows) -> list[dict]:
    """Each row with `kind`, the scored kind in its explanation JSON (None when that is not a JSON object or
    has none), in place of the explanation: read here rather than with SQLite's json_extract, which
    PostgreSQL spells differently and which fails there on text that is not JSON."""
    found = []
    for row in rows:
        row = dict(row)
        try:
            explanation = json.loads(row.pop("explanation") or "null")
        except (TypeError, ValueError):
            explanation = None
        row["kind"] = explanation.get("kind") if isinstance(explanation, dict) else None
        found.append(row)
    return found


def latest_decisions(database: sqlite_utils.Database) -> list[dict]:
    """Each decided item's title, text, flag_reasons and scored kind with its latest decision's action
    and time, oldest decision first: what a retrain learns from."""
    return _with_kind(database.query(
        "SELECT i.title, i.text, i.flag_reasons, i.explanation, d.action, d.created_at FROM decisions d"
        " JOIN items i ON i.id = d.item_id"
        " WHERE d.id = (SELECT MAX(id) FROM decisions WHERE item_id = d.item_id) ORDER BY d.id"))


def newest_items(database: sqlite_utils.Database, limit: int, since: str | None = None) -> list[dict]:
    """Title, text, fetched_at and scored kind of the newest items (fetched at or after `since` when
    given), newest first: what a candidate model's flag rate is measured on."""
    query = "SELECT title, text, fetched_at, explanation FROM items {} ORDER BY fetched_at DESC, id DESC LIMIT ?"
    if since is None:
        return _with_kind(database.query(query.format(""), [limit]))
    return _with_kind(database.query(query.format("WHERE fetched_at >= ?"), [since, limit]))
