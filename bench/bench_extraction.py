"""Main-text extraction on the article-extraction benchmark (181 English news pages with human
ground truth), scored like the benchmark scores itself: 4-word shingles, per-page precision and
recall normalised per page and averaged, F1 from the averages. Our extractor
(`monitor.crawl.sources.article.extract`: trafilatura + a paragraph-density fallback) next to the
benchmark's own recorded trafilatura and readability outputs. Target: F1 ≥ the best of them.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "realworld" / "html" / "articles" / "zyte-article-extraction-benchmark"

from monitor.crawl.sources.article import extract  # noqa: E402

_TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def page_counts(truth: str, predicted: str) -> tuple[float, float, float]:
    """(tp, fp, fn) over shingles, normalised to sum 1 so long pages weigh no more than short ones."""
    t, p = shingles(truth), shingles(predicted)
    tp = sum(min(t[k], p[k]) for k in t.keys() | p.keys())
    fp = sum(max(0, p[k] - t[k]) for k in p)
    fn = sum(max(0, t[k] - p[k]) for k in t)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def scores(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    def precision(tp, fp, fn):
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def recall(tp, fp, fn):
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    p = statistics.mean(precision(*c) for c in counts if c[0] + c[1] > 0)
    r = statistics.mean(recall(*c) for c in counts if c[0] + c[2] > 0)
    return p, r, 2 * p * r / (p + r)


def main() -> int:
    truth = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    baselines, versions = {}, {}
    for name in ("trafilatura", "readability", "newspaper", "beautifulsoup"):
        data = json.loads((BENCH / "baseline-outputs" / f"{name}.json").read_text(encoding="utf-8"))
        if "output" in data and isinstance(data["output"], dict):  # newer files: {"version", "output"}
            versions[name] = data.get("version")
            data = data["output"]
        baselines[name] = data
    ours: dict[str, str] = {}
    started = time.perf_counter()
    for key, entry in truth.items():
        html = gzip.decompress((BENCH / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
        ours[key] = extract(html, entry.get("url"))[0]
    elapsed = time.perf_counter() - started
    results = {"ours": scores([page_counts(truth[k]["articleBody"], ours[k]) for k in truth])}
    for name, output in baselines.items():
        results[name] = scores([page_counts(truth[k]["articleBody"], output.get(k, {}).get("articleBody", ""))
                                for k in truth])
    print(f"pages: {len(truth)}; our extraction: {elapsed:.1f} s ({elapsed / len(truth) * 1000:.0f} ms/page)")
    for name, (p, r, f1) in results.items():
        version = f" (benchmark output, version {versions[name]})" if versions.get(name) else ""
        print(f"  {name:<14} precision={p:.3f} recall={r:.3f} F1={f1:.3f}{version}")
    best_name = max(("trafilatura", "readability"), key=lambda n: results[n][2])
    print(f"FIGURE extraction_f1: {results['ours'][2]:.3f} (target: >= {results[best_name][2]:.3f},"
          f" best of benchmark trafilatura/readability = {best_name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
