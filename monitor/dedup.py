"""Near-duplicate clustering: MinHash over diacritic-folded word shingles, LSH bands stored in SQLite.

Exact duplicates (guid per source, canonical URL, content hash) never reach this module: the
pipeline drops them first. What is left is the same story rewritten a little by each page that
reposts it — another headline, a sentence added, tone marks typed differently or not at all.
Shingles are taken from `search_key` (lower-case, every diacritic folded), so "Thanh Hoá",
"Thanh Hóa" and "Thanh Hoa" shingle alike. An item joins the cluster of its most similar
earlier item when the estimated Jaccard similarity reaches THRESHOLD; otherwise it starts one.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from classifiers.text import search_key

NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: candidates from Jaccard ~0.5 up, checked against THRESHOLD
ROWS = NUM_PERM // BANDS
THRESHOLD = 0.5
SHINGLE_WORDS = 3
MIN_WORDS = 8  # shorter texts ("Breaking!", a bare link) would cluster by accident
MAX_CANDIDATES = 200
_WORD = re.compile(r"\w+", re.UNICODE)
# crc32 (C, stable across processes) instead of datasketch's default sha1: the shingle hash is a
# third of clustering time, and MinHash needs only a well-mixed 32-bit hash, not a cryptographic one.
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=7, hashfunc=zlib.crc32)


@dataclass
class Signature:
    hashvalues: np.ndarray

    def to_bytes(self) -> bytes:
        return self.hashvalues.astype(np.uint64).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Signature:
        return cls(np.frombuffer(blob, dtype=np.uint64))

    def jaccard(self, other: Signature) -> float:
        return float(np.count_nonzero(self.hashvalues == other.hashvalues)) / len(self.hashvalues)

    def band_keys(self) -> list[int]:
        if getattr(self, "_keys", None) is not None:
            return self._keys
        keys = []
        for band in range(BANDS):
            chunk = self.hashvalues[band * ROWS:(band + 1) * ROWS].astype(np.uint64).tobytes()
            digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
            keys.append(struct.unpack("<q", digest)[0])
        self._keys = keys
        return keys


def shingles(text: str) -> set[bytes]:
    """Word 3-grams of the folded text (tone placement, case and diacritics do not matter)."""
    return shingles_of_keys(search_key(text))


def shingles_of_keys(*keys: str) -> set[bytes]:
    """Shingles of texts already passed through `search_key`, read as one text in order.

    The words of search_key(title + newline + text) are those of search_key(title) followed by those of
    search_key(text), so the pipeline folds each field once and shares the keys with the search index.
    """
    words = [word for key in keys for word in _WORD.findall(key)]
    if len(words) < MIN_WORDS:
        return set()
    return {" ".join(words[i:i + SHINGLE_WORDS]).encode("utf-8") for i in range(len(words) - SHINGLE_WORDS + 1)}


def signature_of_shingles(grams: set[bytes]) -> Signature | None:
    """MinHash signature of a shingle set, or None when it is empty (too short to cluster safely)."""
    if not grams:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=7, hashfunc=zlib.crc32, permutations=_TEMPLATE.permutations,
                      scheme=_TEMPLATE.scheme)
    minhash.update_batch(list(grams))
    return Signature(np.array(minhash.hashvalues, dtype=np.uint64))


def signature(text: str) -> Signature | None:
    """MinHash signature of a text, or None when it is too short to cluster safely."""
    return signature_of_shingles(shingles(text))


def find_similar(conn: sqlite3.Connection, sig: Signature) -> tuple[int, int, float] | None:
    """(item id, cluster id, similarity) of the most similar stored item above THRESHOLD, or None.

    Ties go to the earliest item. Candidates are compared on their signatures alone, and the cluster is
    looked up only for the winner: a story copied by hundreds of pages has hundreds of candidates, and
    joining each to its item row was half the cost of clustering.
    """
    keys = sig.band_keys()
    rows = conn.execute(
        "SELECT item_id, signature FROM item_minhash WHERE item_id IN"
        f" (SELECT DISTINCT item_id FROM minhash_bands WHERE band_key IN ({','.join('?' * len(keys))})"
        f"  LIMIT {MAX_CANDIDATES}) ORDER BY item_id", keys).fetchall()
    if not rows:
        return None
    # All candidates in one numpy comparison (was one Signature and one comparison per candidate).
    stored = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.uint64).reshape(len(rows), -1)
    agree = np.count_nonzero(stored == sig.hashvalues, axis=1)
    similarity = agree / len(sig.hashvalues)
    for index in np.argsort(-agree, kind="stable"):  # most similar first, earliest item among equals
        if similarity[index] < THRESHOLD:
            break
        item_id = rows[index][0]
        cluster = conn.execute("SELECT cluster_id FROM items WHERE id = ?", (item_id,)).fetchone()
        if cluster and cluster[0] is not None:
            return item_id, cluster[0], float(similarity[index])
    return None


def assign_cluster(conn: sqlite3.Connection, sig: Signature | None, seen_at: str) -> int:
    """The cluster a new item belongs to (an existing near-duplicate's, or a new one). Call in a transaction."""
    if sig is not None:
        match = find_similar(conn, sig)
        if match is not None:
            return match[1]
    return int(conn.execute("INSERT INTO clusters (first_seen_at, last_seen_at, size, source_count)"
                            " VALUES (?, ?, 0, 0)", (seen_at, seen_at)).lastrowid)


def record_item(conn: sqlite3.Connection, item_id: int, cluster_id: int, source_id: int, sig: Signature | None,
                seen_at: str) -> None:
    """After inserting an item: index its signature and update its cluster's size, sources and times."""
    if sig is not None:
        conn.execute("INSERT OR REPLACE INTO item_minhash (item_id, signature) VALUES (?, ?)",
                     (item_id, sig.to_bytes()))
        conn.executemany("INSERT INTO minhash_bands (band_key, item_id) VALUES (?, ?)",
                         [(key, item_id) for key in sig.band_keys()])
    _note_source(conn, cluster_id, source_id, seen_at)
    conn.execute(
        "UPDATE clusters SET size = (SELECT COUNT(*) FROM items WHERE cluster_id = :c),"
        " first_seen_at = MIN(first_seen_at, :t), last_seen_at = MAX(last_seen_at, :t),"
        " representative_item_id = COALESCE(representative_item_id, :i),"
        " source_count = (SELECT COUNT(*) FROM cluster_sources WHERE cluster_id = :c) WHERE id = :c",
        {"c": cluster_id, "t": seen_at, "i": item_id})


def record_repost(conn: sqlite3.Connection, existing_item_id: int, source_id: int, seen_at: str) -> None:
    """An exact duplicate seen on another source: not stored again, but the story's spread grows."""
    row = conn.execute("SELECT cluster_id, source_id FROM items WHERE id = ?", (existing_item_id,)).fetchone()
    if not row or row[0] is None or row[1] == source_id:
        return
    if conn.execute("SELECT 1 FROM cluster_sources WHERE cluster_id = ? AND source_id = ?",
                    (row[0], source_id)).fetchone():
        return
    _note_source(conn, row[0], source_id, seen_at)
    conn.execute("UPDATE clusters SET last_seen_at = MAX(last_seen_at, ?),"
                 " source_count = (SELECT COUNT(*) FROM cluster_sources WHERE cluster_id = ?) WHERE id = ?",
                 (seen_at, row[0], row[0]))


def _note_source(conn: sqlite3.Connection, cluster_id: int, source_id: int, seen_at: str) -> None:
    conn.execute(
        "INSERT INTO cluster_sources (cluster_id, source_id, first_seen_at, copies) VALUES (?, ?, ?, 1)"
        " ON CONFLICT (cluster_id, source_id) DO UPDATE SET copies = copies + 1,"
        " first_seen_at = MIN(first_seen_at, excluded.first_seen_at)", (cluster_id, source_id, seen_at))


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
