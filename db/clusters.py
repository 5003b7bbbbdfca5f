"""Clusters of near-duplicate items: MinHash signatures, their LSH band keys and each cluster's spread.

monitor/pipeline/dedup.py computes signatures and decides which cluster an item joins; these are the statements
it runs. Every function takes the caller's connection: they run inside the ingest transaction.

Written once for SQLite and PostgreSQL: the earlier/later of two times is a CASE (SQLite's two-argument
MIN/MAX are PostgreSQL's LEAST/GREATEST), and an upsert names the existing row by its table, which
PostgreSQL requires and SQLite accepts.
"""

from __future__ import annotations

import sqlite3


def candidate_signatures(conn: sqlite3.Connection, band_keys: list[int], limit: int) -> list[tuple[int, bytes]]:
    """(item id, signature) of at most `limit` stored items sharing a band key, by item id."""
    return conn.execute(
        "SELECT item_id, signature FROM item_minhash WHERE item_id IN"
        f" (SELECT DISTINCT item_id FROM minhash_bands WHERE band_key IN ({','.join('?' * len(band_keys))})"
        f"  LIMIT {int(limit)}) ORDER BY item_id", band_keys).fetchall()


def cluster_of(conn: sqlite3.Connection, item_id: int) -> int | None:
    """The cluster an item belongs to (None when it has none or does not exist)."""
    row = conn.execute("SELECT cluster_id FROM items WHERE id = ?", (item_id,)).fetchone()
    return row[0] if row else None


def new_cluster(conn: sqlite3.Connection, seen_at: str) -> int:
    """Open an empty cluster first and last seen at `seen_at`; its id."""
    return int(conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at, size, source_count)"
                            " VALUES (?, ?, 0, 0) RETURNING id", (seen_at, seen_at)).fetchone()[0])


def store_signature(conn: sqlite3.Connection, item_id: int, signature: bytes, band_keys: list[int]) -> None:
    """Index an item's signature and band keys, so later items can find it as a candidate."""
    conn.execute("INSERT INTO item_minhash (item_id, signature) VALUES (?, ?)"
                 " ON CONFLICT (item_id) DO UPDATE SET signature = excluded.signature", (item_id, signature))
    conn.executemany("INSERT INTO minhash_bands (band_key, item_id) VALUES (?, ?)",
                     [(key, item_id) for key in band_keys])


def note_source(conn: sqlite3.Connection, cluster_id: int, source_id: int, seen_at: str) -> None:
    """Count one more copy of the cluster's story on a source (the first one records when)."""
    conn.execute(
        "INSERT INTO cluster_sources (cluster_id, source_id, first_seen_at, copies) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (cluster_id, source_id) DO UPDATE SET copies = cluster_sources.copies + 1,"
        " first_seen_at = CASE WHEN excluded.first_seen_at < cluster_sources.first_seen_at"
        " THEN excluded.first_seen_at ELSE cluster_sources.first_seen_at END", (cluster_id, source_id, seen_at))


def refresh_after_item(conn: sqlite3.Connection, cluster_id: int, item_id: int, seen_at: str) -> None:
    """Recount a cluster's size and sources after `item_id` joined it, widen its times, and make the
    item its representative when it has none yet."""
    conn.execute(
        "UPDATE clusters SET size = (SELECT COUNT(*) FROM items WHERE cluster_id = ?),"
        " first_seen_at = CASE WHEN ? < first_seen_at THEN ? ELSE first_seen_at END,"
        " last_seen_at = CASE WHEN ? > last_seen_at THEN ? ELSE last_seen_at END,"
        " representative_item_id = COALESCE(representative_item_id, ?),"
        " source_count = (SELECT COUNT(*) FROM cluster_sources WHERE cluster_id = ?) WHERE id = ?",
        (cluster_id, seen_at, seen_at, seen_at, seen_at, item_id, cluster_id, cluster_id))


def item_cluster_and_source(conn: sqlite3.Connection, item_id: int) -> tuple[int | None, int] | None:
    """(cluster id, source id) of a stored item, or None when there is no such item."""
    row = conn.execute("SELECT cluster_id, source_id FROM items WHERE id = ?", (item_id,)).fetchone()
    return (row[0], row[1]) if row else None


def has_source(conn: sqlite3.Connection, cluster_id: int, source_id: int) -> bool:
    """Whether the cluster's story was already seen on this source."""
    return conn.execute("SELECT 1 FROM cluster_sources WHERE cluster_id = ? AND source_id = ?",
                        (cluster_id, source_id)).fetchone() is not None


def refresh_after_repost(conn: sqlite3.Connection, cluster_id: int, seen_at: str) -> None:
    """Recount a cluster's sources and widen its last-seen time after a repost on a new source."""
    conn.execute("UPDATE clusters SET last_seen_at = CASE WHEN ? > last_seen_at THEN ? ELSE last_seen_at END,"
                 " source_count = (SELECT COUNT(*) FROM cluster_sources WHERE cluster_id = ?) WHERE id = ?",
                 (seen_at, seen_at, cluster_id, cluster_id))


def cluster_summary(conn: sqlite3.Connection, cluster_id: int) -> dict | None:
    """Size (spread), sources and first-seen time of a cluster, for the queue and reports."""
    row = conn.execute("SELECT id, size, source_count, first_seen_at, last_seen_at, representative_item_id"
                       " FROM clusters WHERE id = ?", (cluster_id,)).fetchone()
    if not row:
        return None
    sources = [r[0] for r in conn.execute(
        "SELECT sources.name FROM cluster_sources JOIN sources ON sources.id = cluster_sources.source_id"
        " WHERE cluster_id = ? ORDER BY cluster_sources.first_seen_at, sources.name", (cluster_id,))]
    return {"id": row[0], "size": row[1], "source_count": row[2], "first_seen_at": row[3],
            "last_seen_at": row[4], "representative_item_id": row[5], "sources": sources}
