"""Top terms in confirmed items: document frequency of words and two-word phrases.

Vietnamese writes one syllable per token and most words are two syllables, so phrases of two
adjacent non-stop-word tokens are counted alongside single tokens; a single token is dropped when a
phrase containing it ranks as high, so "tin giả" does not also list "tin" and "giả".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from classifiers.explain import STOP_WORDS_AS_WRITTEN
from classifiers.text import nfc
from monitor.reports.redact import strip_personal

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
_SEGMENT = re.compile(r"[.,;:!?…()\[\]\"“”'\n\r\t|/–—-]+")

STOPWORDS = STOP_WORDS_AS_WRITTEN  # one list for the report's top terms and the model's reasons


def tokens(text: str) -> list[str]:
    """Lower-case word tokens of NFC text."""
    return _TOKEN.findall(nfc(text).lower())


def document_terms(text: str) -> set[str]:
    """Single words and adjacent-word phrases, phrases never crossing punctuation or a line break."""
    terms: set[str] = set()
    for segment in _SEGMENT.split(strip_personal(text)):
        words = tokens(segment)
        terms.update(word for word in words if word not in STOPWORDS and len(word) > 1)
        for first, second in zip(words, words[1:], strict=False):
            if first not in STOPWORDS and second not in STOPWORDS and len(first) > 1 and len(second) > 1:
                terms.add(f"{first} {second}")
    return terms


def top_terms(texts: Iterable[str], limit: int = 20) -> list[tuple[str, int]]:
    """The `limit` terms found in the most documents (ties: phrases first, then alphabetical)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(document_terms(text))
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], -pair[0].count(" "), pair[0]))
    kept: list[tuple[str, int]] = []
    phrase_words: dict[str, int] = {}
    for term, count in ranked:
        if " " not in term and phrase_words.get(term, 0) >= count:
            continue  # covered by a phrase seen in at least as many items
        if count < 1:
            break
        kept.append((term, count))
        if " " in term:
            for word in term.split():
                phrase_words[word] = max(phrase_words.get(word, 0), count)
        if len(kept) == limit:
            break
    return kept
