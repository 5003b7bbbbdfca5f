"""Scoring throughput of the shipped model on one core, for ~100-word items, against a plain pipeline.

Why: the monitor scores every crawled item; issue 18 asks >= 3,000 items/s with reasons on one core,
issue 17 >= 5,000 and >= 0.6x a plain TF-IDF (word 1-2) + logistic regression pipeline on the same
texts, measured in the same run (the machine is shared, so only a ratio taken side by side means much).
Items are 100-word windows of real Vietnamese posts, comments and news (ReINTEL, ViCTSD, ViHSD, VLSP-2019, vnnews
train splits, in that order), scored with reasons and watchlist matching exactly as ``Model.score`` does
in production. Every timed item is scored once: the token caches are warmed on other text (the last
items), so each run meets unseen words as a running service does.
Run with OMP/BLAS threads pinned to 1: ``python bench/bench_classifier_speed.py [--rounds N]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from classifiers.data import load_split  # noqa: E402
from classifiers.model import load_model  # noqa: E402

BATCH = 500


CORPORA = ("vi_reintel2020", "vi_victsd_toxicity", "vi_vihsd", "vi_vlsp2019_hsd", "vi_vnnews_v2")


def items(n: int = 5000, words: int = 100, skip: int = 0) -> list[str]:
    rows = [row for name in CORPORA for row in load_split(name, "train")]
    toks = " ".join(r["text"] for r in rows).split()
    toks = toks[skip * words :]
    return [" ".join(toks[i * words : (i + 1) * words]) for i in range(min(n, len(toks) // words))]


def baseline() -> Callable[[list[str]], object]:
    """The plain pipeline issue 17 compares with: TfidfVectorizer(word 1-2) + LogisticRegression, fitted on
    the ReINTEL train posts; returns its scoring function (predict_proba)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = load_split("vi_reintel2020", "train")
    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), LogisticRegression(max_iter=200))
    pipe.fit([r["text"] for r in rows], [int(r["label"]) for r in rows])
    return pipe.predict_proba


def rate(score: Callable[[list[str]], object], part: list[str]) -> tuple[float, float]:
    """Items per second scoring `part` in batches of BATCH: by the wall clock, and by this process's CPU
    time (on a shared machine the wall clock also counts the time other processes held the core)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(part), BATCH):
        score(part[i : i + BATCH])
    return len(part) / (time.perf_counter() - t0), len(part) / (time.process_time() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (reasons, scores only, baseline)")
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    model = load_model()
    plain_pipeline = baseline()
    n = 2000  # items per round and mode: each gets its own, never scored before
    data = items(10**6)
    if len(data) < 2 * n * args.rounds + 2000:
        raise SystemExit(f"{len(data)} items: too few for {args.rounds} rounds of 2 x {n} (and 2,000 to warm up)")
    model.score(data[-2000:], rescore=False)  # warm the token caches like a running service would, on DIFFERENT text
    runs: dict[str, list[tuple[float, float]]] = {"explained": [], "plain": [], "baseline": []}
    for r in range(args.rounds):
        with_reasons, scores_only = data[2 * r * n : (2 * r + 1) * n], data[(2 * r + 1) * n : (2 * r + 2) * n]
        runs["explained"].append(rate(lambda batch: model.score(batch, explain=True, rescore=False), with_reasons))
        runs["plain"].append(rate(lambda batch: model.score(batch, explain=False, rescore=False), scores_only))
        runs["baseline"].append(rate(plain_pipeline, with_reasons))  # the same texts as the explained run
    for key, label, target in (("explained", "with reasons", ">= 3000 (issue 18), >= 5000 (issue 17)"),
                               ("plain", "scores only", ">= 5000"),
                               ("baseline", "TF-IDF word 1-2 + LR (sklearn)", "-")):
        wall, cpu = [w for w, _ in runs[key]], [c for _, c in runs[key]]
        print(f"FIGURE scoring_items_per_s_1core_{key}: best {max(wall):.0f} median {statistics.median(wall):.0f} "
              f"items/s ({label}, {args.rounds} x {n} 100-word items; wall-clock runs {_list(wall)}; "
              f"by CPU time {_list(cpu)}) (target: {target})")
    for i, clock in enumerate(("wall clock", "CPU time")):
        ratios = [e[i] / b[i] for e, b in zip(runs["explained"], runs["baseline"], strict=True)]
        print(f"FIGURE scoring_ratio_explained_vs_tfidf_lr{'_cpu' if i else ''}: best {max(ratios):.2f} median "
              f"{statistics.median(ratios):.2f} (by {clock}, per round, same texts, same run; runs {_list(ratios, 2)}) "
              "(target: >= 0.6)")
    second = data[:200]  # the second stage: items the gate routes to a re-scored corpus are embedded
    wall, _cpu = rate(lambda batch: model.score(batch, explain=True), second)
    print(f"FIGURE scoring_items_per_s_1core_with_second_stage: {wall:.1f} items/s (with reasons, the first 200 "
          "items; the sentence encoder runs on those the gate routes to ReINTEL or ViCTSD) (target: -, the first "
          "stage's figures above are issue 18 §7's)")


def _list(values: list[float], digits: int = 0) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)

if __name__ == "__main__":
    main()
