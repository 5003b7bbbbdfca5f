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
from sklearn.feature_extraction import FeatureHasher

from classifiers.text import fold_diacritics, normalize_tones

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)

DEFAULT_CONFIG: dict = {
    "n_features": 1 << 20,
    "word_ngrams": 3,
    "char_min": 2,
    "char_max": 5,
    "max_tokens": 400,
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


def tokens(text: str, max_tokens: int = 400) -> list[str]:
    """Lower-cased, tone-canonical tokens of `text` (URLs collapsed to one 'url' token).

    Long documents are truncated to `max_tokens`: the head of an article carries the
    signal, and this bounds scoring cost for very long inputs.
    """
    text = URL.sub(" url ", text or "")
    return TOKEN.findall(normalize_tones(text).lower())[:max_tokens]


def _ngrams(toks: list[str], n_max: int, prefix: str) -> list[str]:
    out = [prefix + t for t in toks]
    if n_max >= 2:
        out.extend(f"{prefix}{a} {b}" for a, b in zip(toks, toks[1:], strict=False))
    if n_max >= 3:
        out.extend(f"{prefix}{a} {b} {c}" for a, b, c in zip(toks, toks[1:], toks[2:], strict=False))
    return out


def analyze(text: str, config: dict | None = None) -> list[str]:
    """Feature strings for one text: toned n-grams ('w'), folded n-grams ('f'), char n-grams ('c')."""
    cfg = config or DEFAULT_CONFIG
    toks = tokens(text, cfg["max_tokens"])
    folded = [_fold(t) for t in toks]
    feats = _ngrams(toks, cfg["word_ngrams"], "w")
    feats.extend(_ngrams(folded, cfg["word_ngrams"], "f"))
    lo, hi = cfg["char_min"], cfg["char_max"]
    if hi >= lo > 0:
        for t in folded:
            feats.extend(_char_grams(t, lo, hi))
    return feats


class Featurizer:
    """Hashes analysed texts into a sparse matrix with log-TF, optional IDF and L2 norm.

    Stateless apart from the optional IDF vector, so it is rebuilt from a plain config
    dict at load time (nothing executable is stored in the model file).
    """

    def __init__(self, config: dict | None = None, idf: np.ndarray | None = None) -> None:
        self.config = dict(DEFAULT_CONFIG if config is None else config)
        self.idf = idf
        self._hasher = FeatureHasher(
            n_features=self.config["n_features"], input_type="string", alternate_sign=False
        )

    @property
    def n_features(self) -> int:
        return int(self.config["n_features"])

    def counts(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Raw hashed counts (used to fit IDF and document frequencies)."""
        cfg = self.config
        X = self._hasher.transform(analyze(t, cfg) for t in texts)
        return X.tocsr()

    def weight(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """log-TF, IDF, L2 normalise (in place on a copy of `X`)."""
        X = X.astype(np.float32, copy=True)
        np.log1p(X.data, out=X.data)
        if self.idf is not None:
            X.data *= self.idf[X.indices]
        sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        norms = np.sqrt(sq, dtype=np.float32)
        norms[norms == 0] = 1.0
        X = sp.diags(1.0 / norms).dot(X).tocsr().astype(np.float32)
        return X

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        return self.weight(self.counts(texts))

    def fit_idf(self, X_counts: sp.csr_matrix, min_df: int = 2) -> np.ndarray:
        """Smooth IDF; features seen in fewer than `min_df` docs get weight 0 (drops noise, shrinks the model)."""
        df = np.bincount(X_counts.indices, minlength=self.n_features).astype(np.float64)
        n = X_counts.shape[0]
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        idf[df < min_df] = 0.0
        self.idf = idf.astype(np.float32)
        return self.idf

    def index_of(self, feature: str) -> int:
        """Hash bucket of one feature string (for explanations)."""
        X = self._hasher.transform([[feature]])
        return int(X.indices[0])

    def readable_features(self, text: str) -> dict[int, str]:
        """Bucket -> human-readable toned word n-gram for `text` (explanations show original script)."""
        toks = tokens(text, self.config["max_tokens"])
        names = _ngrams(toks, self.config["word_ngrams"], "w")
        if not names:
            return {}
        X = self._hasher.transform([[n] for n in names]).tocsr()
        out: dict[int, str] = {}
        for row, name in enumerate(names):
            idx = int(X.indices[X.indptr[row]])
            out.setdefault(idx, name[1:])
        return out
