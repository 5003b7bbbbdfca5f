"""The second stage: a head's calibrated log-odds blended with a logistic regression on sentence embeddings.

Why (issue 18 §1): on the corpora where the sparse heads fall short of their targets the encoder's view adds
what word counts miss. Measured on dev with heads fitted on train (bench/RESULTS.md, "Second stage"):
ViCTSD 0.827 → 0.852 and ReINTEL 0.917 → 0.933 for a sparse LR blended with an embedding LR, the same gain
out of fold on train. Each re-scorer is fitted on its corpus' train split, blended with the head's
calibrated dev log-odds by a two-input Platt scaling on dev, and given its own flag threshold there, so its
output is a drop-in calibrated expert for ``mix_experts``.

Only the candidates are embedded (~60-200 ms each): items the gate routes to a re-scored corpus (weight ≥
MIN_SHARE) that its head alone gives at least the re-scorer's floor probability (chosen on dev, see FLOORS);
the others keep the head's log-odds. Text typed without tone marks is embedded with its marks put back
(``classifiers.tones``), where dev shows that this clearly helps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
# The second stage reads a population (text as written, text typed without tone marks) only where its dev gain over
# the head is clear: the GAIN_QUANTILE-th percentile of the gain over BOOTSTRAP paired resamples of dev is above
# zero ("gain_lower_bound", "toneless_gain_lower_bound" in its dev figures). An encoder pass costs 0.06-0.2 s per
# item; a gain within dev's noise does not pay for it.
BOOTSTRAP = 400
GAIN_QUANTILE = 5.0


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


def clear_gain(rescorer: dict) -> bool:
    """Whether dev shows the re-scorer clearly beating its head on text as written (see GAIN_QUANTILE)."""
    return rescorer["dev"]["gain_lower_bound"] > 0


def gain_lower_bound(y: np.ndarray, base: np.ndarray, new: np.ndarray) -> float:
    """The GAIN_QUANTILE-th percentile of ROC-AUC(new) - ROC-AUC(base) over paired bootstrap resamples of y."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    gains = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            gains.append(roc_auc_score(y[i], new[i]) - roc_auc_score(y[i], base[i]))
    return float(np.percentile(gains, GAIN_QUANTILE)) if gains else 0.0


