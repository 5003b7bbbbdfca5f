"""The shipped classifier: two calibrated scores (misinformation, harm) per kind of item, reasons,
watchlist.

Design (why):
- One model file holds several linear *heads* on shared hashed features: one binary head per
  training dataset, plus multi-class heads (ViHSD/VLSP 3-way, LIAR 6-way) used only for
  evaluation. Dataset heads learn each corpus' notion of "fake" / "toxic" without one corpus'
  artefacts drowning another's.
- Each binary head is an *expert*, calibrated on its own dev split. Items are of a kind (post,
  article, comment); a kind's score is a gated mixture of the experts of the corpora of that kind
  (``mix_experts``): a gate says which corpus an item resembles. So each corpus' head keeps its
  ranking on its own population, and one stacker over corpora with different ideas of "fake" no
  longer dilutes them. Each expert has its own flag threshold; an item's is mixed like its score.
- Scoring is one sparse-dense product (features x experts and gates), and explanations are exact
  per-term contributions to the mixed log-odds given the item's gate weights.
- The file is a plain dict of arrays/strings saved with skops and loaded with an explicit,
  allow-listed set of trusted types: no pickle, no code from the file is executed.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import threading
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from classifiers.explain import MIN_CONTRIBUTION, is_stop, readable_terms
from classifiers.features import Featurizer, breaks_many
from classifiers.heap import keep_batch_arrays_in_heap
from classifiers.paths import DEFAULT_MODEL, MODELS_DIR  # noqa: F401 - importers read them here too
from classifiers.watchlist import Watchlist
from vocab import CATEGORIES  # noqa: F401 - the model scores one head per category; importers read it here

# What an item is: scores are calibrated per kind (a social post, a news article and a comment are
# different populations). `post` is the default for text whose kind nobody knows.
KINDS = ("post", "article", "comment")
DEFAULT_KIND = "post"
log = logging.getLogger(__name__)
# Types a model file may contain beyond skops' defaults (builtins, numpy arrays).
# (The model file holds only dicts, lists, str, float and numpy arrays; CSR is rebuilt here.)
ALLOWED_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})
# Reasons are shown for a category only when its score is at least this share of the threshold:
# below that, "why it scored 0.05 for harm" is noise.
EXPLAIN_FRACTION = 0.5
NEVER_LOGIT = 12.0  # the threshold of an item no head can judge: no score reaches it
_STOP_LOCK = threading.Lock()


class UntrustedModelError(ValueError):
    """The model file contains object types outside the allow-list; refusing to load it."""


@dataclass
class Scores:
    """Scores for one item, as stored in the DB and shown in the review queue."""

    misinformation: float
    harm: float
    flagged: list[str] = field(default_factory=list)
    # {category: [{"term": "chia sẻ gấp", "contribution": 0.41}, ...]}: whole words or phrases of
    # 1-3 syllables, strongest first, at most explain.MAX_TERMS, only for a category whose score is at
    # least EXPLAIN_FRACTION of its threshold; contribution = its share of the category's log-odds
    explanations: dict[str, list[dict]] = field(default_factory=dict)
    # [{"category", "name" (the rule's human name), "rule" (pattern as written: admins only), "match"}]
    rule_hits: list[dict] = field(default_factory=list)
    model_version: str = ""
    kind: str = DEFAULT_KIND
    thresholds: dict[str, float] = field(default_factory=dict)  # the thresholds this item was flagged against

    def to_dict(self) -> dict:
        """JSON-serialisable dict (plain floats/strings)."""
        return asdict(self)

    def top_reason(self) -> str:
        """The one reason a queue row shows: a watchlist rule's name first (a human chose it), else the
        strongest term of the flagged (else highest-scoring) category; "" when there is none."""
        for hit in self.rule_hits:
            if hit.get("name") or hit.get("rule"):
                return str(hit.get("name") or hit.get("rule"))
        order = sorted(self.explanations, key=lambda c: (c not in self.flagged, -float(getattr(self, c, 0.0))))
        for category in order:
            if self.explanations[category]:
                return str(self.explanations[category][0]["term"])
        return ""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def mix_experts(L: np.ndarray, gate_logits: np.ndarray, temperature: float, priors: np.ndarray | float = 0.0,
                group_prior: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The category log-odds of items as a mixture of experts: each expert (a dataset head) gives
    calibrated log-odds for its own corpus (L, (n, k)); the gate's one-vs-rest logits say how much
    each item resembles each corpus. Weights are sigmoid(gate) ** temperature, normalised over the
    experts of the item's kind. Returns (mixed log-odds (n,), weights (n, k)).

    Why: one stacker over corpora with different ideas of "fake" lost what each head knew (ReINTEL
    ROC-AUC 0.855 against its head's 0.895); routing each item to the heads of corpora like it keeps
    each head's ranking on its own population and a calibration that means the same everywhere.

    The experts are mixed as likelihood ratios: each one's corpus prior log-odds (`priors`) is taken
    out first and one prior for the whole kind (`group_prior`) put back, so an item halfway between
    two corpora is not pushed up or down by their different shares of positives (ViHSD test ROC-AUC:
    0.9214 mixing log-odds, 0.9242 mixing likelihood ratios, 0.9238 for its own head)."""
    lg = -np.logaddexp(0.0, -gate_logits) * temperature
    lg -= lg.max(axis=1, keepdims=True)
    weights = np.exp(lg)
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights * (L - priors)).sum(axis=1) + group_prior, weights


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _order_by_doc_then_desc(doc: np.ndarray, value: np.ndarray, tie: np.ndarray, n_docs: int,
                            n_ties: int) -> np.ndarray:
    """Indices ordering (doc ascending, value descending, tie ascending); `value` > 0 (float32).

    One argsort of a packed int64 key when the three fit in 63 bits (the IEEE bits of a positive
    float32 order like the floats), which is ~5x faster than np.lexsort on the three arrays."""
    doc_bits, tie_bits = max(int(n_docs - 1).bit_length(), 1), max(int(n_ties - 1).bit_length(), 1)
    if doc_bits + 31 + tie_bits > 63:
        return np.lexsort((tie, -value, doc))
    desc = np.int64(0x7FFFFFFF) - value.astype(np.float32).view(np.int32).astype(np.int64)
    key = (doc.astype(np.int64) << (31 + tie_bits)) | (desc << tie_bits) | tie.astype(np.int64)
    return np.argsort(key, kind="stable")


