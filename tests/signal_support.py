"""The signal as a user meets it: test splits through `monitor classify --json`, real news crawled
end to end, and the seed articles. Shared by tests/test_signal.py and bench/bench_signal.py.

Why through the CLI: the issue's figures must hold for what `monitor classify --json` prints (the
same model, kinds and thresholds the pipeline uses), not only for the Python API.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from classifiers.data import SPECS, data_dir, load_split, seeds_dir
from classifiers.evaluate import unseen_mask

REPO = Path(__file__).resolve().parents[1]
REALWORLD = data_dir().parent / "realworld"
VNEXPRESS_FEEDS = sorted((REALWORLD / "feeds" / "vietnamese").glob("vnexpress_*.xml"))
VNEXPRESS_ARTICLES = sorted((REALWORLD / "html" / "vietnamese").glob("vnexpress_article_*.html"))


def classify_cli(records: list[dict], extra_args: tuple[str, ...] = ()) -> list[dict]:
    """Run `monitor classify --json` on JSONL records ({"text", "kind"}) and return its output lines."""
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", "classify", "--json", *extra_args], input=payload,
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"monitor classify failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@functools.cache
def split_figures(name: str, split: str = "test") -> dict:
    """ROC-AUC of the deployed category score and precision/recall of the flag on one split, for all
    items and for the unseen ones (no near-duplicate in train or dev), through the CLI.

    Cached per process: several tests read figures of the same split, and the CLI run over a test split
    (10-15 s) is the whole cost. Callers must not change the dict."""
    spec = SPECS[name]
    rows = load_split(name, split)
    out = classify_cli([{"text": r["text"], "kind": spec.kind} for r in rows])
    y = np.array([spec.binary(r["label"]) for r in rows])
    p = np.array([o[spec.category] for o in out])
    flagged = np.array([spec.category in o["flagged"] for o in out])
    seen = [r["text"] for s in ("train", "dev") if (data_dir() / name / f"{s}.jsonl").exists()
            for r in load_split(name, s)]
    figures = {}
    for label, mask in (("all", np.ones(len(rows), dtype=bool)), ("unseen", unseen_mask([r["text"] for r in rows], seen))):
        yy, pp, ff = y[mask], p[mask], flagged[mask]
        tp = int((ff & (yy == 1)).sum())
        figures[label] = {"n": int(mask.sum()), "roc_auc": float(roc_auc_score(yy, pp)) if len(set(yy.tolist())) == 2 else None,
                          "precision": tp / max(int(ff.sum()), 1), "recall": tp / max(int(yy.sum()), 1),
                          "flag_rate": float(ff.mean()) if len(ff) else 0.0}
    return figures


def seed_flags() -> list[list[str]]:
    """What `monitor classify` flags in each seed article (news ABOUT misinformation: must be nothing)."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(seeds_dir().glob("*.txt"))]
    return [o["flagged"] for o in classify_cli([{"text": t, "kind": "article"} for t in texts])]


def crawl_real_news(work: Path | None = None) -> dict:
    """Serve the recorded VnExpress feeds (and a feed linking the recorded article pages, fetched with
    full_text) on 127.0.0.1, run `monitor crawl` into a fresh database, and count what got flagged."""
    import db
    from monitor.cli import main
    from tests.servers import TestServer

    work = Path(work or tempfile.mkdtemp(prefix="realnews-"))
    with TestServer() as server:
        sources = []
        for i, feed in enumerate(VNEXPRESS_FEEDS):
            sources.append((f"VnExpress {i}", server.serve_file(f"/feed{i}.rss", feed)))
        items = []
        for i, page in enumerate(VNEXPRESS_ARTICLES):
            link = server.serve_file(f"/article{i}.html", page, content_type="text/html; charset=utf-8")
            items.append(f"<item><title>VnExpress {i}</title><link>{link}</link><guid>a{i}</guid></item>")
        listing = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>a</title>{"".join(items)}</channel></rss>'
        server.route("/articles.rss", listing, content_type="application/rss+xml")
        sources.append(("VnExpress bài viết", server.url("/articles.rss")))
        lines = ["settings:", "  host_delay: 0", "  allow_private_networks: true", "sources:"]
        for name, url in sources:
            lines += [f"  - name: {name}", "    kind: rss", f"    url: {url}", "    interval: 15m"]
            if name.endswith("bài viết"):
                lines.append("    full_text: true")
        feeds = work / "feeds.yaml"
        feeds.write_text("\n".join(lines) + "\n", encoding="utf-8")
        base = ["--db", str(work / "monitor.db"), "--feeds", str(feeds)]
        os.environ.setdefault("MONITOR_ADMIN_PASSWORD", "admin-password")
        main([*base, "init", "--admin", "admin"])
        main([*base, "crawl"])
    database = db.connect(work / "monitor.db")
    try:
        rows = list(database.query("SELECT flag_reasons, title FROM items"))
    finally:
        database.conn.close()
    flagged = [r["title"] for r in rows if json.loads(r["flag_reasons"] or "[]")]
    return {"items": len(rows), "flagged": len(flagged), "flagged_titles": flagged,
            "flag_rate": len(flagged) / max(len(rows), 1)}
