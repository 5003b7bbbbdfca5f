"""Put tone marks back on Vietnamese typed without them, for the second stage's sentence encoder.

Why (issue 18 §4, tone marks stripped may cost at most 0.02 ROC-AUC): the first stage reads toneless text
through diacritic-folded n-grams, but the encoder reads "ngan hang sap dong cua" as a string of foreign
syllables (dev ROC-AUC of its logistic regression on toneless text: ReINTEL 0.90 → 0.69, ViCTSD 0.82 → 0.65).
Restored text reads close to the original (bench/RESULTS.md, "Second stage").

How: a syllable bigram model counted from the training text as written. Each toneless syllable's candidates are
the marked forms seen folding to it; Viterbi picks the sequence with the highest interpolated bigram
probability. The model is plain data (a syllable table and count arrays) that lives in the model file.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from classifiers.text import cased_like, fold_diacritics, nfc

_SYLLABLE = re.compile(r"[^\W\d_]+")
# Text is restored only when this share of its words are syllables the table knows (toneless ones it can restore,
# or marked ones as written): most English or French is left as written, though short phrases of words that are
# also toneless Vietnamese syllables are not ("No" → "Nó", "go to the bank" → "gỗ to the bank").
MIN_KNOWN = 0.8
MAX_FORMS = 6  # marked forms kept per toneless syllable ("ma": má, mà, mã, ma, mạ, mả)
MIN_BIGRAM = 2  # bigrams seen once are mostly noise and double the table


def fit_restorer(texts: Iterable[str]) -> dict:
    """The restorer's plain-data state from texts written with their marks.

    `syllables` (lower-case, marked as written, one string joined by newlines: one schema entry in the model
    file rather than 22,000) index `unigram` counts and `followers` (how many different
    syllables follow each: Witten-Bell smoothing's backoff weight); `bigram_keys` (previous * len(syllables) +
    next, sorted) and `bigram_counts` hold the pairs seen at least MIN_BIGRAM times."""
    uni: Counter[str] = Counter()
    bi: Counter[tuple[str, str]] = Counter()
    for text in texts:
        words = [w.lower() for w in _SYLLABLE.findall(nfc(text or ""))]  # NFD would split words at their marks
        uni.update(words)
        bi.update(zip(words, words[1:], strict=False))
    syllables = sorted(uni)
    index = {s: i for i, s in enumerate(syllables)}
    followers = Counter(a for a, _ in bi)
    kept = sorted((index[a], index[b], c) for (a, b), c in bi.items() if c >= MIN_BIGRAM)
    pairs = np.array([(a, b) for a, b, _ in kept], np.int32).reshape(-1, 2)
    return {"syllables": "\n".join(syllables), "unigram": np.array([uni[s] for s in syllables], np.int32),
            "followers": np.array([followers[s] for s in syllables], np.int32),
            "bigram_keys": pairs[:, 0].astype(np.int64) * len(syllables) + pairs[:, 1],
            "bigram_counts": np.array([c for _, _, c in kept], np.int32)}


class ToneRestorer:
    """Restores the marks of toneless words in a text; words that carry any mark are left as written."""

    def __init__(self, state: dict) -> None:
        self.syllables: list[str] = state["syllables"].split("\n") if state["syllables"] else []
        self.unigram = np.asarray(state["unigram"], np.float64)
        self.followers = np.asarray(state["followers"], np.float64)
        self._keys = np.asarray(state["bigram_keys"], np.int64)
        self._counts = np.asarray(state["bigram_counts"], np.float64)
        self._p_uni = (self.unigram + 1.0) / (float(self.unigram.sum()) + len(self.syllables))  # add-one unigram
        self._log_uni = np.log(self._p_uni)  # scores the first word, and the word after an unknown one
        forms: dict[str, list[int]] = {}
        for i, s in enumerate(self.syllables):
            forms.setdefault(fold_diacritics(s), []).append(i)
        self._forms = {k: sorted(v, key=lambda i: -self.unigram[i])[:MAX_FORMS] for k, v in forms.items()}

    def _bigram(self, a: int, b: np.ndarray) -> np.ndarray:
        keys = a * len(self.syllables) + b
        at = np.searchsorted(self._keys, keys).clip(max=max(len(self._keys) - 1, 0))
        return np.where(self._keys[at] == keys, self._counts[at], 0.0) if len(self._keys) else np.zeros(len(b))

    def _log_p(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        """(len(prev), len(nxt)) log P(next | previous): Witten-Bell, the bigram interpolated with the unigram
        in proportion to how many different syllables follow `previous` (a frequent word with many followers
        must not make every unseen pair after it look impossible)."""
        p_uni = self._p_uni[nxt]
        out = np.empty((len(prev), len(nxt)))
        for r, a in enumerate(prev):
            t = self.followers[a] + 1.0
            out[r] = np.log((self._bigram(int(a), nxt) + t * p_uni) / (self.unigram[a] + t))
        return out

    def restore(self, text: str) -> str:
        """`text` with each toneless word replaced by its most likely marked form, in its own case; unchanged
        unless at least MIN_KNOWN of its words are syllables of the table."""
        words = list(_SYLLABLE.finditer(text))
        if not words:
            return text
        choices = [self._forms.get(m.group().lower(), []) if m.group().isascii() else [] for m in words]
        # each word's table entries: its marked forms, or the word itself as the one entry (-1: unknown)
        entries = [c if c else [self._index(m.group().lower())] for m, c in zip(words, choices, strict=True)]
        known = sum(bool(c) or (not m.group().isascii() and e[0] >= 0)
                    for m, c, e in zip(words, choices, entries, strict=True))
        if known < MIN_KNOWN * len(words):
            return text
        best = self._viterbi(choices, entries)
        parts, last = [], 0
        for m, pick in zip(words, best, strict=True):
            parts.append(text[last:m.start()])
            parts.append(cased_like(pick, m.group()) if pick else m.group())
            last = m.end()
        parts.append(text[last:])
        return "".join(parts)

    def _viterbi(self, choices: list[list[int]], entries: list[list[int]]) -> list[str | None]:
        """The most likely marked form of each word (None: keep the word as written); `entries`: each word's table
        entries, as ``restore`` found them."""
        score = self._log_uni[entries[0]] if entries[0][0] >= 0 else np.zeros(1)
        back: list[np.ndarray] = []
        prev = entries[0]
        for cand in entries[1:]:
            if cand[0] < 0:  # an unknown word breaks the chain ...
                trans = np.zeros((len(prev), len(cand)))
            elif prev[0] < 0:  # ... and the word after it is scored alone, by its unigram, as at the start
                trans = np.broadcast_to(self._log_uni[cand], (len(prev), len(cand)))
            else:
                trans = self._log_p(np.array(prev), np.array(cand))
            total = score[:, None] + trans
            back.append(total.argmax(axis=0))
            score = total.max(axis=0)
            prev = cand
        path = [int(score.argmax())]
        for b in reversed(back):
            path.append(int(b[path[-1]]))
        path.reverse()
        return [self.syllables[entries[k][j]] if choices[k] else None for k, j in enumerate(path)]

    def _index(self, syllable: str) -> int:
        """A syllable's index in the table, -1 when training never saw it."""
        i = bisect.bisect_left(self.syllables, syllable)
        return i if i < len(self.syllables) and self.syllables[i] == syllable else -1

