"""Top terms in confirmed items: document frequency of words and two-word phrases.

Vietnamese writes one syllable per token and most words are two syllables, so phrases of two
adjacent non-stop-word tokens are counted alongside single tokens; a single token is dropped when a
phrase containing it ranks as high, so "tin giả" does not also list "tin" and "giả".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from classifiers.text import nfc
from monitor.reports.redact import strip_personal

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
_SEGMENT = re.compile(r"[.,;:!?…()\[\]\"“”'\n\r\t|/–—-]+")

STOPWORDS = frozenset("""
và của là có các những được cho với trong này đã không một người khi để từ đến theo về ra vào thì mà cũng
như sẽ đang bị tại lại nhiều rằng nên nếu nhưng hay hoặc vì do trên dưới sau trước còn đó đây ấy nào gì ai
năm ngày tháng việc số làm đi nói biết phải rất hơn chỉ vẫn mới cùng nay qua lên xuống thể bởi ông bà anh chị
em tôi chúng họ mình ở đều thêm nhất
the a an of to in and is are was were for on that this with as by at from it be or not has have had will
its their they we you he she his her our but also into about after more than which who what when
le la les de des du un une et est en à pour que qui dans sur pas au aux par plus ce cette il elle ne se sont
""".split())


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
