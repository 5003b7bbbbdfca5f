"""Training the shipped model: dataset heads on train splits, stacker + thresholds on dev.

Why this protocol: heads are fitted on ``train`` only; their logits on ``dev`` are honest
out-of-sample inputs for the per-category stacker (which is also the calibration), and
thresholds are picked on out-of-fold dev probabilities for a target precision. ``test`` is
never read here. Moderator decisions (``extra_examples``) are added, up-weighted, to every
binary head of their category, so a confirmed/dismissed item moves the next model.

Run: ``python -m classifiers.train [--out PATH] [--extra decisions.jsonl]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score
from sklearn.model_selection import cross_val_predict

from classifiers.data import DATASETS, SPECS, DatasetSpec, load_meta, load_split
from classifiers.features import DEFAULT_CONFIG, Featurizer
from classifiers.model import CATEGORIES, DEFAULT_MODEL, meta_matrix, save_state

Progress = Callable[[str, float], None]

# C for each head, chosen on dev (see bench/RESULTS.md); a grid is searched when a list is given.
DEFAULT_C: dict[str, float | list[float]] = {
    "vi_reintel2020": [4.0, 16.0],
    "vi_vfnd": 4.0,
    "vi_vnnews_v2": [4.0, 16.0],
    "en_constraint_covid19": [4.0, 16.0],
    "en_liar": 1.0,
    "fr_obsinfox_titles": 1.0,
    "vi_vihsd": [4.0, 16.0],
    "vi_victsd_toxicity": [1.0, 4.0],
    "vi_vlsp2019_hsd": 4.0,
}
# SGD alpha grid of the multi-class heads; the best on dev macro-F1 (after bias tuning) is kept.
MULTI_ALPHA: dict[str, list[float]] = {
    "en_liar": [5e-6, 1e-5, 2e-5],
    "vi_vihsd": [5e-6, 1e-5, 2e-5],
    "vi_vlsp2019_hsd": [1e-5],
}
EXTRA_WEIGHT = 5.0
PER_DATASET_IDF = True
# Engagement counts a metadata head may use (ReINTEL meta.jsonl); dev 5-fold CV ROC-AUC 0.925 -> 0.931.
META_FIELDS: dict[str, list[str]] = {"vi_reintel2020": ["num_like_post", "num_comment_post", "num_share_post"]}
# Feature views tried per dataset, chosen on dev with C/alpha: 'word' = word n-grams only (char block
# zeroed). Dev: ViCTSD ROC-AUC 0.830 full vs 0.839 word; LIAR 6-way 0.261 vs 0.269; other corpora
# lose 0.005-0.01 without char grams, so only these two search it.
VIEWS: dict[str, list[str]] = {"vi_victsd_toxicity": ["full", "word"], "en_liar": ["full", "word"]}
# binary heads get a dev-tuned decision offset (macro-F1) only when dev is big enough to trust
MIN_DEV_FOR_THRESHOLD = 250
DEFAULT_TARGET_PRECISION = 0.9
# Per-row budget of non-zero weights kept (largest |w|): keeps the shipped file <= 25 MB.
KEEP_BINARY = 150_000
KEEP_MULTI = 250_000


def _noop(message: str, fraction: float) -> None:
    pass


def print_progress(message: str, fraction: float) -> None:
    """Progress callback for the CLI: one line per stage with percentage."""
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _fit_binary(X: sp.csr_matrix, y: np.ndarray, w: np.ndarray | None, C: float) -> LogisticRegression:
    m = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, tol=1e-4)
    return m.fit(X, y, sample_weight=w)


def _fit_multi(X: sp.csr_matrix, y: np.ndarray, alpha: float, seeds: int = 3) -> SGDClassifier:
    """Multinomial-ish (OvR log-loss) SGD, coefficients averaged over seeds.

    Why SGD: on ~1M hashed features lbfgs needed 100-150 s per multi-class head (too slow
    for the 5-minute training budget); 30-epoch SGD reached equal or better dev macro-F1
    (ViHSD 0.666 vs 0.667, LIAR 0.272 vs 0.260) in ~10 s. Averaging seeds reduces variance.
    """
    models = [
        SGDClassifier(loss="log_loss", alpha=alpha, class_weight="balanced", max_iter=30, tol=None,
                      random_state=seed).fit(X, y)
        for seed in range(seeds)
    ]
    m = models[0]
    m.coef_ = np.mean([x.coef_ for x in models], axis=0)
    m.intercept_ = np.mean([x.intercept_ for x in models], axis=0)
    return m


def tune_class_bias(logits: np.ndarray, y: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-class additive logit offsets maximising dev macro-F1 (coordinate search).

    Why: balanced LR still under-predicts the rare classes a little; a tuned offset is the
    standard, cheap fix and is fitted on dev only.
    """
    k = logits.shape[1]
    bias = np.zeros(k)
    grid = np.linspace(-2.0, 2.0, 41)
    best = f1_score(y, (logits + bias).argmax(1), average="macro")
    for _ in range(rounds):
        for c in range(1, k):
            for g in grid:
                trial = bias.copy()
                trial[c] = g
                f = f1_score(y, (logits + trial).argmax(1), average="macro")
                if f > best + 1e-9:
                    best, bias = f, trial
    return bias


