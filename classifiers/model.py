"""The shipped classifier: two calibrated scores (misinformation, harm), explanations, watchlist.

Design (why):
- One model file holds several linear *heads* on shared hashed features: one binary head per
  training dataset, plus multi-class heads (ViHSD/VLSP 3-way, LIAR 6-way) used only for
  evaluation. Dataset heads learn each corpus' notion of "fake" / "toxic" without one corpus'
  artefacts drowning another's.
- Each category score is a logistic *stacker* over its heads' logits, fitted on the dev splits.
  Because heads and stacker are linear, the stacker folds into one effective weight row per
  category, so scoring is a single sparse product (fast) and explanations are exact per-term
  contributions to the calibrated log-odds.
- The file is a plain dict of arrays/strings saved with skops and loaded with an explicit,
  allow-listed set of trusted types: no pickle, no code from the file is executed.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from classifiers.features import Featurizer
from classifiers.watchlist import Watchlist

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "default.skops"
CATEGORIES = ("misinformation", "harm")
# What an item is: scores are calibrated per kind (a social post, a news article and a comment are
# different populations). `post` is the default for text whose kind nobody knows.
KINDS = ("post", "article", "comment")
DEFAULT_KIND = "post"
# Types a model file may contain beyond skops' defaults (builtins, numpy arrays).
# (The model file holds only dicts, lists, str, float and numpy arrays; CSR is rebuilt here.)
ALLOWED_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})
MAX_EXPLANATIONS = 8


class UntrustedModelError(ValueError):
    """The model file contains object types outside the allow-list; refusing to load it."""


@dataclass
class Scores:
    """Scores for one item, as stored in the DB and shown in the review queue."""

    misinformation: float
    harm: float
    flagged: list[str] = field(default_factory=list)
    explanations: dict[str, list[str]] = field(default_factory=dict)
    rule_hits: list[dict] = field(default_factory=list)
    model_version: str = ""

    def to_dict(self) -> dict:
        """JSON-serialisable dict (plain floats/strings)."""
        return asdict(self)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


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

    def __init__(self, state: dict, watchlist: Watchlist | None = None) -> None:
        self.state = state
        self.version: str = str(state["version"])
        self.thresholds: dict[str, float] = {k: float(v) for k, v in state["thresholds"].items()}
        idf = state.get("idf")
        self.featurizer = Featurizer(state["feature_config"], None if idf is None else np.asarray(idf, np.float32))
        self.heads: list[dict] = list(state["heads"])
        self.W = sp.csr_matrix(
            (np.asarray(state["W_data"], np.float32), state["W_indices"], state["W_indptr"]),
            shape=tuple(state["W_shape"]),
        )
        self.b = np.asarray(state["b"], dtype=np.float64)
        self.categories: list[str] = list(state["categories"])
        # Fold each category's stacker into one weight row: logit = a . (W_h x + b_h) + c.
        rows, bcat = [], []
        for cat in self.categories:
            st = state["stack"][cat]
            idx = [self.head(n)["row_start"] for n in st["heads"]]
            a = np.asarray(st["coef"], dtype=np.float64)
            if idx:
                rows.append(sp.csr_matrix(a.reshape(1, -1)) @ self.W[idx])
                bcat.append(float(a @ self.b[idx] + st["intercept"]))
            else:
                rows.append(sp.csr_matrix((1, self.W.shape[1])))
                bcat.append(float(st["intercept"]))
        self.Wcat = sp.vstack(rows).tocsr().astype(np.float32)
        self.bcat = np.asarray(bcat, dtype=np.float64)
        # Dense copies of category weights: O(1) lookup for explanations.
        self._wcat_dense = np.asarray(self.Wcat.todense(), dtype=np.float32)
        self._any_positive = (self._wcat_dense > 0).any(axis=0)
        # (width, n_categories) C-contiguous: X @ dense is a cheap sparse-dense product
        # (the sparse-sparse product plus its nnz pass was ~10% of plain scoring time)
        self._WcatT = np.ascontiguousarray(self._wcat_dense.T)
        self.watchlist = watchlist if watchlist is not None else Watchlist.load()

    # -- features -----------------------------------------------------------------------
    def features(self, texts: list[str]) -> sp.csr_matrix:
        """Weighted sparse features, shared by all heads."""
        return self.featurizer.transform(texts)

    def category_proba(self, texts: list[str], X: sp.csr_matrix | None = None) -> np.ndarray:
        """(n, len(categories)) calibrated probabilities, without explanations or rules."""
        if X is None:
            X = self.features(texts)
        Z = np.asarray(X @ self._WcatT, dtype=np.float64) + self.bcat
        return _sigmoid(Z)

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
    def _explain_batch(self, terms: dict, X: sp.csr_matrix) -> list[dict[str, list[str]]]:
        """Per item: top word n-grams (toned, as written) by contribution to each category's log-odds.

        A term's contribution = its toned and its diacritic-folded feature weights times their
        values in this item, i.e. exactly its share of the linear score (char grams excluded).
        Vectorised over the whole batch (one searchsorted for all terms); only the winning
        n-grams are turned back into strings."""
        n_docs = terms["n_docs"]
        out: list[dict[str, list[str]]] = [{c: [] for c in self.categories} for _ in range(n_docs)]
        grams = terms["grams"]
        if not grams or X.nnz == 0:
            return out
        nf = np.int64(X.shape[1])
        tok_doc, canon = terms["doc"], terms["canon"]
        start = np.concatenate([g[1] for g in grams])  # global token position of the n-gram start
        order = np.concatenate([np.full(len(g[1]), g[0], dtype=np.int64) for g in grams])
        wb = np.concatenate([g[2] for g in grams])
        fb = np.concatenate([g[3] for g in grams])
        # only terms with a positive weight in some category can push a score up
        useful = self._any_positive[wb] | self._any_positive[fb]
        start, order, wb, fb = start[useful], order[useful], wb[useful], fb[useful]
        doc = tok_doc[start]
        rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
        keys = rows * nf + X.indices.astype(np.int64)  # sorted: rows in order, indices sorted

        def values(buckets: np.ndarray) -> np.ndarray:
            # sorted queries make the binary searches cache-friendly (3-4x faster than random order)
            q = doc * nf + buckets
            perm = np.argsort(q, kind="stable")  # timsort: q comes in runs already ordered by doc
            qs = q[perm]
            pos = np.minimum(np.searchsorted(keys, qs), len(keys) - 1)
            out = np.empty(len(q), dtype=np.float32)
            out[perm] = np.where(keys[pos] == qs, X.data[pos], 0.0)
            return out

        vw, vf = values(wb), values(fb)
        for ci, cat in enumerate(self.categories):
            w = self._wcat_dense[ci]
            contrib = w[wb] * vw + w[fb] * vf
            keep = np.flatnonzero(contrib > 0)
            if not len(keep):
                continue
            # by item, strongest first; a repeated n-gram (same bucket, same contribution) lands
            # next to its twins and is kept once
            sel = keep[_order_by_doc_then_desc(doc[keep], contrib[keep], wb[keep], n_docs, nf)]
            d, b = doc[sel], wb[sel]
            first = np.ones(len(sel), dtype=bool)
            first[1:] = (d[1:] != d[:-1]) | (b[1:] != b[:-1])
            sel, d = sel[first], d[first]
            rank = np.arange(len(sel)) - np.searchsorted(d, d, side="left")
            sel = sel[rank < MAX_EXPLANATIONS]
            for i, s0, k in zip(doc[sel].tolist(), start[sel].tolist(), order[sel].tolist(), strict=True):
                out[i][cat].append(" ".join(canon[s0 : s0 + k]))
        return out

    def score(self, texts: list[str], explain: bool = True) -> list[Scores]:
        """Score a batch. A category is flagged when its probability reaches its threshold
        or a watchlist rule of that category matches."""
        texts = [t or "" for t in texts]
        if explain:
            X, terms = self.featurizer.transform(texts, with_terms=True)
        else:
            X, terms = self.featurizer.transform(texts), None
        if explain and not X.has_sorted_indices:  # explanations binary-search each row's indices
            X.sort_indices()
        P = self.category_proba(texts, X)
        explanations = self._explain_batch(terms, X) if explain else [{} for _ in texts]
        out: list[Scores] = []
        for i, hits in enumerate(self.watchlist.match_many(texts)):
            probs = {c: float(P[i, ci]) for ci, c in enumerate(self.categories)}
            hit_cats = {h["category"] for h in hits}
            flagged = [c for c in self.categories if probs[c] >= self.thresholds.get(c, 1.01) or c in hit_cats]
            out.append(
                Scores(
                    misinformation=probs.get("misinformation", 0.0),
                    harm=probs.get("harm", 0.0),
                    flagged=flagged,
                    explanations=explanations[i],
                    rule_hits=hits,
                    model_version=self.version,
                )
            )
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

        values = [np.exp(-abs(logit(getattr(scores, c)) - logit(self.thresholds[c]))) for c in self.categories]
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
    if not isinstance(state, dict) or "stack" not in state or not _plain(state):
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
    state = load_state(path)
    state["_card_path"] = path.with_suffix(".card.md") if path.with_suffix(".card.md").exists() else None
    return Model(state, Watchlist.load(watchlist))