def _row_keys(X: sp.csr_matrix, rows_wanted: np.ndarray | None = None,
              below: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """row * width + column of stored entries of X (sorted when X's rows have sorted indices), and their
    positions in X.data: all of them, or only those of `rows_wanted` (bool per row) in columns < `below`
    (explanations look up word n-grams of shown items only: a sixth of the entries, a haystack that
    stays in cache)."""
    rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    if rows_wanted is None:
        return rows * np.int64(X.shape[1]) + X.indices.astype(np.int64), np.arange(X.nnz)
    pos = np.flatnonzero(rows_wanted[rows] & (X.indices < below))
    return rows[pos] * np.int64(X.shape[1]) + X.indices[pos].astype(np.int64), pos


def _values_at(X: sp.csr_matrix, keys: tuple[np.ndarray, np.ndarray], doc: np.ndarray, buckets: np.ndarray) -> np.ndarray:
    """X[doc[j], buckets[j]] for every j (0 where absent); keys = _row_keys(X, ...) covering every
    (doc, bucket) asked, X's indices sorted."""
    keys, where = keys
    q = doc * np.int64(X.shape[1]) + buckets
    if not len(keys):
        return np.zeros(len(q), dtype=np.float32)
    # Sorted queries keep the binary searches cache-friendly. Not a stable sort: equal queries get equal
    # values, so any order of them gives the same result, and the SIMD introsort is ~2.5x faster.
    perm = np.argsort(q)
    qs = q[perm]
    pos = np.minimum(np.searchsorted(keys, qs), len(keys) - 1)
    out = np.empty(len(q), dtype=np.float32)
    out[perm] = np.where(keys[pos] == qs, X.data[where[pos]], 0.0)
    return out


def _shift(a: np.ndarray, k: int, fill: float | bool = 0) -> np.ndarray:
    """a[s + k] at position s (fill past the end): the neighbour k tokens on."""
    return np.concatenate([a[k:], np.full(min(k, len(a)), fill, dtype=a.dtype)])


def _stretch_totals(per: np.ndarray, tok_doc: np.ndarray, stop: np.ndarray, brk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contribution of every stretch of 1, 2 and 3 tokens (rows 0-2, by start token), each summing the
    n-grams inside it, and which stretches may be shown: inside one item and one clause (`brk`: the
    token is followed by punctuation), no stop word at an edge, and a single syllable only when no
    phrase around it carries it (the model learned the phrase)."""
    n = len(tok_doc)
    uni, bi, tri = per[1][:n], per[2][:n], per[3][:n]
    same1 = _shift(tok_doc, 1, -1) == tok_doc
    same2 = _shift(tok_doc, 2, -1) == tok_doc
    t1 = uni
    t2 = uni + _shift(uni, 1) + bi
    t3 = uni + _shift(uni, 1) + _shift(uni, 2) + bi + _shift(bi, 1) + tri
    ok2 = same1 & ~stop & ~_shift(stop, 1, True) & ~brk
    ok3 = same2 & ~stop & ~_shift(stop, 2, True) & ~brk & ~_shift(brk, 1, True)
    carries = ok2 & (bi > 0)  # the phrase starting here is a unit the model weighs
    fragment = (carries & (t2 >= t1)) | np.concatenate([[False], carries[:-1] & (t2[:-1] >= t1[1:])])
    ok1 = ~stop & ~fragment
    total = np.vstack([t1, t2, t3])
    valid = np.vstack([ok1, ok2, ok3]) & (total > 0)
    return total, valid


def _top_stretches(total: np.ndarray, valid: np.ndarray, tok_doc: np.ndarray, shown: np.ndarray,
                   n_docs: int, per_doc: int = 16) -> tuple[list[int], list[int], list[int], list[float]]:
    """Each shown item's `per_doc` strongest valid stretches of at least MIN_CONTRIBUTION (weaker ones are never
    shown), strongest first: (doc, start, n, value)."""
    n = len(tok_doc)
    idx = np.flatnonzero(valid.ravel())
    start = idx % n
    value = total.ravel()[idx].astype(np.float32)
    keep = shown[tok_doc[start]] & (value >= MIN_CONTRIBUTION)  # (readable_terms stops at the first weaker one)
    idx, start, value = idx[keep], start[keep], value[keep]
    if not len(idx):
        return [], [], [], []
    doc = tok_doc[start]
    sel = _order_by_doc_then_desc(doc, value, start, n_docs, max(n, 1))
    d = doc[sel]
    rank = np.arange(len(sel)) - np.searchsorted(d, d, side="left")
    sel = sel[rank < per_doc]
    return doc[sel].tolist(), start[sel].tolist(), (idx[sel] // n + 1).tolist(), value[sel].tolist()


def _token_texts(terms: dict, starts: list[list[int]], lengths: list[list[int]]) -> list[str | None]:
    """The batch's token list as ``readable_terms`` reads it, with only the tokens of candidate stretches
    filled in (a reason reads a few dozen tokens of a batch's ~50,000)."""
    pos = np.concatenate([np.zeros(0, np.int64)] + [np.repeat(s, k) + (np.arange(sum(k)) - np.repeat(np.cumsum(k) - k, k))
                                                    for s, k in zip(starts, lengths, strict=True) if s])
    pos = np.unique(pos)
    tokens: list[str | None] = [None] * len(terms["doc"])
    vocab = terms["vocab"]
    for p, i in zip(pos.tolist(), terms["ids"][pos].tolist(), strict=True):
        tokens[p] = vocab[i]
    return tokens


def _weights(state: dict) -> sp.csr_matrix:
    """The model file's weights of every head as a (heads, width) float32 CSR matrix."""
    return sp.csr_matrix((np.asarray(state["W_data"], np.float32), state["W_indices"], state["W_indptr"]),
                         shape=tuple(state["W_shape"]))


def meta_matrix(fields: list[str], metas: list[dict | None]) -> np.ndarray:
    """log1p of engagement counts (missing / unparsable -> 0), one row per item."""
    def num(v: object) -> float:
        try:
            return max(float(v), 0.0)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return 0.0
    return np.array([[np.log1p(num((m or {}).get(f))) for f in fields] for m in metas], dtype=np.float64).reshape(len(metas), len(fields))


class Model:
    """A loaded model: `score(texts)` -> list[Scores]; `head_proba` exposes dataset heads for eval."""

    _encoder_warned = False  # "second stage off" is logged once per process, not per batch

    def __init__(self, state: dict, watchlist: Watchlist | None = None) -> None:
        self.state = state
        self.version: str = str(state["version"])
        idf = state.get("idf")
        self.featurizer = Featurizer(state["feature_config"], None if idf is None else np.asarray(idf, np.float32))
        self.heads: list[dict] = list(state["heads"])
        self.b = np.asarray(state["b"], dtype=np.float64)
        self.categories: list[str] = list(state["categories"])
        if "experts" not in state or any("threshold" not in e for e in state["experts"].values()):
            raise UntrustedModelError(
                f"model {self.version}: a model file from before per-kind scoring (2026-12-01); "
                "retrain it with `monitor train`")
        self.expert_names: list[str] = list(state["experts"])
        experts = [state["experts"][n] for n in self.expert_names]
        self._a, self._c, self._prior, self._T = (
            np.array([float(e.get(key, 0.0)) for e in experts]) for key in ("a", "c", "prior", "threshold"))
        gate_rows = self._load_domains(state)
        self._load_weights([self.head(n)["row_start"] for n in self.expert_names], gate_rows)
        self.watchlist = watchlist if watchlist is not None else Watchlist.load()
        self.adapter = state.get("adapter")
        self._rescorers = {k: e["rescore"] for k, e in enumerate(experts) if e.get("rescore")}
        self._tones = None  # the second stage's tone restorer, built on first use (classifiers.tones)

    def _load_domains(self, state: dict) -> list[int]:
        """Per category and kind: the expert columns that score it, their gate columns, temperature and
        prior. Returns the gates' rows of W, all categories' in order (the gate columns' numbering)."""
        gate_rows: list[int] = []
        self._domains: dict[str, dict[str, dict]] = {}
        for cat in self.categories:
            gate = (state.get("gates") or {}).get(cat)
            offset = len(gate_rows)
            if gate:
                gate_rows.extend(range(gate["row_start"], gate["row_end"]))
            self._domains[cat] = {}
            for kind, dom in state["domains"][cat].items():
                names = list(dom["datasets"])
                self._domains[cat][kind] = {
                    "cols": np.array([self.expert_names.index(n) for n in names], dtype=np.int64),
                    "gate_cols": (np.array([offset + gate["datasets"].index(n) for n in names], dtype=np.int64)
                                  if gate and len(names) > 1 else None),
                    "temperature": float(dom["temperature"]),
                    "prior": float(dom["prior"]),
                    "own_prior": bool(dom.get("own_prior", False)),
                }
        return gate_rows

    @functools.cached_property
    def W(self) -> sp.csr_matrix:
        """Every head's weights, (heads, width) float32 CSR, built when first asked for (evaluation's
        `head_proba`): scoring reads the compact copy made at load, so a service does not hold this one."""
        return _weights(self.state)

    def _load_weights(self, expert_rows: list[int], gate_rows: list[int]) -> None:
        """The experts' and gates' weights as one dense float32 matrix with a row per feature bucket that
        any of them weighs (row 0 is all zeros, for every other bucket) and `_row_of` mapping a bucket to
        its row: X @ dense is a cheap sparse-dense product (the gates as a sparse-sparse product were a
        third of the scoring time), and explanations look an n-gram's expert weights up by its bucket.

        Why compact: the shipped model weighs ~800,000 of its 2,097,152 buckets, so a row for every bucket
        was 151 MB, most of it zeros, resident in every process that scores; this is ~57 MB plus an 8 MB
        index. The products are the same floats: a bucket without weights adds 0 * x to a sum, which
        leaves it unchanged, whether it is read from its own zero row or from the shared one."""
        rows = expert_rows + gate_rows
        state = self.state
        width = int(state["W_shape"][1])
        indptr, indices, data = state["W_indptr"], state["W_indices"], state["W_data"]
        spans = [(int(indptr[r]), int(indptr[r + 1])) for r in rows]  # each row read in place: no copy of W
        weighed = np.zeros(width, dtype=bool)
        self._any_weight = np.zeros(width, dtype=bool)
        for k, (lo, hi) in enumerate(spans):
            weighed[indices[lo:hi]] = True
            if k < len(expert_rows):
                self._any_weight[indices[lo:hi][data[lo:hi] != 0]] = True
        # per bucket, its IDF and its row here side by side: scoring gathers both with one random read
        # per feature (``score``); the featurizer's IDF and `_row_of` are views of it (no copies)
        self._columns = np.zeros(width, dtype=[("idf", np.float32), ("row", np.int32)])
        if self.featurizer.idf is not None:
            self._columns["idf"] = self.featurizer.idf
            self.featurizer.idf = self._columns["idf"]
        self._row_of = self._columns["row"]
        self._row_of[weighed] = np.arange(1, np.count_nonzero(weighed) + 1, dtype=np.int32)
        self._W_allT = np.zeros((np.count_nonzero(weighed) + 1, len(rows)), dtype=np.float32)
        for k, (lo, hi) in enumerate(spans):
            self._W_allT[self._row_of[indices[lo:hi]], k] = np.asarray(data[lo:hi], np.float32)
        self._b_all = self.b[rows]
        self._n_experts = len(expert_rows)

    def _weighed_features(self, X: sp.csr_matrix, rows: np.ndarray | None = None) -> sp.csr_matrix:
        """X with each bucket renumbered to its row of the compact weights (`_load_weights`); `rows`: those
        rows, aligned with X.data, when the caller gathered them already."""
        return sp.csr_matrix((X.data, self._row_of[X.indices] if rows is None else rows, X.indptr),
                             shape=(X.shape[0], self._W_allT.shape[0]))

    # -- features -----------------------------------------------------------------------
    def features(self, texts: list[str]) -> sp.csr_matrix:
        """Weighted sparse features, shared by all heads."""
        return self.featurizer.transform(texts)

    def category_proba(self, texts: list[str], X: sp.csr_matrix | None = None,
                       kinds: list[str] | None = None, rescore: bool = True) -> np.ndarray:
        """(n, len(categories)) calibrated probabilities, without explanations or rules."""
        if X is None:
            X = self.features(texts)
        kinds = self.check_kinds(kinds, X.shape[0])
        return _sigmoid(self.category_logits(X, kinds, texts if rescore else None)[0])

    def check_kinds(self, kinds: list[str] | None, n: int) -> list[str]:
        """One kind per item (default post); an unknown kind is a ValueError naming it."""
        if kinds is None:
            return [DEFAULT_KIND] * n
        if len(kinds) != n:
            raise ValueError(f"{len(kinds)} kinds for {n} texts")
        bad = sorted({k for k in kinds if k not in KINDS})
        if bad:
            raise ValueError(f"unknown kind {bad[0]!r} (expected one of: {', '.join(KINDS)})")
        return list(kinds)

    def category_logits(self, X: sp.csr_matrix, kinds: list[str], texts: list[str] | None = None,
                        rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per item and category, the calibrated log-odds: the gated mixture of the calibrated heads
        that score items of its kind (see ``mix_experts``), then this installation's adapter. With
        `texts`, heads that have a second stage (``classifiers.rescore``) are re-scored for the items the
        gate routes to them, and the mixture is taken again with their blended log-odds and thresholds.

        Returns (Z (n, C), M (n, C, K), T (n, C)): M[i, c, k] is head k's coefficient in item i's
        category-c log-odds, so a feature's share of the score is M[i, c] . W_exp[feature]; T is the
        item's flag threshold in log-odds, its heads' own thresholds mixed with the same weights (an
        item like ReINTEL's posts is held to ReINTEL's threshold, one like nothing we can judge to none)."""
        K = len(self.expert_names)
        H = np.asarray(self._weighed_features(X, rows) @ self._W_allT, dtype=np.float64) + self._b_all
        L, G = H[:, :K] * self._a + self._c, H[:, K:]
        A = np.broadcast_to(self._a, L.shape)  # per item, each head's coefficient on its features (read-only)
        Tk = np.broadcast_to(self._T, L.shape)  # per item, each head's flag threshold (read-only)
        Z, M, T, share = self._mix(L, G, kinds, A, Tk)
        if texts is not None and self._rescorers:
            rescored = self._rescore(texts, L, share)
            if rescored is not None:
                A, Tk = rescored
                Z, M, T, _ = self._mix(L, G, kinds, A, Tk)
        return self._adapt(Z, X, kinds), M, T

    def _mix(self, L: np.ndarray, G: np.ndarray, kinds: list[str], A: np.ndarray, Tk: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``category_logits``' mixture; also returns each head's largest weight per item (n, K)."""
        n, K = L.shape
        Z = np.full((n, len(self.categories)), -10.0)
        T = np.full((n, len(self.categories)), NEVER_LOGIT)
        M = np.zeros((n, len(self.categories), K), dtype=np.float32)
        share = np.zeros((n, K))
        kind_of = np.asarray(kinds)
        for kind in set(kinds):
            rows = np.flatnonzero(kind_of == kind)
            for ci, cat in enumerate(self.categories):
                dom = self._domains[cat].get(kind)
                if dom is None or not len(dom["cols"]):
                    continue
                cols = dom["cols"]
                cells = np.ix_(rows, cols)
                gate = G[np.ix_(rows, dom["gate_cols"])] if dom["gate_cols"] is not None else np.zeros((len(rows), len(cols)))
                Z[rows, ci], weights = mix_experts(L[cells], gate, dom["temperature"], self._prior[cols],
                                                   dom["prior"])
                if dom["own_prior"]:  # articles: each head's bar stays on the posterior under the kind's
                    T[rows, ci] = (weights * Tk[cells]).sum(axis=1)  # own low prior: news must look very likely fake
                else:
                    T[rows, ci] = (weights * (Tk[cells] - self._prior[cols])).sum(axis=1) + dom["prior"]
                M[rows[:, None], ci, cols[None, :]] = weights * A[cells]
                share[cells] = np.maximum(share[cells], weights)
        return Z, M, T, share

    def _rescore(self, texts: list[str], L: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Second stage, L in place: for each re-scored head, its candidates (weighed at least MIN_SHARE, and
        at least its floor probability by the head alone; ``classifiers.rescore``) get its blended log-odds,
        threshold and (scaled) feature coefficient: returns the per-item coefficients and thresholds (A, Tk).
        Text typed without tone marks is read with its marks put back (``classifiers.tones``), and only by
        the re-scorers whose dev figures chose to. None when nothing changed (no such item, or no encoder on
        this machine: then the first stage's scores stand, logged once)."""
        from classifiers.encoder import EncoderUnavailable, shared_encoder
        from classifiers.rescore import MIN_SHARE, blended_logits, typed_toneless

        wanted = {k: np.flatnonzero((share[:, k] >= MIN_SHARE) & (L[:, k] >= r["candidate_logit"]))
                  for k, r in self._rescorers.items()}
        toneless = {i for i in set().union(*(w.tolist() for w in wanted.values())) if typed_toneless(texts[i])}
        if toneless:
            wanted = {k: w if self._rescorers[k].get("toneless", True) else np.array(
                [i for i in w.tolist() if i not in toneless], np.int64) for k, w in wanted.items()}
        rows = sorted(set().union(*(w.tolist() for w in wanted.values())))
        if not rows:
            return None
        try:
            E = shared_encoder().embed([self._restore_tones(texts[i]) if i in toneless else texts[i] for i in rows])
        except EncoderUnavailable as exc:
            if not Model._encoder_warned:
                Model._encoder_warned = True
                log.warning("second stage off: %s", exc)
            return None
        A, Tk = np.tile(self._a, (len(L), 1)), np.tile(self._T, (len(L), 1))
        position = {r: j for j, r in enumerate(rows)}
        for k, r in self._rescorers.items():
            items = wanted[k]
            if len(items):
                E_k = E[[position[i] for i in items.tolist()]]
                L[items, k] = blended_logits(r, L[items, k], E_k)
                A[items, k] *= r["alpha"]
                Tk[items, k] = r["threshold"]
        return A, Tk

    def _restore_tones(self, text: str) -> str:
        """Toneless `text` with its marks put back for the encoder; as it is when the model has no restorer."""
        if self._tones is None:
            if not self.state.get("tone_restorer"):
                return text
            from classifiers.tones import ToneRestorer

            self._tones = ToneRestorer(self.state["tone_restorer"])
        from classifiers.rescore import toneless_reading

        return toneless_reading(self._tones.restore, text)

    def _adapt(self, Z: np.ndarray, X: sp.csr_matrix, kinds: list[str] | None) -> np.ndarray:
        """Z with this installation's adapter (fitted on its moderators' decisions) applied, before
        the sigmoid; unchanged when the model has none (see classifiers.adapt)."""
        if not self.adapter:
            return Z
        from classifiers.adapt import apply_adapter

        return apply_adapter(self.adapter, Z, X, kinds, self.categories)

    def head(self, name: str) -> dict:
        for h in self.heads:
            if h["name"] == name:
                return h
        raise KeyError(f"no head {name!r}; have {[h['name'] for h in self.heads]}")

    def head_proba(self, name: str, texts: list[str], X: sp.csr_matrix | None = None) -> np.ndarray:
        """Probabilities of one dataset head: (n,) for binary heads, (n, k) for multi-class.

        Multi-class heads include the per-class bias tuned on dev (for macro-F1), so
        ``argmax`` of the result is the head's prediction.
        """
        h = self.head(name)
        if X is None:
            X = self.features(texts)
        rows = slice(h["row_start"], h["row_end"])
        Z = np.asarray((X @ self.W[rows].T).todense()) + self.b[rows]
        if len(h["classes"]) <= 2:
            return _sigmoid(Z[:, 0])
        return _softmax(Z + np.asarray(h.get("class_bias") or 0.0))

    def head_proba_with_meta(self, name: str, texts: list[str], metas: list[dict | None],
                             X: sp.csr_matrix | None = None) -> np.ndarray:
        """(n,) probabilities of a dataset head's metadata variant (e.g. ReINTEL + likes/comments/
        shares counts), for items that carry those fields; falls back to the text head when the
        model has no metadata variant. Missing counts count as 0."""
        mh = (self.state.get("meta_heads") or {}).get(name)
        p = self.head_proba(name, texts, X)
        if not mh:
            return p
        z = np.log(np.clip(p, 1e-12, 1.0)) - np.log(np.clip(1.0 - p, 1e-12, 1.0))
        a = np.asarray(mh["coef"], dtype=np.float64)
        F = np.c_[z, meta_matrix(mh["fields"], metas)]
        return _sigmoid(F @ a + float(mh["intercept"]))

    # -- scoring ------------------------------------------------------------------------
    def _punctuation_breaks(self, terms: dict, shown: np.ndarray) -> np.ndarray:
        """Per token of the batch: is it followed by punctuation (for shown items only). The featurizer's
        batch reader found them with the tokens where the text read is the text scored ("breaks_exact");
        the others (a link stood in them) are split again here."""
        tok_doc = terms["doc"]
        brk = np.zeros(len(tok_doc), dtype=bool)
        known, exact = terms.get("breaks"), terms.get("breaks_exact")
        if known is not None:
            on = (shown & exact)[tok_doc]
            brk[on] = known[on]
            shown = shown & ~exact
        docs = np.flatnonzero(shown)
        if not len(docs):
            return brk
        flags, counts = breaks_many([terms["texts"][i] for i in docs.tolist()], int(self.featurizer.config["max_tokens"]))
        starts = np.searchsorted(tok_doc, docs)  # each such item's first token
        pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(len(flags))
        brk[pos] = flags
        return brk

    def _stop_flags(self, terms: dict) -> np.ndarray:
        """Per token of the batch: is it a stop word (``explain.is_stop``), read from a flag kept per
        vocabulary id: a token's flag is computed once, when the featurizer first meets it, instead of once
        per occurrence (a Python pass over every shown token was a seventh of the explanation time)."""
        with _STOP_LOCK:  # the flags grow with the vocabulary; concurrent batches must not see them half-filled
            return self._grown_stop_flags(terms["vocab"])[terms["ids"]]

    def _grown_stop_flags(self, vocab: list[str]) -> np.ndarray:
        if getattr(self, "_stop_vocab", None) is not vocab:  # a new (or reset) vocabulary cache
            self._stop_vocab, self._stop_of, self._stop_n = vocab, np.zeros(1024, dtype=bool), 0
        known, n = self._stop_n, len(vocab)  # (the vocabulary may grow meanwhile: read up to n)
        if known < n:
            if n > len(self._stop_of):  # amortised growth, like a list's
                grown = np.zeros(max(n, 2 * len(self._stop_of)), dtype=bool)
                grown[:known] = self._stop_of[:known]
                self._stop_of = grown
            self._stop_of[known:n] = [is_stop(t) for t in vocab[known:n]]
            self._stop_n = n
        return self._stop_of

    def _weighed_grams(self, grams: list[tuple], tok_doc: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, ...]:
        """The n-grams of shown items that carry an expert weight (toned or folded): (start token, order,
        toned bucket, folded bucket, item), items not shown dropped before any weight is looked up."""
        parts = []
        for k, pos, w, f in grams:
            d = tok_doc[pos]
            idx = np.flatnonzero(shown[d])
            idx = idx[self._any_weight[w[idx]] | self._any_weight[f[idx]]]
            parts.append((pos[idx], np.full(len(idx), k, dtype=np.int64), w[idx], f[idx], d[idx]))
        return tuple(np.concatenate(column) for column in zip(*parts, strict=True))

    def _explain_batch(self, terms: dict, X: sp.csr_matrix, M: np.ndarray, show: np.ndarray) -> list[dict[str, list[dict]]]:
        """Per item and shown category (`show`, (n, C)): readable reasons (``classifiers.explain``) with
        what each adds to the category's log-odds.

        An n-gram's share = its toned and diacritic-folded feature values times the item's effective
        weights M[i, c] . W_exp (char grams excluded). A stretch of 1-3 syllables is credited with every
        n-gram inside it, so "tế bào" carries its syllables' weight too and beats the fragment "tế".
        Vectorised over the batch: one searchsorted for all n-grams, numpy sums per stretch; Python
        only picks among each item's 16 strongest stretches."""
        n_docs = terms["n_docs"]
        out: list[dict[str, list[dict]]] = [{} for _ in range(n_docs)]
        grams = terms["grams"]
        if not grams or X.nnz == 0 or not show.any():
            return out
        tok_doc = terms["doc"]
        shown = show.any(axis=1)
        start, order, wb, fb, doc = self._weighed_grams(grams, tok_doc, shown)
        keys = _row_keys(X, shown, self.featurizer.n_features)  # n-grams sit in the word block
        vw, vf = _values_at(X, keys, doc, wb), _values_at(X, keys, doc, fb)
        stop = self._stop_flags(terms)  # (tokens of items not shown are never read)
        brk = self._punctuation_breaks(terms, shown)
        K = self._n_experts
        # np.take of whole rows, then the experts' columns: ~2.5x faster than W[rows, :K]'s fancy index
        gram_w = (np.take(self._W_allT, self._row_of[wb], axis=0)[:, :K] * vw[:, None]
                  + np.take(self._W_allT, self._row_of[fb], axis=0)[:, :K] * vf[:, None])  # (m, K)
        n_tok = len(tok_doc)
        found = []
        for ci, cat in enumerate(self.categories):
            if not show[:, ci].any():
                continue
            contrib = np.einsum("jk,jk->j", gram_w, np.take(M[:, ci], doc, axis=0))  # (no (m, K) product array)
            # per[k, s]: the k-gram starting at token s (bincount: ~10x faster than np.add.at)
            per = np.bincount(order * (n_tok + 2) + start, weights=contrib, minlength=4 * (n_tok + 2)).reshape(4, -1)
            total, valid = _stretch_totals(per, tok_doc, stop, brk)
            found.append((cat, _top_stretches(total, valid, tok_doc, show[:, ci], n_docs)))
        tokens = _token_texts(terms, [c[1] for _, c in found], [c[2] for _, c in found])
        for cat, (cand_doc, cand_start, cand_n, cand_val) in found:
            ends = (np.flatnonzero(np.diff(cand_doc, append=-1)) + 1).tolist()  # candidates come grouped by item
            for a, b in itertools.pairwise([0, *ends]):
                out[cand_doc[a]][cat] = readable_terms(tokens, list(zip(cand_start[a:b], cand_n[a:b], cand_val[a:b], strict=True)))
        return out

    def score(self, texts: list[str], explain: bool = True, kinds: list[str] | None = None,
              rescore: bool = True) -> list[Scores]:
        """Score a batch; `kinds` says what each item is (post, article, comment; default post).
        `rescore=False` keeps to the first stage (no sentence encoder: ~100x faster on re-scored corpora).

        A category is flagged when its probability reaches the item's threshold (its heads' own bars,
        mixed like its score) or a watchlist rule of that category matches. Reasons are given for a
        category only when its score is meaningful: at least EXPLAIN_FRACTION of the threshold."""
        texts = [t or "" for t in texts]
        kinds = self.check_kinds(kinds, len(texts))
        X, terms = self.featurizer.counts(texts, with_terms=True) if explain else (self.featurizer.counts(texts), None)
        if not X.has_sorted_indices:  # explanations binary-search each row's indices
            X.sort_indices()
        looked = self._columns[X.indices]  # each feature's IDF and weight row: one random read, not two
        X = self.featurizer.weigh_in_place(X, looked["idf"] if self.featurizer.idf is not None else None)
        Z, M, T = self.category_logits(X, kinds, texts if rescore else None, looked["row"])
        P, limits = _sigmoid(Z), _sigmoid(T)
        explanations = (self._explain_batch(terms, X, M, P >= EXPLAIN_FRACTION * limits) if explain
                        else [{} for _ in texts])
        out: list[Scores] = []
        cats = self.categories
        # plain Python floats and bools, converted once per batch (not one numpy scalar per item and category)
        p_rows, limit_rows, over_rows = P.tolist(), limits.tolist(), (Z >= T).tolist()
        for i, hits in enumerate(self.watchlist.match_many(texts)):
            probs = dict(zip(cats, p_rows[i], strict=True))
            hit_cats = {h["category"] for h in hits}
            thresholds = dict(zip(cats, limit_rows[i], strict=True))
            flagged = [c for c, over in zip(cats, over_rows[i], strict=True) if over or c in hit_cats]
            out.append(Scores(misinformation=probs.get("misinformation", 0.0), harm=probs.get("harm", 0.0),
                              flagged=flagged, explanations=explanations[i], rule_hits=hits,
                              model_version=self.version, kind=kinds[i], thresholds=thresholds))
        return out

    def score_one(self, text: str) -> Scores:
        return self.score([text])[0]

    def uncertainty(self, scores: Scores) -> float:
        """How close an item is to a decision boundary, in (0, 1] (1 = exactly at a threshold).

        For active learning: ordering the review queue by this puts the items whose moderator
        decision teaches the next model the most first. Max over categories of
        exp(-|logit(p) - logit(threshold)|)."""
        def logit(p: float) -> float:
            p = min(max(p, 1e-6), 1 - 1e-6)
            return float(np.log(p / (1 - p)))

        values = [np.exp(-abs(logit(getattr(scores, c)) - logit(scores.thresholds.get(c, 1.0)))) for c in self.categories]
        return float(max(values)) if values else 0.0

    @property
    def card_path(self) -> Path | None:
        return self.state.get("_card_path")


# -- the model file ---------------------------------------------------------------------
# A model file is a skops zip (protocol 2): schema.json describes the object tree, arrays are .npy
# members. It is read here directly rather than with skops.io.load: importing skops.io imports every
# sklearn estimator (~0.7 s of a `monitor classify` start-up), and its audit decompresses every array
# before the load decompresses them again. Only the node kinds train.py's plain dicts produce are
# understood; anything else is refused before a single array is read, so no class named by the
# file is ever imported or called.
SKOPS_PROTOCOL = 2
_PLAIN_TYPES = frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType", "numpy.ndarray",
})
_JSON_TYPES = frozenset({"builtins.str", "builtins.int", "builtins.float", "builtins.bool", "builtins.NoneType"})
_CONTAINERS = {"DictNode": dict, "ListNode": list, "TupleNode": tuple}


def _numpy_scalar(type_name: str) -> type | None:
    """The numpy scalar type a "numpy.float64"-style name stands for, if it is a number or a bool."""
    module, _, name = type_name.rpartition(".")
    kind = getattr(np, name, None) if module == "numpy" else None
    return kind if isinstance(kind, type) and issubclass(kind, np.number | np.bool_) else None


def _nodes(node: dict) -> list[dict]:
    """`node` and every node below it, in the order skops wrote (and constructs) them."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        content = current.get("content")
        loader = current.get("__loader__")
        children: list = []
        if loader == "DictNode" and isinstance(content, dict):
            children = [current.get("key_types"), *content.values()]
        elif loader in _CONTAINERS and isinstance(content, list):
            children = content
        stack.extend(child for child in reversed(children) if isinstance(child, dict))
    return found


def _read_schema(archive: zipfile.ZipFile, path: str | Path) -> dict:
    """schema.json of an open model file, checked to be a skops protocol this reader understands."""
    try:
        schema = json.loads(archive.read("schema.json"))
    except (KeyError, ValueError) as exc:
        raise UntrustedModelError(f"{path}: not a classifier model file (no readable schema: {exc})") from None
    if not isinstance(schema, dict) or schema.get("protocol") != SKOPS_PROTOCOL:
        found = schema.get("protocol") if isinstance(schema, dict) else None
        raise UntrustedModelError(f"{path}: not a classifier model file (skops protocol {found!r}, "
                                  f"expected {SKOPS_PROTOCOL})")
    return schema


def _check_types(schema: dict, path: str | Path) -> list[str]:
    """The types the schema names beyond plain containers, scalars and arrays; UntrustedModelError
    unless every one is in ALLOWED_TYPES. Reads only the schema (no array is decompressed)."""
    named = {f"{node.get('__module__')}.{node.get('__class__')}" for node in _nodes(schema)}
    extra = {name for name in named - _PLAIN_TYPES if _numpy_scalar(name) is None}
    bad = sorted(extra - ALLOWED_TYPES)
    if bad:
        raise UntrustedModelError(f"{path}: refusing to load untrusted types {bad}")
    return sorted(extra)


def _construct(node: dict, archive: zipfile.ZipFile, memo: dict, path: str | Path) -> object:
    """Build the object a schema node describes; a node id seen before is the same object (as skops)."""
    node_id = node.get("__id__")
    if node_id is not None and node_id in memo:
        return memo[node_id]
    loader, name = node.get("__loader__"), f"{node.get('__module__')}.{node.get('__class__')}"
    content = node.get("content")
    if loader in _CONTAINERS and name == f"builtins.{_CONTAINERS[loader].__name__}":
        if loader != "DictNode":
            value: object = _CONTAINERS[loader](_construct(child, archive, memo, path) for child in content)
        else:
            key_types = _construct(node["key_types"], archive, memo, path)
            if any(kind is not str for kind in key_types) or len(key_types) != len(content):
                raise UntrustedModelError(f"{path}: a dict in the model file has keys that are not strings")
            value = {key: _construct(child, archive, memo, path) for key, child in content.items()}
    elif loader == "TypeNode" and name == "builtins.str":
        value = str  # a dict's key type
    elif loader == "JsonNode" and name in _JSON_TYPES:
        value = json.loads(content)
    elif loader == "NdArrayNode" and node.get("type") == "numpy" and (
            name == "numpy.ndarray" or _numpy_scalar(name) is not None):
        array = np.load(BytesIO(archive.read(node["file"])), allow_pickle=False)
        value = array if name == "numpy.ndarray" else _numpy_scalar(name)(array)
    elif loader == "SparseMatrixNode" and name in ALLOWED_TYPES:
        value = sp.load_npz(BytesIO(archive.read(node["file"]))).tocsr()  # np.load without pickle inside
    else:
        raise UntrustedModelError(f"{path}: refusing to load untrusted types ['{name}' ({loader})]")
    if node_id is not None:
        memo[node_id] = value
    return value


def trusted_types(path: str | Path) -> list[str]:
    """Types in the file beyond plain containers, scalars and arrays, refused unless all are allow-listed.

    Reads only the file's schema, so checking a file costs milliseconds, not a load."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _check_types(_read_schema(archive, path), path)
    except zipfile.BadZipFile as exc:
        raise UntrustedModelError(f"{path}: not a classifier model file ({exc})") from None


def load_state(path: str | Path) -> dict:
    """Load a model file's state dict (never pickle): the schema is checked against the allow-list
    first, then built, reading each array once."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = _read_schema(archive, path)
            _check_types(schema, path)
            state = _construct(schema, archive, {}, path)
    except UntrustedModelError:
        raise
    except (zipfile.BadZipFile, zlib.error, KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        # a damaged or hand-made file (missing member, bad array, odd nesting): a refusal, never a crash
        raise UntrustedModelError(f"{path}: not a classifier model file ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or "heads" not in state or not _plain(state):
        raise UntrustedModelError(f"{path}: not a classifier model file (unexpected structure or types)")
    return state


def _plain(obj: object) -> bool:
    """True if `obj` is only dicts/lists/str/numbers/None/numpy arrays (what train.py writes), or a
    CSR matrix of numbers (the one type ALLOWED_TYPES admits)."""
    if obj is None or isinstance(obj, str | int | float | bool | np.ndarray | np.generic):
        return not (isinstance(obj, np.ndarray) and obj.dtype == object)
    if isinstance(obj, sp.csr_matrix):
        return obj.dtype != object
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return all(_plain(v) for v in obj)
    return False


def save_state(state: dict, path: str | Path) -> None:
    import skops.io as sio

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sio.dump(state, str(path), compression=8)  # zipfile.ZIP_DEFLATED


def load_model(path: str | Path | None = None, watchlist: str | Path | None = None) -> Model:
    """Load a model (default: the shipped classifiers/models/default.skops) and a watchlist
    (default: classifiers/watchlist.yaml). Uses skops with an allow-listed trusted-types list."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    keep_batch_arrays_in_heap()  # scoring's batch arrays reused, not mapped afresh each batch (classifiers.heap)
    state = load_state(path)
    state["_card_path"] = path.with_suffix(".card.md") if path.with_suffix(".card.md").exists() else None
    return Model(state, Watchlist.load(watchlist))
