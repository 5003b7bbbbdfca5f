"""Ingestion throughput: recorded feeds through parse → normalise → dedup → classify → store,
as a ratio to bare `feedparser.parse` over the same bytes in the same run (target ≥ 0.5).

Every round stores into a fresh database so every item takes the full write path (nothing is
skipped as already seen). Prints `FIGURE ingest_throughput_ratio: …`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALWORLD = ROOT.parent / "shared" / "realworld"

import feedparser  # noqa: E402

import db  # noqa: E402
from db.sources import ensure_source  # noqa: E402
from monitor.crawl.fetch import FetchResult  # noqa: E402
from monitor.crawl.sources import ParseError, rss  # noqa: E402
from monitor.pipeline import ingest  # noqa: E402

ROUNDS = 5  # best of 5: the figure is a ratio of two minima, and this VM's timings wander by ~5 %


def corpus() -> list[tuple[str, bytes]]:
    paths = sorted((REALWORLD / "feeds" / "vietnamese").glob("*.xml"))
    paths += sorted((REALWORLD / "feeds" / "other" / "rss-parser").glob("*.rss"))
    paths += sorted((REALWORLD / "feeds" / "other" / "picofeed").glob("*.xml"))
    paths += sorted((REALWORLD / "social" / "reddit").glob("*.rss"))
    paths += sorted((REALWORLD / "social" / "youtube").glob("*.xml"))
    return [(p.name, p.read_bytes()) for p in paths]


def load_scorer():
    try:
        from classifiers.model import load_model

        return load_model(), "shipped model"
    except Exception as exc:  # noqa: BLE001 - report honestly when the model is not there
        return None, f"NO MODEL ({type(exc).__name__}): classify step not measured"


def bare(files) -> tuple[float, int]:
    started = time.perf_counter()
    entries = 0
    for _, body in files:
        entries += len(feedparser.parse(body).entries)
    return time.perf_counter() - started, entries


def full(files, scorer, folder: Path, round_no: int) -> tuple[float, int, int]:
    database = db.connect(folder / f"ingest-{round_no}.db")
    sources = {name: {"id": ensure_source(database, name, "rss", f"https://bench.invalid/{name}"), "name": name}
               for name, _ in files}
    started = time.perf_counter()
    found = stored = 0
    for name, body in files:
        try:
            raws = rss.parse(FetchResult("", "", 200, {}, body, 0.0))
        except ParseError:
            continue
        found += len(raws)
        stored += ingest(database, sources[name], raws, scorer).new
    elapsed = time.perf_counter() - started
    database.conn.close()
    return elapsed, found, stored


def main() -> int:
    files = corpus()
    scorer, scorer_note = load_scorer()
    if scorer is not None:
        scorer.score(["khởi động"])  # load lazily-built parts outside the timing
    with tempfile.TemporaryDirectory() as tmp:
        full(files[:2], scorer, Path(tmp), -1)  # warm-up: imports, language model, regexes
        bare_times, full_times, unscored_times = [], [], []
        for round_no in range(ROUNDS):
            seconds, entries = bare(files)
            bare_times.append(seconds)
            seconds, found, stored = full(files, scorer, Path(tmp), round_no)
            full_times.append(seconds)
            seconds, _, _ = full(files, None, Path(tmp), 100 + round_no)
            unscored_times.append(seconds)
    bare_best, full_best, unscored_best = min(bare_times), min(full_times), min(unscored_times)
    ratio = bare_best / full_best
    print(f"files: {len(files)}, {sum(len(b) for _, b in files) / 1e6:.2f} MB, entries: {entries},"
          f" found: {found}, stored per round: {stored}; scorer: {scorer_note}")
    print(f"bare feedparser.parse: {bare_best:.3f} s ({entries / bare_best:.0f} entries/s);"
          f" full pipeline: {full_best:.3f} s ({found / full_best:.0f} items/s); best of {ROUNDS}")
    print(f"without the classify step: {unscored_best:.3f} s; classify share of the full pipeline:"
          f" {max(full_best - unscored_best, 0) / full_best:.0%}")
    print(f"FIGURE ingest_throughput_ratio: {ratio:.2f} (target: >= 0.5)")
    print(f"FIGURE ingest_throughput_ratio_without_classifier: {bare_best / unscored_best:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
