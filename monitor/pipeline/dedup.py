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

from classifiers.text import search_key
from db import clusters
from db.clusters import cluster_summary as cluster_summary  # re-exported: read from here by callers

NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: candidates from Jaccard ~0.5 up, checked against THRESHOLD
ROWS = NUM_PERM // BANDS
THRESHOLD = 0.5
SHINGLE_WORDS = 3
MIN_WORDS = 8  # shorter texts ("Breaking!", a bare link) would cluster by accident
MAX_CANDIDATES = 200
_WORD = re.compile(r"\w+", re.UNICODE)
# The permutations of datasketch's MinHash(num_perm=NUM_PERM, seed=7, hashfunc=zlib.crc32) (its default
# "affine32" scheme), which made every stored signature: h -> a * fmix32(h) + b mod 2^32, a odd. Computed here
# with the same generator because importing datasketch imports scipy.integrate, scipy.special and the rest
# (~34 MB resident in `monitor serve` and `monitor run`) for a few lines of numpy; tests check that the
# signatures are bit for bit datasketch's. crc32 (C, stable across processes) instead of datasketch's default
# sha1: the shingle hash is a third of clustering time, and MinHash needs only a well-mixed 32-bit hash.
_SEED = 7
_generator = np.random.RandomState(_SEED)
_PERM_A = _generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
_PERM_B = _generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
del _generator


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
    hashes = _fmix32(np.fromiter((zlib.crc32(gram) for gram in grams), dtype=np.uint32, count=len(grams)))
    return Signature((hashes[:, None] * _PERM_A + _PERM_B).min(axis=0).astype(np.uint64))


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (a bijection that spreads crc32's structure), wrapping mod 2^32."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature(text: str) -> Signature | None:
    """MinHash signature of a text, or None when it is too short to cluster safely."""
    return signature_of_shingles(shingles(text))


def find_similar(conn: sqlite3.Connection, sig: Signature) -> tuple[int, int, float] | None:
    """(item id, cluster id, similarity) of the most similar stored item above THRESHOLD, or None.

    Ties go to the earliest item. Candidates are compared on their signatures alone, and the cluster is
    looked up only for the winner: a story copied by hundreds of pages has hundreds of candidates, and
    joining each to its item row was half the cost of clustering.
    """
    rows = clusters.candidate_signatures(conn, sig.band_keys(), MAX_CANDIDATES)
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
        cluster_id = clusters.cluster_of(conn, item_id)
        if cluster_id is not None:
            return item_id, cluster_id, float(similarity[index])
    return None


def assign_cluster(conn: sqlite3.Connection, sig: Signature | None, seen_at: str) -> int:
    """The cluster a new item belongs to (an existing near-duplicate's, or a new one). Call in a transaction."""
    if sig is not None:
        match = find_similar(conn, sig)
        if match is not None:
            return match[1]
    return clusters.new_cluster(conn, seen_at)


def record_item(conn: sqlite3.Connection, item_id: int, cluster_id: int, source_id: int, sig: Signature | None,
                seen_at: str) -> None:
    """After inserting an item: index its signature and update its cluster's size, sources and times."""
    if sig is not None:
        clusters.store_signature(conn, item_id, sig.to_bytes(), sig.band_keys())
    clusters.note_source(conn, cluster_id, source_id, seen_at)
    clusters.refresh_after_item(conn, cluster_id, item_id, seen_at)


def record_repost(conn: sqlite3.Connection, existing_item_id: int, source_id: int, seen_at: str) -> None:
    """An exact duplicate seen on another source: not stored again, but the story's spread grows."""
    found = clusters.item_cluster_and_source(conn, existing_item_id)
    if not found or found[0] is None or found[1] == source_id:
        return
    cluster_id = found[0]
    if clusters.has_source(conn, cluster_id, source_id):
        return
    clusters.note_source(conn, cluster_id, source_id, seen_at)
    clusters.refresh_after_repost(conn, cluster_id, seen_at)
