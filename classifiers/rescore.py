"""The second stage: a head's calibrated log-odds blended with a logistic regression on sentence embeddings.

Why (issue 18 §1): on the corpora where the sparse heads fall short of their targets the encoder's view adds
what word counts miss. Measured on dev with heads fitted on train (bench/RESULTS.md, "Second stage"):
ViCTSD 0.827 → 0.852 and ReINTEL 0.917 → 0.933 for a sparse LR blended with an embedding LR, the same gain
out of fold on train. Each re-scorer is fitted on its corpus' train split, blended with the head's
calibrated dev log-odds by a two-input Platt scaling on dev, and given its own flag threshold there, so its
output is a drop-in calibrated expert for ``mix_experts``.

Only the candidates are embedded (~60-200 ms each): items the gate routes to a re-scored corpus (weight ≥
MIN_SHARE) that its head alone gives at least the re-scorer's floor probability (chosen on dev, see FLOORS);
the others keep the head's log-odds.
"""

from __future__ import annotations

import numpy as np

# scikit-learn is imported inside the fitting functions: scoring (``blended_logits``) needs numpy only, and
# importing sklearn costs ~0.7 s of `monitor classify`'s first line (issue 18 §7: within 1.5 s)

RESCORED = ("vi_reintel2020", "vi_victsd_toxicity")  # the corpora whose heads miss their targets alone
C_GRID = (1.0, 3.0, 10.0)
MIN_SHARE = 0.05  # an item is re-scored for a corpus when the gate gives that corpus at least this weight
# ... and when the head alone gives it at least a floor probability: the second stage re-ranks the candidates, not
# the clearly harmless majority (~0.06-0.2 s per item). The floor is the highest of these whose dev ROC-AUC stays
# within FLOOR_TOLERANCE of re-scoring every item (the model's dev_metrics show both).
FLOORS = (0.1, 0.05, 0.02, 0.01, 0.0)
FLOOR_TOLERANCE = 0.002


def _fit_lr(E: np.ndarray, y: np.ndarray, C: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(E, y)


def choose_c(E: np.ndarray, y: np.ndarray, folds: int = 5) -> tuple[float, float]:
    """The embedding LR's C by cross-validated ROC-AUC on train (dev is kept for the blend): (C, its CV AUC)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(folds, shuffle=True, random_state=0)
    best = (C_GRID[0], -1.0)
    for C in C_GRID:
        oof = np.zeros(len(y))
        for a, b in skf.split(E, y):
            oof[b] = _fit_lr(E[a], y[a], C).decision_function(E[b])
        auc = float(roc_auc_score(y, oof))
        if auc > best[1]:
            best = (C, auc)
    return best


def fit_rescorer(E_train: np.ndarray, y_train: np.ndarray, E_dev: np.ndarray, y_dev: np.ndarray,
                 l_dev: np.ndarray) -> dict:
    """A re-scorer from embeddings and the head's calibrated dev log-odds `l_dev`.

    Returns plain data: the embedding LR (coef, intercept), the blend (alpha · head + beta · embedding + gamma,
    a calibrated log-odds for the corpus) and the dev figures that chose it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    C, cv_auc = choose_c(E_train, y_train)
    lr = _fit_lr(E_train, y_train, C)
    e_dev = lr.decision_function(E_dev)
    blend = LogisticRegression(C=1.0, max_iter=1000).fit(np.c_[l_dev, e_dev], y_dev)
    (alpha, beta), gamma = blend.coef_[0], blend.intercept_[0]
    everywhere = alpha * l_dev + beta * e_dev + gamma
    best = float(roc_auc_score(y_dev, everywhere))
    for floor in FLOORS:
        candidate_logit = float(np.log(floor / (1 - floor))) if floor > 0 else -1e9  # floor 0: every item
        blended = np.where(l_dev >= candidate_logit, everywhere, l_dev)
        if roc_auc_score(y_dev, blended) >= best - FLOOR_TOLERANCE:
            break
    return {"coef": lr.coef_[0].astype(np.float32), "intercept": float(lr.intercept_[0]),
            "alpha": float(alpha), "beta": float(beta), "gamma": float(gamma), "C": C,
            "candidate_logit": candidate_logit, "floor": floor,
            "dev": {"cv_auc_train": round(cv_auc, 4), "head": round(float(roc_auc_score(y_dev, l_dev)), 4),
                    "encoder": round(float(roc_auc_score(y_dev, e_dev)), 4),
                    "blended": round(float(roc_auc_score(y_dev, blended)), 4),
                    "blended_every_item": round(float(roc_auc_score(y_dev, everywhere)), 4),
                    "candidates_share": round(float(np.mean(l_dev >= candidate_logit)), 4)},
            "blended_dev": blended}


def blended_logits(rescorer: dict, head: np.ndarray, E: np.ndarray) -> np.ndarray:
    """The re-scored calibrated log-odds of items with head log-odds `head` and embeddings `E`."""
    e = E @ np.asarray(rescorer["coef"], np.float32) + rescorer["intercept"]
    return rescorer["alpha"] * head + rescorer["beta"] * e.astype(np.float64) + rescorer["gamma"]


def fit_rescorers(train_rows: dict[str, list[dict]], dev_rows: dict[str, list[dict]], labels, experts: dict,
                  z_dev: dict, cache_dir, progress=None) -> dict[str, dict]:
    """A re-scorer for each RESCORED corpus being trained, with dev rows and both classes.

    `labels(name, rows)` gives a corpus' binary labels; `z_dev[name]` the train-only head's dev logits and
    labels; `experts[name]` its Platt calibration. Embeddings are cached under `cache_dir`."""
    from classifiers.encoder import EmbeddingCache

    out: dict[str, dict] = {}
    for name in RESCORED:
        if name not in experts or not train_rows.get(name) or not dev_rows.get(name):
            continue
        y_tr, (z, y_dv) = labels(name, train_rows[name]), z_dev[name]
        if len(set(y_tr.tolist())) < 2 or len(set(y_dv.tolist())) < 2:
            continue
        cache = EmbeddingCache(_cache_path(cache_dir, name))
        say = (lambda done, n, name=name: progress(f"embedding {name}: {done}/{n}", 0.9)) if progress else None
        E_tr = cache.embed([r["text"] for r in train_rows[name]], say)
        E_dv = cache.embed([r["text"] for r in dev_rows[name]], say)
        l_dev = experts[name]["a"] * z + experts[name]["c"]
        out[name] = fit_rescorer(E_tr, y_tr, E_dv, y_dv, l_dev)
        out[name]["y_dev"] = y_dv  # for the threshold; dropped from the state
    return out


def _cache_path(cache_dir, name: str):
    from pathlib import Path

    return Path(cache_dir) / f"{name}.npz"
