"""Adapting the active model to one installation with its moderators' decisions.

Why an adapter, not a retrain: an installation has its model file and its database, not the
research corpora (``../shared/data``), so it cannot refit the dataset heads; and fifty decisions
are far too few to refit a million hashed features anyway. The adapter keeps the heads and the
features and learns, per category, a correction of the category log-odds ``z``::

    z' = a * z + c + d[kind] + X . w

- ``a * z + c + d[kind]`` is a calibrator: it maps the research-mix score onto this installation's
  base rate and onto what its moderators call misinformation (the research dev splits' calibration
  is not theirs).
- ``X . w`` is a sparse residual over the model's own hashed features (``model.features``). It is
  L2-penalised towards 0 (``a`` towards 1, ``c`` and ``d`` towards 0) with a fixed penalty while
  the data term grows with every decision, so a few decisions move scores a little and many move
  them more.
- The variants are compared on the most recent decisions, held out in time order (never shuffled:
  the question is whether last week's decisions predict this week's), against the model in use.

The adapter is plain arrays and numbers under ``state["adapter"]`` so it saves with skops inside
the model file (see ``classifiers.model._plain``). Nothing here reads the database or research data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.metrics import average_precision_score, roc_auc_score

from classifiers.model import DEFAULT_KIND, KINDS, Model, _sigmoid

# A category is adapted once it has this many decisions, at least MIN_PER_LABEL of each label.
MIN_DECISIONS = 30
MIN_PER_LABEL = 5
# The most recent decisions held out for choosing and gating: this fraction, at least MIN_HOLDOUT.
HOLDOUT_FRACTION = 0.25
MIN_HOLDOUT = 10
# Recent decisions weigh more (topics and moderators drift): weight halves every HALF_LIFE_DAYS.
HALF_LIFE_DAYS = 90.0
# Prior strengths (L2 on the deviation from "keep the model as it is"), measured on ViHSD dev windows
# (log-loss on the next 1000 comments, shipped model 0.262): 50 decisions with 5/5/5 give 0.260, with
# 1/0.01/1 0.271 (a loose calibrator chases 13 positives); 200 decisions 0.254 either way.
L2_SLOPE = 5.0
L2_BIAS = 5.0
L2_KIND = 5.0
# The variants compared on the held-out slice: None = calibrator only, else the residual's L2 (0.3
# learnt the synthetic rumour of tests/test_adapt.py better, 28 of 30 unseen posts against 25, but
# overfitted 200 ViHSD decisions: 0.258 against 0.254; see bench/RESULTS.md).
VARIANTS: dict[str, float | None] = {"calibrator": None, "calibrator+residual": 1.0}


@dataclass
class Split:
    """One category's decisions, oldest first, cut into the part fitted and the recent part held out."""

    category: str
    fit: list[dict]
    held: list[dict]


def category_examples(decisions: list[dict], category: str) -> list[dict]:
    """The decisions of one category, oldest first (missing times count as oldest, order kept)."""
    rows = [d for d in decisions if d.get("category") == category and d.get("text")]
    return sorted(rows, key=lambda d: str(d.get("decided_at") or ""))


def readiness(decisions: list[dict], categories: list[str]) -> tuple[list[str], str]:
    """(categories with enough decisions to adapt, why the others wait).

    The reason reads "N decisions, M needed" (N: the category closest to ready) so the nightly
    log says how far off adaptation is."""
    ready, waiting = [], []
    for cat in categories:
        labels = [int(d["label"]) for d in category_examples(decisions, cat)]
        pos, neg = sum(labels), len(labels) - sum(labels)
        if len(labels) < MIN_DECISIONS:
            waiting.append((len(labels), f"{len(labels)} decisions, {MIN_DECISIONS} needed ({cat})"))
        elif min(pos, neg) < MIN_PER_LABEL:
            waiting.append((len(labels), f"{len(labels)} decisions ({cat}) but {pos} confirmed and {neg} dismissed:"
                                         f" {MIN_PER_LABEL} of each needed"))
        else:
            ready.append(cat)
    waiting.sort(key=lambda w: -w[0])
    return ready, "; ".join(reason for _, reason in waiting)


