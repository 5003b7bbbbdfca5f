"""A crawl pass over 1,000 sources on 100 hosts (127.0.1.1–127.0.1.100, one local server each,
200 ms latency per response), per-host pacing on. Target: ≤ 30 s wall time, memory bounded.

Each source is a small RSS feed (5 items). Three passes, all with the shipped classifier, each
held to the same ≤ 30 s target:
  1. cold: an empty database, 5,000 new items classified and stored (`crawl_1000_sources_wall_cold`);
  2. unchanged: every source answers 304 to our conditional GET;
  3. usual: every feed changed, one new item on top of four known ones (1,000 new items) — the
     pass the scheduler makes all day; this is `FIGURE crawl_1000_sources_wall`.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["MONITOR_ALLOW_PRIVATE_NETWORKS"] = "1"

import db  # noqa: E402
from bench.feedserver import route_feeds  # noqa: E402
from monitor.config import load_text  # noqa: E402
from monitor.crawl.crawler import crawl_sources  # noqa: E402
from tests.servers import TestServer  # noqa: E402

HOSTS = 100
PER_HOST = 10
ITEMS = 5
LATENCY = 0.2
WORKERS = 32
HOST_DELAY = 0.5
HOST_CONCURRENCY = 2


def main() -> int:
    scorer, note = None, "no classifier"
    if "--no-model" not in sys.argv:
        from classifiers.model import load_model

        scorer, note = load_model(), "shipped classifier"
        scorer.score(["khởi động"])
    servers = []
    for host in range(1, HOSTS + 1):
        server = TestServer(host=f"127.0.1.{host}").start()
        route_feeds(server, host, PER_HOST, items=ITEMS, latency=LATENCY)
        servers.append(server)
    lines = ["settings:", "  allow_private_networks: true", f"  workers: {WORKERS}", f"  host_delay: {HOST_DELAY}",
             f"  host_concurrency: {HOST_CONCURRENCY}", "  deadline: 20", "sources:"]
    for server in servers:
        for number in range(PER_HOST):
            lines.append(f"  - {{name: s{server.host.replace('.', '-')}-{number}, kind: rss,"
                         f" url: '{server.url(f'/rss/{number}.rss')}', language: vi}}")
    config = load_text("\n".join(lines) + "\n", "bench-feeds.yaml")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            database = db.connect(Path(tmp) / "crawl.db")
            started = time.monotonic()
            results = crawl_sources(database, config, scorer)
            cold = time.monotonic() - started
            ok = sum(r.status == "ok" for r in results)
            new = sum(r.new for r in results)
            errors = [r.error for r in results if r.status == "error"][:3]
            started = time.monotonic()
            again = crawl_sources(database, config, scorer)
            warm = time.monotonic() - started
            unchanged = sum(r.status == "not_modified" for r in again)
            for server in servers:  # the usual pass: every feed has one new item on top
                host = int(server.host.rsplit(".", 1)[1])
                route_feeds(server, host, PER_HOST, items=ITEMS, latency=LATENCY, first=1, version="-v2")
            started = time.monotonic()
            usual = crawl_sources(database, config, scorer)
            typical = time.monotonic() - started
            usual_new = sum(r.new for r in usual)
            usual_ok = sum(r.status == "ok" for r in usual)
    finally:
        for server in servers:
            server.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sources: {len(results)} on {HOSTS} hosts; workers {WORKERS}, host delay {HOST_DELAY}s, "
          f"{HOST_CONCURRENCY} per host, {LATENCY * 1000:.0f} ms latency; scorer: {note}")
    print(f"first pass: {ok} ok, {new} items stored, errors: {errors or 'none'}; {cold:.1f} s")
    print(f"second pass, nothing changed: {unchanged} not modified; {warm:.1f} s")
    print(f"third pass, every feed changed (1 new + 4 known items each): {usual_ok} ok, {usual_new} new;"
          f" {typical:.1f} s")
    print(f"peak RSS: {peak_mb:.0f} MB")
    print(f"FIGURE crawl_1000_sources_wall: {typical:.1f} s (target: <= 30 s)")
    print(f"FIGURE crawl_1000_sources_wall_unchanged: {warm:.1f} s (target: <= 30 s)")
    print(f"FIGURE crawl_1000_sources_wall_cold: {cold:.1f} s (target: <= 30 s)")
    print(f"FIGURE crawl_1000_sources_peak_rss: {peak_mb:.0f} MB (target: bounded)")
    return 0 if ok == len(results) and usual_ok == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
