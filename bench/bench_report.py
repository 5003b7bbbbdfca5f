"""Weekly report over a 1,000,000-item database: JSON/CSV ≤ 5 s, XLSX with charts and DOCX ≤ 15 s (issues 7, 13).

Builds (once, cached) a database of 1,000,000 items spread over 26 weeks from 120 sources in three
languages, ~8 % flagged, decisions on most flagged items by 10 moderators, clusters with reposts and
crawl runs; then times the whole weekly report — build_report + render — per format, for the last week.

Usage: python bench/bench_report.py [--items N] [--db PATH]   (default cache: $TMPDIR/bench_report_<N>.db)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import db  # noqa: E402
from db.decisions import GENESIS, row_hash  # noqa: E402
from monitor.reports import build_report, iso_week, render  # noqa: E402

WEEK = "2026-W47"
END = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # end of 2026-W47 in Asia/Ho_Chi_Minh
SPAN = timedelta(weeks=26)
WORDS = ("tin giả vắc xin bão lũ giá xăng tăng lừa đảo điện thoại cảnh báo người dân tỉnh thanh hóa nghệ an "
         "chính quyền kiểm chứng mạng xã hội chia sẻ hình ảnh video cắt ghép học sinh bệnh viện thuốc chữa "
         "khỏi ung thư đất đai thu hồi biểu tình kêu gọi tụ tập").split()
STATUSES_AFTER = (("confirm_misinformation", "confirmed"), ("confirm_harm", "confirmed"), ("dismiss", "dismissed"),
                  ("escalate", "escalated"))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    database = db.connect(path)
    conn = database.conn
    conn.execute("PRAGMA synchronous = OFF")
    start = END - SPAN
    with db.transaction(database):
        languages = ["vi"] * 90 + ["en"] * 20 + ["fr"] * 10
        kinds = ("rss", "html", "mastodon", "bluesky", "telegram")
        for sid in range(1, 121):
            conn.execute("INSERT INTO sources (id, name, kind, url, language, enabled, paused, consecutive_failures,"
                         " created_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
                         (sid, f"Nguồn {sid:03d}", kinds[sid % 5], f"https://example.org/{sid}", languages[sid - 1],
                          int(sid % 40 == 0), 3 if sid % 25 == 0 else 0, iso(start)))
        for uid in range(1, 11):
            conn.execute("INSERT INTO users (id, name, password_hash, role, created_at) VALUES (?, ?, 'x', ?, ?)",
                         (uid, f"mod{uid}", "admin" if uid == 1 else "moderator", iso(start)))
    seconds = int(SPAN.total_seconds())
    batch, decisions, reposts = [], [], []
    prev_hash = GENESIS
    cluster_id = 0
    with db.transaction(database):
        for item_id in range(1, count + 1):
            fetched = start + timedelta(seconds=int(seconds * (item_id - 1) / count) + rng.randrange(60))
            sid = 1 + rng.randrange(120)
            if sid % 40 == 0 or (sid % 30 == 0 and fetched > END - timedelta(days=9)):
                sid = 1 + (sid % 39)  # paused sources and some "gone dark" ones have nothing recent
            if rng.random() < 0.7 or cluster_id == 0:
                cluster_id += 1
                conn.execute("INSERT INTO clusters (id, first_seen_at, last_seen_at) VALUES (?, ?, ?)",
                             (cluster_id, iso(fetched), iso(fetched)))
            flagged = rng.random() < 0.08
            reasons = [] if not flagged else (["misinformation"] if rng.random() < 0.7 else
                                              ["harm"] if rng.random() < 0.6 else ["misinformation", "harm"])
            words = rng.sample(WORDS, 12)
            title = " ".join(words[:6]).capitalize()
            text = " ".join(words) + f". Liên hệ 09{rng.randrange(10**8):08d}."
            status = "flagged" if flagged else "new"
            model = "m-2026.10" if fetched < END - timedelta(weeks=6) else "m-2026.11"
            if flagged and rng.random() < 0.75:
                action, status = STATUSES_AFTER[rng.randrange(4)]
                decided = fetched + timedelta(minutes=rng.randrange(10, 60 * 72))
                decisions.append((iso(decided), item_id, 1 + rng.randrange(10), action, "flagged", status))
            batch.append((item_id, sid, f"g{item_id}", f"https://example.org/{sid}/{item_id}", title, text, iso(fetched),
                          languages[sid - 1], f"h{item_id}", cluster_id, rng.random(), rng.random(), model, status,
                          json.dumps(reasons)))
            if rng.random() < 0.02:
                reposts.append((cluster_id, 1 + rng.randrange(120), iso(fetched + timedelta(hours=2))))
            if len(batch) == 20000:
                _flush(conn, batch)
        _flush(conn, batch)
        conn.executemany("INSERT OR IGNORE INTO cluster_sources (cluster_id, source_id, first_seen_at)"
                         " SELECT ?, ?, ?", reposts)
        conn.execute("INSERT OR IGNORE INTO cluster_sources (cluster_id, source_id, first_seen_at, copies)"
                     " SELECT cluster_id, source_id, MIN(fetched_at), COUNT(*) FROM items GROUP BY cluster_id, source_id")
        rows = []
        for created, item_id, user, action, old, new in sorted(decisions):
            digest = row_hash(prev_hash, item_id, user, action, old, new, "", created)
            rows.append((item_id, user, action, old, new, "", created, prev_hash, digest))
            prev_hash = digest
        conn.executemany("INSERT INTO decisions (item_id, user_id, action, old_status, new_status, note, created_at,"
                         " prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        runs = []
        for day in range(SPAN.days):
            for sid in range(1, 121):
                for hour in (0, 6, 12, 18):
                    moment = start + timedelta(days=day, hours=hour)
                    runs.append((sid, iso(moment), "error" if sid % 25 == 0 and rng.random() < 0.5 else "ok"))
        conn.executemany("INSERT INTO crawl_runs (source_id, started_at, finished_at, status) VALUES (?, ?, ?, ?)",
                         [(s, t, t, st) for s, t, st in runs])
    conn.execute("ANALYZE")
    conn.close()


def _flush(conn, batch: list) -> None:
    conn.executemany(
        "INSERT INTO items (id, source_id, guid, url, title, text, fetched_at, language, content_hash, cluster_id,"
        " score_misinformation, score_harm, model_version, status, flag_reasons)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
    batch.clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    path = args.db or Path(tempfile.gettempdir()) / f"bench_report_{args.items}.db"
    if not path.exists():
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
        generate(partial, args.items)
        partial.rename(path)
        print(f"generated {args.items} items in {time.perf_counter() - started:.0f} s → {path}", flush=True)
    database = db.connect(path)
    total = database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    period = iso_week(WEEK)
    targets = {"json": 5.0, "csv": 5.0, "xlsx": 15.0, "docx": 15.0}
    ok = True
    for fmt, target in targets.items():
        started = time.perf_counter()
        report = build_report(database, period)
        built = time.perf_counter() - started
        data = render(report, fmt)
        elapsed = time.perf_counter() - started
        ok &= elapsed <= target
        print(f"   {fmt}: build {built:.2f} s, render {elapsed - built:.2f} s, {len(data) / 1e6:.1f} MB, "
              f"{report.headline('items_crawled')} items crawled in {WEEK}, {len(report.items.rows)} item rows",
              flush=True)
        label = {"json": "JSON", "csv": "CSV", "xlsx": "XLSX with charts", "docx": "DOCX (administrative format)"}[fmt]
        print(f"FIGURE weekly report {label} ({total:,} items): {elapsed:.2f} s (target: ≤ {target:g} s)", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