def time_split(decisions: list[dict], category: str) -> Split:
    """Hold out the most recent HOLDOUT_FRACTION (at least MIN_HOLDOUT) of a category's decisions."""
    rows = category_examples(decisions, category)
    n_held = min(max(MIN_HOLDOUT, math.ceil(HOLDOUT_FRACTION * len(rows))), len(rows) // 2)
    return Split(category, rows[: len(rows) - n_held], rows[len(rows) - n_held :])


def known_kinds(kinds: list[str | None] | None, n: int) -> list[str]:
    """One of KINDS per item: a missing or unknown kind (an older row, a typo) is scored as DEFAULT_KIND."""
    return [k if k in KINDS else DEFAULT_KIND for k in (kinds if kinds is not None else [None] * n)]


def kind_index(kinds: list[str | None] | None, n: int) -> np.ndarray:
    """Index into KINDS per item (unknown or missing kind -> DEFAULT_KIND)."""
    return np.array([KINDS.index(k) for k in known_kinds(kinds, n)], dtype=np.int64)


def recency_weights(times: list[str | None]) -> np.ndarray:
    """Sample weights halving every HALF_LIFE_DAYS before the newest decision, mean 1."""
    stamps = np.array([_epoch_days(t) for t in times], dtype=np.float64)
    known = ~np.isnan(stamps)
    if not known.any():
        return np.ones(len(times))
    age = np.where(known, stamps[known].max() - stamps, stamps[known].max() - stamps[known].min())
    w = 0.5 ** (age / HALF_LIFE_DAYS)
    return w / w.mean()


def _epoch_days(stamp: str | None) -> float:
    """Days since the epoch of an ISO time, NaN when missing or unreadable."""
    import datetime as dt

    try:
        parsed = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp() / 86400.0


def fit_category(z: np.ndarray, X: sp.csr_matrix, y: np.ndarray, weights: np.ndarray, kinds: np.ndarray,
                 l2_residual: float | None) -> dict:
    """Maximum a-posteriori fit of z' = a*z + c + d[kind] (+ X.w when l2_residual is set).

    Why not sklearn's LogisticRegression: it penalises towards 0, and "no decision" must mean
    "keep the model as it is" (a = 1), which needs the shipped logit as an offset; the same L-BFGS
    solver on the exact penalised log-likelihood does it in a few lines."""
    cols = np.unique(X.indices) if l2_residual is not None else np.zeros(0, dtype=np.int64)
    Xc = X[:, cols].tocsr() if len(cols) else sp.csr_matrix((len(y), 0))
    K = np.eye(len(KINDS))[kinds]
    n_fixed = 2 + len(KINDS)
    penalty = np.r_[L2_SLOPE, L2_BIAS, np.full(len(KINDS), L2_KIND), np.full(len(cols), l2_residual or 0.0)]
    prior = np.r_[1.0, np.zeros(n_fixed - 1 + len(cols))]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        zp = theta[0] * z + theta[1] + K @ theta[2:n_fixed] + Xc @ theta[n_fixed:]
        loss = float(weights @ (np.logaddexp(0.0, zp) - y * zp))
        r = weights * (_sigmoid(zp) - y)
        grad = np.r_[r @ z, r.sum(), K.T @ r, Xc.T @ r]
        delta = theta - prior
        return loss + 0.5 * float(penalty @ delta**2), grad + penalty * delta

    theta = minimize(objective, prior.copy(), jac=True, method="L-BFGS-B", options={"maxiter": 500}).x
    keep = np.abs(theta[n_fixed:]) > 1e-6
    return {
        "kinds": [k for i, k in enumerate(KINDS) if (kinds == i).any()],
        "slope": float(theta[0]),
        "intercept": float(theta[1]),
        "kind_offsets": {k: float(v) for k, v in zip(KINDS, theta[2:n_fixed], strict=True)},
        "w_indices": cols[keep].astype(np.int32),
        "w_values": theta[n_fixed:][keep].astype(np.float32),
    }


def apply_category(params: dict, z: np.ndarray, X: sp.csr_matrix | None, kinds: np.ndarray) -> np.ndarray:
    """One category's adapted log-odds for logits `z` (features X needed only with a residual).

    Items of a kind no decision was about keep the model's logits: decisions on social posts say
    nothing about how this installation's moderators judge news articles."""
    offsets = np.array([float(params["kind_offsets"].get(k, 0.0)) for k in KINDS])
    out = params["slope"] * z + params["intercept"] + offsets[kinds]
    idx = np.asarray(params["w_indices"], dtype=np.int64)
    if len(idx) and X is not None:
        w = sp.csr_matrix((np.asarray(params["w_values"], np.float64), (idx, np.zeros(len(idx), np.int64))),
                          shape=(X.shape[1], 1))
        out = out + np.asarray((X @ w).todense()).ravel()
    covered = np.isin(kinds, [KINDS.index(k) for k in params["kinds"]])
    return np.where(covered, out, z)


def apply_adapter(adapter: dict | None, Z: np.ndarray, X: sp.csr_matrix | None, kinds: list[str] | None,
                  categories: list[str]) -> np.ndarray:
    """The (n, n_categories) category logits `Z` with the adapter applied (a copy; Z unchanged).

    Categories the adapter does not cover keep the model's logits."""
    if not adapter:
        return Z
    out = np.array(Z, dtype=np.float64, copy=True)
    k = kind_index(kinds, Z.shape[0])
    for ci, cat in enumerate(categories):
        params = (adapter.get("categories") or {}).get(cat)
        if params:
            out[:, ci] = apply_category(params, out[:, ci], X, k)
    return out


def heldout_metrics(y: np.ndarray, p: np.ndarray, threshold: float | np.ndarray) -> dict:
    """Log-loss (the gate's measure), ROC-AUC and average precision when both labels are present,
    and precision/recall at the flag threshold (one per item, or one for all), on one held-out slice."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    both = len(set(y.tolist())) == 2
    flagged = p >= threshold
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "average_precision": float(average_precision_score(y, p)) if both else None,
        "flagged": int(flagged.sum()),
        "precision": float(y[flagged].mean()) if flagged.any() else None,
        "recall": float(y[flagged].sum() / y.sum()) if y.sum() else None,
    }


def base_model(model: Model) -> Model:
    """The model without its adapter (what a new adapter is fitted on: adapters never stack, so
    a decision is counted once however many nights it is re-used)."""
    if not model.state.get("adapter"):
        return model
    state = {k: v for k, v in model.state.items() if k != "adapter"}
    return Model(state, model.watchlist)


def base_logits(model: Model, texts: list[str], X: sp.csr_matrix, kinds: list[str]) -> np.ndarray:
    """(n, n_categories) category log-odds of an adapter-free model, as `_adapt` receives them."""
    P = np.clip(model.category_proba(texts, X, kinds=kinds), 1e-15, 1 - 1e-15)
    return np.log(P) - np.log1p(-P)


def _decision_arrays(rows: list[dict]) -> tuple[list[str], list[str], np.ndarray, list[str | None]]:
    """Texts, kinds, labels and decision times of some decisions."""
    return ([str(d["text"]) for d in rows], known_kinds([d.get("kind") for d in rows], len(rows)),
            np.array([float(int(d["label"])) for d in rows]), [d.get("decided_at") for d in rows])


def thresholds_of(model: Model, texts: list[str], kinds: list[str], category: str) -> np.ndarray:
    """Each item's flag threshold for `category`, as `Model.score` applies it (it depends on the
    item's kind and on which corpora it resembles; an adapter moves scores, never thresholds)."""
    scores = model.score(texts, explain=False, kinds=kinds)
    return np.array([float(s.thresholds.get(category, 1.01)) for s in scores])


def fit_and_choose(active: Model, base: Model, split: Split) -> tuple[dict, dict]:
    """Fit every variant on the older decisions, pick the best held-out log-loss; return (params,
    record of what was measured, including the model in use on the same slice).

    Flags are counted at the model's own thresholds per kind: the adapter moves scores, not them
    (a fixed 0.75-0.8 on the adapted scale halved ViHSD recall for a few points of precision, see
    bench/RESULTS.md)."""
    ci = base.categories.index(split.category)
    texts_f, kinds_f, y_f, times_f = _decision_arrays(split.fit)
    texts_h, kinds_h, y_h, times_h = _decision_arrays(split.held)
    X_f, X_h = base.features(texts_f), base.features(texts_h)
    z_f = base_logits(base, texts_f, X_f, kinds_f)[:, ci]
    z_h = base_logits(base, texts_h, X_h, kinds_h)[:, ci]
    k_f, k_h = kind_index(kinds_f, len(texts_f)), kind_index(kinds_h, len(texts_h))
    weights = recency_weights(times_f)
    fitted: dict[str, tuple[dict, dict]] = {}
    limits = thresholds_of(base, texts_h, kinds_h, split.category)
    for name, l2 in VARIANTS.items():
        params = fit_category(z_f, X_f, y_f, weights, k_f, l2)
        p_h = _sigmoid(apply_category(params, z_h, X_h, k_h))
        fitted[name] = ({"variant": name, **params}, heldout_metrics(y_h, p_h, limits))
    chosen = min(fitted, key=lambda name: fitted[name][1]["log_loss"])
    p_active = active.category_proba(texts_h, X_h, kinds=kinds_h)[:, ci]
    record = {
        "n_fit": len(split.fit), "n_heldout": len(split.held),
        "heldout_from": times_h[0], "heldout_to": times_h[-1],
        "variants": {name: m for name, (_, m) in fitted.items()}, "chosen": chosen,
        "candidate": fitted[chosen][1],
        "active": heldout_metrics(y_h, p_active, limits),
    }
    return fitted[chosen][0], record


def build(active: Model, decisions: list[dict], categories: list[str], version: str | None = None) -> dict:
    """A candidate: the active model's heads and features with a new adapter for `categories`
    (see readiness), fitted on all but the most recent decisions of each.

    Returns {"state": the candidate's model state, "categories": {category: held-out record}}."""
    import datetime as dt
    import os

    base = base_model(active)
    adapter: dict = {"format": 1, "base_version": base.version, "n_decisions": len(decisions), "categories": {}}
    records = {}
    for cat in categories:
        adapter["categories"][cat], records[cat] = fit_and_choose(active, base, time_split(decisions, cat))
    now = dt.datetime.now(dt.UTC)
    state = {k: v for k, v in base.state.items() if not k.startswith("_")}
    state.update(
        version=version or f"{now.strftime('%Y%m%d-%H%M%S')}-adapted-{os.urandom(2).hex()}",
        created=now.isoformat(timespec="seconds"), adapter=adapter,
        training={**(base.state.get("training") or {}), "adapted_from": base.version,
                  "n_decisions": len(decisions)},
    )
    return {"state": state, "categories": records}


def flag_rates(model: Model, texts: list[str], kinds: list[str | None] | None) -> dict[str, float]:
    """Share of `texts` each category flags, as `Model.score` flags them (watchlist rules included:
    the band is about the queue moderators get)."""
    if not texts:
        return {cat: 0.0 for cat in model.categories}
    scores = model.score(texts, explain=False, kinds=known_kinds(kinds, len(texts)))
    return {cat: sum(cat in s.flagged for s in scores) / len(scores) for cat in model.categories}
