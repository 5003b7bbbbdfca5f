"""The one write path: every item, from any source, enters through `ingest`.

normalise → dedup → score → flag → store, one transaction per batch, so a crash
mid-batch leaves either the whole batch or none of it, and a re-crawl fills the gap.

The write path itself is this module; the steps it hands off live beside it: `dedup` (signatures and
clusters) and `flag_budget` (the daily flag budget). `intake` feeds it what no crawl brings (an
imported file, a reported link) and imports this module, so this module never imports `intake`.
Scoring (monitor.scoring) stays outside: `monitor classify` loads it without the write path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlite_utils

from classifiers.text import Folded
from db import transaction, utcnow
from db.items import find_existing, insert_item
from monitor.domain import RawItem, Status
from monitor.pipeline import claim_signals, dedup, signals
from monitor.pipeline.flag_budget import FlagBudget, apply_budget
from monitor.text.prepare import (  # noqa: F401 - the item's text work, re-exported: the write path's words
    NormalItem,
    PreparedText,
    PreparedTexts,
    detect_item_language,
    folded_item,
    normalise,
    normalise_batch,
    prepare_texts,
    score_folded,
    score_text,
)

log = logging.getLogger("monitor.pipeline")


class Scorer(Protocol):
    """What ingest scores with. `kinds` gives each text's kind (post/article/comment), which picks its
    calibration; scorers without the parameter are still accepted (see monitor.scoring.score_texts)."""

    def score(self, texts: list[str], kinds: list[str] | None = None) -> list[Any]: ...


@dataclass
class IngestResult:
    new: int = 0
    seen: int = 0
    flagged: int = 0
    new_ids: list[int] = field(default_factory=list)


@dataclass
class _Prepared:
    """One source's batch between the phases: normalised, checked against the database, then scored."""

    source: dict
    fresh: list[NormalItem]
    reposts: list[int]  # exact copies already stored (maybe from another source): they widen a cluster
    seen: int
    scores: list[Any] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)  # each fresh item's (title, text) search keys
    folded: list[Folded] = field(default_factory=list)  # each fresh item's folded score_text (score_folded)
    signals: list[signals.ItemSignals] = field(default_factory=list)
    # Each fresh item's MinHash signature when `prepare_texts` hashed its shingles beforehand (None: _store does).
    signatures: list[dedup.Signature | None] | None = None


def _prepare(database: sqlite_utils.Database, source: dict, raws: list[RawItem],
             prepared: PreparedTexts | None = None) -> _Prepared:
    """Normalise, drop duplicates inside the batch, and split into fresh items and already-stored reposts.
    With `prepared` (prepare_texts of these raws), its work is taken instead of done again."""
    if prepared is None:
        items, duplicates = normalise_batch(raws, source)
        texts = None
    else:
        texts, duplicates = prepared.texts, prepared.duplicates
        items = [text.item for text in texts]
    fresh: list[NormalItem] = []
    fresh_texts: list[PreparedText] = []
    reposts: list[int] = []
    for at, item in enumerate(items):
        existing = find_existing(database.conn, source["id"], item.guid, item.canonical_url, item.content_hash)
        if existing is not None:
            reposts.append(existing)
        elif texts is None:
            detect_item_language(item)
            fresh.append(item)
        else:
            fresh.append(item)
            fresh_texts.append(texts[at])
    batch = _Prepared(source=source, fresh=fresh, reposts=reposts, seen=duplicates + len(items) - len(fresh))
    if texts is not None:
        batch.keys = [text.keys for text in fresh_texts]
        batch.folded = [text.folded for text in fresh_texts]
        batch.signatures = [dedup.signature_of_hashes(text.shingle_hashes) for text in fresh_texts]
    return batch


# Where a news-site feed (`rss`) is really a social platform's: the platform's own feeds, and the
# RSS-Bridge (?bridge=FacebookBridge) or RSSHub (/tiktok/user/...) feeds that stand in for platforms
# without one (README: "Facebook, TikTok, Zalo and other sites without feeds").
SOCIAL_HOSTS = ("reddit.com", "youtube.com", "youtu.be", "facebook.com", "fb.com", "tiktok.com", "instagram.com",
                "threads.net", "twitter.com", "x.com", "zalo.me", "t.me")
SOCIAL_PLATFORMS = frozenset({"reddit", "youtube", "facebook", "tiktok", "instagram", "threads", "twitter",
                              "telegram", "zalo", "mastodon", "bluesky", "bsky"})


