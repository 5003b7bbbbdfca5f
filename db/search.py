"""Full-text search for the web UI, bounded so it stays fast at a million items.

`ORDER BY rank` over every match is slow: a common word matching half a million rows takes seconds.
Here the index is walked newest-first, the most recent `candidates` matches are taken and only those are
ranked — recent and relevant, in bounded time. Query parsing is db.items (folded words, all required),
so "tin gia" finds "tin giả" on either backend.

SQLite: FTS5 (items_fts) walks its rowids descending and ranks by bm25 (`rank`, lower is better).
PostgreSQL: items_search holds one tsvector of the same folded keys; the GIN index finds the matches,
the newest `candidates` by item id are kept, and those are ranked by ts_rank (higher is better). Both
break ties newest first.
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

import db
from db.items import SearchError, _decode, fts_query, search_terms

_ROW = (" SELECT items.id, items.title, substr(items.text, 1, 300) AS text, items.status, items.fetched_at,"
        " items.language, items.url, '{}' AS explanation, sources.name AS source_name"
        " FROM hits JOIN items ON items.id = hits.id JOIN sources ON sources.id = items.source_id")


def search(database: sqlite_utils.Database, text: str, *, limit: int = 50, candidates: int = 2000) -> list[dict]:
    if db.dialect(database) == "postgresql":
        # plainto_tsquery ANDs the words and reads no operators: the terms are \w+ words already. The query is
        # written out in the WHERE (not taken from a CTE) so the planner sees it: a common word walks the
        # newest items backwards and stops at `candidates`, a rare one takes the GIN index.
        terms = " ".join(search_terms(text))
        sql = ("WITH found AS (SELECT item_id AS id, document FROM items_search"
               " WHERE document @@ plainto_tsquery('simple', ?) ORDER BY item_id DESC LIMIT ?),"
               " hits AS (SELECT ts_rank(document, plainto_tsquery('simple', ?)) AS rank, id FROM found)"
               f"{_ROW} ORDER BY hits.rank DESC, items.id DESC LIMIT ?")
        params = [terms, candidates, terms, limit]
    else:
        sql = ("WITH hits AS (SELECT rowid AS id, rank FROM items_fts WHERE items_fts MATCH ?"
               " ORDER BY rowid DESC LIMIT ?)"
               f"{_ROW} ORDER BY hits.rank, items.id DESC LIMIT ?")
        params = [fts_query(text), candidates, limit]
    try:
        return [_decode(row) for row in database.query(sql, params)]
    except sqlite3.OperationalError as exc:  # FTS5 syntax the quoting did not anticipate (plainto_tsquery has none)
        raise SearchError("This search cannot be run.") from exc
