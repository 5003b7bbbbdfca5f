"""Known claims at ingest (issue 11 item 2): which debunked claims each new item repeats, and the flag.

The index (classifiers.claims.ClaimIndex) is built once per database and kept; every ingest call checks
the library's version (db.known_claims.version: one row that triggers keep) and rebuilds only when a
claim was added, removed or edited — by this process or another (`monitor claims import` beside a
running service).
A match flags the item whatever its model score: the flag reason CLAIM_MATCH is added to the model's,
and the queue row's reason becomes the claim's text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import db
import db.known_claims
from classifiers.claims import ClaimIndex
from classifiers.text import Folded
from monitor.text.urls import canonical_url
from vocab import CLAIM_MATCH  # the flag reason (vocab/labels.py: "trùng với tin đã được bác bỏ")

__all__ = ["CLAIM_MATCH", "FoundClaim", "flag", "index_for", "match_texts", "not_own", "record"]
TOP_REASON_CHARS = 160


@dataclass(frozen=True)
class FoundClaim:
    """A claim an item repeats: its id, how much of it the item holds, its text (for the queue row) and
    its rebuttal's url (an item that is the rebuttal is not flagged for repeating its own claim)."""

    claim_id: int
    similarity: float
    text: str
    url: str | None = None


@dataclass
class _Cached:
    version: int
    index: ClaimIndex
    claims: dict[int, tuple[str, str | None]]  # id → (text, rebuttal url)


_lock = threading.Lock()
_cache: dict[Any, _Cached] = {}
# A service has one database; tests and benches open many. The indexes of databases no longer in use would
# otherwise stay for the process's life (10,000 claims are tens of MB, and every garbage collection walks them).
CACHED_DATABASES = 2


def _key(database: Any) -> Any:
    return db.file_path(database) or id(database)  # an in-memory database has no path


def index_for(database: Any) -> tuple[ClaimIndex, dict[int, tuple[str, str | None]]]:
    """The claim index of this database and its claims' (text, url), rebuilt when the library changed
    since it was built."""
    version = db.known_claims.version(database)
    key = _key(database)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached.version == version:
            return cached.index, cached.claims
    rows = db.known_claims.index_rows(database)
    built = _Cached(version, ClaimIndex((claim_id, text) for claim_id, text, _ in rows),
                    {claim_id: (text, url) for claim_id, text, url in rows})
    with _lock:
        _cache.pop(key, None)
        _cache[key] = built  # the newest last: the oldest goes first when the cache is full
        while len(_cache) > CACHED_DATABASES:
            del _cache[next(iter(_cache))]
    return built.index, built.claims


def match_texts(database: Any, texts: list[str], folded: list[Folded] | None = None) -> list[list[FoundClaim]]:
    """The claims each text repeats (best first); nothing to do while the library is empty. `folded`: each
    text's search_key and words, when the caller has them (ingest does: they save folding each text again)."""
    if not texts:
        return []
    index, claims = index_for(database)
    if not len(index):
        return [[] for _ in texts]
    return [[FoundClaim(m.claim_id, m.similarity, *claims.get(m.claim_id, ("", None))) for m in found]
            for found in index.match_many(texts, folded)]


def not_own(found: list[Any], url: str | None, canonical: str | None) -> list[Any]:
    """The matches left once the claims this item is itself the rebuttal of are taken out (a rebuttal
    column's article states the claim it rebuts)."""
    if not found or not (url or canonical):
        return found
    own = {u for u in (url, canonical) if u}
    return [m for m in found if not (getattr(m, "url", None) and ({m.url, canonical_url(m.url)} & own))]


def flag(reasons: list[str], top_reason: str, found: list[Any]) -> tuple[list[str], str]:
    """The item's flag reasons and queue reason once its claim matches are known: a match adds
    CLAIM_MATCH and its claim's text becomes the reason (a human-written sentence says more than a term)."""
    if not found:
        return reasons, top_reason
    text = " ".join(str(getattr(found[0], "text", "") or "").split())
    if len(text) > TOP_REASON_CHARS:
        text = text[:TOP_REASON_CHARS - 1].rstrip() + "…"
    return [*reasons, CLAIM_MATCH] if CLAIM_MATCH not in reasons else reasons, text or top_reason


def record(conn: Any, item_id: int, fetched_at: str, found: list[Any]) -> None:
    """Store the item's matches beside it (inside the batch's transaction)."""
    if found:
        db.known_claims.record_matches(conn, item_id, found, fetched_at)
