"""What ingest learns about an item beside its scores (issue 11): the places it mentions, whether one of
them is in the committee's jurisdiction, the debunked claims it repeats, and the watchlist rules it hit.

Two halves, so the write transaction stays short: `annotate` runs outside it (tagging and matching are
the slow part, like scoring), and `record` writes an item's rows right after the item itself, inside the
batch's transaction, so an item and its signals are stored together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from classifiers.text import Folded
from db.spikes import record_rule_hits
from monitor.config import Settings
from monitor.pipeline import claim_signals
from monitor.pipeline import places as item_places


@dataclass
class ItemSignals:
    """One item's signals, between `annotate` and `record`."""

    places: list[Any] = field(default_factory=list)
    about_jurisdiction: bool = False
    claim_matches: list[Any] = field(default_factory=list)


def jurisdiction_of(settings: Settings | None) -> frozenset[str]:
    """The unit codes of settings.jurisdiction (empty: no jurisdiction configured, nothing is "about us")."""
    return frozenset(getattr(settings, "jurisdiction", None) or ())


def annotate(database: Any, texts: list[str], jurisdiction: frozenset[str],
             folded: list[Folded] | None = None) -> list[ItemSignals]:
    """The signals of each text (an item's title and text), outside the write transaction. `folded`: each
    text's search_key and words, which ingest has already made for the search index and the shingles (the
    claim matcher reads them instead of folding the text again, the tagger to skip texts naming no place)."""
    claims = claim_signals.match_texts(database, texts, folded)
    signals = [ItemSignals(claim_matches=found) for found in claims]
    for found, (places, about) in zip(signals, item_places.tag_texts(texts, jurisdiction, folded), strict=True):
        found.places, found.about_jurisdiction = places, about
    return signals


def record(conn: Any, item_id: int, fetched_at: str, signals: ItemSignals, score: Any) -> None:
    """Store an item's signals (inside the transaction that stored the item)."""
    item_places.record(conn, item_id, signals.places)
    claim_signals.record(conn, item_id, fetched_at, signals.claim_matches)
    _record_rule_hits(conn, item_id, fetched_at, score)


def rule_names(score: Any) -> list[str]:
    """The human names of the watchlist rules a score hit (its pattern when it has none), each once."""
    names = (str(hit.get("name") or hit.get("rule") or "").strip()
             for hit in getattr(score, "rule_hits", None) or () if isinstance(hit, dict))
    return list(dict.fromkeys(name for name in names if name))


def _record_rule_hits(conn: Any, item_id: int, fetched_at: str, score: Any) -> None:
    """item_rule_hits, which the rule_rate spike counts (monitor/spikes.py)."""
    names = rule_names(score)
    if names:
        record_rule_hits(conn, item_id, fetched_at, names)
