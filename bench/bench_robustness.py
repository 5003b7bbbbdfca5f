"""Robustness of the SHIPPED model to trivial changes (issue 18): ROC-AUC clean vs perturbed.

Why: an appended link, invisible characters or look-alike letters inside words, capitals, teencode
and missing tone marks do not change what a text says, so they must not move its score (target:
ROC-AUC changes by at most 0.01, 0.02 for tone marks, on each affected test split). For every
perturbation and affected test split this prints the category score's ROC-AUC clean, perturbed as
the text arrives ("raw"), and perturbed through ``classifiers.text.model_text`` (what the classifier
reads once ``Featurizer.counts`` applies it), plus the share of harm flags an appended link keeps
and model_text's own cost. Test splits are only read, never tuned on.

Run: ``python bench/bench_robustness.py [--limit N]`` (default: whole test splits).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import argparse
import time
import timeit

import numpy as np

from classifiers import perturb as P
from classifiers.model import Model, load_model
from classifiers.text import model_text


def auc_table(model: Model, samples: dict[str, P.Sample], seed: int) -> list[P.Shift]:
    """Every perturbation on every affected split, clean AUCs computed once per split."""
    clean = {name: P.clean_aucs(P.scorer_for(model, name), model.categories, s) for name, s in samples.items()}
    return [P.measure(P.scorer_for(model, name), model.categories, samples[name], perturbation, seed, clean[name])
            for perturbation in P.PERTURBATIONS for name in P.AFFECTED[perturbation]]


def print_table(shifts: list[P.Shift], samples: dict[str, P.Sample]) -> None:
    """Markdown rows for bench/RESULTS.md: met = |perturbed − clean| within the target, both through model_text."""
    print("| perturbation | test set (n) | AUC clean | perturbed, raw (Δ) | clean, model_text | perturbed, model_text (Δ) | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in shifts:
        tol = P.TOLERANCE[s.perturbation]
        met = "yes" if abs(s.change) <= tol else "NO"
        print(f"| {s.perturbation} | {s.dataset} ({len(samples[s.dataset].texts)}) | {s.clean_raw:.4f} | "
              f"{s.perturbed_raw:.4f} ({s.change_raw:+.4f}) | {s.clean_model_text:.4f} | "
              f"{s.perturbed_model_text:.4f} ({s.change:+.4f}) | ≤ {tol} | {met} |")


def harm_flags_kept(model: Model, sample: P.Sample, normalise: bool, seed: int) -> tuple[int, int]:
    """(harm-flagged positives, of those still flagged with a link appended): the issue's first symptom."""
    read = model_text if normalise else (lambda t: t)
    positives = [t for t, y in zip(sample.texts, sample.labels, strict=True) if y]
    before = np.array(P.flagged_for(model, sample.dataset, "harm", [read(t) for t in positives]))
    after = np.array(P.flagged_for(model, sample.dataset, "harm", [read(P.append_url(t, seed)) for t in positives]))
    return int(before.sum()), int((before & after).sum())


def model_text_cost(samples: dict[str, P.Sample]) -> tuple[float, float]:
    """CPU µs per call of model_text: (all test texts as they are, 300-character texts), best of 7."""
    texts = [t for s in samples.values() for t in s.texts]
    windows = [t[:300] for t in texts if len(t) >= 300]

    def cost(batch: list[str]) -> float:
        timer = timeit.Timer(lambda: [model_text(t) for t in batch], timer=time.process_time)
        return min(timer.repeat(number=3, repeat=7)) / 3 / len(batch) * 1e6

    return cost(texts), cost(windows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="items per test split (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = load_model()
    samples = {name: P.load_sample(name, args.limit) for name in P.MISINFORMATION_SETS + P.HARM_SETS}
    t0 = time.perf_counter()
    shifts = auc_table(model, samples, args.seed)
    print(f"model {model.version}; {time.perf_counter() - t0:.0f} s for the table\n")
    print_table(shifts, samples)
    print()
    for s in shifts:
        tol = P.TOLERANCE[s.perturbation]
        print(f"FIGURE auc_change[{s.perturbation}][{s.dataset}]: {s.change:+.4f} with model_text, "
              f"{s.change_raw:+.4f} raw (target: |change| <= {tol})")
    for name in P.HARM_SETS:
        for normalise in (False, True):
            flagged, kept = harm_flags_kept(model, samples[name], normalise, args.seed)
            how = "model_text" if normalise else "raw"
            print(f"FIGURE harm_flags_kept_with_url[{name}][{how}]: {kept} of {flagged}")
    every, window = model_text_cost(samples)
    print(f"FIGURE model_text_cpu_us: {window:.1f} per 300-character text, {every:.1f} per test text "
          "(target: well under 50)")


if __name__ == "__main__":
    main()
