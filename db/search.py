"""Full-text search for the web UI, bounded so it stays fast at a million items.

`ORDER BY rank` over FTS5 scores every match: a common word matching half a million rows takes
seconds. Here FTS5 walks its index newest-first (rowid DESC, cheap), takes the most recent
`candidates` matches and ranks only those by bm25 — recent and relevant, in bounded time.
Query parsing is db.items.fts_query (folded, quoted terms), so "tin gia" finds "tin giả".
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from db.items import SearchError, _decode, fts_query


def search(database: sqlite_utils.Database, text: str, *, limit: int = 50, candidates: int = 2000) -> list[dict]:
    query = fts_query(text)
    try:
        rows = database.query(
            "WITH hits AS (SELECT rowid AS id, rank FROM items_fts WHERE items_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT ?)"
            " SELECT items.id, items.title, substr(items.text, 1, 300) AS text, items.status, items.fetched_at,"
            " items.language, items.url, '{}' AS explanation, sources.name AS source_name"
            " FROM hits JOIN items ON items.id = hits.id JOIN sources ON sources.id = items.source_id"
            " ORDER BY hits.rank, items.id DESC LIMIT ?", [query, candidates, limit])
        return [_decode(row) for row in rows]
    except sqlite3.OperationalError as exc:  # FTS5 syntax the quoting did not anticipate
        raise SearchError("This search cannot be run.") from exc
