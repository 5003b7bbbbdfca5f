"""Server-side latency of the moderators' pages on a 1,000,000-item database.

Each request runs through the whole Flask app (routing, login, queries, templates) in-process;
the time is measured around the WSGI call, so it is the server's share of a page view.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_web_data import PASSWORD, WORDS, ensure_db  # noqa: E402

import db  # noqa: E402
from classifiers.text import fold_diacritics  # noqa: E402
from web import create_app  # noqa: E402


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(client, url: str, times: list[float]) -> str:
    started = time.perf_counter()
    response = client.get(url)
    body = response.get_data(as_text=True)
    times.append((time.perf_counter() - started) * 1000)
    if response.status_code >= 500:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return body


def measure(target: str) -> dict[str, list[float]]:
    """Server-side milliseconds of the queue, item and search pages on the database at `target` (a SQLite
    path or a postgresql:// URL holding the same 1M items): bench_pg_web.py runs it on both."""
    app = create_app({"DATABASE": target, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"name": "mod00", "password": PASSWORD})
    rng = random.Random(3)
    database = db.connect(target)
    n = database.conn.execute("SELECT MAX(id) FROM items").fetchone()[0]
    source = database.conn.execute("SELECT id FROM sources LIMIT 1 OFFSET 7").fetchone()[0]
    database.conn.close()

    # warm-up (page cache, template compilation)
    for url in ("/queue", f"/items/{n // 2}", "/search?q=tin+gia"):
        client.get(url)

    queue_times: list[float] = []
    variants = ["/queue", "/queue?category=harm", "/queue?language=en", f"/queue?source={source}",
                "/queue?status=confirmed", "/queue?mine=1", "/queue?category=misinformation&language=vi",
                "/queue?from=2026-03-01&to=2026-03-07", "/queue?status=escalated"]
    for variant in variants:
        url = variant
        for _page in range(12):  # walk 12 keyset pages deep on each
            body = timed(client, url, queue_times)
            nxt = re.search(r'href="([^"]+)" rel="next"', body)
            if not nxt:
                break
            url = nxt.group(1).replace("&amp;", "&")
    while len(queue_times) < 300:
        timed(client, rng.choice(variants), queue_times)

    item_times: list[float] = []
    for _ in range(300):
        timed(client, f"/items/{rng.randint(1, n)}", item_times)

    search_times: list[float] = []
    for k in range(200):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.choice([1, 2, 2, 3])))
        query = fold_diacritics(words) if k % 2 else words  # half typed without tone marks
        timed(client, "/search?q=" + query, search_times)
    return {"queue": queue_times, "item": item_times, "search": search_times}


def main() -> int:
    times = measure(str(ensure_db()))
    queue_times, item_times, search_times = times["queue"], times["item"], times["search"]
    print(f"FIGURE web queue page p95 (1M items): {p(queue_times, 0.95):.1f} ms "
          f"(p50 {p(queue_times, 0.5):.1f} ms, n={len(queue_times)}) (target: <= 100 ms)")
    print(f"FIGURE web item page p95 (1M items): {p(item_times, 0.95):.1f} ms "
          f"(p50 {p(item_times, 0.5):.1f} ms, n={len(item_times)}) (target: <= 100 ms)")
    print(f"FIGURE web search p95 (1M items): {p(search_times, 0.95):.1f} ms "
          f"(p50 {p(search_times, 0.5):.1f} ms, n={len(search_times)}) (target: <= 300 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