def fit_rescorer(E_train: np.ndarray, y_train: np.ndarray, E_dev: np.ndarray, y_dev: np.ndarray,
                 l_dev: np.ndarray, toneless_dev: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """A re-scorer from embeddings and the head's calibrated dev log-odds `l_dev`.

    `toneless_dev` is (embeddings, head log-odds) of the same dev rows typed without tone marks: the re-scorer
    reads toneless text only where that clearly beats the head alone on them (``gain_lower_bound`` > 0;
    issue 18 §4: stripping tone marks may cost at most 0.02). The encoder reads toneless Vietnamese badly
    (dev ROC-AUC of its LR: ReINTEL 0.89 → 0.69, ViCTSD 0.82 → 0.65), and learning toneless copies as well
    costs text as written ~0.007 and still leaves toneless text at 0.82 and 0.72; with its marks put back
    (``classifiers.tones``) it reads 0.88 and 0.80. So the LR learns from text as written, and toneless text
    reaches it restored (``fit_rescorers``' `restore`, ``Model._rescore``).

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
    dev = {"cv_auc_train": round(cv_auc, 4), "head": round(float(roc_auc_score(y_dev, l_dev)), 4),
           "encoder": round(float(roc_auc_score(y_dev, e_dev)), 4),
           "blended": round(float(roc_auc_score(y_dev, blended)), 4),
           "blended_every_item": round(float(roc_auc_score(y_dev, everywhere)), 4),
           "candidates_share": round(float(np.mean(l_dev >= candidate_logit)), 4),
           "gain_lower_bound": round(gain_lower_bound(y_dev, l_dev, blended), 4)}
    toneless = True
    if toneless_dev is not None:
        E_t, l_t = toneless_dev
        e_t = lr.decision_function(E_t)
        blended_t = np.where(l_t >= candidate_logit, alpha * l_t + beta * e_t + gamma, l_t)
        dev["toneless_head"] = round(float(roc_auc_score(y_dev, l_t)), 4)
        dev["toneless_blended"] = round(float(roc_auc_score(y_dev, blended_t)), 4)
        dev["toneless_gain_lower_bound"] = round(gain_lower_bound(y_dev, l_t, blended_t), 4)
        toneless = dev["toneless_gain_lower_bound"] > 0
    return {"coef": lr.coef_[0].astype(np.float32), "intercept": float(lr.intercept_[0]),
            "alpha": float(alpha), "beta": float(beta), "gamma": float(gamma), "C": C,
            "candidate_logit": candidate_logit, "floor": floor, "toneless": toneless, "dev": dev,
            "blended_dev": blended}


def typed_toneless(text: str) -> bool:
    """Text with letters and not one diacritic: Vietnamese typed without tone marks (or text in a language
    without them). Such text is embedded with its marks put back (``toneless_reading``), and only by re-scorers
    whose dev figures show that to beat the head alone. Read before ``model_text``, whose teencode expansion
    writes marks ("ko" → "không") into text typed without them."""
    from classifiers.text import fold_diacritics, nfc, url_breaks

    text = url_breaks(nfc(text or ""))  # a link is not read
    return fold_diacritics(text) == text and any(c.isalpha() for c in text)


def toneless_reading(restore: Callable[[str], str], text: str) -> str:
    """What the encoder is given for toneless `text`: its canonical text (``model_text``), cut where the encoder
    stops reading (restoring a long post in full would cost ~0.3 s per 5,000 words for nothing), marks put back
    by `restore` (``classifiers.tones.ToneRestorer.restore``)."""
    from classifiers.encoder import MAX_CHARS
    from classifiers.text import model_text

    return restore(model_text(text)[:MAX_CHARS])


def blended_logits(rescorer: dict, head: np.ndarray, E: np.ndarray) -> np.ndarray:
    """The re-scored calibrated log-odds of items with head log-odds `head` and embeddings `E`."""
    e = E @ np.asarray(rescorer["coef"], np.float32) + rescorer["intercept"]
    return rescorer["alpha"] * head + rescorer["beta"] * e.astype(np.float64) + rescorer["gamma"]


def fit_rescorers(train_rows: dict[str, list[dict]], dev_rows: dict[str, list[dict]], labels, experts: dict,
                  z_dev: dict, cache_dir, progress=None, head_z=None, restore=None) -> dict[str, dict]:
    """A re-scorer for each RESCORED corpus being trained, with dev rows and both classes.

    `labels(name, rows)` gives a corpus' binary labels; `z_dev[name]` the train-only head's dev logits and
    labels; `experts[name]` its Platt calibration; `head_z(name, texts)`, when given, the train-only head's
    logits of any texts, for dev to say whether toneless text is re-scored (``fit_rescorer``), the encoder
    reading it through `restore` (``classifiers.tones``: its marks put back) when given. Embeddings are cached
    under `cache_dir`."""
    from classifiers.encoder import EmbeddingCache
    from classifiers.text import fold_diacritics

    out: dict[str, dict] = {}
    for name in RESCORED:
        if name not in experts or not train_rows.get(name) or not dev_rows.get(name):
            continue
        y_tr, (z, y_dv) = labels(name, train_rows[name]), z_dev[name]
        if len(set(y_tr.tolist())) < 2 or len(set(y_dv.tolist())) < 2:
            continue
        cache = EmbeddingCache(Path(cache_dir) / f"{name}.npz")
        say = (lambda done, n, name=name: progress(f"embedding {name}: {done}/{n}", 0.9)) if progress else None
        texts_dv = [r["text"] for r in dev_rows[name]]
        E_tr = cache.embed([r["text"] for r in train_rows[name]], say)
        E_dv = cache.embed(texts_dv, say)
        a, c = experts[name]["a"], experts[name]["c"]  # the head's calibration: log-odds = a * z + c
        toneless_dev = None
        if head_z is not None:
            folded = [fold_diacritics(t) for t in texts_dv]
            read = [toneless_reading(restore, t) for t in folded] if restore else folded
            toneless_dev = (cache.embed(read, say), a * head_z(name, folded) + c)
        out[name] = fit_rescorer(E_tr, y_tr, E_dv, y_dv, a * z + c, toneless_dev)
        out[name]["y_dev"] = y_dv  # for the threshold; dropped from the state
    return out

