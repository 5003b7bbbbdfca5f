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
import sqlite3
import struct
from dataclasses import dataclass

import numpy as np

from classifiers.text import search_key
from db import clusters
from db.clusters import cluster_summary as cluster_summary  # re-exported: read from here by callers
from monitor.text.prepare import (  # noqa: F401 - re-exported: read from here by callers
    MIN_WORDS,
    SHINGLE_WORDS,
    shingle_hashes,
    shingles_of_words,
    words_of_keys,
)

NUM_PERM = 64
BANDS = 16  # 16 bands x 4 rows: candidates from Jaccard ~0.5 up, checked against THRESHOLD
ROWS = NUM_PERM // BANDS
THRESHOLD = 0.5
MAX_CANDIDATES = 200
SEED = 7
# The MinHash is datasketch 2.0's `MinHash(num_perm=64, seed=7, hashfunc=zlib.crc32)` (scheme "affine32"),
# computed here bit for bit (tests/test_dedup_minhash.py checks it against datasketch): importing datasketch
# imports scipy.integrate for its LSH classes, which cost every crawl ~0.9 s of start-up and ~55 MB of memory
# for the twenty lines used here, and a MinHash object per item was a tenth of the signature time.
# crc32 (C, stable across processes) instead of datasketch's default sha1: the shingle hash is a
# third of clustering time, and MinHash needs only a well-mixed 32-bit hash, not a cryptographic one.
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def _affine32_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations h -> a*h + b mod 2^32 (a odd), drawn as datasketch draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_PERM_A, _PERM_B = _affine32_permutations(NUM_PERM, SEED)


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
        whole, size = self.hashvalues.astype(np.uint64).tobytes(), ROWS * 8  # one conversion, then 16 slices
        keys = [struct.unpack("<q", hashlib.blake2b(bytes([band]) + whole[band * size:(band + 1) * size],
                                                    digest_size=8).digest())[0] for band in range(BANDS)]
        self._keys = keys
        return keys


def shingles(text: str) -> set[bytes]:
    """Word 3-grams of the folded text (tone placement, case and diacritics do not matter)."""
    return shingles_of_keys(search_key(text))


def shingles_of_keys(*keys: str) -> set[bytes]:
    """Shingles of texts already passed through `search_key`, read as one text in order."""
    return shingles_of_words(words_of_keys(*keys))


def signature_of_shingles(grams: set[bytes]) -> Signature | None:
    """MinHash signature of a shingle set, or None when it is empty (too short to cluster safely)."""
    return signature_of_hashes(shingle_hashes(grams)) if grams else None


def signature_of_hashes(hashes: bytes) -> Signature | None:
    """MinHash signature from the crc32s of a shingle set (`shingle_hashes`), or None when there are none."""
    if not hashes:
        return None
    values = np.frombuffer(hashes, dtype=np.uint32).reshape(-1, 1).copy()
    shift1, mult1, shift2, mult2, shift3 = _FMIX32  # MurmurHash3's finalizer, as datasketch pre-mixes
    values ^= values >> shift1
    values *= mult1
    values ^= values >> shift2
    values *= mult2
    values ^= values >> shift3
    permuted = values * _PERM_A + _PERM_B  # uint32 arithmetic: the wraparound is the modulo 2^32
    return Signature(permuted.min(axis=0).astype(np.uint64))


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
