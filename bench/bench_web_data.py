"""The web benchmarks' database: 1,000,000 items, half flagged, realistic Vietnamese text lengths.

Run directly it (re)builds the database if missing and prints how long that took. The other web
benchmarks import `ensure_db()`. The file lives outside the repo (default /tmp/monitor-bench-web.db,
env BENCH_WEB_DB) and is reused between runs because building it takes minutes.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import db  # noqa: E402
import db.users  # noqa: E402
from classifiers.text import search_key  # noqa: E402
from db.decisions import GENESIS, row_hash  # noqa: E402

DEFAULT_PATH = os.environ.get("BENCH_WEB_DB", "/tmp/monitor-bench-web.db")
N_ITEMS = int(os.environ.get("BENCH_WEB_ITEMS", "1000000"))
PASSWORD = "bench password 1"
MODERATORS = 20

WORDS = (
    "tin giả thông tin sai sự thật chia sẻ mạng xã hội người dân cơ quan chức năng xác minh cảnh báo lừa đảo "
    "vắc xin dịch bệnh bệnh viện bộ y tế tỉnh thanh hóa nghệ an hà tĩnh huyện xã phường ủy ban nhân dân "
    "công an điều tra xử phạt hành chính đăng tải bài viết video clip lan truyền nhanh chóng hàng nghìn lượt "
    "giá xăng dầu tăng giảm thị trường chứng khoán ngân hàng lãi suất đất đai quy hoạch dự án giải phóng mặt bằng "
    "bão lũ mưa lớn sạt lở thiên tai cứu trợ quyên góp từ thiện tài khoản cá nhân chuyển khoản mất tiền "
    "học sinh giáo viên trường học kỳ thi tuyển sinh điểm chuẩn đại học thông báo chính thức phủ nhận "
    "bịa đặt xuyên tạc kích động gây hoang mang dư luận nguồn tin chưa được kiểm chứng phóng viên báo "
    "theo đó ngày hôm qua sáng nay chiều tối tuần trước tháng này năm nay cho biết khẳng định đề nghị yêu cầu "
    "không có căn cứ hoàn toàn sai lệch hình ảnh được cắt ghép từ nhiều năm trước tài khoản facebook zalo tiktok "
    "và của là có được cho với các những một trong đã đang sẽ này đó khi để từ người về theo tại ra như"
).split()


def fake_text(rng: random.Random) -> str:
    # Social posts are short, articles long: a log-normal length between ~80 and ~6000 characters.
    target = int(min(max(rng.lognormvariate(6.0, 0.9), 80), 6000))
    out, size = [], 0
    while size < target:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 22)))
        sentence = sentence[0].upper() + sentence[1:] + "."
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)


def build(path: str | Path, n: int = N_ITEMS, seed: int = 7) -> None:
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    database = db.connect(path)
    conn = database.conn
    rng = random.Random(seed)
    for i in range(MODERATORS):
        db.users.add_user(database, f"mod{i:02d}", PASSWORD, "moderator")
    db.users.add_user(database, "analyst", PASSWORD, "analyst")
    db.users.add_user(database, "admin", PASSWORD, "admin")
    conn.execute("PRAGMA synchronous = OFF")
    now = db.utcnow()
    conn.execute("BEGIN")
    for s in range(60):
        conn.execute("INSERT INTO sources (name, kind, url, language, created_at, priority_weight) VALUES (?, ?, ?, ?, ?, ?)",
                     (f"Nguồn {s:02d}", "rss" if s < 40 else "mastodon", f"https://nguon{s}.example.vn/rss",
                      "vi" if s < 50 else "en", now, rng.choice([0.0, 0.0, 0.5, 1.0])))
    conn.execute("COMMIT")
    start_epoch = 1_763_000_000  # about a year of fetch times
    batch, fts = [], []
    cluster_id = 0
    remaining_in_cluster = 0
    conn.execute("BEGIN")
    for i in range(1, n + 1):
        if remaining_in_cluster == 0:
            cluster_id += 1
            size = 1 if rng.random() < 0.85 else rng.choice([2, 3, 5, 12, 60])
            t = start_epoch + int(rng.random() * 365 * 86400)
            conn.execute("INSERT INTO clusters (id, first_seen_at, last_seen_at, size, source_count) VALUES (?, ?, ?, ?, ?)",
                         (cluster_id, db.to_iso(datetime.fromtimestamp(t, UTC)),
                          db.to_iso(datetime.fromtimestamp(t, UTC)), size, min(size, 5)))
            remaining_in_cluster = size
        remaining_in_cluster -= 1
        t += rng.randint(0, 3600)
        fetched = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize()
        text = fake_text(rng)
        flagged = rng.random() < 0.5
        mis = rng.random() * 0.5 + (0.5 if flagged else 0.0)
        harm = rng.random() * (0.9 if flagged else 0.4)
        status = "flagged" if flagged else "new"
        reasons = (["misinformation"] if mis >= 0.5 else []) + (["harm"] if harm >= 0.6 else []) if flagged else []
        source = rng.randrange(1, 61)
        batch.append((source, f"g{i}", f"https://nguon{source}.example.vn/bai/{i}", f"https://nguon{source}.example.vn/bai/{i}",
                      title, text, fetched, fetched, "vi" if source <= 50 else "en", f"{i:064x}", cluster_id, mis, harm,
                      json.dumps({"terms": {"misinformation": rng.sample(WORDS, 3)}, "rules": []}, ensure_ascii=False),
                      "bench-1", status, json.dumps(reasons)))
        fts.append((i, search_key(title), search_key(text)))
        if len(batch) == 20000:
            _flush(conn, batch, fts)
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            print(f"  {i} items", file=sys.stderr, flush=True)
    _flush(conn, batch, fts)
    conn.execute("COMMIT")
    # A decision history: 20,000 decided items, properly hash-chained.
    conn.execute("BEGIN")
    prev = GENESIS
    decided = rng.sample(range(1, n + 1), min(20000, n // 2))
    for k, item_id in enumerate(decided):
        status = conn.execute("SELECT status FROM items WHERE id = ?", (item_id,)).fetchone()[0]
        action, new = ("dismiss", "dismissed") if k % 2 else ("confirm_misinformation", "confirmed")
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_epoch + 365 * 86400 + k))
        digest = row_hash(prev, item_id, 1 + k % MODERATORS, action, status, new, "", at)
        conn.execute("INSERT INTO decisions (item_id, user_id, action, old_status, new_status, note, created_at, prev_hash,"
                     " row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (item_id, 1 + k % MODERATORS, action, status, new, "", at, prev, digest))
        conn.execute("UPDATE items SET status = ?, version = version + 1 WHERE id = ?", (new, item_id))
        prev = digest
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _flush(conn, batch: list, fts: list) -> None:
    conn.executemany(
        "INSERT INTO items (source_id, guid, url, canonical_url, title, text, published_at, fetched_at, language,"
        " content_hash, cluster_id, score_misinformation, score_harm, explanation, model_version, status, flag_reasons)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
    conn.executemany("INSERT INTO items_fts (rowid, title, text) VALUES (?, ?, ?)", fts)
    batch.clear()
    fts.clear()


def ensure_db(path: str | Path = DEFAULT_PATH, n: int = N_ITEMS) -> Path:
    """The benchmark database, built once (a marker file records the size it was built for)."""
    path = Path(path)
    marker = Path(f"{path}.built-{n}")
    if not (path.exists() and marker.exists()):
        marker.unlink(missing_ok=True)
        build(path, n)
        marker.write_text(db.utcnow())
    return path


def main() -> int:
    started = time.perf_counter()
    path = ensure_db()
    elapsed = time.perf_counter() - started
    database = db.connect(path)
    count = database.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    flagged = database.conn.execute("SELECT COUNT(*) FROM items WHERE status = 'flagged'").fetchone()[0]
    avg = database.conn.execute("SELECT AVG(LENGTH(text)) FROM items WHERE id % 100 = 0").fetchone()[0]
    database.conn.close()
    print(f"FIGURE web bench database: {count} items, {flagged} flagged, mean text {avg:.0f} chars, "
          f"ready in {elapsed:.0f} s (target: 1000000 items, half flagged)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
