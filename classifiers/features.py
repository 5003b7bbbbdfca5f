"""Text features for Vietnamese-first sparse linear models.

Why this shape:
- Vietnamese words are 1-3 syllables separated by spaces, so syllable 1-3-grams approximate
  words without a segmenter (cheap and robust on social-media text).
- People often type without tone marks, so every n-gram is emitted twice: with diacritics
  (tone placement canonicalised by ``text.normalize_tones``) and diacritic-folded
  (``text.fold_diacritics``), letting "chia sẻ gấp" and "chia se gap" share weight.
- Character 2-5-grams inside each folded token catch spelling variants, teencode and
  English/French morphology.
- Features are hashed (no vocabulary to ship), tokens are processed through small LRU caches
  (a language has few distinct syllables), which is what keeps scoring > 5k items/s per core.

All normalisation goes through ``classifiers.text``; nothing here re-implements it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.utils import murmurhash3_32

from classifiers.text import fold_diacritics, nfc, normalize_tones

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)

DEFAULT_CONFIG: dict = {
    "n_features": 1 << 20,
    "word_ngrams": 3,
    "char_min": 2,
    "char_max": 5,
    "max_tokens": 400,
    "scheme": 2,  # 2: word n-grams hashed from combined unigram keys (see Featurizer)
}


@functools.lru_cache(maxsize=1 << 18)
def _fold(token: str) -> str:
    return fold_diacritics(token)


@functools.lru_cache(maxsize=1 << 18)
def _char_grams(token: str, lo: int, hi: int) -> tuple[str, ...]:
    s = f" {token} "
    out = []
    for n in range(lo, hi + 1):
        out.extend("c" + s[i : i + n] for i in range(len(s) - n + 1))
    return tuple(out)


_MASK = np.uint64((1 << 64) - 1)
_MUL = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constants (golden ratio / splitmix)
_SALT = {
    ("w", 2): np.uint64(0xBF58476D1CE4E5B9), ("w", 3): np.uint64(0x94D049BB133111EB),
    ("f", 2): np.uint64(0xD6E8FEB86659FD93), ("f", 3): np.uint64(0xA0761D6478BD642F),
}


@functools.lru_cache(maxsize=1 << 20)
def _bucket(feature: str, n_features: int) -> int:
    """Hash bucket of one feature string (murmurhash3, as sklearn's FeatureHasher)."""
    return abs(murmurhash3_32(feature, seed=0)) % n_features


@functools.lru_cache(maxsize=1 << 18)
def _key(feature: str) -> int:
    """64-bit key of a unigram, combined arithmetically into n-gram buckets (no strings built)."""
    return (murmurhash3_32(feature, seed=1, positive=True) << 32) | murmurhash3_32(feature, seed=2, positive=True)


@functools.lru_cache(maxsize=1 << 18)
def _token_info(token: str, n_features: int, lo: int, hi: int) -> tuple[np.ndarray, int, int]:
    """Per-token buckets (toned 'w' unigram, folded 'f' unigram, folded char grams) as an int64
    array, and the 64-bit keys of the toned and folded token."""
    folded = _fold(token)
    out = [_bucket("w" + token, n_features), _bucket("f" + folded, n_features)]
    if hi >= lo > 0:
        out.extend(_bucket(g, n_features) for g in _char_grams(folded, lo, hi))
    arr = np.asarray(out, dtype=np.int64)
    arr.setflags(write=False)
    return arr, _key("w" + token), _key("f" + folded)


def _ngram_buckets(keys: np.ndarray, order: int, prefix: str, n_features: int) -> np.ndarray:
    """Buckets of all n-grams of one order from unigram keys, vectorised (uint64 wrap-around)."""
    m = len(keys) - order + 1
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        h = keys[:m].copy()
        for j in range(1, order):
            h = h * _MUL + keys[j : j + m]
        h ^= _SALT[(prefix, order)]
        h ^= h >> np.uint64(31)
        h *= _MUL
        h ^= h >> np.uint64(29)
    return (h % np.uint64(n_features)).astype(np.int64)


@functools.lru_cache(maxsize=1 << 18)
def _canon(token: str) -> str:
    return normalize_tones(token).lower()


def tokens(text: str, max_tokens: int = 400) -> list[str]:
    """Lower-cased, tone-canonical tokens of `text` (URLs collapsed to one 'url' token).

    Equivalent to ``TOKEN.findall(normalize_tones(text).lower())`` but canonicalises each
    distinct token once (cached). Long documents are truncated to `max_tokens`: the head of
    an article carries the signal, and this bounds scoring cost for very long inputs.
    """
    text = URL.sub(" url ", nfc(text or ""))
    return [_canon(t) for t in TOKEN.findall(text)[:max_tokens]]


class Featurizer:
    """Hashes texts into a sparse matrix with log-TF, optional IDF and L2 norm.

    Unigrams and char grams are hashed from strings; word 2-3-grams are hashed by combining
    the unigrams' 64-bit keys with numpy (no n-gram strings are built: that was 80% of the
    scoring time). Stateless apart from the optional IDF vector, so it is rebuilt from a plain
    config dict at load time (nothing executable is stored in the model file).
    """

    def __init__(self, config: dict | None = None, idf: np.ndarray | None = None) -> None:
        self.config = dict(DEFAULT_CONFIG if config is None else config)
        self.idf = idf

    @property
    def n_features(self) -> int:
        return int(self.config["n_features"])

    def _doc(self, text: str, with_terms: bool) -> tuple[np.ndarray, tuple | None]:
        """Buckets of one text, plus optionally (tokens, [(order, w_buckets, f_buckets)]) for
        explanations. Hot path: per-token work is cached, n-grams are vectorised."""
        cfg = self.config
        n = cfg["n_features"]
        lo, hi = cfg["char_min"], cfg["char_max"]
        toks = tokens(text, cfg["max_tokens"])
        infos = [_token_info(t, n, lo, hi) for t in toks]
        parts: list[np.ndarray] = [info[0] for info in infos]
        grams = []
        if infos:
            wk = np.array([info[1] for info in infos], dtype=np.uint64)
            fk = np.array([info[2] for info in infos], dtype=np.uint64)
            if with_terms:
                grams.append((1, np.array([i[0][0] for i in infos], np.int64), np.array([i[0][1] for i in infos], np.int64)))
            for order in range(2, cfg["word_ngrams"] + 1):
                wb = _ngram_buckets(wk, order, "w", n)
                fb = _ngram_buckets(fk, order, "f", n)
                parts.extend((wb, fb))
                if with_terms:
                    grams.append((order, wb, fb))
        terms = (toks, grams) if with_terms else None
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), terms

    def counts(self, texts: Iterable[str], with_terms: bool = False):
        """Raw hashed counts (CSR, float32); with_terms=True also returns per-text term data."""
        rows: list[np.ndarray] = []
        all_terms = []
        for text in texts:
            idx, terms = self._doc(text, with_terms)
            rows.append(idx)
            all_terms.append(terms)
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        cols = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        row_ids = np.repeat(np.arange(len(rows)), lengths)
        X = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.float32), (row_ids, cols)), shape=(len(rows), self.n_features)
        )
        X.sum_duplicates()
        return (X, all_terms) if with_terms else X

    def weight(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """log-TF, IDF, L2 normalise (on a copy of `X`)."""
        X = X.astype(np.float32, copy=True)
        np.log1p(X.data, out=X.data)
        if self.idf is not None:
            X.data *= self.idf[X.indices]
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        norms = np.sqrt(sq, dtype=np.float32)
        norms[norms == 0] = 1.0
        X.data /= np.repeat(norms, np.diff(X.indptr))
        return X

    def transform(self, texts: Iterable[str], with_terms: bool = False):
        """Weighted features; with_terms=True also returns the explanation term data."""
        if with_terms:
            X, terms = self.counts(texts, with_terms=True)
            return self.weight(X), terms
        return self.weight(self.counts(texts))

    def fit_idf(self, X_counts: sp.csr_matrix, min_df: int = 2) -> np.ndarray:
        """Smooth IDF; features seen in fewer than `min_df` docs get weight 0 (drops noise, shrinks the model)."""
        df = np.bincount(X_counts.indices, minlength=self.n_features).astype(np.float64)
        n = X_counts.shape[0]
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        idf[df < min_df] = 0.0
        self.idf = idf.astype(np.float32)
        return self.idf
