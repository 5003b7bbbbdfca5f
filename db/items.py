"""Items: storage, exact-duplicate look-ups, the review queue and full-text search."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

import sqlite_utils

from classifiers.text import search_key

ITEM_COLUMNS = (
    "source_id", "guid", "url", "canonical_url", "title", "text", "author", "published_at", "fetched_at",
    "language", "content_hash", "cluster_id", "score_misinformation", "score_harm", "explanation",
    "model_version", "status", "flag_reasons", "top_reason", "about_jurisdiction",
)

# The queue's priority (see migrations 030, 067): the same formula as trigger items_priority_rescore,
# evaluated inside the INSERT so the row is written once (migration 033).
_PRIORITY_SQL = (
    "10.0 * MAX(COALESCE(:score_misinformation, 0), COALESCE(:score_harm, 0))"
    " + COALESCE((SELECT CASE WHEN size >= 50 THEN 3.0 WHEN size >= 10 THEN 2.0 WHEN size >= 3 THEN 1.0"
    " WHEN size >= 2 THEN 0.5 ELSE 0.0 END FROM clusters WHERE id = :cluster_id), 0)"
    " + COALESCE((SELECT priority_weight FROM sources WHERE id = :source_id), 0)"
    " + CAST(strftime('%s', :fetched_at) AS REAL) / 43200.0"
    " + 2.0 * :about_jurisdiction"  # "Về địa bàn" (migration 067, which says why 2.0)
)
_INSERT_SQL = (f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, priority)"
               f" VALUES ({', '.join(':' + c for c in ITEM_COLUMNS)}, {_PRIORITY_SQL})")


def find_existing(conn, source_id: int, guid: str, canonical_url: str | None, content_hash: str) -> int | None:
    """The id of an item this one duplicates: same guid in the source, same canonical URL, or same content."""
    # One indexed OR query (SQLite unions the three index look-ups); the guid match wins, then the URL.
    row = conn.execute(
        "SELECT id FROM items WHERE (source_id = ? AND guid = ?) OR canonical_url = ? OR content_hash = ?"
        " ORDER BY (source_id = ? AND guid = ?) DESC, (canonical_url IS ?) DESC LIMIT 1",
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
    cursor = conn.execute(_INSERT_SQL, values)
    item_id = int(cursor.lastrowid)
    if search_keys is None:
        search_keys = (search_key(item.get("title") or ""), search_key(item.get("text") or ""))
    index_search(conn, item_id, search_keys)
    return item_id


def index_search(conn, item_id: int, search_keys: tuple[str, str], *, dialect: str | None = None) -> None:
    """Add an item's folded search keys (title, text) to the full-text index: SQLite's FTS5 table, or on
    PostgreSQL a tsvector of the same keys ('simple': no stemming, the keys are folded already)."""
    if (dialect or _dialect_of(conn)) == "postgresql":
        conn.execute("INSERT INTO items_search (item_id, document) VALUES (?, to_tsvector('simple', ? || ' ' || ?))",
                     (item_id, *search_keys))
    else:
        conn.execute("INSERT INTO items_fts (rowid, title, text) VALUES (?, ?, ?)", (item_id, *search_keys))


def _dialect_of(conn) -> str:
    return "sqlite" if isinstance(conn, sqlite3.Connection) else "postgresql"


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


def fts_query(text: str) -> str:
    """Turn what a person typed into a safe FTS5 query: folded words, each quoted, all required.

    Quoting every term means operators and stray quotes in user input are never FTS syntax.
    """
    terms = _TERM.findall(search_key(_OPERATORS.sub(" ", text or "")))
    if not terms:
        raise SearchError("Enter at least one word to search for.")
    return " ".join(f'"{term}"' for term in terms)


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


def latest_decisions(database: sqlite_utils.Database) -> list[dict]:
    """Each decided item's title, text, flag_reasons and scored kind with its latest decision's action
    and time, oldest decision first: what a retrain learns from."""
    return list(database.query(
        "SELECT i.title, i.text, i.flag_reasons, json_extract(CASE WHEN json_valid(i.explanation)"
        " THEN i.explanation END, '$.kind') AS kind, d.action, d.created_at FROM decisions d"
        " JOIN items i ON i.id = d.item_id"
        " WHERE d.id = (SELECT MAX(id) FROM decisions WHERE item_id = d.item_id) ORDER BY d.id"))


def newest_items(database: sqlite_utils.Database, limit: int, since: str | None = None) -> list[dict]:
    """Title, text, fetched_at and scored kind of the newest items (fetched at or after `since` when
    given), newest first: what a candidate model's flag rate is measured on."""
    query = ("SELECT title, text, fetched_at, json_extract(CASE WHEN json_valid(explanation) THEN explanation END,"
             " '$.kind') AS kind FROM items {} ORDER BY fetched_at DESC, id DESC LIMIT ?")
    if since is None:
        return list(database.query(query.format(""), [limit]))
    return list(database.query(query.format("WHERE fetched_at >= ?"), [since, limit]))
