"""Does an item repeat a claim that was already debunked? Lexical matching on folded text (issue 11).

Why lexical: a rumour travels as copies that are reworded only a little — reordered, cut short, typed
without tone marks or in teencode, with another number, with a sentence added. Those rewrites keep most
of the claim's words, so word features on the folded text find them, cost microseconds and explain
themselves; no encoder to install or download.

How a text becomes features: `model_text` (invisible characters, look-alike letters, URLs and teencode
undone), then `search_key` (NFC, tone marks folded, lower case); words (\\w+ runs), every number turned
into "0" (so "5 người" and "7 người" are the same feature), one-letter tokens and function words
dropped; the features are the remaining syllables and each pair of neighbouring ones (a Vietnamese
word is often two syllables: "vắc xin", "ngân hàng").

How similar: each feature weighs its rarity in the library (IDF over the claims); features carried by
more than COMMON_SHARE of the claims say nothing and are dropped. The shared weight is divided by the
claim's weight, or by the item's when the item is the shorter one (a truncated copy), but never by less
than FLOOR_FEATURES typical features, so a three-word headline does not "contain" a long claim. An item
often is longer than the claim (an article that quotes it), so this is containment, not Jaccard.
A match needs a similarity ≥ THRESHOLD (tuned on the dev half of tests/fixtures/claims) and at least
MIN_SHARED shared features; of the claims above it, those within AMBIGUOUS_MARGIN of the best are all
returned (one rumour is often in the library twice, from two fact-checkers).

Cost: an inverted index from feature to the claims that carry it (one CSR array), and one bincount over
(item, claim) slots for a batch of items (`match_many`, what ingest calls per feed): ~0.23 ms per 100-word
item alone against 10,000 claims (bench/bench_claims.py), ~0.07 ms in a batch; most of it is the Python per
word that turns a text into features.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

import numpy as np

from classifiers.text import Folded, folded_words, model_text

THRESHOLD = 0.55  # the lowest on a 0.05 grid with precision ≥ 0.97 on the dev half of tests/fixtures/claims
MIN_SHARED = 4  # shared features below this are never a match, whatever the ratio
FLOOR_FEATURES = 8  # the smallest denominator, in typical features
COMMON_SHARE = 0.05  # a feature in more than this share of the claims (and in > 20 of them) is dropped
AMBIGUOUS_MARGIN = 0.05
MIN_FEATURES = 4  # a claim with fewer informative features is too short to match reliably: not indexed
# Nor one of fewer distinct informative syllables: "Bão số 3" has four features (bao, so, "bao so", "so 0") but
# says one thing, and every item about that storm would "contain" it at similarity 1.0 (hostile review).
MIN_SYLLABLES = 4
_COUNT_SLOTS = 1 << 18  # (text, claim) slots counted at once: 10,000 claims → 26 texts (2 MB per array)

# Folded Vietnamese function words, pronouns and fillers (and a few teencode leftovers that
# classifiers.text leaves alone as ambiguous: r, z, v, b, bn), plus the commonest English and French
# ones. They carry no claim: "không" and "đã" say nothing about which rumour it is.
STOPWORDS = frozenset("""
la va cua co khong duoc cac nhung mot nay do da dang se thi ma voi cho trong tren tu den ve nhu de khi roi
cung rat nhieu it hay hoac vi nen neu tai theo sau truoc nua con chi moi cai chiec nguoi ay kia day
nao gi sao vay a oi nhe nha ha ah u uh ne thoi lam qua bi boi ra vao len xuong lai van deu hon nhat
toi ta minh ban anh chi em ho chung no tao ong ba co chu bac mn moi dc ko k j r z v b bn ne nhe
what a of to in on for and or is are was were be been by with at as from that this it its not no
le la les un une des de du et ou est sont a au aux en pour par sur dans ce cette qui que pas ne se
""".split())


@dataclass(frozen=True)
class ClaimMatch:
    """A claim an item repeats, with how much of it (0-1)."""

    claim_id: int
    similarity: float


# Folded abbreviations of the names rumours are about, and spellings classifiers.text.TEENCODE leaves
# alone there because they are ambiguous in running text but not in a claim's key words ("nc" is
# "nước" far more often than anything else in these posts). Spelled out before features are taken.
ABBREVIATIONS: dict[str, str] = {
    "nhnn": "ngan hang nha nuoc", "byt": "bo y te", "vcb": "vietcombank", "bv": "benh vien",
    "bvdk": "benh vien da khoa", "cty": "cong ty", "nc": "nuoc", "tphcm": "tp hcm", "hn": "ha noi",
    "sxh": "sot xuat huyet", "bhxh": "bao hiem xa hoi", "ubnd": "uy ban nhan dan",
    "cccd": "can cuoc cong dan", "dbqh": "dai bieu quoc hoi", "qh": "quoc hoi", "tw": "trung uong",
}


class _TokenMap(dict):
    """Folded token → what it stands for among the features: () for a function word or a one-letter
    token, ("0",) for a number (5, 2024, 19h30, 5tr, 40k → one number feature: "covid 19" is "covid 0"),
    an abbreviation's words, or the token itself. Filled on first sight, so a text's tokens are mapped by
    dict look-ups at C speed instead of a Python branch per token (~80 tokens in a post, on every item)."""

    LIMIT = 100_000  # distinct tokens kept (~15 MB at most); past it, start again

    def __missing__(self, token: str) -> tuple[str, ...]:
        if token[0].isdigit():
            out: tuple[str, ...] = ("0",)
        elif token in ABBREVIATIONS:
            out = tuple(ABBREVIATIONS[token].split())
        elif len(token) > 1 and token not in STOPWORDS:
            out = (token,)
        else:
            out = ()
        if len(self) >= self.LIMIT:
            self.clear()
        self[token] = out
        return out


_TOKEN_MAP = _TokenMap()


def _tokens(text: str, folded: Folded | None = None) -> list[str]:
    """The informative folded tokens of `text`, in order, numbers as "0". `folded`: the text's folded
    words when the caller has them (ingest makes them for every item): read when model_text leaves the
    text as it is, as it does most texts (no teencode, link or look-alike letter)."""
    readable = model_text(text)
    words = folded.words if folded is not None and readable == text else folded_words(readable)
    return list(chain.from_iterable(map(_TOKEN_MAP.__getitem__, words)))


Feature = str | tuple[str, str]  # a syllable, or a pair of neighbouring ones


def features(text: str, folded: Folded | None = None) -> set[Feature]:
    """The set of features of a text: its informative syllables and each neighbouring pair, as a tuple
    (made and hashed in C: joining each pair into a string was a quarter of the matcher's time).
    `folded`: the text's search_key and words, if the caller has them (see _tokens)."""
    tokens = _tokens(text, folded)
    found: set[Feature] = set(tokens)
    found.discard("0")
    found.update(zip(tokens, tokens[1:], strict=False))
    return found


class ClaimIndex:
    """The claims of the library, indexed for `match`. Immutable: build a new one when claims change."""

    def __init__(self, claims: Iterable[tuple[int, str]], threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        ids: list[int] = []
        per_claim: list[set[Feature]] = []
        for claim_id, text in claims:
            found = features(text)
            if len(found) >= MIN_FEATURES and sum(isinstance(f, str) for f in found) >= MIN_SYLLABLES:
                ids.append(int(claim_id))
                per_claim.append(found)
        self.ids = np.array(ids, dtype=np.int64)
        postings: dict[Feature, list[int]] = {}
        for row, found in enumerate(per_claim):
            for feature in found:
                postings.setdefault(feature, []).append(row)
        n = len(ids)
        common = max(20, COMMON_SHARE * n)
        self._rare_weight = math.log((n + 10) / 1.0)  # a feature no claim carries
        weights: dict[Feature, float] = {}
        # The posting lists of the features not too common, end to end (CSR): feature id → its claims'
        # rows are _rows[_starts[id]:_starts[id + 1]]. One array, not one per feature: a batch's lists are
        # gathered by one fancy index, and they stay close together in memory, which the matcher reads
        # after the model has had the CPU caches.
        self._feature_ids: dict[Feature, int] = {}
        self._feature_weights: list[float] = []
        lists: list[list[int]] = []
        too_common = []
        for feature, rows in postings.items():
            if len(rows) > common:
                weights[feature] = 0.0  # too common to tell claims apart
                too_common.append(feature)
                continue
            weights[feature] = math.log((n + 10) / (len(rows) + 1.0))
            self._feature_ids[feature] = len(lists)
            self._feature_weights.append(weights[feature])
            lists.append(rows)
        self._common = frozenset(too_common)
        self._weight_array = np.array(self._feature_weights, dtype=np.float64)
        self._starts = np.cumsum([0, *map(len, lists)], dtype=np.int64)
        self._rows = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(self._starts[-1]))
        self._claim_weight = np.array([sum(weights[f] for f in found) for found in per_claim], dtype=np.float64)
        mean = (sum(weights[f] for p in per_claim for f in p) / max(1, sum(map(len, per_claim))))
        self._floor = FLOOR_FEATURES * (mean or self._rare_weight)

    def __len__(self) -> int:
        return len(self.ids)

    def _hits(self, text: str, folded: Folded | None) -> tuple[list[int], float]:
        """The ids of the features `text` shares with the posting lists, and the text's weight. The set
        work is done by set operations (C speed)."""
        found = features(text, folded)
        hits = self._feature_ids.keys() & found  # in the library and not too common: in a posting list
        if len(hits) < MIN_SHARED:  # a claim gets at most one count per feature: none can reach MIN_SHARED
            return [], 0.0
        ids = list(map(self._feature_ids.__getitem__, hits))
        # The library's too common features weigh 0.0, the ones it lacks _rare_weight each.
        unknown = len(found) - len(hits) - len(self._common.intersection(found))
        return ids, sum(map(self._feature_weights.__getitem__, ids)) + self._rare_weight * unknown

    def _similarities(self, texts: list[str], folded: list[Folded] | list[None]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text, (rows, similarity) of the claims sharing at least MIN_SHARED features with it.

        Runs on every new item, so a batch's texts are counted together: their posting lists are
        gathered end to end, tagged with the text's index, and (text, claim) pairs counted by one
        bincount, instead of a dozen numpy calls per text. About half the items of a crawl share fewer than
        MIN_SHARED features with the library and stop before numpy."""
        none = np.empty(0, dtype=np.int64), np.empty(0)
        out = [none] * len(texts)
        if not len(self.ids):
            return out
        hits = [self._hits(text, text_folded) for text, text_folded in zip(texts, folded, strict=True)]
        kept = [i for i, (ids, _) in enumerate(hits) if ids]
        # Texts counted together share one count array of len(texts) × len(claims) slots: at most _COUNT_SLOTS
        # (2 MB of counts), or one text's when the library alone is larger.
        per_count = max(1, _COUNT_SLOTS // len(self.ids))
        for at in range(0, len(kept), per_count):
            chunk = kept[at:at + per_count]
            for i, found in zip(chunk, self._count([hits[i] for i in chunk]), strict=True):
                out[i] = found
        return out

    def _count(self, hits: list[tuple[list[int], float]]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(rows, similarity) for each text's (feature ids, weight), all in one pass: one bincount over
        (text, claim) slots, as a text alone would count its claims (the same float sums, in list order)."""
        ids = np.fromiter(chain.from_iterable(found for found, _ in hits), dtype=np.int64)
        starts = self._starts[ids]
        lengths = self._starts[ids + 1] - starts
        ends = np.cumsum(lengths)
        rows = self._rows[np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(starts - (ends - lengths), lengths)]
        n = len(self.ids)
        text_of_id = np.repeat(np.arange(len(hits), dtype=np.int64), [len(found) for found, _ in hits])
        slots = np.repeat(text_of_id, lengths) * n + rows
        pairs = np.flatnonzero(np.bincount(slots, minlength=len(hits) * n) >= MIN_SHARED)
        shared = np.bincount(slots, weights=np.repeat(self._weight_array[ids], lengths),
                             minlength=len(hits) * n)[pairs]
        text, rows = np.divmod(pairs, n)
        denominator = np.minimum(self._claim_weight[rows],
                                 np.maximum(np.array([weight for _, weight in hits])[text], self._floor))
        similarity = np.minimum(shared / np.maximum(denominator, 1e-9), 1.0)
        bounds = np.searchsorted(text, np.arange(len(hits) + 1))
        return [(rows[a:b], similarity[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]

    def _matches(self, rows: np.ndarray, similarity: np.ndarray) -> list[ClaimMatch]:
        """Best first; equal similarities (to 1e-9: sums taken in set order differ in their last bits
        from one process to the next) by claim id, so the order does not depend on the hash seed."""
        order = np.lexsort((self.ids[rows], -np.round(similarity, 9)))
        return [ClaimMatch(int(self.ids[rows[i]]), round(float(similarity[i]), 4)) for i in order]

    def scores(self, text: str, folded: Folded | None = None) -> list[ClaimMatch]:
        """Every claim sharing at least MIN_SHARED features with `text`, best first (no threshold).
        `folded`: the text's search_key and words, if the caller has them (saves folding it again)."""
        return self._matches(*self._similarities([text], [folded])[0])

    def match(self, text: str, folded: Folded | None = None) -> list[ClaimMatch]:
        """The claims `text` repeats: similarity ≥ the threshold, within AMBIGUOUS_MARGIN of the best.
        `folded`: the text's search_key and words, if the caller has them (saves folding it again)."""
        return self.match_many([text], [folded])[0]

    def match_many(self, texts: list[str], folded: list[Folded] | None = None) -> list[list[ClaimMatch]]:
        """`match` for each of `texts`, counted together (what ingest does with a batch of new items)."""
        return [self._above(rows, similarity)
                for rows, similarity in self._similarities(texts, folded or [None] * len(texts))]

    def _above(self, rows: np.ndarray, similarity: np.ndarray) -> list[ClaimMatch]:
        above = similarity >= self.threshold
        if not above.any():
            return []
        rows, similarity = rows[above], similarity[above]
        keep = similarity >= similarity.max() - AMBIGUOUS_MARGIN
        return self._matches(rows[keep], similarity[keep])


# How an official rebuttal column titles its items: the claim, wrapped in words that say it is false.
# Stripped so the claim is what the library matches ("Thông tin X là sai sự thật" → "X"); a title that
# is all wrapping keeps its text.
_REBUTTAL_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]{1,30}\]\s*)?(?:(?:tin giả|tin sai|sai sự thật|fake news|false|faux)\s*[:\-–—]\s*)?"
    r"(?:bác bỏ|bác tin|phủ nhận|sự thật về|cảnh giác với|cảnh báo|không có chuyện|không phải|thực hư)?\s*"
    r"(?:(?:các |những )?(?:thông tin|tin đồn|tin|clip|video|hình ảnh|bài viết)\s+(?:cho rằng|về việc|về)?\s*)?",
    re.IGNORECASE)
_REBUTTAL_SUFFIX = re.compile(
    r"\s*(?:[:\-–—,]\s*|\s+(?:là|đều là)\s+)(?:thông tin |tin )?"
    r"(?:sai sự thật|không đúng sự thật|bịa đặt|tin giả|giả mạo|không chính xác|sai|xuyên tạc|"
    r"fake|false|faux)\W*$", re.IGNORECASE)


def claim_of_rebuttal_title(title: str) -> str:
    """The claim a rebuttal's title states, without the words that call it false (see above)."""
    text = " ".join((title or "").split())
    stripped = _REBUTTAL_SUFFIX.sub("", _REBUTTAL_PREFIX.sub("", text, count=1), count=1).strip(" :-–—,.\"'“”")
    return stripped[:1].upper() + stripped[1:] if len(stripped) >= 12 else text
