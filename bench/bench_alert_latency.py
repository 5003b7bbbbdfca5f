"""Alert latency from store to delivered under the scheduler (issue 11 item 6): p95 ≤ 30 s.

The real scheduler (its production alert interval, monitor.alerts.ALERT_SECONDS) crawls SOURCES local RSS
feeds with the real crawler and pipeline; each poll of a feed brings a new story that the scorer flags
with high priority, so every story makes one alert, delivered through Apprise to a local webhook receiver
(json:// on 127.0.0.1). Latency = the moment the receiver got the alert − the moment the crawl that stored
the story started (an upper bound of "stored": the crawl's fetch and write are counted too).

Usage: python bench/bench_alert_latency.py [--seconds 90] [--sources 10] [--interval 10]
Prints `FIGURE alert_latency_p95: … (target: ≤ 30 s)`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from monitor.config import AlertChannel, AlertSettings, FeedsConfig, Settings, SourceConfig  # noqa: E402
from monitor.crawl.crawler import crawl_source  # noqa: E402
from monitor.schedule.scheduler import Scheduler  # noqa: E402
from tests.helpers import FakeScorer  # noqa: E402
from tests.scheduler_fixtures import rss  # noqa: E402
from tests.servers import Response, TestServer  # noqa: E402

STORY = re.compile(r"Bản tin khẩn (s\d+-\d+)")


WORDS = ("bão lũ giá xăng vắc xin lừa đảo điện thoại học sinh bệnh viện thuốc đất đai thu hồi cầu đường "
         "trường học chợ cháy nổ tai nạn giao thông mất điện nước sạch dịch bệnh tiền ảo ngân hàng việc làm "
         "xuất khẩu lao động hàng giả thực phẩm bẩn sạt lở động đất").split()


def words(key: str) -> str:
    """Twelve words picked by `key`: every story distinct enough to be a story of its own (its own cluster)."""
    rng = random.Random(key)
    return " ".join(rng.sample(WORDS, 12))


def feed_handler(name: str, started: dict[str, float], lock: threading.Lock):
    """A feed that carries one new story per poll (and the previous ones), each flagged with high priority."""
    polls = {"n": 0}

    def handler(request) -> Response:
        with lock:
            polls["n"] += 1
            key = f"{name}-{polls['n']}"
            started[key] = time.time()
        items = [(f"{name}-{k}", f"Bản tin khẩn {name}-{k}: {words(f'{name}-{k}')}")
                 for k in range(polls["n"], max(polls["n"] - 3, 0), -1)]
        body = rss(name, items).decode().replace("<description>", "<description>m=0.97 ")
        return Response(200, {"Content-Type": "application/rss+xml"}, body.encode())

    return handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--interval", type=int, default=10, help="each source's poll interval, seconds")
    args = parser.parse_args()
    started: dict[str, float] = {}
    received: dict[str, float] = {}
    lock = threading.Lock()

    def hook(request) -> Response:
        body = json.loads(request.posted or b"{}")
        for key in STORY.findall(body.get("message", "")):
            received.setdefault(key, time.time())
        return Response(200, {"Content-Type": "text/plain"}, b"ok")

    with TestServer() as server, tempfile.TemporaryDirectory() as folder:
        server.route("/hook", handler=hook)
        sources = []
        for n in range(args.sources):
            name = f"s{n}"
            url = server.route(f"/{name}.xml", handler=feed_handler(name, started, lock))
            sources.append(SourceConfig(name=name, kind="rss", url=url, interval_seconds=args.interval))
        settings = Settings(allow_private_networks=True, respect_robots=False, host_delay=0,
                            alerts=AlertSettings(channels=[AlertChannel("webhook", f"json://127.0.0.1:{server.port}/hook")],
                                                 public_url="https://canhbao.example.gov.vn"))
        scheduler = Scheduler(Path(folder) / "bench.db", config=FeedsConfig("bench", settings, sources),
                              crawl=crawl_source, scorer=FakeScorer(), housekeeping=False, first_run_spread=5.0)
        scheduler.start()
        try:
            time.sleep(args.seconds)
            stop_polls = time.time()
            time.sleep(20)  # let the last stories' alerts arrive
        finally:
            scheduler.stop(timeout=10)
    latencies = sorted(received[key] - started[key] for key in started if key in received and started[key] < stop_polls)
    missing = [key for key in started if started[key] < stop_polls - 30 and key not in received]
    if not latencies:
        print("no alert was delivered")
        return 1
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(f"stories alerted: {len(latencies)} (not delivered: {len(missing)}); latency median "
          f"{statistics.median(latencies):.1f} s, max {latencies[-1]:.1f} s")
    print(f"FIGURE alert_latency_p95: {p95:.1f} s (target: ≤ 30 s)")
    return 0 if p95 <= 30 and not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())
