"""The signal as a user meets it (issue 18): every dataset's test split through `monitor classify --json`
with its kind, against the dataset's own head; real news crawled end to end; the seed articles.

Prints `FIGURE name: measured (target: ...)` lines for bench/RESULTS.md. Test splits are read here
and in classifiers.evaluate only. Needs ../shared (the research data and recorded feeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from classifiers.data import DATASETS, load_split
from classifiers.evaluate import TARGETS
from classifiers.model import load_model
from tests.signal_support import crawl_real_news, seed_flags, split_figures

AUC_TARGETS = {name: target for (name, metric), target in TARGETS.items() if metric == "category_roc_auc"}
FLAG_TARGETS = {name: (target, TARGETS[(name, "flag_recall")])
                for (name, metric), target in TARGETS.items() if metric == "flag_precision"}


def f4(value: float | None) -> str:
    """A figure, or "-" when it is undefined (an unseen subset with one class has no ROC-AUC)."""
    return "-" if value is None else f"{value:.4f}"


def head_auc(model, name: str) -> float:
    """ROC-AUC of the dataset's own head inside the shipped model (the bar the deployed score must reach)."""
    from sklearn.metrics import roc_auc_score

    from classifiers.data import SPECS

    rows = load_split(name, "test")
    y = [SPECS[name].binary(r["label"]) for r in rows]
    return float(roc_auc_score(y, model.head_proba(name, [r["text"] for r in rows])))


def main() -> None:
    model = load_model()
    print(f"model {model.version}")
    for spec in DATASETS:
        figures = split_figures(spec.name)
        head = head_auc(model, spec.name)
        for subset, f in figures.items():
            target = f">= head {head:.4f}" + (f" and >= {AUC_TARGETS[spec.name]}" if spec.name in AUC_TARGETS else "")
            print(f"FIGURE {spec.name}[{subset}, {spec.kind}, n={f['n']}].roc_auc: {f4(f['roc_auc'])} "
                  + (f"(target: {target})" if subset == "all" else "(reported)"))
            want = FLAG_TARGETS.get(spec.name)
            print(f"FIGURE {spec.name}[{subset}].flag: precision {f['precision']:.3f} recall {f['recall']:.3f} "
                  f"rate {f['flag_rate']:.3f}" + (f" (target: precision >= {want[0]}, recall >= {want[1]})"
                                                  if want and subset == "all" else ""))
    news = crawl_real_news()
    print(f"FIGURE real_news_flagged: {news['flagged']} of {news['items']} = {news['flag_rate']:.1%} (target: <= 2%)")
    for title in news["flagged_titles"]:
        print(f"  flagged: {title}")
    seeds = seed_flags()
    print(f"FIGURE seeds_flagged: {sum(bool(f) for f in seeds)} of {len(seeds)} (target: 0)")


if __name__ == "__main__":
    main()
