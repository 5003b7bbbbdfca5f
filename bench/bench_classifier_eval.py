"""Quality figures of the SHIPPED model on every dataset's test split, plus training time.

Why: issue 4's targets are measured on the one model `monitor classify` uses; this prints
`FIGURE name: measured (target: ...)` lines for bench/RESULTS.md. Test splits are only read
here (and in classifiers.evaluate), never for training or tuning.
`--train` also times a full training run on all shared data (2 cores).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import argparse
import time

from classifiers.evaluate import BASELINES, TARGETS, evaluate, seed_check
from classifiers.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", action="store_true", help="also time a full training run")
    args = ap.parse_args()
    model = load_model()
    res = evaluate(model)
    print(f"model {model.version}")
    for (name, metric), target in TARGETS.items():
        v = res[name][metric]
        base = BASELINES.get(name, {}).get(metric)
        print(f"FIGURE {name}.{metric}: {v:.4f} (target: >= {target}; baseline {base})")
    for key, r in res.items():
        base = BASELINES.get(key, {})
        for metric in ("macro_f1", "roc_auc", "category_roc_auc"):
            v = r.get(metric)
            if v is not None and (key, metric) not in TARGETS:
                b = base.get(metric)
                print(f"FIGURE {key}.{metric}: {v:.4f} (target: > baseline {b})" if b is not None
                      else f"FIGURE {key}.{metric}: {v:.4f} (target: none)")
    seeds = seed_check(model)
    print(f"FIGURE seeds_flagged: {sum(bool(s['flagged']) for s in seeds)} of {len(seeds)} (target: 0)")
    if args.train:
        from classifiers.train import train

        t0 = time.perf_counter()
        train(n_jobs=2)
        print(f"FIGURE full_training_seconds_2cores: {time.perf_counter() - t0:.0f} s (target: <= 300)")


if __name__ == "__main__":
    main()