def item_kind(source: dict) -> str:
    """The kind of item (post, article or comment) a source publishes, which picks the model's calibration.

    An explicit `content_kind` wins. News sites (`rss`, `html`) publish articles, unless the source is
    social: tagged `social`, or a feed of a social platform or of a bridge standing in for one.
    Mastodon, Bluesky and Telegram, hand imports and web reports carry posts."""
    import json

    from classifiers.model import DEFAULT_KIND

    if source.get("content_kind"):
        return str(source["content_kind"])
    if source.get("kind") not in ("rss", "html"):
        return DEFAULT_KIND
    tags = source.get("tags") or []
    if isinstance(tags, str):  # a sources row holds its tags as JSON text
        try:
            tags = json.loads(tags)
        except ValueError:
            tags = []
    if "social" in {str(tag).strip().lower() for tag in tags} or _social_feed(str(source.get("url") or "")):
        return DEFAULT_KIND
    return "article"


def _social_feed(url: str) -> bool:
    """Whether a feed URL belongs to a social platform or to an RSS-Bridge/RSSHub route for one."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url.strip().lower())
    host = parts.hostname or ""
    if any(host == h or host.endswith("." + h) for h in SOCIAL_HOSTS):
        return True
    bridges = [value for key, value in parse_qsl(parts.query) if key == "bridge"]
    if any(b.removesuffix("bridge") in SOCIAL_PLATFORMS for b in bridges):
        return True
    return parts.path.strip("/").split("/")[0] in SOCIAL_PLATFORMS


def _score(prepared: list[_Prepared], scorer: Scorer | None) -> None:
    """Score every fresh item of all the batches in one call (the model's per-call cost is paid once),
    each with its source's item kind."""
    texts = [score_text(item) for batch in prepared for item in batch.fresh]
    if scorer and texts:
        from monitor.scoring import score_texts

        kinds: list[str] = []
        for batch in prepared:
            kinds += [item_kind(batch.source)] * len(batch.fresh)
        scores = score_texts(scorer, texts, kinds)
    else:
        scores = [None] * len(texts)
    if len(scores) != len(texts):
        raise ValueError(f"scorer returned {len(scores)} scores for {len(texts)} texts")
    at = 0
    for batch in prepared:
        batch.scores = list(scores[at:at + len(batch.fresh)])
        at += len(batch.fresh)


def _annotate(database: sqlite_utils.Database, prepared: list[_Prepared], jurisdiction: frozenset[str]) -> None:
    """Each fresh item's search keys and signals (places, claims), outside the write transaction like
    scoring. Title and text are folded and split into words once, here: the search index reads the keys,
    the near-duplicate shingles the words, the claim matcher and the place tagger both."""
    for batch in prepared:
        if batch.signatures is None:  # else prepare_texts made them
            made = [folded_item(item) for item in batch.fresh]
            batch.keys, batch.folded = [keys for keys, _ in made], [folded for _, folded in made]
        batch.signals = signals.annotate(database, [score_text(item) for item in batch.fresh], jurisdiction,
                                         batch.folded)


def _store(conn, batch: _Prepared, fetched_at: str) -> IngestResult:
    """Write one prepared batch (call inside a transaction); returns its counts."""
    source = batch.source
    result = IngestResult(seen=batch.seen)
    for existing in batch.reposts:
        dedup.record_repost(conn, existing, source["id"], fetched_at)
    signatures = batch.signatures if batch.signatures is not None else [None] * len(batch.fresh)
    for item, score, (title_key, text_key), folded, found, made in zip(
            batch.fresh, batch.scores, batch.keys, batch.folded, batch.signals, signatures, strict=True):
        # Re-check inside the transaction: another writer may have stored it meanwhile.
        existing = find_existing(conn, source["id"], item.guid, item.canonical_url, item.content_hash)
        if existing is not None:
            dedup.record_repost(conn, existing, source["id"], fetched_at)
            result.seen += 1
            continue
        sig = made if batch.signatures is not None else dedup.signature_of_shingles(dedup.shingles_of_words(folded.words))
        reasons = list(score.flagged) if score else []
        found.claim_matches = claim_signals.not_own(found.claim_matches, item.url, item.canonical_url)
        reasons, top_reason = claim_signals.flag(reasons, _top_reason(score), found.claim_matches)
        flagged = bool(reasons)
        cluster_id = dedup.assign_cluster(conn, sig, fetched_at)
        item_id = insert_item(conn, {
            "source_id": source["id"], "guid": item.guid, "url": item.url, "canonical_url": item.canonical_url,
            "title": item.title, "text": item.text, "author": item.author, "published_at": item.published_at,
            "fetched_at": fetched_at, "language": item.language, "content_hash": item.content_hash,
            "cluster_id": cluster_id,
            "score_misinformation": score.misinformation if score else None,
            "score_harm": score.harm if score else None,
            "explanation": _explanation(score),
            "top_reason": top_reason,
            "model_version": score.model_version if score else None,
            "status": Status.FLAGGED if flagged else Status.NEW,
            "flag_reasons": reasons,
            "about_jurisdiction": int(found.about_jurisdiction),
        }, search_keys=(title_key, text_key))
        dedup.record_item(conn, item_id, cluster_id, source["id"], sig, fetched_at)
        signals.record(conn, item_id, fetched_at, found, score)
        result.new += 1
        result.flagged += int(flagged)
        result.new_ids.append(item_id)
        log.info("stored item", extra={"source": source.get("name"), "item_id": item_id, "flagged": flagged})
    return result


def _explanation(score: Any) -> dict:
    """The stored explanation: terms with contributions, rule hits with names, and the kind and thresholds
    the item was flagged against, so the item page shows score beside threshold as they were at scoring.
    A scorer's result is duck-typed (see Scorer); one without kinds stores neither key."""
    if not score:
        return {}
    stored = {"terms": score.explanations, "rules": score.rule_hits}
    for key in ("kind", "thresholds"):
        if getattr(score, key, None):
            stored[key] = getattr(score, key)
    return stored


def _top_reason(score: Any) -> str:
    """The queue row's one reason (items.top_reason), stored so the queue never parses explanations."""
    top_reason = getattr(score, "top_reason", None)
    return str(top_reason()) if callable(top_reason) else ""


def ingest(database: sqlite_utils.Database, source: dict, raws: list[RawItem], scorer: Scorer | None,
           flag_budget: FlagBudget | None = None, *, jurisdiction: frozenset[str] = frozenset(),
           prepared: PreparedTexts | None = None) -> IngestResult:
    """Store the items not seen before, scored and flagged; return counts.

    `source` is a sources row (id, name, and optionally language and timezone). With a `flag_budget`
    (settings.flag_budget) the daily budget replaces the model's score thresholds (monitor.pipeline.flag_budget).
    `jurisdiction` holds the unit codes of settings.jurisdiction (signals.jurisdiction_of). `prepared`:
    `prepare_texts(raws, source)` when it was done beforehand (in a helper process).
    """
    batch = _prepare(database, source, raws, prepared)
    _score([batch], scorer)  # outside the write transaction: the model is the slow part
    _annotate(database, [batch], jurisdiction)
    with transaction(database) as conn:
        fetched_at = utcnow()
        apply_budget(conn, batch.scores, flag_budget, fetched_at)
        return _store(conn, batch, fetched_at)


def _each_alone_on_failure(prepared: list[tuple[int, _Prepared]], step: Any,
                           results: list) -> list[tuple[int, _Prepared]]:
    """Run `step` on all the batches at once (its per-call cost paid once); when it fails, on each batch
    alone, to find the sources whose texts it refuses: they get their exception in `results` and are left
    out, the others go on. Returns the batches that went through."""
    try:
        step([batch for _, batch in prepared])
        return prepared
    except Exception:  # noqa: BLE001 - find which source's texts the step refuses
        passed = []
        for index, batch in prepared:
            try:
                step([batch])
                passed.append((index, batch))
            except Exception as exc:  # noqa: BLE001 - reported for this source only
                results[index] = exc
        return passed


def ingest_many(database: sqlite_utils.Database,
                batches: list[tuple[dict, list[RawItem]] | tuple[dict, list[RawItem], PreparedTexts | None]],
                scorer: Scorer | None, flag_budget: FlagBudget | None = None, *,
                jurisdiction: frozenset[str] = frozenset()) -> list[IngestResult | Exception]:
    """`ingest` for several sources at once: one scorer call and one transaction for all of them.

    What a crawl pass does with the feeds that arrived while the previous batch was being written:
    per item the work is the same, but the model's per-call cost and the commit are paid once per
    group instead of once per feed. Each source still gets its own result, or the exception that
    failed it — a batch that fails as a whole is retried source by source, so one bad feed fails
    alone and nothing of the others is lost or stored twice. A batch may carry a third element,
    its `prepare_texts` (as `ingest`'s `prepared`).
    """
    results: list[IngestResult | Exception | None] = [None] * len(batches)
    prepared: list[tuple[int, _Prepared]] = []
    for index, (source, raws, *made) in enumerate(batches):
        try:
            prepared.append((index, _prepare(database, source, raws, made[0] if made else None)))
        except Exception as exc:  # noqa: BLE001 - reported for this source only
            results[index] = exc
    prepared = _each_alone_on_failure(prepared, lambda group: _score(group, scorer), results)
    prepared = _each_alone_on_failure(prepared, lambda group: _annotate(database, group, jurisdiction), results)
    fetched_at = utcnow()
    try:
        with transaction(database) as conn:
            apply_budget(conn, [score for _, batch in prepared for score in batch.scores], flag_budget, fetched_at)
            stored = [(index, _store(conn, batch, fetched_at)) for index, batch in prepared]
        for index, result in stored:
            results[index] = result
    except Exception:  # noqa: BLE001 - rolled back: store each source in its own transaction
        for index, batch in prepared:
            try:
                with transaction(database) as conn:
                    apply_budget(conn, batch.scores, flag_budget, fetched_at)
                    results[index] = _store(conn, batch, fetched_at)
            except Exception as exc:  # noqa: BLE001
                results[index] = exc
    return results  # type: ignore[return-value]