def dataset_rescale(fz: Featurizer, counts: sp.csr_matrix) -> np.ndarray:
    """Column factors idf_dataset / idf_global (0 where the global IDF dropped the feature):
    each head sees its own corpus' term rarity, as a per-dataset TF-IDF would
    (dev ROC-AUC +0.001-0.002 on ReINTEL / CONSTRAINT, see bench/RESULTS.md)."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=fz.width).astype(np.float64)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    if n >= 500:
        idf[df < 2] = 0.0
    g = fz.idf.astype(np.float64)
    r = np.where(g > 0, idf / np.maximum(g, 1e-9), 0.0)
    return r.astype(np.float32)


def macro_f1_shift(y: np.ndarray, logits: np.ndarray) -> float:
    """Additive logit offset maximising dev macro-F1 at the 0.5 decision point (searched over
    dev-logit quantiles, bounded to +-2 so a small dev set cannot push it far)."""
    cands = np.unique(np.clip(np.quantile(logits, np.linspace(0.02, 0.98, 97)), -2.0, 2.0))
    best_s, best_f = 0.0, f1_score(y, logits > 0, average="macro")
    for t in cands:
        f = f1_score(y, logits > t, average="macro")
        if f > best_f + 1e-9:
            best_s, best_f = -float(t), f
    return best_s


def fit_meta_head(name: str, fields: list[str], rows: list[dict], Xd: sp.csr_matrix, W: sp.csr_matrix,
                  b: np.ndarray, heads: list[dict], root: Path | None) -> dict | None:
    """Optional metadata variant of a dataset head: logistic regression on dev over [text-head
    logit, log1p(likes, comments, shares)]. Fitted on dev (the text logits there are out-of-sample);
    author ids and timestamps are NOT used (author = leak, timestamps = 2020-only drift).
    Used only when an item carries these fields; score() stays text-only."""
    meta = load_meta(name, root)
    if not meta:
        return None
    y = np.array([SPECS[name].binary(r["label"]) for r in rows])
    if len(set(y)) < 2 or np.bincount(y).min() < 5:
        return None
    i = next(h["row_start"] for h in heads if h["name"] == name)
    w16 = W[i].astype(np.float32)
    w16.data = w16.data.astype(np.float16).astype(np.float32)
    z = np.asarray((Xd @ w16.T).todense()).ravel() + b[i]
    F = np.c_[z, meta_matrix(fields, [meta.get(r["id"]) for r in rows])]
    lr = LogisticRegression(C=0.1, max_iter=1000)
    oof = cross_val_predict(lr, F, y, cv=5, method="predict_proba")[:, 1]
    lr.fit(F, y)
    return {"fields": list(fields), "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0]),
            "dev_auc_cv": float(roc_auc_score(y, oof)), "dev_auc_text": float(roc_auc_score(y, z))}


def prune(coef: np.ndarray, keep: int) -> np.ndarray:
    """Zero all but the `keep` largest-|w| weights of each row (magnitude pruning)."""
    out = np.zeros_like(coef)
    for i, row in enumerate(coef):
        if np.count_nonzero(row) <= keep:
            out[i] = row
            continue
        top = np.argpartition(np.abs(row), -keep)[-keep:]
        out[i, top] = row[top]
    return out


def pick_threshold(y: np.ndarray, p: np.ndarray, target_precision: float) -> float:
    """Lowest threshold whose dev precision reaches the target (most recall at that precision);
    falls back to the most precise threshold if the target is unreachable."""
    prec, _rec, thr = precision_recall_curve(y, p)
    ok = np.where(prec[:-1] >= target_precision)[0]
    if len(ok):
        return float(thr[ok[0]])
    return float(thr[int(np.argmax(prec[:-1]))])


def _load(spec: DatasetSpec, split: str, root: Path | None, max_rows: int | None) -> list[dict]:
    rows = load_split(spec.name, split, root)
    if max_rows is not None and len(rows) > max_rows:
        rng = np.random.default_rng(0)
        rows = [rows[i] for i in sorted(rng.choice(len(rows), max_rows, replace=False))]
    return rows


def train(
    progress: Progress | None = None,
    extra_examples: list[dict] | None = None,
    *,
    datasets: list[str] | None = None,
    data_root: Path | None = None,
    max_rows: int | None = None,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    feature_config: dict | None = None,
    C: dict[str, float | list[float]] | None = None,
    n_jobs: int = 2,
    version: str | None = None,
) -> dict:
    """Train a model and return its state dict (save with ``classifiers.model.save_state``).

    extra_examples: moderator decisions ``{"text", "category", "label"}`` added to every
    binary head of that category with weight EXTRA_WEIGHT. `datasets` / `max_rows` train on
    a subset (tests). Never reads test splits.
    """
    progress = progress or _noop
    t_start = time.time()
    specs = [SPECS[n] for n in datasets] if datasets else list(DATASETS)
    Cs = {**DEFAULT_C, **(C or {})}
    extra = [e for e in (extra_examples or []) if e.get("category") in CATEGORIES and e.get("text")]
    fz = Featurizer(feature_config or DEFAULT_CONFIG)

    progress("loading data", 0.0)
    train_rows = {s.name: _load(s, "train", data_root, max_rows) for s in specs}
    dev_rows = {s.name: _load(s, "dev", data_root, max_rows) for s in specs}

    progress("extracting features", 0.05)
    Ctr = {n: fz.counts([r["text"] for r in rows]) for n, rows in train_rows.items()}
    Cdv = {n: fz.counts([r["text"] for r in rows]) for n, rows in dev_rows.items()}
    Cex = fz.counts([e["text"] for e in extra]) if extra else None
    fz.fit_idf(sp.vstack(list(Ctr.values()) + ([Cex] if Cex is not None else [])), min_df=2)
    Xtr = {n: fz.weight(m) for n, m in Ctr.items()}
    Xdv = {n: fz.weight(m) for n, m in Cdv.items()}
    Xex = fz.weight(Cex) if Cex is not None else None
    # per-dataset IDF as a column re-weighting of the shared features (folded into the head's
    # weights, so scoring stays one shared featurisation): x_h = x * idf_dataset / idf_global
    # (only for corpora >= 500 rows: on VFND/OBSINFOX a 100-row IDF is noise; dev AUC VFND 0.971 -> 0.947)
    rescale = {n: dataset_rescale(fz, m) for n, m in Ctr.items() if m.shape[0] >= 500} if PER_DATASET_IDF else {}

    def scale_of(name: str, view: str) -> np.ndarray | None:
        """Column factors of a head: per-dataset IDF, times 0 on the char block for the 'word' view."""
        scale = rescale.get(name)
        if view == "full" or not fz.config.get("split_blocks"):
            return scale
        scale = np.ones(fz.width, np.float32) if scale is None else scale.copy()
        scale[fz.n_features :] = 0.0
        return scale
    progress(f"features ready ({fz.width} columns, {int((fz.idf > 0).sum())} kept)", 0.3)

    # ---- binary heads (one per dataset), C chosen on dev ROC-AUC when a grid is given
    jobs = []
    for s in specs:
        X = Xtr[s.name]
        y = np.array([s.binary(r["label"]) for r in train_rows[s.name]])
        w = np.ones(len(y))
        if extra:
            ex = [i for i, e in enumerate(extra) if e["category"] == s.category]
            if ex:
                X = sp.vstack([X, Xex[ex]]).tocsr()
                y = np.concatenate([y, [int(extra[i]["label"]) for i in ex]])
                w = np.concatenate([w, np.full(len(ex), EXTRA_WEIGHT)])
        if len(set(y)) < 2:
            continue
        grid = Cs.get(s.name, 4.0)
        for view in VIEWS.get(s.name, ["full"]):
            scale = scale_of(s.name, view)
            Xv = (X @ sp.diags(scale)).tocsr() if scale is not None else X
            for c in grid if isinstance(grid, list) else [grid]:
                jobs.append((s.name, "binary", (float(c), view), Xv, y, w))
    for s in specs:
        if s.n_classes > 2:
            y = np.array([s.multi(r["label"]) for r in train_rows[s.name]])
            if len(set(y)) == s.n_classes:
                for view in VIEWS.get(s.name, ["full"]):
                    scale = scale_of(s.name, view)
                    Xm = (Xtr[s.name] @ sp.diags(scale)).tocsr() if scale is not None else Xtr[s.name]
                    for alpha in MULTI_ALPHA.get(s.name, [1e-5]):
                        jobs.append((s.name, "multi", (alpha, view), Xm, y, None))
    progress(f"fitting {len(jobs)} heads", 0.32)

    fit_seconds: dict = {}
    jobs.sort(key=lambda j: -j[3].nnz * (1 if j[1] == "multi" else 3))  # longest first for better packing

    def run(job):
        name, kind, c, X, y, w = job
        t0 = time.time()
        m = _fit_binary(X, y, w, c[0]) if kind == "binary" else _fit_multi(X, y, c[0])
        fit_seconds[(name, kind, c)] = time.time() - t0
        m.fit_seconds_ = time.time() - t0
        return name, kind, c, m

    fitted = Parallel(n_jobs=n_jobs, prefer="threads" if n_jobs == 1 else "processes")(delayed(run)(j) for j in jobs)
    progress("heads fitted", 0.8)

    def dev_view(name: str, view: str) -> sp.csr_matrix:
        scale = scale_of(name, view)
        return Xdv[name] @ sp.diags(scale) if scale is not None else Xdv[name]

    best: dict[tuple[str, str], tuple[float, object, tuple]] = {}
    for name, kind, c, m in fitted:
        spec = SPECS[name]
        yd = np.array([spec.binary(r["label"]) for r in dev_rows[name]]) if kind == "binary" else None
        if kind == "binary" and len(set(yd)) == 2:
            score = roc_auc_score(yd, m.decision_function(dev_view(name, c[1])))
        elif kind == "multi":
            ym = np.array([spec.multi(r["label"]) for r in dev_rows[name]])
            logits = m.decision_function(dev_view(name, c[1]))
            score = f1_score(ym, (logits + tune_class_bias(logits, ym)).argmax(1), average="macro")
        else:
            score = 0.0
        if (name, kind) not in best or score > best[(name, kind)][0]:
            best[(name, kind)] = (score, m, c)

    heads: list[dict] = []
    rows_W: list[sp.csr_matrix] = []
    b: list[float] = []
    dev_metrics: dict[str, dict] = {}
    for (name, kind), (score, m, c) in sorted(best.items()):
        raw = m.coef_.astype(np.float32)
        scale = scale_of(name, c[1])
        if scale is not None:
            raw = raw * scale[None, :]  # fold the per-dataset IDF / view mask into the weights
        coef = prune(raw, KEEP_BINARY if kind == "binary" else KEEP_MULTI)
        start = sum(r.shape[0] for r in rows_W)
        rows_W.append(sp.csr_matrix(coef))
        spec = SPECS[name]
        intercept = m.intercept_.astype(np.float64)
        shift = 0.0
        if kind == "binary" and len(dev_rows[name]) >= MIN_DEV_FOR_THRESHOLD:
            yd = np.array([spec.binary(r["label"]) for r in dev_rows[name]])
            if len(set(yd)) == 2:
                shift = macro_f1_shift(yd, np.asarray(Xdv[name] @ coef[0]).ravel() + intercept[0])
        b.extend((intercept + shift).tolist())
        head = {
            "name": name if kind == "binary" else f"{name}:multi",
            "dataset": name,
            "category": spec.category,
            "classes": ["0", "1"] if kind == "binary" else list(spec.class_names),
            "row_start": start,
            "row_end": start + coef.shape[0],
            "C": c[0],
            "view": c[1],
            "class_bias": None,
        }
        if kind == "multi":
            yd = np.array([spec.multi(r["label"]) for r in dev_rows[name]])
            # bias tuned on the weights as shipped (pruned, float16): tuning it on the unpruned
            # model cost LIAR 0.013 dev macro-F1
            shipped = coef.astype(np.float16).astype(np.float32)
            logits = np.asarray(Xdv[name] @ shipped.T) + m.intercept_
            bias = tune_class_bias(logits, yd)
            head["class_bias"] = bias.tolist()
            dev_metrics[head["name"]] = {
                "macro_f1_raw": float(f1_score(yd, logits.argmax(1), average="macro")),
                "macro_f1": float(f1_score(yd, (logits + bias).argmax(1), average="macro")),
                "alpha": c[0],
                "view": c[1],
            }
        else:
            dev_metrics[head["name"]] = {"roc_auc": float(score), "C": c[0], "view": c[1], "logit_shift": round(float(shift), 3)}
        dev_metrics[head["name"]]["fit_seconds"] = round(float(getattr(m, "fit_seconds_", 0.0)), 1)
        heads.append(head)
    W = sp.vstack(rows_W).tocsr()
    b_arr = np.asarray(b, dtype=np.float64)
    progress("stacking heads per category on dev", 0.85)

    # ---- per-category stacker on dev head logits (calibration), folded into one weight row
    stack: dict[str, dict] = {}
    thresholds: dict[str, float] = {}
    for cat in CATEGORIES:
        cat_heads = [h for h in heads if h["category"] == cat and len(h["classes"]) == 2]
        cat_specs = [s for s in specs if s.category == cat and dev_rows[s.name]]
        if not cat_heads or not cat_specs:
            stack[cat] = {"heads": [], "coef": [], "intercept": -10.0}
            thresholds[cat] = 1.0
            continue
        Xd = sp.vstack([Xdv[s.name] for s in cat_specs]).tocsr()
        yd = np.concatenate([[s.binary(r["label"]) for r in dev_rows[s.name]] for s in cat_specs])
        # each dataset weighs ∝ sqrt(n): small corpora still count, big ones don't vanish
        sw = np.concatenate([np.full(len(dev_rows[s.name]), np.sqrt(len(dev_rows[s.name])) / len(dev_rows[s.name])) for s in cat_specs])
        sw = sw / sw.mean()
        rows = [h["row_start"] for h in cat_heads]
        # the stacker sees the float16-rounded weights, exactly as shipped
        W16 = W[rows].astype(np.float32).tocsr()
        W16.data = W16.data.astype(np.float16).astype(np.float32)
        Z = np.asarray((Xd @ W16.T).todense()) + b_arr[rows]
        stacker = LogisticRegression(C=1.0, max_iter=1000)
        stacker.fit(Z, yd, sample_weight=sw)
        a = stacker.coef_[0]
        stack[cat] = {"heads": [h["name"] for h in cat_heads], "coef": a.tolist(),
                      "intercept": float(stacker.intercept_[0])}
        n_splits = int(min(5, np.bincount(yd).min())) if len(set(yd)) == 2 else 0
        if n_splits >= 2:
            oof = cross_val_predict(LogisticRegression(C=1.0, max_iter=1000), Z, yd, cv=n_splits,
                                    method="predict_proba", params={"sample_weight": sw})[:, 1]
        else:
            oof = stacker.predict_proba(Z)[:, 1]
        thresholds[cat] = pick_threshold(yd, oof, target_precision)
        dev_metrics[f"category:{cat}"] = {
            "roc_auc_oof": float(roc_auc_score(yd, oof)) if len(set(yd)) == 2 else None,
            "stack_coef": {h["name"]: float(x) for h, x in zip(cat_heads, a, strict=True)},
            "threshold": thresholds[cat],
        }

    meta_heads = {}
    for name, fields in META_FIELDS.items():
        if name in dev_rows and name in {h["name"] for h in heads}:
            mh = fit_meta_head(name, fields, dev_rows[name], Xdv[name], W, b_arr, heads, data_root)
            if mh:
                meta_heads[name] = mh
                dev_metrics[f"{name}:with_meta"] = {"roc_auc_cv": mh["dev_auc_cv"], "text_only_roc_auc": mh["dev_auc_text"]}

    now = _dt.datetime.now(_dt.UTC)
    W32 = W.astype(np.float32).tocsr()
    state = {
        "format_version": 1,
        "version": version or f"{now.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}",
        "created": now.isoformat(timespec="seconds"),
        "feature_config": dict(fz.config),
        "idf": fz.idf.astype(np.float16),
        "heads": heads,
        # CSR parts as plain arrays (float16 weights): no scipy object in the file
        "W_data": W32.data.astype(np.float16),
        "W_indices": W32.indices.astype(np.int32),
        "W_indptr": W32.indptr.astype(np.int64),
        "W_shape": list(W32.shape),
        "b": b_arr,
        "categories": list(CATEGORIES),
        "stack": stack,
        "thresholds": thresholds,
        "target_precision": float(target_precision),
        "training": {
            "datasets": [s.name for s in specs],
            "n_train": {n: len(r) for n, r in train_rows.items()},
            "n_extra": len(extra),
            "max_rows": max_rows,
            "seconds": round(time.time() - t_start, 1),
        },
        "dev_metrics": dev_metrics,
        "meta_heads": meta_heads,
    }
    progress(f"done in {time.time() - t_start:.0f}s", 1.0)
    return state


def read_examples(path: str | Path) -> list[dict]:
    """Decision examples from a JSONL file: {"text", "category", "label"} per line."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def train_and_save(out: str | Path = DEFAULT_MODEL, progress: Progress | None = None,
                   extra_examples: list[dict] | None = None, **kwargs) -> dict:
    """Train and write the skops file at `out` (model card written by classifiers.card)."""
    state = train(progress=progress, extra_examples=extra_examples, **kwargs)
    save_state(state, out)
    try:
        from classifiers.card import write_card

        write_card(state, Path(out))
    except ImportError:  # pragma: no cover - card module optional during bootstrap
        pass
    return state


def train_from_examples(examples: list[dict], progress: Progress | None = None, *,
                        registry_root: str | Path | None = None, **kwargs) -> dict:
    """Retrain on base data + moderator decisions, evaluate on the fixed test sets, store the
    version in the registry (NOT promoted: pass the result to ``classifiers.registry.propose``).

    examples: [{"text", "category": "misinformation"|"harm", "label": 0|1}] built from
    confirm/dismiss decisions. Returns {"version", "path", "registry_root", "metrics"}.
    """
    from classifiers.registry import register_candidate

    state = train(progress=progress, extra_examples=examples, **kwargs)
    (progress or _noop)("evaluating on test splits", 1.0)
    return register_candidate(state, registry_root, kwargs.get("datasets"), kwargs.get("data_root"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_MODEL))
    ap.add_argument("--extra", help="JSONL of decision examples {text, category, label}")
    ap.add_argument("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION)
    args = ap.parse_args(argv)
    extra = read_examples(args.extra) if args.extra else None
    state = train_and_save(args.out, print_progress, extra, target_precision=args.target_precision)
    print(json.dumps({"version": state["version"], "thresholds": state["thresholds"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
