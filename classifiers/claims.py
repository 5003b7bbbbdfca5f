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

Cost: an inverted index from feature to the claims that carry it (numpy arrays), one bincount per item:
~0.3-0.5 ms per 100-word item against 10,000 claims, most of it folding the text (bench/bench_claims.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

import numpy as np

from classifiers.text import Folded, model_text, search_key

THRESHOLD = 0.55  # the lowest on a 0.05 grid with precision ≥ 0.97 on the dev half of tests/fixtures/claims
MIN_SHARED = 4  # shared features below this are never a match, whatever the ratio
FLOOR_FEATURES = 8  # the smallest denominator, in typical features
COMMON_SHARE = 0.05  # a feature in more than this share of the claims (and in > 20 of them) is dropped
AMBIGUOUS_MARGIN = 0.05
MIN_FEATURES = 4  # a claim with fewer informative features is too short to match reliably: not indexed
# Nor one of fewer distinct informative syllables: "Bão số 3" has four features (bao, so, "bao so", "so 0") but
# says one thing, and every item about that storm would "contain" it at similarity 1.0 (hostile review).
MIN_SYLLABLES = 4

_TOKEN = re.compile(r"\w+")
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
    words = folded.words if folded is not None and readable == text else _TOKEN.findall(search_key(readable))
    return list(chain.from_iterable(map(_TOKEN_MAP.__getitem__, words)))


def features(text: str, folded: Folded | None = None) -> set[str]:
    """The set of features of a text: its informative syllables and each neighbouring pair ("a b": a
    string keeps its hash, which the index look-ups reuse; a tuple's is computed at each).
    `folded`: the text's search_key and words, if the caller has them (see _tokens)."""
    tokens = _tokens(text, folded)
    found = set(tokens)
    found.discard("0")
    found.update(map(" ".join, zip(tokens, tokens[1:], strict=False)))
    return found


class ClaimIndex:
    """The claims of the library, indexed for `match`. Immutable: build a new one when claims change."""

    def __init__(self, claims: Iterable[tuple[int, str]], threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        ids: list[int] = []
        per_claim: list[set[str]] = []
        for claim_id, text in claims:
            found = features(text)
            if len(found) >= MIN_FEATURES and sum(" " not in f for f in found) >= MIN_SYLLABLES:
                ids.append(int(claim_id))
                per_claim.append(found)
        self.ids = np.array(ids, dtype=np.int64)
        postings: dict[str, list[int]] = {}
        for row, found in enumerate(per_claim):
            for feature in found:
                postings.setdefault(feature, []).append(row)
        n = len(ids)
        common = max(20, COMMON_SHARE * n)
        self._rare_weight = math.log((n + 10) / 1.0)  # a feature no claim carries
        self._weights: dict[str, float] = {}
        self._postings: dict[str, np.ndarray] = {}
        for feature, rows in postings.items():
            if len(rows) > common:
                self._weights[feature] = 0.0  # too common to tell claims apart
                continue
            self._weights[feature] = math.log((n + 10) / (len(rows) + 1.0))
            self._postings[feature] = np.array(rows, dtype=np.int32)
        self._claim_weight = np.array([sum(self._weights[f] for f in found) for found in per_claim], dtype=np.float64)
        mean = (sum(self._weights[f] for p in per_claim for f in p) / max(1, sum(map(len, per_claim))))
        self._floor = FLOOR_FEATURES * (mean or self._rare_weight)

    def __len__(self) -> int:
        return len(self.ids)

    def _similarities(self, text: str, folded: Folded | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, similarity) of the claims sharing at least MIN_SHARED features with `text`.

        Runs on every new item, so the set work is done by set operations (C speed), and an item with
        fewer than MIN_SHARED features in the postings stops before numpy: a claim gets at most one
        count per feature, so none can reach MIN_SHARED (about half the items of a crawl)."""
        none = np.empty(0, dtype=np.int64), np.empty(0)
        if not len(self.ids):
            return none
        found = features(text, folded)
        known = self._weights.keys() & found  # in the library: weighed; the rest weighs _rare_weight
        hits = list(self._postings.keys() & known)  # not too common: in a posting list
        if len(hits) < MIN_SHARED:
            return none
        hit_weights = list(map(self._weights.__getitem__, hits))
        # The common features of `known` weigh 0.0: the hits and the unknown features make the weight.
        item_weight = sum(hit_weights) + self._rare_weight * (len(found) - len(known))
        postings = list(map(self._postings.__getitem__, hits))
        rows = np.concatenate(postings)
        candidates = np.flatnonzero(np.bincount(rows) >= MIN_SHARED)
        if not len(candidates):
            return none
        shared = np.bincount(rows, weights=np.repeat(hit_weights, list(map(len, postings))))[candidates]
        denominator = np.minimum(self._claim_weight[candidates], max(item_weight, self._floor))
        return candidates, np.minimum(shared / np.maximum(denominator, 1e-9), 1.0)

    def _matches(self, rows: np.ndarray, similarity: np.ndarray) -> list[ClaimMatch]:
        """Best first; equal similarities (to 1e-9: sums taken in set order differ in their last bits
        from one process to the next) by claim id, so the order does not depend on the hash seed."""
        order = np.lexsort((self.ids[rows], -np.round(similarity, 9)))
        return [ClaimMatch(int(self.ids[rows[i]]), round(float(similarity[i]), 4)) for i in order]

    def scores(self, text: str, folded: Folded | None = None) -> list[ClaimMatch]:
        """Every claim sharing at least MIN_SHARED features with `text`, best first (no threshold).
        `folded`: the text's search_key and words, if the caller has them (saves folding it again)."""
        return self._matches(*self._similarities(text, folded))

    def match(self, text: str, folded: Folded | None = None) -> list[ClaimMatch]:
        """The claims `text` repeats: similarity ≥ the threshold, within AMBIGUOUS_MARGIN of the best.
        `folded`: the text's search_key and words, if the caller has them (saves folding it again)."""
        rows, similarity = self._similarities(text, folded)
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
