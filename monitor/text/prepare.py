"""An item's text as the write path stores and compares it, made without the database or the model.

`normalise` (clean NFC text, canonical URL, UTC time, language), the search keys and folded words, and
the shingles MinHash reads: pure functions of the raw item, kept apart from the write path
(monitor.pipeline, which re-exports them) so the crawl's parse helper processes (monitor.crawl.offload)
import this and the text code only — no SQLite layer, no numpy, no model.
"""

from __future__ import annotations

import re
import zlib
from array import array
from dataclasses import dataclass

from classifiers.text import Folded, content_hash, nfc, search_key
from db import to_iso
from monitor.domain import DEFAULT_TIMEZONE, RawItem
from monitor.text.html import clean_text, html_to_text
from monitor.text.language import detect_language
from monitor.text.times import to_utc
from monitor.text.urls import canonical_url

SHINGLE_WORDS = 3
MIN_WORDS = 8  # shorter texts ("Breaking!", a bare link) would cluster by accident
_WORD = re.compile(r"\w+", re.UNICODE)


def words_of_keys(*keys: str) -> list[str]:
    """The words (\\w+ runs) of texts already passed through `search_key`, read as one text in order.

    The words of search_key(title + newline + text) are those of search_key(title) followed by those of
    search_key(text), so the pipeline folds each field once and shares the keys with the search index,
    and the words with the claim matcher (classifiers.claims reads the same \\w+ runs).
    """
    return [word for key in keys for word in _WORD.findall(key)]


def shingles_of_words(words: list[str]) -> set[bytes]:
    """Word 3-grams of a folded text's words (`words_of_keys`); none when it is too short to cluster safely."""
    if len(words) < MIN_WORDS:
        return set()
    return {" ".join(words[i:i + SHINGLE_WORDS]).encode("utf-8") for i in range(len(words) - SHINGLE_WORDS + 1)}


def shingle_hashes(grams: set[bytes]) -> bytes:
    """The crc32 of each shingle, as native uint32s: what the MinHash signature is taken over."""
    return array("I", [zlib.crc32(gram) for gram in grams]).tobytes()


@dataclass
class NormalItem:
    guid: str
    title: str
    text: str
    url: str | None
    canonical_url: str | None
    author: str | None
    published_at: str | None
    language: str | None
    content_hash: str
    language_hint: str | None = None


def normalise(raw: RawItem, *, zone: str = DEFAULT_TIMEZONE, language_hint: str | None = None,
              with_language: bool = True) -> NormalItem:
    """A raw item as stored: clean NFC text, canonical URL, UTC time, detected language.

    `with_language=False` leaves the language for `detect_item_language`, so the crawl pays for
    language identification only on items it is going to store, not on the ones it has already seen.
    """
    title = html_to_text(raw.title)  # already clean_text'ed
    text = html_to_text(raw.text)
    # NUL: SQLite stores it, PostgreSQL refuses it in text (and one such item would fail the whole batch)
    url = raw.url.replace("\x00", "").strip() if raw.url else None
    canon = canonical_url(url)
    digest = content_hash(title, text)
    published = to_utc(raw.published, zone)
    guid = nfc(raw.guid).replace("\x00", "").strip() if raw.guid else (canon or digest)
    hint = raw.language or language_hint
    language = detect_language(f"{title}\n{text}", hint=hint) if with_language else None
    return NormalItem(guid=guid, title=title, text=text, url=url, canonical_url=canon,
                      author=clean_text(raw.author) or None, published_at=to_iso(published) if published else None,
                      language=language, content_hash=digest, language_hint=hint)


def detect_item_language(item: NormalItem) -> None:
    """Fill in the language of an item normalised with `with_language=False`."""
    item.language = detect_language(f"{item.title}\n{item.text}", hint=item.language_hint)


def score_text(item: NormalItem) -> str:
    """What the classifier reads for an item."""
    return f"{item.title}\n{item.text}".strip()


def score_folded(title_key: str, text_key: str) -> Folded:
    """search_key(score_text(item)) and its words, from the item's title and text keys without folding
    again: folding works character by character, and the newline between them is one more blank."""
    return Folded(f"{title_key} {text_key}" if title_key and text_key else title_key or text_key,
                  words_of_keys(title_key, text_key))


def folded_item(item: NormalItem) -> tuple[tuple[str, str], Folded]:
    """An item's (title, text) search keys and its folded score text: each field folded once, the keys for
    the search index, the words for the shingles, the claim matcher and the place tagger."""
    keys = (search_key(item.title), search_key(item.text))
    return keys, score_folded(*keys)


@dataclass
class PreparedText:
    """What an item's text gives without the database or the model (`prepare_texts`): the item as stored
    (language detected), its search keys, its folded score text and the crc32 of each of its shingles (the
    MinHash input: monitor.pipeline.dedup.signature_of_hashes; empty when it is too short to cluster)."""

    item: NormalItem
    keys: tuple[str, str]
    folded: Folded
    shingle_hashes: bytes


@dataclass
class PreparedTexts:
    """A batch's `PreparedText`s, copies inside the batch left out (`duplicates` of them)."""

    texts: list[PreparedText]
    duplicates: int


def normalise_batch(raws: list[RawItem], source: dict) -> tuple[list[NormalItem], int]:
    """The batch's items normalised (language left for later) without the empty ones and the copies of an
    earlier one in the batch (same guid, content or canonical URL); and how many copies were dropped."""
    zone = source.get("timezone") or DEFAULT_TIMEZONE
    items: list[NormalItem] = []
    batch_keys: set[str] = set()
    duplicates = 0
    for raw in raws:
        item = normalise(raw, zone=zone, language_hint=source.get("language"), with_language=False)
        if not (item.title or item.text):
            continue
        keys = {f"g:{item.guid}", f"h:{item.content_hash}"} | ({f"u:{item.canonical_url}"} if item.canonical_url else set())
        if keys & batch_keys:
            duplicates += 1
            continue
        batch_keys |= keys
        items.append(item)
    return items, duplicates


def prepare_texts(raws: list[RawItem], source: dict) -> PreparedTexts:
    """Everything `ingest` works out from the items' text alone, for every item of the batch: pure (no
    database, no model, not even numpy), so a crawl does it in a helper process (monitor.crawl.offload) on
    another core.
    `source` needs only its timezone and language. Passed to `ingest` / `ingest_many`, it stores the same
    rows as the raw items alone would; without it, the write path does this work for the new items only."""
    items, duplicates = normalise_batch(raws, source)
    texts = []
    for item in items:
        detect_item_language(item)
        keys, folded = folded_item(item)
        texts.append(PreparedText(item, keys, folded, shingle_hashes(shingles_of_words(folded.words))))
    return PreparedTexts(texts, duplicates)
