"""Scoring throughput of the shipped model on one core, for ~100-word items.

Why: the monitor scores every crawled item; the target is >= 5,000 items/s on one core.
Items are 100-word windows of real Vietnamese posts (ReINTEL train split), scored with
explanations and watchlist matching exactly as ``Model.score`` does in production.
Run with OMP/BLAS threads pinned to 1: ``python bench/bench_classifier_speed.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time  # noqa: E402

from classifiers.data import load_split  # noqa: E402
from classifiers.model import load_model  # noqa: E402


def items(n: int = 5000, words: int = 100, skip: int = 0) -> list[str]:
    rows = load_split("vi_reintel2020", "train") + load_split("vi_victsd_toxicity", "train")
    toks = " ".join(r["text"] for r in rows).split()
    toks = toks[skip * words :]
    return [" ".join(toks[i * words : (i + 1) * words]) for i in range(min(n, len(toks) // words))]


def main() -> None:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    model = load_model()
    data = items()
    # Warm the token caches like a running service would, on DIFFERENT text (items 5000+),
    # so the timed items still contain unseen tokens.
    model.score(items(3000, skip=5000))
    # each mode gets its own half of the items: the second mode must not find the first's tokens cached
    half = len(data) // 2
    for k, (label, explain) in enumerate((("with explanations", True), ("scores only", False))):
        part = data[k * half : (k + 1) * half]
        t0 = time.perf_counter()
        for i in range(0, len(part), 500):
            model.score(part[i : i + 500], explain=explain)
        rate = len(part) / (time.perf_counter() - t0)
        print(f"FIGURE scoring_items_per_s_1core_{'explained' if explain else 'plain'}: {rate:.0f} items/s "
              f"({label}, {len(part)} x 100-word items) (target: >= 5000)")


if __name__ == "__main__":
    main()
